"""The `assent` command."""

import argparse
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

from assent.stack import DATABASE_COMPONENTS, Stack, StackError, migrate, stack_environment


def _up(args: argparse.Namespace) -> int:
    started = time.monotonic()
    data_dir = Path(args.data_dir)
    env = stack_environment(data_dir=data_dir, port=args.port, host=args.host)
    stack = Stack(env=env, port=args.port, host=args.host)
    try:
        stack.check_ports()
    except StackError as error:
        print(f"assent up: {error}", file=sys.stderr, flush=True)
        return 2
    stopping = False

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    print(f"Assent: data in {data_dir.resolve()}; applying migrations…", flush=True)
    migrate(env)
    if stopping:
        print("Assent stopped.", flush=True)
        return 0
    try:
        stack.start()
        elapsed = time.monotonic() - started
        print(
            f"Assent is ready in {elapsed:.1f} s: GraphQL at {stack.gateway_url}/graphql "
            "(Ctrl-C stops every process)",
            flush=True,
        )
        while not stopping:
            for name, process in list(stack.processes.items()):
                if process.poll() is not None:
                    print(
                        f"{name} stopped unexpectedly (exit code {process.returncode})", flush=True
                    )
                    return 1
            time.sleep(0.5)
    except StackError as error:
        if stopping:
            # Ctrl-C reached the children too while they were starting: a clean stop.
            print("Assent stopped.", flush=True)
            return 0
        print(f"assent up: {error}", file=sys.stderr, flush=True)
        return 2
    finally:
        stack.stop()
    print("Assent stopped.", flush=True)
    return 0


def _migrate(args: argparse.Namespace) -> int:
    env = stack_environment(data_dir=Path(args.data_dir), port=args.port)
    migrate(env)
    print("every schema is at its newest revision")
    return 0


def _keygen(_args: argparse.Namespace) -> int:
    from gateway.accounts.keys import generate_key

    print(generate_key().secret)
    return 0


def _revision(args: argparse.Namespace) -> int:
    """Autogenerate a migration for one component against a scratch SQLite database."""
    from alembic import command

    from services.kit.migrations import alembic_config, upgrade

    component = next(c for c in DATABASE_COMPONENTS if c.name == args.component)
    assert component.migrations is not None
    with tempfile.TemporaryDirectory() as scratch:
        url = args.database_url or f"sqlite+aiosqlite:///{scratch}/scratch.db"
        upgrade(component.migrations, url, args.schema)
        config = alembic_config(component.migrations, url, args.schema)
        command.revision(config, message=args.message, autogenerate=True, rev_id=args.rev_id)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assent", description="Assent: licensed, consented AI training data."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="run every service and the gateway on this machine")
    up.add_argument(
        "--data-dir", default="var", help="where SQLite files and objects live (default ./var)"
    )
    up.add_argument(
        "--port", type=int, default=8000, help="the gateway's port; services use the next five"
    )
    up.add_argument("--host", default="127.0.0.1")
    up.set_defaults(handler=_up)

    migrate_cmd = commands.add_parser("migrate", help="apply every component's migrations")
    migrate_cmd.add_argument("--data-dir", default="var")
    migrate_cmd.add_argument("--port", type=int, default=8000)
    migrate_cmd.set_defaults(handler=_migrate)

    keygen = commands.add_parser("keygen", help="print a new API key, e.g. for ASSENT_ADMIN_KEY")
    keygen.set_defaults(handler=_keygen)

    revision = commands.add_parser("revision", help="(developers) autogenerate a migration")
    revision.add_argument("component", choices=[c.name for c in DATABASE_COMPONENTS])
    revision.add_argument("-m", "--message", required=True)
    revision.add_argument("--rev-id")
    revision.add_argument("--database-url", help="compare against this database instead of SQLite")
    revision.add_argument("--schema")
    revision.set_defaults(handler=_revision)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
