"""`assent up`, `migrate`, `backup`, `restore`, `keygen` and `revision`: the commands
that run the platform.

They import the platform when they run, so that a client-only install (`pip install
assent`, without the `server` extra) still lists them and names the install they need.
"""

import argparse
import importlib.metadata
import os
import re
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

DISTRIBUTION = "assent"
SERVER_EXTRA = "server"
_REQUIREMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_SERVER_MARKER = re.compile(rf"""\bextra\s*==\s*["']{SERVER_EXTRA}["']""")


def _canonical(name: str) -> str:
    # The name comparison of PEP 503: case, and runs of `-`, `_` and `.`, do not count.
    return re.sub(r"[-_.]+", "-", name).lower()


def _is_platform_module(name: str) -> bool:
    """Whether a top-level module that could not be imported is the platform's.

    The platform is what the installed distribution's metadata says the `server` extra
    requires, and the distribution's own packages besides `assent`: read from there, not
    copied from pyproject.toml, an editable install included. A distribution that is not
    installed has no record of the modules it would bring (`jwt` is PyJWT's), so while
    any of the extra's is missing, whatever module a platform command stumbles on is
    taken for the platform. Without the distribution's metadata, as when the sources are
    run from a checkout never installed, no module is known to be the platform's.
    """
    try:
        requirements = importlib.metadata.requires(DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        return False
    server = set()
    for requirement in requirements:
        found = _REQUIREMENT_NAME.match(requirement)
        if found and _SERVER_MARKER.search(requirement.partition(";")[2]):
            server.add(_canonical(found.group()))
    for distribution in server:
        try:
            importlib.metadata.distribution(distribution)
        except importlib.metadata.PackageNotFoundError:
            return True
    providers = importlib.metadata.packages_distributions().get(name, [])
    platform = server | {DISTRIBUTION}
    return name != DISTRIBUTION and any(_canonical(p) in platform for p in providers)


def _needs_platform(command: str, missing: ModuleNotFoundError) -> int:
    """Words a platform command run without the platform; any other missing module is a
    fault of ours and is raised on."""
    if not _is_platform_module((missing.name or "").split(".")[0]):
        raise missing
    print(f"assent {command} needs the platform: pip install 'assent[server]'", file=sys.stderr)
    return 2


def _up(args: argparse.Namespace) -> int:
    try:
        from services.stack import Stack, StackError, check_settings, migrate, stack_environment
        from services.supervisor import Supervisor
    except ModuleNotFoundError as missing:
        return _needs_platform("up", missing)
    started = time.monotonic()
    data_dir = Path(args.data_dir)
    env = stack_environment(data_dir=data_dir, port=args.port, host=args.host)
    stack = Stack(env=env, port=args.port, host=args.host)
    try:
        check_settings(env)
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
            f"Assent is ready in {elapsed:.1f} s: the portal at {stack.gateway_url}/portal/, "
            f"GraphQL at {stack.gateway_url}/graphql (Ctrl-C stops every process)",
            flush=True,
        )
        supervisor = Supervisor(stack, say=lambda line: print(line, flush=True))
        while not stopping:
            supervisor.tick()
            time.sleep(0.2)
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
    try:
        from services.stack import migrate, stack_environment
    except ModuleNotFoundError as missing:
        return _needs_platform("migrate", missing)
    env = stack_environment(data_dir=Path(args.data_dir), port=args.port)
    migrate(env)
    print("every schema is at its newest revision")
    return 0


def _backup(args: argparse.Namespace) -> int:
    try:
        from services.backup import SECRETS_NOTICE, BackupError, backup
        from services.stack import stack_environment
    except ModuleNotFoundError as missing:
        return _needs_platform("backup", missing)
    env = stack_environment(data_dir=Path(args.data_dir), port=args.port)
    try:
        manifest = backup(env, Path(args.directory))
    except BackupError as error:
        print(f"assent backup: {error}", file=sys.stderr)
        return 1
    for database in manifest.databases:
        print(
            f"  {database.component}: {database.engine} at revision {database.revision}, "
            f"{database.size} bytes"
        )
    total = sum(entry.size for entry in manifest.objects)
    print(f"  the bucket: {len(manifest.objects)} objects, {total} bytes")
    print(f"backed up into {args.directory} (manifest.json lists every file with its sha256)")
    print(f"note: {SECRETS_NOTICE}")
    return 0


