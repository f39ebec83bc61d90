"""`assent audit export` and `assent audit checkpoint`: licence chains and the audit log's
checkpoints, verified with the published keys."""

import argparse
import sys
from pathlib import Path
from uuid import UUID

from assent.cli._verify import print_invalid, read_json
from assent.options import API_KEY_ENV, connection_options
from assent.pdf import PDF_EXTRA


def _audit_export(args: argparse.Namespace) -> int:
    from assent.audit import AuditError, export_chain
    from assent.evidence import party_facts
    from assent.verify import KeysUnavailable, load_keys
    from services.contracts.audit import ChainSubjectKind

    if not args.key:
        print(f"assent audit export: give --key or set {API_KEY_ENV}", file=sys.stderr)
        return 2
    kept = read_json(args.checkpoint, "audit export") if args.checkpoint else None
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
            pdf=args.pdf,
        )
    except AuditError as error:
        print(f"assent audit export: {error}", file=sys.stderr)
        return 1
    check = export.check
    print(f"wrote {export.json_path} and {export.html_path}")
    if export.pdf is not None:
        pages = f"{export.pdf.pages} page{'' if export.pdf.pages == 1 else 's'}"
        print(f"wrote {export.pdf.path} ({pages}, A4)")
    if not export.ok or check.key is None:
        problems = [*export.key_conflicts, *(p.message for p in check.problems)]
        print_invalid("licence chain", problems, str(export.json_path))
        print("the chain does NOT verify: the files say so; do not rely on it", file=sys.stderr)
        return 1
    print(f"VALID licence chain in {export.json_path}")
    print(f"  signed by key {check.key.key_id} ({check.key.purpose})")
    for label, value in [*check.facts, *party_facts(check.events)]:
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


def add_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add `assent audit` and its commands to the `assent` parser."""
    audit = commands.add_parser("audit", help="export licence chains and keep checkpoints")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    export = audit_commands.add_parser(
        "export",
        help="write a licence chain as JSON and as an HTML report, verified",
        description="Writes DIR/chain-<kind>-<id>.json (for assent verify) and .html (a "
        "report to hand on; with --pdf also .pdf, A4), verifying the chain with the "
        "published keys. Exit code 0: "
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
    export.add_argument(
        "--pdf",
        action="store_true",
        help=f"also write the report as a PDF (needs {PDF_EXTRA})",
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


def _gateway_options(command: argparse.ArgumentParser) -> None:
    connection_options(command)
    command.add_argument(
        "--keys",
        metavar="FILE_OR_URL",
        help="verify with these published keys instead of the gateway's",
    )
