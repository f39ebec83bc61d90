"""`assent search`, `quote`, `buy`, `licences` and `licence`: a lab's commands, on the SDK.

Each prints a table for people, or with `--json` the SDK's models as JSON for scripts
(snake_case fields, money in integer minor units). Exit codes: 0 done; 1 the marketplace
refused or failed (with `--json`, `{"error": <exception name>, "message": ...}` on
stdout), or a quote left out some of the works asked for (each named on stderr, with
why); 2 usage. Amounts given are in the currency's units (`--max-price 20.00`), and
amounts shown carry their currency.

`buy` is safe to run again: it prints the idempotency key it used (give your own with
`--idempotency-key`), and `assent buy --quote QUOTE_ID --idempotency-key KEY` returns the
licence that key bought, however often it runs, charging once. Buying work ids again
makes a new quote; under a key that already bought, the purchase is refused as
`IdempotencyKeyReused` and nothing is charged.
"""

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from itertools import islice
from typing import TYPE_CHECKING, Any

from assent.cli._lab_output import (
    count,
    licences_table,
    print_licence,
    quote_table,
    uses_text,
    works_table,
)
from assent.options import API_KEY_ENV, connection_options

if TYPE_CHECKING:
    from assent.client import AssentClient
    from assent.errors import AssentError
    from assent.models import Quote, Work

USES = ("training", "fine_tuning", "retrieval", "evaluation", "synthetic_data")
MEDIA_TYPES = ("text", "image", "audio", "video", "other")
SORTS = ("relevance", "newest", "price_asc", "price_desc")
DEFAULT_CURRENCY = "EUR"


def _use(text: str) -> str:
    value = text.lower().replace("-", "_")
    if value not in USES:
        raise argparse.ArgumentTypeError(f"one of {', '.join(USES)}")
    return value