def _restore(args: argparse.Namespace) -> int:
    try:
        from services.backup import BackupError, missing_secrets, restore
        from services.stack import migrate, stack_environment
    except ModuleNotFoundError as missing:
        return _needs_platform("restore", missing)
    data_dir = Path(args.data_dir)
    absent = missing_secrets(data_dir, os.environ)
    if absent and not args.new_secrets:
        print(
            "assent restore: the signing secrets are not in a backup; give the ones kept "
            f"from the backed-up platform: its secrets.json in {data_dir}, or set "
            f"{', '.join(absent)}. --new-secrets goes on with new ones, and then what was "
            "signed before no longer verifies with the platform's current keys",
            file=sys.stderr,
        )
        return 2
    env = stack_environment(data_dir=data_dir, port=args.port)
    try:
        manifest = restore(env, Path(args.directory), replace=args.replace)
    except BackupError as error:
        print(f"assent restore: {error}", file=sys.stderr)
        return 1
    migrate(env)
    print(
        f"restored {len(manifest.databases)} databases and {len(manifest.objects)} objects "
        f"from {args.directory}, taken {manifest.created_at.isoformat()}; every schema is "
        "at its newest revision"
    )
    return 0


def _keygen(_args: argparse.Namespace) -> int:
    try:
        from gateway.accounts.keys import generate_key
    except ModuleNotFoundError as missing:
        return _needs_platform("keygen", missing)

    print(generate_key().secret)
    return 0


def _revision(args: argparse.Namespace) -> int:
    """Autogenerate a migration for one component against a scratch SQLite database."""
    try:
        from alembic import command

        from services.kit.migrations import alembic_config, upgrade
        from services.stack import DATABASE_COMPONENTS
    except ModuleNotFoundError as missing:
        return _needs_platform("revision", missing)
    names = [c.name for c in DATABASE_COMPONENTS]
    # Checked here, not by argparse: the names are the platform's, which `--help` never imports.
    if args.component not in names:
        print(
            f"assent revision: no component {args.component!r}; one of {', '.join(names)}",
            file=sys.stderr,
        )
        return 2
    component = DATABASE_COMPONENTS[names.index(args.component)]
    assert component.migrations is not None
    with tempfile.TemporaryDirectory() as scratch:
        url = args.database_url or f"sqlite+aiosqlite:///{scratch}/scratch.db"
        upgrade(component.migrations, url, args.schema)
        config = alembic_config(component.migrations, url, args.schema)
        command.revision(config, message=args.message, autogenerate=True, rev_id=args.rev_id)
    return 0


def add_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add the platform's commands to the `assent` parser."""
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

    backup_cmd = commands.add_parser(
        "backup", help="copy every database and the bucket into a directory (not the secrets)"
    )
    backup_cmd.add_argument("directory", help="a new or empty directory")
    backup_cmd.add_argument("--data-dir", default="var")
    backup_cmd.add_argument("--port", type=int, default=8000)
    backup_cmd.set_defaults(handler=_backup)

    restore_cmd = commands.add_parser(
        "restore", help="restore a backup into empty databases and bucket, then migrate"
    )
    restore_cmd.add_argument("directory", help="a directory `assent backup` wrote")
    restore_cmd.add_argument("--data-dir", default="var")
    restore_cmd.add_argument("--port", type=int, default=8000)
    restore_cmd.add_argument(
        "--replace", action="store_true", help="overwrite databases and a bucket that hold data"
    )
    restore_cmd.add_argument(
        "--new-secrets",
        action="store_true",
        help="go on without the backed-up platform's secrets (its signatures stop verifying)",
    )
    restore_cmd.set_defaults(handler=_restore)

    keygen = commands.add_parser("keygen", help="print a new API key, e.g. for ASSENT_ADMIN_KEY")
    keygen.set_defaults(handler=_keygen)

    revision = commands.add_parser("revision", help="(developers) autogenerate a migration")
    revision.add_argument(
        "component", help="the component whose models changed: the gateway or a service"
    )
    revision.add_argument("-m", "--message", required=True)
    revision.add_argument("--rev-id")
    revision.add_argument("--database-url", help="compare against this database instead of SQLite")
    revision.add_argument("--schema")
    revision.set_defaults(handler=_revision)
