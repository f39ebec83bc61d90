"""The lab's Python client: search, bundle, quote, purchase, download and read a bundle.

    from assent.client import AssentClient

    with AssentClient() as client:  # ASSENT_GATEWAY_URL and ASSENT_API_KEY
        works = [w.id for w in itertools.islice(client.search("harbour", uses=["training"]), 10)]
        licence = client.buy(works, uses=["training"])
        delivery = client.wait_for_delivery(licence.id)
        client.download(delivery.id, "bundle")
        for record in client.records("bundle"):
            print(record.path, record.terms.uses, record.attribution)

The contract is the gateway's GraphQL API (`gateway/schema.graphql`). Each expected
failure, a union member of the answer, is raised as the exception of its name
(`assent.errors`); results are frozen models (`assent.models`).

Retries. A request the gateway refused before running it (429 with `retryAfter`, or a
connection that was never made) is sent again after the wait it asks for. Reads and the
purchase are also sent again after a transport error, a 5xx or `ServiceUnavailable`:
a purchase is idempotent by its key, which the client generates once per purchase and
reuses on every attempt, so a purchase whose answer was lost returns the same licence
instead of buying twice. Creating a bundle or a quote is not retried once it may have
reached the gateway: a repeat would only make a second, unused bundle or quote, but the
caller should decide.
"""

import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import httpx

from assent.errors import (
    AssentError,
    BundleInvalid,
    Conflict,
    DeliveryTimeout,
    DownloadFailed,
    Forbidden,
    InsufficientFunds,
    ModelsCapReached,
    NotFound,
    QuoteExpired,
    RateLimited,
    ServiceUnavailable,
    Unauthenticated,
    UnexpectedResponse,
    ValidationFailed,
)
from assent.invoices import Invoices
from assent.models import (
    Account,
    Balance,
    Bundle,
    Delivery,
    Licence,
    MediaType,
    Purchase,
    Quote,
    Use,
    Work,
    graphql_enum,
    parse_uses,
)
from assent.operations import (
    BALANCES,
    CREATE_BUNDLE,
    DOCUMENTS,
    LICENCE,
    LICENCE_DELIVERY,
    LICENCES,
    ME,
    PURCHASE,
    QUOTE_BUNDLE,
    SEARCH,
    WORK,
)
from assent.options import API_KEY_ENV
from assent.options import api_key as default_api_key
from assent.options import gateway_url as default_gateway_url
from assent.statements import Statements
from assent.training import TrainingReceipts
from assent.webhooks import WebhookEndpoints
from assent.wire import GraphQLWire
from services.contracts.catalogue import SearchSort
from services.contracts.signing import WELL_KNOWN_KEYS_PATH, PublicKeyRead

if TYPE_CHECKING:
    # Imported when used: searching and buying (and the CLI's commands for them) need
    # neither the download client nor the offline verifier.
    from rich.progress import Progress

    from assent.download import DownloadResult
    from assent.protocol import StatusList
    from assent.records import Record
    from assent.summary import TrainingDataSummary

__all__ = [
    "DOCUMENTS",
    "AssentClient",
    "AssentError",
    "BundleInvalid",
    "Conflict",
    "DeliveryTimeout",
    "DownloadFailed",
    "Forbidden",
    "InsufficientFunds",
    "ModelsCapReached",
    "NotFound",
    "QuoteExpired",
    "RateLimited",
    "ServiceUnavailable",
    "Unauthenticated",
    "UnexpectedResponse",
    "ValidationFailed",
]

MAX_PAGE_SIZE = 100
DEFAULT_CURRENCY = "EUR"
DEFAULT_ATTEMPTS = 5