def _amount(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise argparse.ArgumentTypeError("an amount such as 20.00") from exc
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError("an amount such as 20.00")
    return value


def _page_limit(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _client(args: argparse.Namespace) -> "AssentClient":
    from assent.client import AssentClient

    return AssentClient(args.gateway, args.key)


def _print_json(value: object) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def run(args: argparse.Namespace, action: Callable[["AssentClient"], int]) -> int:
    """The command's action with a client, its refusals printed as the user asked."""
    from assent.errors import AssentError, Conflict, ValidationFailed

    if not args.key:
        print(f"assent {args.command}: give --key or set {API_KEY_ENV}", file=sys.stderr)
        return 2
    try:
        with _client(args) as client:
            return action(client)
    except AssentError as error:
        if args.json:
            shown: dict[str, Any] = {"error": type(error).__name__, "message": error.message}
            if isinstance(error, Conflict):
                shown["code"] = error.code
            if isinstance(error, ValidationFailed):
                shown["fields"] = [vars(field) for field in error.fields]
            _print_json(shown)
        else:
            print(f"assent {args.command}: {type(error).__name__}: {error}", file=sys.stderr)
            if isinstance(error, Conflict) and error.code == "IdempotencyKeyReused":
                print(
                    "  nothing was charged: that key already bought another quote. "
                    "`assent licences` lists what you hold.",
                    file=sys.stderr,
                )
        return 1


# -- search ------------------------------------------------------------------------------


def _search(args: argparse.Namespace) -> int:
    from assent.models import to_minor

    if args.quote and not args.use:
        print("assent search: --quote needs the uses to quote for, with --use", file=sys.stderr)
        return 2
    currency = args.currency or DEFAULT_CURRENCY
    try:
        max_price = to_minor(args.max_price, currency) if args.max_price is not None else None
    except ValueError as error:
        print(f"assent search: --max-price: {error}", file=sys.stderr)
        return 2

    def action(client: "AssentClient") -> int:
        found: Iterator[Work] = client.search(
            args.query,
            media_types=args.media_type,
            uses=args.use,
            max_price_minor=max_price,
            currency=currency if max_price is not None else args.currency,
            tags=args.tag,
            language=args.language,
            creator_id=args.creator,
            sort=args.sort,
            page_size=min(args.limit, 100),
        )
        works = list(islice(found, args.limit))
        if args.quote:
            if not works:
                print("assent search: nothing found, so nothing to quote", file=sys.stderr)
                return 1
            return _quote_works(client, args, [work.id for work in works])
        if args.json:
            _print_json([work.model_dump(mode="json") for work in works])
        else:
            works_table(works)
        return 0

    return run(args, action)


# -- quote -------------------------------------------------------------------------------


def _left_out(quote: "Quote", command: str) -> bool:
    """Says on stderr which works the quote left out, and why; whether any were."""
    for excluded in quote.excluded:
        print(
            f"assent {command}: work {excluded.work_id} left out: {excluded.reason.value}"
            f" ({excluded.detail})",
            file=sys.stderr,
        )
    return bool(quote.excluded)


def _quote_works(client: "AssentClient", args: argparse.Namespace, work_ids: list[str]) -> int:
    bundle = client.create_bundle(work_ids, uses=args.use, name=args.name)
    quote = client.quote(bundle.id)
    if args.json:
        _print_json(quote.model_dump(mode="json"))
    else:
        quote_table(quote)
    if _left_out(quote, args.command):
        # A quote of fewer works than asked for is not what was asked: the caller decides.
        print(f"  only {count(len(quote.lines), 'work')} quoted", file=sys.stderr)
        return 1
    if not args.json:
        print(f"buy it with: assent buy --quote {quote.id}")
    return 0


def _quote(args: argparse.Namespace) -> int:
    return run(args, lambda client: _quote_works(client, args, args.work_ids))


# -- buy ---------------------------------------------------------------------------------


def _buy(args: argparse.Namespace) -> int:
    if bool(args.work_ids) == bool(args.quote):
        print("assent buy: give WORK_ID... or --quote QUOTE_ID", file=sys.stderr)
        return 2
    if args.work_ids and not args.use:
        print("assent buy: give the uses of the works with --use", file=sys.stderr)
        return 2

    def action(client: "AssentClient") -> int:
        from assent.errors import AssentError

        quote_id = args.quote
        if quote_id is None:
            bundle = client.create_bundle(args.work_ids, uses=args.use, name=args.name)
            quote = client.quote(bundle.id)
            if _left_out(quote, "buy"):
                print(
                    f"  nothing bought; to buy the {count(len(quote.lines), 'work')} quoted: "
                    f"assent buy --quote {quote.id}",
                    file=sys.stderr,
                )
                return 1
            quote_id = quote.id
        try:
            purchase = client.purchase(quote_id, idempotency_key=args.idempotency_key)
        except AssentError as error:
            # After a definitive refusal the same purchase would be refused again.
            if error.idempotency_key is not None and not args.json and _may_retry(error):
                print(
                    f"to retry without paying twice: assent buy --quote {error.quote_id} "
                    f"--idempotency-key {error.idempotency_key}",
                    file=sys.stderr,
                )
            raise
        delivery = purchase.delivery
        if args.wait > 0:
            # Bought whatever happens here: a slow or unreachable delivery is reported as
            # not built yet, never as a failed purchase the user might repeat.
            with contextlib.suppress(AssentError):
                delivery = client.wait_for_delivery(purchase.id, timeout=args.wait)
        if args.json:
            _print_json(
                {
                    "licence": purchase.model_dump(mode="json"),
                    "delivery": delivery.model_dump(mode="json") if delivery else None,
                }
            )
            return 0
        how = (
            "already bought under this key; nothing charged again"
            if purchase.replayed
            else (f"charged {purchase.total}")
        )
        print(f"licence {purchase.id} ({how})")
        print(f"  quote {purchase.quote_id}, idempotency key {purchase.idempotency_key}")
        print(f"  valid until {purchase.ends_at:%Y-%m-%d}, for {uses_text(purchase)}")
        if delivery is None:
            print("  delivery: not built yet; `assent licence LICENCE_ID` shows it when it is")
        else:
            files = count(delivery.entry_count, "file")
            print(f"delivery {delivery.id} ({delivery.status.value}, {files})")
            print(f"  fetch it with: assent download {delivery.id} --to DIR")
        print(
            f"run again safely: assent buy --quote {purchase.quote_id} "
            f"--idempotency-key {purchase.idempotency_key}"
        )
        return 0

    return run(args, action)


def _may_retry(error: "AssentError") -> bool:
    from assent.errors import RateLimited, ServiceUnavailable, UnexpectedResponse

    return isinstance(error, ServiceUnavailable | RateLimited | UnexpectedResponse)


# -- licences ----------------------------------------------------------------------------


def _licences(args: argparse.Namespace) -> int:
    def action(client: "AssentClient") -> int:
        licences = list(islice(client.licences(page_size=min(args.limit, 100)), args.limit))
        if args.json:
            _print_json([licence.model_dump(mode="json") for licence in licences])
            return 0
        licences_table(licences)
        return 0

    return run(args, action)


def _licence(args: argparse.Namespace) -> int:
    def action(client: "AssentClient") -> int:
        licence = client.licence(args.licence_id)
        if args.json:
            _print_json(licence.model_dump(mode="json"))
            return 0
        print_licence(licence)
        return 0

    return run(args, action)


# -- the parser --------------------------------------------------------------------------


def add_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add the lab's commands to the `assent` parser."""
    search = commands.add_parser(
        "search",
        help="search the catalogue's listed works",
        description="Works matching every filter given. Exit code 0: searched; 1: refused; "
        "2: usage.",
    )
    search.add_argument(
        "query", nargs="?", metavar="QUERY", help="words in title, description, tags"
    )
    search.add_argument(
        "--media-type",
        action="append",
        choices=MEDIA_TYPES,
        metavar="TYPE",
        help=f"one of {', '.join(MEDIA_TYPES)}; repeat for any of several",
    )
    search.add_argument(
        "--use",
        action="append",
        type=_use,
        metavar="USE",
        help=f"every one must be offered: {', '.join(USES)}; repeatable",
    )
    search.add_argument(
        "--max-price", type=_amount, metavar="AMOUNT", help="in the currency, e.g. 20.00"
    )
    search.add_argument(
        "--currency", metavar="CODE", help=f"of --max-price (default {DEFAULT_CURRENCY})"
    )
    search.add_argument(
        "--quote",
        action="store_true",
        help="bundle and quote the works found, for the uses given with --use",
    )
    search.add_argument("--name", help="with --quote: the bundle's name")
    search.add_argument("--tag", action="append", metavar="TAG", help="every one must be present")
    search.add_argument("--language", metavar="BCP47")
    search.add_argument("--creator", metavar="ID", help="one creator's works")
    search.add_argument("--sort", choices=SORTS)
    search.add_argument(
        "--limit", type=_page_limit, default=20, metavar="N", help="at most N works (default 20)"
    )
    search.set_defaults(handler=_search)

    quote = commands.add_parser(
        "quote",
        help="bundle works and quote them: prices locked until the quote expires",
        description="Makes a bundle of the works for the uses given and quotes it. Exit "
        "code 0: quoted; 1: refused, or a work was left out (named, with why); 2: usage.",
    )
    quote.add_argument("work_ids", nargs="+", metavar="WORK_ID")
    _uses_and_name(quote, required=True)
    quote.set_defaults(handler=_quote)

    buy = commands.add_parser(
        "buy",
        help="buy works (or a quote): prints the licence and its delivery; safe to re-run",
        description="Buys the works given (bundled and quoted first) or a quote, then waits "
        "for the delivery to be built. The same --quote with the same --idempotency-key "
        "returns the same licence however often it runs, charging once. Exit code 0: "
        "bought; 1: refused (e.g. InsufficientFunds, QuoteExpired), or a work was left out of "
        "the quote, when nothing is bought; 2: usage.",
    )
    buy.add_argument("work_ids", nargs="*", metavar="WORK_ID")
    buy.add_argument("--quote", metavar="QUOTE_ID", help="buy this quote instead of works")
    _uses_and_name(buy, required=False)
    buy.add_argument(
        "--idempotency-key", metavar="KEY", help="one key per order; default: a new one, printed"
    )
    buy.add_argument(
        "--wait",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how long to wait for the delivery (default 60; 0: do not wait)",
    )
    buy.set_defaults(handler=_buy)

    licences = commands.add_parser("licences", help="your licences, newest first")
    licences.add_argument(
        "--limit", type=_page_limit, default=20, metavar="N", help="at most N licences (default 20)"
    )
    licences.set_defaults(handler=_licences)

    licence = commands.add_parser("licence", help="one licence: its works, terms and delivery")
    licence.add_argument("licence_id", metavar="LICENCE_ID")
    licence.set_defaults(handler=_licence)

    for command in (search, quote, buy, licences, licence):
        command.add_argument("--json", action="store_true", help="print JSON for scripts")
        connection_options(command)


def _uses_and_name(command: argparse.ArgumentParser, *, required: bool) -> None:
    command.add_argument(
        "--use",
        action="append",
        type=_use,
        required=required,
        metavar="USE",
        help=f"what you will do with the works: {', '.join(USES)}; repeatable",
    )
    command.add_argument("--name", help="the bundle's name (default: its size and the time)")
