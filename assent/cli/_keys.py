"""`assent keys rotate SERVICE` (admins) and `assent keys list`: the marketplace's
signing keys, each with the interval it signs in."""

import argparse
import sys
from typing import TYPE_CHECKING

from assent.options import API_KEY_ENV, connection_options

if TYPE_CHECKING:
    from services.contracts.signing import PublicKeyRead, PublishedKeys

SERVICES = ("licensing", "delivery", "audit")


def _print_keys(keys: "list[PublicKeyRead]") -> None:
    from assent.protocol import interval_text

    for key in keys:
        print(f"  {key.key_id}  {key.purpose:<20} {interval_text(key)}")


def _get(url: str, *, api_key: str | None, method: str = "GET") -> "PublishedKeys | str":
    """The keys the gateway answers, or why it did not."""
    import httpx

    from services.contracts.signing import PublishedKeys

    headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        response = httpx.request(method, url, headers=headers, timeout=30.0)
    except httpx.HTTPError as exc:
        return f"cannot reach {url}: {exc}"
    if response.status_code != 200:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        return f"{url} answered {response.status_code}: {detail}"
    return PublishedKeys.model_validate_json(response.content)


def _rotate(args: argparse.Namespace) -> int:
    if not args.key:
        print(f"assent keys rotate: give --key or set {API_KEY_ENV}", file=sys.stderr)
        return 2
    url = f"{args.gateway.rstrip('/')}/admin/keys/{args.service}/rotate"
    answer = _get(url, api_key=args.key, method="POST")
    if isinstance(answer, str):
        print(f"assent keys rotate: {answer}", file=sys.stderr)
        return 1
    print(f"rotated the {args.service} signing key; its keys now:")
    _print_keys(answer.keys)
    print("  documents signed before keep verifying with the key of their time")
    return 0


def _list(args: argparse.Namespace) -> int:
    from services.contracts.signing import WELL_KNOWN_KEYS_PATH

    answer = _get(args.gateway.rstrip("/") + WELL_KNOWN_KEYS_PATH, api_key=None)
    if isinstance(answer, str):
        print(f"assent keys list: {answer}", file=sys.stderr)
        return 1
    _print_keys(answer.keys)
    return 0


def add_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add `assent keys` and its commands to the `assent` parser."""
    keys = commands.add_parser("keys", help="the signing keys: list them, rotate one (admins)")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True)
    rotate = keys_commands.add_parser(
        "rotate",
        help="retire a service's signing key for a new one (admins)",
        description="The service signs with the next key of its seed from a second later; "
        "the rotation is logged in the audit log, and the published keys show both with "
        "their intervals. Exit code 0: rotated; 1: refused or the gateway failed; 2: usage.",
    )
    rotate.add_argument("service", choices=SERVICES, help="whose key to rotate")
    connection_options(rotate)
    rotate.set_defaults(handler=_rotate)
    listed = keys_commands.add_parser(
        "list", help="the published keys, current and past, with their intervals"
    )
    connection_options(listed)
    listed.set_defaults(handler=_list)