class AssentClient:
    """A lab's client of one gateway, with one API key. Keep one for many calls: it holds
    a connection pool; `close()` it, or use it as a context manager."""

    def __init__(
        self,
        gateway_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        attempts: int = DEFAULT_ATTEMPTS,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.gateway_url = (gateway_url or default_gateway_url()).rstrip("/")
        self._api_key = api_key or default_api_key()
        headers = {"authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        # Idle connections dropped before the gateway's own 5 s keep-alive ends, so a
        # request never goes out on one the server is closing at that moment.
        limits = httpx.Limits(keepalive_expiry=4.0)
        self._http = httpx.Client(timeout=timeout, headers=headers, limits=limits)
        self._wire = GraphQLWire(self._http, self.gateway_url, attempts)
        # Training receipts (`assent.training`): keys and runs.
        self.training = TrainingReceipts(self._wire)
        # Webhook endpoints (`assent.webhooks`, which also verifies what they receive).
        self.webhooks = WebhookEndpoints(self._wire)
        # A creator's statements (`assent.statements`: CSV and PDF too).
        self.statements = Statements(self._wire)
        # A lab's invoices (`assent.invoices`: PDF too).
        self.invoices = Invoices(self._wire)

    def __repr__(self) -> str:
        # Never the key: a repr ends up in logs and tracebacks.
        return f"AssentClient(gateway_url={self.gateway_url!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- the catalogue --------------------------------------------------------------------

    def search(
        self,
        query: str | None = None,
        *,
        media_types: Iterable[MediaType | str] | None = None,
        uses: Iterable[Use | str] | None = None,
        max_price_minor: int | None = None,
        tags: Iterable[str] | None = None,
        language: str | None = None,
        creator_id: str | None = None,
        sort: SearchSort | str | None = None,
        page_size: int = 20,
        currency: str | None = None,
    ) -> Iterator[Work]:
        """Listed works matching every filter given, fetched a page at a time as the
        iterator is consumed; stop early (e.g. `itertools.islice`) to fetch fewer.
        `max_price_minor` is in `currency`, by default the platform's default (EUR), as
        for bundles."""
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        found: dict[str, Any] = {
            "query": query,
            "mediaTypes": [graphql_enum(MediaType(str(m).lower())) for m in media_types or []],
            "uses": [graphql_enum(use) for use in parse_uses(list(uses or []))],
            "maxPriceMinor": max_price_minor,
            "currency": currency or (DEFAULT_CURRENCY if max_price_minor is not None else None),
            "tags": list(tags or []),
            "language": language,
            "creatorId": creator_id,
        }
        variables: dict[str, Any] = {
            "filter": {name: value for name, value in found.items() if value not in (None, [])},
            "sort": graphql_enum(SearchSort(str(sort).lower())) if sort is not None else None,
            "first": page_size,
        }
        return self._wire.pages(SEARCH, variables, "works", "WorkConnection", Work)

    def work(self, work_id: str | uuid.UUID) -> Work:
        node = self._wire.ask(WORK, {"id": str(work_id)}, "work", "Work", retry=True)
        return Work.model_validate(node)

    # -- buying ---------------------------------------------------------------------------

    def create_bundle(
        self,
        work_ids: Sequence[str | uuid.UUID],
        *,
        uses: Sequence[Use | str],
        name: str | None = None,
    ) -> Bundle:
        """A bundle of these works, for these uses (every work's offer must allow them)."""
        ids = [str(work_id) for work_id in work_ids]
        bundle = {
            "name": name or f"{len(ids)} works, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            "uses": [graphql_enum(use) for use in parse_uses(list(uses))],
            "workIds": ids,
        }
        node = self._wire.ask(
            CREATE_BUNDLE, {"input": bundle}, "createBundle", "BundleCreated", retry=False
        )
        return Bundle.model_validate(node["bundle"])

    def quote(self, bundle_id: str | uuid.UUID) -> Quote:
        """Lock the bundle's current prices for a while (`expires_at`); works that cannot
        be sold are in `excluded`, with the reason."""
        node = self._wire.ask(
            QUOTE_BUNDLE, {"id": str(bundle_id)}, "quoteBundle", "QuoteIssued", retry=False
        )
        return Quote.model_validate(node["quote"])

    def purchase(
        self, quote_id: str | uuid.UUID, *, idempotency_key: str | None = None
    ) -> Purchase:
        """Buy a quote. Give the same `idempotency_key` to a later call (the returned
        licence carries it) and it returns the same licence, never a second charge."""
        key = idempotency_key or f"sdk-{uuid.uuid4()}"
        variables = {"quote": str(quote_id), "key": key}
        try:
            node = self._wire.ask(PURCHASE, variables, "purchase", "PurchaseSucceeded", retry=True)
        except AssentError as error:
            error.quote_id, error.idempotency_key = str(quote_id), key
            raise
        return Purchase.model_validate(
            {**node["licence"], "idempotency_key": key, "replayed": node["replayed"]}
        )

    def buy(
        self,
        work_ids: Sequence[str | uuid.UUID],
        *,
        uses: Sequence[Use | str],
        name: str | None = None,
        idempotency_key: str | None = None,
    ) -> Purchase:
        """Bundle, quote and purchase in one call. When the purchase fails, the error
        carries the quote and the key: `purchase(error.quote_id, idempotency_key=
        error.idempotency_key)` then retries without the risk of a second charge."""
        bundle = self.create_bundle(work_ids, uses=uses, name=name)
        return self.purchase(self.quote(bundle.id).id, idempotency_key=idempotency_key)

    # -- the account -----------------------------------------------------------------------

    def me(self) -> Account:
        """The account the API key belongs to; `Unauthenticated` for a key it is not."""
        return Account.model_validate(self._wire.ask(ME, {}, "me", "Account", retry=True))

    def balances(self) -> list[Balance]:
        """Your prepaid balances, one per currency."""
        node = self._wire.ask(BALANCES, {}, "balances", "Balances", retry=True)
        return [Balance.model_validate(item) for item in node["balances"]]

    # -- licences and deliveries ----------------------------------------------------------

    def licence(self, licence_id: str | uuid.UUID) -> Licence:
        node = self._wire.ask(LICENCE, {"id": str(licence_id)}, "licence", "Licence", retry=True)
        return Licence.model_validate(node)

    def licences(self, *, page_size: int = 20) -> Iterator[Licence]:
        """Your licences, newest first, a page at a time."""
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        return self._wire.pages(
            LICENCES, {"first": page_size}, "licences", "LicenceConnection", Licence
        )

    def wait_for_delivery(self, licence_id: str | uuid.UUID, *, timeout: float = 60.0) -> Delivery:
        """The licence's delivery once built: `issued`, or `empty` when every work was
        left out (withdrawn since the quote, and refunded)."""
        deadline = time.monotonic() + timeout
        delay = 0.1
        while True:
            node = self._wire.ask(
                LICENCE_DELIVERY, {"id": str(licence_id)}, "licence", "Licence", retry=True
            )
            found = node.get("delivery")
            if found is not None and found["status"] != "BUILDING":
                return Delivery.model_validate(found)
            if time.monotonic() + delay > deadline:
                raise DeliveryTimeout(
                    f"the delivery of licence {licence_id} was not built within {timeout:g} s"
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 2.0)

    def download(
        self,
        delivery_id: str | uuid.UUID,
        to: str | Path,
        *,
        parallel: int = 8,
        keys: Sequence[PublicKeyRead] | None = None,
        wait: float = 60.0,
        progress: "Progress | None" = None,
    ) -> "DownloadResult":
        """Every file of the delivery into `to`, as `assent download` does: the manifest's
        signature checked first (with `keys`, by default the gateway's), files in parallel
        and resumable, each sha256 verified. Files that failed are in the result's
        `failed`; run it again to resume them. Once every file is verified, the bundle's
        documents are written beside them (`assent.bundle`): the certificate, the keys,
        the terms, NOTICE, the dataset card and the Hugging Face and Croissant layouts."""
        from assent.bundle import write_bundle
        from assent.download import DownloadError, download

        try:
            wanted = uuid.UUID(str(delivery_id))
        except ValueError as exc:
            # As the API answers an id that is no UUID: it names nothing.
            raise NotFound(f"no delivery {delivery_id}") from exc
        directory = Path(to)
        try:
            result = download(
                wanted,
                directory,
                gateway_url=self.gateway_url,
                api_key=self._require_key(),
                parallel=parallel,
                keys=keys,
                wait=wait,
                progress=progress,
            )
        except DownloadError as exc:
            raise DownloadFailed(str(exc)) from exc
        if result.ok:
            licence = self.licence(result.manifest.header.licence_id)
            write_bundle(directory, result.manifest, licence, result.keys)
        return result

    def records(self, bundle_dir: str | Path) -> Iterator["Record"]:
        """The files of a bundle downloaded into `bundle_dir`, each with its work, sha256,
        media type, attribution and the licence terms it was sold under. Offline: the
        kept manifest and certificate are verified with the keys kept beside them, and
        each record's terms must hash to the `terms_id` the signed manifest names
        (`assent.bundle.open_bundle`, which needs no client, does the same)."""
        from assent.bundle import open_bundle

        return iter(open_bundle(Path(bundle_dir)).records())

    def status_list(self, delivery_id: str | uuid.UUID) -> "StatusList":
        """The delivery's signed status list, verified with the published keys: which of
        its records (by manifest position) may no longer be used, and until when to trust
        it before asking again."""
        from assent.protocol import VerificationError, verify_status_list
        from services.contracts.status_list import StatusListRead

        response = self._http.get(f"{self.gateway_url}/status/{delivery_id}")
        if response.status_code == 404:
            raise NotFound(f"no delivery {delivery_id}")
        if response.status_code != 200:
            raise ServiceUnavailable(f"the status list answered {response.status_code}", "gateway")
        envelope = StatusListRead.model_validate_json(response.content).envelope
        try:
            return verify_status_list(envelope, self.published_keys())
        except VerificationError as exc:
            raise UnexpectedResponse(f"the status list does not verify: {exc}") from exc

    def training_summary(self, *, model: str | None = None) -> "TrainingDataSummary":
        """The EU AI Act's public summary of training content (Article 53(1)(d)) for your
        licensed data, or one model's (`assent.summary`: JSON, HTML, PDF)."""
        from assent.summary.fetch import training_summary

        return training_summary(self, model=model)

    def published_keys(self) -> list[PublicKeyRead]:
        from assent.verify import KeysUnavailable, parse_keys

        url = self.gateway_url + WELL_KNOWN_KEYS_PATH
        try:
            response = self._http.get(url)
            response.raise_for_status()
            return parse_keys(response.content, source=url)
        except (httpx.HTTPError, KeysUnavailable) as exc:
            raise ServiceUnavailable(f"cannot read the published keys: {exc}", "gateway") from exc

    # -- the API key ----------------------------------------------------------------------

    def _require_key(self) -> str:
        if not self._api_key:
            raise Unauthenticated(f"no API key: pass api_key or set {API_KEY_ENV}")
        return self._api_key
