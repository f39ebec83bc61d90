"""The `assent` command."""

import argparse
import os
import sys

from assent.cli import (
    _account,
    _audit,
    _download,
    _keys,
    _lab,
    _server,
    _summary,
    _verify,
    _witness,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assent", description="Assent: licensed, consented AI training data."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    # In this order in `--help`: the platform's commands, then the lab's.
    for module in (_server, _download, _verify, _audit, _witness, _keys, _lab, _summary, _account):
        module.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`assent search --json | head`): what it wanted it has.
        # Python would complain again when it flushes stdout at exit, so stdout goes
        # nowhere from here on.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return code
