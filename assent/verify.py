"""`assent verify`: read a signed document, check it with the published keys, and say
what it was found to say.

A signed document is recognised by its DSSE payload type and checked by the verifier
registered for that type in `VERIFIERS`. It is either a bare envelope or a JSON object
holding one under `envelope` beside what it claims to sign (a `CertificateRead` shows its
`certificate`, a `ManifestRead` its `delivery_id`, a `CheckpointRead` its `checkpoint`).
A licence chain export is no envelope but many proofs against one signed checkpoint; it is
recognised by its `type`. The checks themselves are the protocol's (`assent.protocol`);
this module reads the documents and the keys, and words the verdict.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError

from assent.evidence import party_facts
from assent.protocol import (
    CHAIN_KIND,
    ChainCheck,
    CheckpointNote,
    NoteVerifier,
    VerificationError,
    VerifiedManifest,
    check_chain,
    first_error,
    many_problems,
    verify_certificate,
    verify_checkpoint,
    verify_manifest,
    verify_status_list,
    verify_witnessed,
)
from services.contracts.audit import CHAIN_EXPORT_TYPE, CHECKPOINT_PAYLOAD_TYPE, Checkpoint
from services.contracts.delivery import IN_TOTO_PAYLOAD_TYPE
from services.contracts.licensing import LICENCE_CERTIFICATE_TYPE
from services.contracts.signing import (
    WELL_KNOWN_KEYS_PATH,
    Envelope,
    PublicKeyRead,
    PublishedKeys,
)
from services.contracts.status_list import STATUS_LIST_TYPE

__all__ = [
    "KeysUnavailable",
    "UnrecognisedDocument",
    "Verdict",
    "VerifiedManifest",
    "check_chain_document",
    "checkpoint_of",
    "load_keys",
    "parse_keys",
    "read_kept",
    "verify_document",
    "verify_manifest",
]


class UnrecognisedDocument(Exception):
    """Not a document `assent verify` knows how to check."""


class KeysUnavailable(Exception):
    """The published keys could not be read."""


@dataclass(frozen=True)
class Verdict:
    """A document that passed every check, with what it was found to say."""

    kind: str
    key: PublicKeyRead
    facts: list[tuple[str, str]]


def parse_keys(text: str | bytes, *, source: str) -> list[PublicKeyRead]:
    try:
        return PublishedKeys.model_validate_json(text).keys
    except ValidationError as exc:
        raise KeysUnavailable(f"{source} is not a published key set: {first_error(exc)}") from exc


def load_keys(source: str) -> list[PublicKeyRead]:
    """The keys in a PublishedKeys JSON file, or at a URL (a bare gateway URL gets the
    well-known path)."""
    if not source.startswith(("http://", "https://")):
        try:
            return parse_keys(Path(source).read_bytes(), source=source)
        except OSError as exc:
            raise KeysUnavailable(f"cannot read {source}: {exc.strerror}") from exc
    url = httpx.URL(source)
    if url.path in ("", "/"):
        url = url.copy_with(path=WELL_KNOWN_KEYS_PATH)
    try:
        response = httpx.get(url, timeout=10.0)
    except httpx.HTTPError as exc:
        raise KeysUnavailable(f"cannot fetch {url}: {exc}") from exc
    if response.status_code != 200:
        raise KeysUnavailable(f"{url} answered {response.status_code}")
    return parse_keys(response.content, source=str(url))


def _check_manifest(
    envelope: Envelope, shown: Mapping[str, Any], keys: Sequence[PublicKeyRead]
) -> Verdict:
    manifest = verify_manifest(envelope, keys)
    header = manifest.header
    claimed = shown.get("delivery_id")
    if claimed is not None and str(claimed) != str(header.delivery_id):
        raise VerificationError(
            f"delivery_id: shown as {claimed}, the signed manifest is for {header.delivery_id}",
            kind="delivery manifest",
        )
    total = sum(entry.size for entry in manifest.entries)
    return Verdict(
        kind="delivery manifest",
        key=manifest.key,
        facts=[
            ("delivery", str(header.delivery_id)),
            ("licence", str(header.licence_id)),
            ("buyer", f"{header.buyer_name} ({header.buyer_id})"),
            ("issued at", header.issued_at.isoformat()),
            ("files", f"{len(manifest.entries)}, {total:,} bytes; subjects agree with entries"),
        ],
    )


def _check_certificate(
    envelope: Envelope, shown: Mapping[str, Any], keys: Sequence[PublicKeyRead]
) -> Verdict:
    certificate, key = verify_certificate(envelope, keys, shown=shown.get("certificate"))
    latest_end = max((line.ends_at for line in certificate.lines), default=None)
    return Verdict(
        kind="licence certificate",
        key=key,
        facts=[
            ("licence", str(certificate.licence_id)),
            ("buyer", f"{certificate.buyer_name} ({certificate.buyer_id})"),
            ("uses", ", ".join(certificate.uses)),
            ("works", str(len(certificate.lines))),
            ("granted at", certificate.granted_at.isoformat()),
            ("runs until", latest_end.isoformat() if latest_end else "no works"),
            # A certificate proves what was true when it was issued, nothing later.
            ("status", f"{certificate.status} as of {certificate.issued_at.isoformat()}"),
        ],
    )


def _check_checkpoint(
    envelope: Envelope, shown: Mapping[str, Any], keys: Sequence[PublicKeyRead]
) -> Verdict:
    checkpoint, key = verify_checkpoint(envelope, keys, shown=shown.get("checkpoint"))
    facts = [
        ("log", checkpoint.origin),
        ("tree size", str(checkpoint.tree_size)),
        ("root", checkpoint.root_hash),
        ("issued at", checkpoint.issued_at.isoformat()),
    ]
    if isinstance(shown.get("object_key"), str):
        facts.append(("published as", shown["object_key"]))
    return Verdict(kind="audit checkpoint", key=key, facts=facts)


Verifier = Callable[[Envelope, Mapping[str, Any], Sequence[PublicKeyRead]], Verdict]


def _check_status_list(
    envelope: Envelope, shown: Mapping[str, Any], keys: Sequence[PublicKeyRead]
) -> Verdict:
    del shown  # a status list is read as signed; nothing beside it is claimed
    status = verify_status_list(envelope, keys)
    subject = status.credential.credential_subject
    revoked = status.revoked_indices()
    return Verdict(
        kind="status list",
        key=status.key,
        facts=[
            ("delivery", str(subject.delivery_id)),
            ("licence", str(subject.licence_id)),
            ("records", str(subject.entry_count)),
            (
                "no longer usable",
                ", ".join(str(index) for index in revoked) if revoked else "none",
            ),
            (
                "valid",
                f"{status.credential.valid_from.isoformat()} to "
                f"{status.credential.valid_until.isoformat()}",
            ),
        ],
    )


VERIFIERS: dict[str, Verifier] = {
    IN_TOTO_PAYLOAD_TYPE: _check_manifest,
    STATUS_LIST_TYPE: _check_status_list,
    LICENCE_CERTIFICATE_TYPE: _check_certificate,
    CHECKPOINT_PAYLOAD_TYPE: _check_checkpoint,
}
"""One verifier per DSSE payload type: the place a new signed document type plugs in."""


def split_document(document: object) -> tuple[object, Mapping[str, Any]]:
    """A signed document's envelope (unparsed) and what it shows beside it."""
    if isinstance(document, dict) and "payloadType" in document:
        return document, {}
    if isinstance(document, dict) and isinstance(document.get("envelope"), dict):
        return document["envelope"], {k: v for k, v in document.items() if k != "envelope"}
    raise UnrecognisedDocument(
        "expected a DSSE envelope, a JSON object holding one under 'envelope', or a "
        "licence chain export"
    )


