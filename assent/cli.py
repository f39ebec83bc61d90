"""The `assent` command."""

import argparse
import json
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING
from uuid import UUID

from assent.lab import add_commands as add_lab_commands
from assent.options import (
    API_KEY_ENV,
    DEFAULT_GATEWAY_URL,
    GATEWAY_URL_ENV,
    connection_options,
    gateway_url,
)

if TYPE_CHECKING:
    from assent.download import DownloadResult
    from assent.verify import Verdict

MAX_PARALLEL = 64
MAX_PROBLEMS_PRINTED = 20
# What the `server` extra installs, by import name, and the platform's own packages: a
# platform command that misses one of these runs in a client-only install.
PLATFORM_PACKAGES = frozenset(
    {
        "aiohttp",
        "aiosqlite",
        "alembic",
        "asyncpg",
        "boto3",
        "botocore",
        "fastapi",
        "gateway",
        "graphql",
        "jwt",
        "orjson",
        "pydantic_settings",
        "services",
        "sqlalchemy",
        "starlette",
        "storage",
        "strawberry",
        "structlog",
        "uvicorn",
    }
)


def _needs_platform(command: str, missing: ModuleNotFoundError) -> int:
    """Words a platform command run without the platform; any other missing module is a
    fault of ours and is raised on."""
    if (missing.name or "").split(".")[0] not in PLATFORM_PACKAGES:
        raise missing
    print(f"assent {command} needs the platform: pip install 'assent[server]'", file=sys.stderr)
    return 2


def _up(args: argparse.Namespace) -> int:
    try:
        from services.stack import Stack, StackError, check_settings, migrate, stack_environment
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
    try:
        from services.stack import migrate, stack_environment
    except ModuleNotFoundError as missing:
        return _needs_platform("migrate", missing)
    env = stack_environment(data_dir=Path(args.data_dir), port=args.port)
    migrate(env)
    print("every schema is at its newest revision")
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


