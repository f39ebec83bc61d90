"""The `assent` command."""

import argparse

from assent.cli import _audit, _download, _lab, _server, _verify


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assent", description="Assent: licensed, consented AI training data."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    # In this order in `--help`: the platform's commands, then the lab's.
    for module in (_server, _download, _verify, _audit, _lab):
        module.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.handler(args)
    return code