def read_kept(document: object) -> tuple[Envelope, object | None]:
    """A kept checkpoint file's envelope and the checkpoint shown beside it, if any."""
    try:
        raw, shown = split_document(document)
        envelope = Envelope.model_validate(raw)
    except (UnrecognisedDocument, ValidationError) as exc:
        raise UnrecognisedDocument(
            "the kept checkpoint is not a checkpoint document (CheckpointRead or its envelope)"
        ) from exc
    return envelope, shown.get("checkpoint")


def checkpoint_of(
    document: object, keys: Sequence[PublicKeyRead]
) -> tuple[Checkpoint, PublicKeyRead]:
    """A checkpoint document's signed checkpoint and its key; raises if it does not verify."""
    envelope, shown = read_kept(document)
    return verify_checkpoint(envelope, keys, shown=shown)


def check_chain_document(
    document: object, keys: Sequence[PublicKeyRead], *, kept: object | None = None
) -> ChainCheck:
    """Every check of a licence chain export, against a kept checkpoint document if given.
    Raises VerificationError only for a document that is not a chain export at all, and
    UnrecognisedDocument for a kept checkpoint that is not a checkpoint document."""
    if kept is None:
        return check_chain(document, keys)
    envelope, shown = read_kept(kept)
    return check_chain(document, keys, kept=envelope, kept_shown=shown)


