"""`assent login` and `assent balance`: the lab's account."""

import argparse
import getpass
import json
import sys
from typing import TYPE_CHECKING

from assent.options import API_KEY_ENV, connection_options, gateway_url, save_login

if TYPE_CHECKING:
    from assent.client import AssentClient


def _login(args: argparse.Namespace) -> int:
    from assent.client import AssentClient
    from assent.errors import AssentError

    key = args.key_from_option or (
        sys.stdin.readline().strip() if args.stdin else getpass.getpass("API key: ").strip()
    )
    if not key:
        print("assent login: no key given", file=sys.stderr)
        return 2
    try:
        with AssentClient(args.gateway, key) as client:
            account = client.me()
    except AssentError as error:
        # Kept only once the gateway has accepted it: a mistyped key is never saved.
        print(f"assent login: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    path = save_login(key, args.gateway)
    print(f"logged in to {args.gateway} as {account.name} ({account.email})")
    print(f"  the key is kept in {path}, readable by you alone")
    return 0


def _balance(args: argparse.Namespace) -> int:
    from assent.cli._lab import run

    def action(client: "AssentClient") -> int:
        balances = [b for b in client.balances() if b.account_kind == "buyer_balance"]
        if args.json:
            shown = [
                {"amount": str(b.balance.amount), "currency": b.balance.currency} for b in balances
            ]
            print(json.dumps(shown, indent=2))
            return 0
        for balance in balances:
            print(f"balance {balance.balance}")
        if not balances:
            print("no prepaid balance yet")
        return 0

    return run(args, action)


def add_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add `assent login` and `assent balance` to the `assent` parser."""
    login = commands.add_parser(
        "login",
        help="check an API key and keep it in your config, readable by you alone",
        description="Asks for the key (or reads it from stdin with --stdin), checks it with "
        f"the gateway, then keeps it for every later command that is given no --key and "
        f"no ${API_KEY_ENV}. Exit code 0: saved; 1: the key was refused; 2: usage.",
    )
    login.add_argument("--stdin", action="store_true", help="read the key from stdin")
    login.add_argument(
        "--key", dest="key_from_option", help="the key (prefer the prompt: this shows in ps)"
    )
    login.add_argument(
        "--gateway",
        default=gateway_url(),
        metavar="URL",
        help="the gateway the key is for (default as other commands)",
    )
    login.set_defaults(handler=_login)

    balance = commands.add_parser("balance", help="your prepaid balance, in each currency")
    balance.add_argument("--json", action="store_true", help="print JSON for scripts")
    connection_options(balance)
    balance.set_defaults(handler=_balance)
