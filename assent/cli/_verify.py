"""`assent verify`: a signed document checked offline, and the verdict's printing, which
the audit commands share."""

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from assent.options import DEFAULT_GATEWAY_URL, GATEWAY_URL_ENV, gateway_url

if TYPE_CHECKING:
    from assent.verify import Verdict

MAX_PROBLEMS_PRINTED = 20


def read_json(path: str, command: str) -> object:
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


def print_invalid(kind: str, problems: list[str], file: str) -> None:
    print(f"INVALID {kind} in {file}")
    for problem in problems[:MAX_PROBLEMS_PRINTED]:
        print(f"  {problem}")
    if len(problems) > MAX_PROBLEMS_PRINTED:
        print(f"  and {len(problems) - MAX_PROBLEMS_PRINTED} more")


def _verify_bundle(args: argparse.Namespace) -> int:
    """A downloaded bundle, from its directory alone: the manifest and certificate with
    the keys kept beside them (or --keys), each file's sha256, each line's terms."""
    from assent.bundle import KEYS_FILE, open_bundle
    from assent.errors import BundleInvalid
    from assent.verify import KeysUnavailable, load_keys

    directory = Path(args.file)
    source = args.keys or str(directory / KEYS_FILE)
    try:
        keys = load_keys(args.keys) if args.keys else None
        bundle = open_bundle(directory, keys=keys)
        problems = bundle.altered_files()
    except KeysUnavailable as error:
        print(f"assent verify: {error}", file=sys.stderr)
        return 2
    except BundleInvalid as invalid:
        problems = [invalid.message]
    if problems:
        if args.json:
            result = {"valid": False, "file": args.file, "kind": "bundle", "problems": problems}
            print(json.dumps(result, indent=2))
        else:
            print_invalid("bundle", problems, args.file)
        return 1
    header, certificate = bundle.manifest.header, bundle.certificate
    facts = [
        ("delivery", str(header.delivery_id)),
        ("licence", str(header.licence_id)),
        ("files", f"{len(bundle.manifest.entries)}, each sha256 as the manifest lists it"),
        ("licence certificate", str(certificate.licence_id) if certificate else "none kept"),
    ]
    if certificate is not None:
        facts.append(("status", f"{certificate.status} as of {certificate.issued_at.isoformat()}"))
    if args.json:
        key = bundle.manifest.key.model_dump(include={"key_id", "purpose"})
        result = {"valid": True, "file": args.file, "kind": "bundle", "key": key}
        print(json.dumps({**result, "keys": source, "facts": dict(facts)}, indent=2))
    else:
        print(f"VALID bundle in {args.file}")
        key_shown = f"{bundle.manifest.key.key_id} ({bundle.manifest.key.purpose})"
        print(f"  manifest signed by key {key_shown} from {source}")
        for label, value in facts:
            print(f"  {label}: {value}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from assent.evidence import carried_keys, key_facts, pinned_problems
    from assent.protocol import CHAIN_KIND, NoteError, VerificationError, many_problems, parse_vkey
    from assent.verify import KeysUnavailable, UnrecognisedDocument, load_keys, verify_document
    from services.contracts.signing import WELL_KNOWN_KEYS_PATH

    if Path(args.file).is_dir():
        return _verify_bundle(args)
    document = read_json(args.file, "verify")
    kept = read_json(args.checkpoint, "verify") if args.checkpoint else None
    if document is None or (args.checkpoint and kept is None):
        return 2
    try:
        witnesses = [parse_vkey(vkey) for vkey in args.witness or ()]
    except NoteError as error:
        print(f"assent verify: --witness: {error.problem}", file=sys.stderr)
        return 2
    source = args.keys or gateway_url().rstrip("/") + WELL_KNOWN_KEYS_PATH
    try:
        # A chain export carries its keys: checked with them, offline, unless --keys pins
        # others, when a carried key unlike the pinned one of its id is refused.
        carried = carried_keys(document)
        if carried and not args.keys:
            keys, source = carried, "the export itself (not pinned: compare the key ids)"
        else:
            keys = load_keys(source)
        conflicts = pinned_problems(carried, keys)
        if conflicts:
            raise many_problems(CHAIN_KIND, conflicts)
        verdict = verify_document(document, keys, kept=kept, witnesses=witnesses)
        verdict = replace(verdict, facts=[*verdict.facts, *key_facts(carried)])
    except (KeysUnavailable, UnrecognisedDocument) as error:
        print(f"assent verify: {error}", file=sys.stderr)
        return 2
    except VerificationError as invalid:
        if args.json:
            result = {"valid": False, "file": args.file, "kind": invalid.kind}
            print(json.dumps({**result, "problems": invalid.problems}, indent=2))
        else:
            print_invalid(invalid.kind, invalid.problems, args.file)
        return 1
    if args.json:
        key = verdict.key.model_dump(include={"key_id", "purpose"})
        result = {"valid": True, "file": args.file, "kind": verdict.kind, "key": key}
        print(json.dumps({**result, "keys": source, "facts": dict(verdict.facts)}, indent=2))
    else:
        _print_verdict(verdict, args.file, source)
    return 0


def add_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add `assent verify` to the `assent` parser."""
    verify = commands.add_parser(
        "verify",
        help="check a manifest, licence certificate, audit checkpoint or licence chain offline",
        description="Exit code 0: valid; 1: invalid (the output says where); 2: usage.",
    )
    verify.add_argument(
        "file",
        metavar="FILE",
        help="a downloaded bundle's directory (checked with the keys kept in it), a DSSE "
        "envelope, a CertificateRead, a ManifestRead, a CheckpointRead or a licence chain "
        "export (JSON)",
    )
    verify.add_argument(
        "--keys",
        metavar="FILE_OR_URL",
        help="the published keys: a JSON file or a URL (default: a licence chain export's "
        "own keys, offline; else the gateway's well-known keys at "
        f"${GATEWAY_URL_ENV} or {DEFAULT_GATEWAY_URL}); pins a chain export's keys",
    )
    verify.add_argument(
        "--checkpoint",
        metavar="KEPT.json",
        help="a licence chain must be consistent with this checkpoint, kept earlier "
        "(assent audit checkpoint)",
    )
    verify.add_argument(
        "--witness",
        action="append",
        metavar="VKEY",
        help="a witness that must have cosigned the checkpoint's signed note (its vkey, as "
        "`assent witness init` prints it); repeat for each witness required",
    )
    verify.add_argument("--json", action="store_true", help="print the result as JSON")
    verify.set_defaults(handler=_verify)