def _note_facts(note: CheckpointNote | None) -> list[tuple[str, str]]:
    """What a checkpoint's verified C2SP note adds: who witnessed it, and when."""
    if note is None:
        return []
    if note.cosigned:
        witnessed = [
            f"{vkey.split('+')[0]} at {datetime.fromtimestamp(at, UTC).isoformat()}"
            for vkey, at in note.cosigned.items()
        ]
        return [("witnessed by", "; ".join(witnessed))]
    unchecked = len(note.note.signatures) - 1
    return [
        (
            "signed note",
            f"the log's signature verifies; {unchecked} cosignature(s) left unchecked "
            "(name the witnesses you trust with --witness VKEY)",
        )
    ]


def _check_chain(
    document: object,
    keys: Sequence[PublicKeyRead],
    kept: object | None,
    witnesses: Sequence[NoteVerifier] = (),
) -> Verdict:
    check = check_chain_document(document, keys, kept=kept)
    if check.problems or check.key is None:
        raise many_problems(CHAIN_KIND, [problem.message for problem in check.problems])
    note = verify_witnessed(
        check.chain.checkpoint.note, check.checkpoint, check.key, witnesses, kind=CHAIN_KIND
    )
    # The parties by the names and identities the chain's own entries give them.
    facts = [*check.facts, *party_facts(check.events), *_note_facts(note)]
    return Verdict(kind=CHAIN_KIND, key=check.key, facts=facts)


def verify_document(
    document: object,
    keys: Sequence[PublicKeyRead],
    *,
    kept: object | None = None,
    witnesses: Sequence[NoteVerifier] = (),
) -> Verdict:
    """Recognise a parsed JSON document and verify it. `kept` is a checkpoint document
    kept earlier, which a licence chain must be consistent with; each of `witnesses` must
    have cosigned the checkpoint's note (a chain's, or a checkpoint document's)."""
    if isinstance(document, dict) and document.get("type") == CHAIN_EXPORT_TYPE:
        return _check_chain(document, keys, kept, witnesses)
    if kept is not None:
        raise UnrecognisedDocument("a kept checkpoint is checked only against a chain export")
    raw_envelope, shown = split_document(document)
    try:
        envelope = Envelope.model_validate(raw_envelope)
    except ValidationError as exc:
        raise VerificationError(first_error(exc), kind="DSSE envelope") from exc
    verifier = VERIFIERS.get(envelope.payload_type)
    if verifier is None:
        known = ", ".join(sorted(VERIFIERS))
        raise UnrecognisedDocument(
            f"payload type {envelope.payload_type!r} is not one assent verify knows ({known})"
        )
    verdict = verifier(envelope, shown, keys)
    if envelope.payload_type == CHECKPOINT_PAYLOAD_TYPE:
        checkpoint, key = verify_checkpoint(envelope, keys)
        note = shown.get("note")
        opened = verify_witnessed(
            note if isinstance(note, str) else None, checkpoint, key, witnesses, kind=verdict.kind
        )
        return Verdict(verdict.kind, verdict.key, [*verdict.facts, *_note_facts(opened)])
    if witnesses:
        raise UnrecognisedDocument("--witness is checked on a checkpoint or a licence chain only")
    return verdict