def _download(args: argparse.Namespace) -> int:
    # Imported here so that `assent up` never pays for httpx clients, rich and pydantic
    # models it does not use.
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from assent.download import DownloadError, download
    from assent.verify import KeysUnavailable, load_keys

    if not args.key:
        print(f"assent download: give --key or set {API_KEY_ENV}", file=sys.stderr)
        return 2
    try:
        keys = load_keys(args.keys) if args.keys else None
    except KeysUnavailable as error:
        print(f"assent download: {error}", file=sys.stderr)
        return 2
    console = Console(stderr=True)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=args.quiet or not console.is_terminal,
    )
    started = time.monotonic()
    try:
        with progress:
            result = download(
                args.delivery_id,
                Path(args.to),
                gateway_url=args.gateway,
                api_key=args.key,
                parallel=args.parallel,
                keys=keys,
                wait=args.wait,
                progress=progress,
            )
    except DownloadError as error:
        print(f"assent download: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("assent download: interrupted; run it again to resume", file=sys.stderr)
        return 130
    _report_download(result, time.monotonic() - started)
    return 0 if result.ok else 1


def _report_download(result: "DownloadResult", elapsed: float) -> None:
    from rich.filesize import decimal

    from assent.download import MANIFEST_FILE, FileStatus

    header, key = result.manifest.header, result.manifest.key
    total = sum(entry.size for entry in result.manifest.entries)
    print(f"delivery {header.delivery_id}: {len(result.files)} files, {decimal(total)}")
    print(
        f"  {result.count(FileStatus.DOWNLOADED)} downloaded, "
        f"{result.count(FileStatus.RESUMED)} resumed, "
        f"{result.count(FileStatus.COMPLETE)} already complete, "
        f"{len(result.failed)} failed; {decimal(result.fetched)} fetched in {elapsed:.1f} s"
    )
    print(f"  manifest verified: signed by key {key.key_id} ({key.purpose})")
    print(f"  saved in {result.directory}, manifest as {result.directory / MANIFEST_FILE}")
    if result.failed:
        print(f"{len(result.failed)} files failed:", file=sys.stderr)
        for failure in result.failed:
            shown = failure.path.relative_to(result.directory)
            print(f"  {shown} ({failure.entry.work_id}): {failure.error}", file=sys.stderr)


def _read_json(path: str, command: str) -> object:
    """A JSON file named on the command line; None after a usage error is printed."""
    try:
        return json.loads(Path(path).read_bytes())
    except OSError as error:
        print(f"assent {command}: cannot read {path}: {error.strerror}", file=sys.stderr)
    except ValueError as error:
        print(f"assent {command}: {path} is not JSON: {error}", file=sys.stderr)
    return None


def _print_verdict(verdict: "Verdict", file: str, source: str) -> None:
    print(f"VALID {verdict.kind} in {file}")
    print(f"  signed by key {verdict.key.key_id} ({verdict.key.purpose}) from {source}")
    for label, value in verdict.facts:
        print(f"  {label}: {value}")


def _print_invalid(kind: str, problems: list[str], file: str) -> None:
    print(f"INVALID {kind} in {file}")
    for problem in problems[:MAX_PROBLEMS_PRINTED]:
        print(f"  {problem}")
    if len(problems) > MAX_PROBLEMS_PRINTED:
        print(f"  and {len(problems) - MAX_PROBLEMS_PRINTED} more")


def _verify(args: argparse.Namespace) -> int:
    from assent.protocol import VerificationError
    from assent.verify import KeysUnavailable, UnrecognisedDocument, load_keys, verify_document
    from services.contracts.signing import WELL_KNOWN_KEYS_PATH

    document = _read_json(args.file, "verify")
    kept = _read_json(args.checkpoint, "verify") if args.checkpoint else None
    if document is None or (args.checkpoint and kept is None):
        return 2
    source = args.keys or gateway_url().rstrip("/") + WELL_KNOWN_KEYS_PATH
    try:
        keys = load_keys(source)
        verdict = verify_document(document, keys, kept=kept)
    except (KeysUnavailable, UnrecognisedDocument) as error:
        print(f"assent verify: {error}", file=sys.stderr)
        return 2
    except VerificationError as invalid:
        if args.json:
            result = {"valid": False, "file": args.file, "kind": invalid.kind}
            print(json.dumps({**result, "problems": invalid.problems}, indent=2))
        else:
            _print_invalid(invalid.kind, invalid.problems, args.file)
        return 1
    if args.json:
        key = verdict.key.model_dump(include={"key_id", "purpose"})
        result = {"valid": True, "file": args.file, "kind": verdict.kind, "key": key}
        print(json.dumps({**result, "keys": source, "facts": dict(verdict.facts)}, indent=2))
    else:
        _print_verdict(verdict, args.file, source)
    return 0


def _audit_export(args: argparse.Namespace) -> int:
    from assent.audit import AuditError, export_chain
    from assent.verify import KeysUnavailable, load_keys
    from services.contracts.audit import ChainSubjectKind

    if not args.key:
        print(f"assent audit export: give --key or set {API_KEY_ENV}", file=sys.stderr)
        return 2
    kept = _read_json(args.checkpoint, "audit export") if args.checkpoint else None
    if args.checkpoint and kept is None:
        return 2
    try:
        keys = load_keys(args.keys) if args.keys else None
    except KeysUnavailable as error:
        print(f"assent audit export: {error}", file=sys.stderr)
        return 2
    kind, subject = (
        (ChainSubjectKind.WORK, args.work)
        if args.work
        else (ChainSubjectKind.LICENCE, args.licence)
    )
    try:
        export = export_chain(
            kind,
            subject,
            Path(args.to),
            gateway_url=args.gateway,
            api_key=args.key,
            keys=keys,
            kept=kept,
        )
    except AuditError as error:
        print(f"assent audit export: {error}", file=sys.stderr)
        return 1
    check = export.check
    print(f"wrote {export.json_path} and {export.html_path}")
    if not check.ok or check.key is None:
        _print_invalid("licence chain", [p.message for p in check.problems], str(export.json_path))
        print("the chain does NOT verify: the files say so; do not rely on it", file=sys.stderr)
        return 1
    print(f"VALID licence chain in {export.json_path}")
    print(f"  signed by key {check.key.key_id} ({check.key.purpose})")
    for label, value in check.facts:
        print(f"  {label}: {value}")
    return 0


def _audit_checkpoint(args: argparse.Namespace) -> int:
    from assent.audit import AuditError, save_checkpoint
    from assent.verify import KeysUnavailable, load_keys

    if not args.key:
        print(f"assent audit checkpoint: give --key or set {API_KEY_ENV}", file=sys.stderr)
        return 2
    try:
        keys = load_keys(args.keys) if args.keys else None
    except KeysUnavailable as error:
        print(f"assent audit checkpoint: {error}", file=sys.stderr)
        return 2
    try:
        saved = save_checkpoint(
            Path(args.to), gateway_url=args.gateway, api_key=args.key, keys=keys
        )
    except AuditError as error:
        print(f"assent audit checkpoint: {error}", file=sys.stderr)
        return 1
    checkpoint = saved.checkpoint
    print(f"kept the checkpoint of tree size {checkpoint.tree_size} in {saved.path}")
    print(f"  root: {checkpoint.root_hash}")
    print(f"  issued at: {checkpoint.issued_at.isoformat()}")
    print(f"  signed by key {saved.key.key_id} ({saved.key.purpose})")
    if saved.replaced is not None:
        print(
            f"  consistent with the checkpoint it replaces (tree size {saved.replaced.tree_size}, "
            f"root {saved.replaced.root_hash})"
        )
    return 0


def _parallelism(text: str) -> int:
    value = int(text)
    if not 1 <= value <= MAX_PARALLEL:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_PARALLEL}")
    return value


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
    revision.add_argument(
        "component", help="the component whose models changed: the gateway or a service"
    )
    revision.add_argument("-m", "--message", required=True)
    revision.add_argument("--rev-id")
    revision.add_argument("--database-url", help="compare against this database instead of SQLite")
    revision.add_argument("--schema")
    revision.set_defaults(handler=_revision)

    download = commands.add_parser(
        "download",
        help="download a delivery's files in parallel, resumably, verifying each sha256",
        description="Files land in DIR/<work id>/<file name>; a second run fetches only what "
        "is missing or wrong. Exit code 0: every file verified; 1: a file failed (listed) or "
        "the manifest was refused; 2: usage.",
    )
    download.add_argument("delivery_id", metavar="DELIVERY_ID", type=UUID, help="a delivery id")
    download.add_argument("--to", required=True, metavar="DIR", help="where the files go")
    connection_options(download)
    download.add_argument(
        "--parallel", type=_parallelism, default=8, metavar="N", help="files at once (default 8)"
    )
    download.add_argument(
        "--keys",
        metavar="FILE_OR_URL",
        help="verify the manifest with these published keys instead of the gateway's",
    )
    download.add_argument(
        "--wait",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how long to wait for a delivery still being built (default 60)",
    )
    download.add_argument("--quiet", action="store_true", help="no progress bar")
    download.set_defaults(handler=_download)

    verify = commands.add_parser(
        "verify",
        help="check a manifest, licence certificate, audit checkpoint or licence chain offline",
        description="Exit code 0: valid; 1: invalid (the output says where); 2: usage.",
    )
    verify.add_argument(
        "file",
        metavar="FILE",
        help="a DSSE envelope, a CertificateRead, a ManifestRead, a CheckpointRead or a "
        "licence chain export (JSON)",
    )
    verify.add_argument(
        "--keys",
        metavar="FILE_OR_URL",
        help="the published keys: a JSON file or a URL (default the gateway's well-known "
        f"keys at ${GATEWAY_URL_ENV} or {DEFAULT_GATEWAY_URL})",
    )
    verify.add_argument(
        "--checkpoint",
        metavar="KEPT.json",
        help="a licence chain must be consistent with this checkpoint, kept earlier "
        "(assent audit checkpoint)",
    )
    verify.add_argument("--json", action="store_true", help="print the result as JSON")
    verify.set_defaults(handler=_verify)

    audit = commands.add_parser("audit", help="export licence chains and keep checkpoints")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    export = audit_commands.add_parser(
        "export",
        help="write a licence chain as JSON and as an HTML report, verified",
        description="Writes DIR/chain-<kind>-<id>.json (for assent verify) and .html (a "
        "report to hand on), verifying the chain with the published keys. Exit code 0: "
        "written and valid; 1: the chain does not verify (the files are written and say "
        "so) or the gateway failed; 2: usage.",
    )
    subject = export.add_mutually_exclusive_group(required=True)
    subject.add_argument("--work", type=UUID, metavar="ID", help="the chain of a work")
    subject.add_argument("--licence", type=UUID, metavar="ID", help="the chain of a licence")
    export.add_argument("--to", required=True, metavar="DIR", help="where the files go")
    export.add_argument(
        "--checkpoint",
        metavar="KEPT.json",
        help="a checkpoint kept earlier: the chain is proven consistent with it",
    )
    checkpoint = audit_commands.add_parser(
        "checkpoint",
        help="keep the audit log's current signed checkpoint in a file",
        description="A FILE already holding a checkpoint is replaced only by one proven "
        "consistent with it. Exit code 0: kept; 1: the checkpoint does not verify, is not "
        "consistent with FILE's, or the gateway failed; 2: usage.",
    )
    checkpoint.add_argument("--to", required=True, metavar="FILE", help="where to keep it")
    for command, handler in ((export, _audit_export), (checkpoint, _audit_checkpoint)):
        _gateway_options(command)
        command.set_defaults(handler=handler)
    add_lab_commands(commands)
    return parser


def _gateway_options(command: argparse.ArgumentParser) -> None:
    connection_options(command)
    command.add_argument(
        "--keys",
        metavar="FILE_OR_URL",
        help="verify with these published keys instead of the gateway's",
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
