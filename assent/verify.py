"""Offline verification of Assent's signed documents, with only the published keys.

A signed document is recognised by its DSSE payload type and checked by the verifier
registered for that type in `VERIFIERS`. It is either a bare envelope or a JSON object
holding one under `envelope` beside what it claims to sign (a `CertificateRead` shows its
`certificate`, a `ManifestRead` its `delivery_id`, a `CheckpointRead` its `checkpoint`); a
verifier checks those claims against the signed payload, since a reader trusts what is
shown, not the base64 underneath. A licence chain export is no envelope but many proofs
against one signed checkpoint; it is recognised by its `type` and checked by
`assent.chain`.

Each verifier accepts only keys published for its purpose: a signature by the licence
key over a manifest is refused even though DSSE would bind it to the manifest type.
"""

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.contracts.audit import (
    CHAIN_EXPORT_TYPE,
    CHECKPOINT_PAYLOAD_TYPE,
    LOG_ORIGIN,
    Checkpoint,
)
from services.contracts.delivery import (
    IN_TOTO_PAYLOAD_TYPE,
    IN_TOTO_STATEMENT_TYPE,
    MANIFEST_PREDICATE_TYPE,
    ManifestEntry,
    ManifestHeader,
)
from services.contracts.licensing import LICENCE_CERTIFICATE_TYPE, LicenceCertificate
from services.contracts.signing import (
    CERTIFICATE_KEY_PURPOSE,
    CHECKPOINT_KEY_PURPOSE,
    MANIFEST_KEY_PURPOSE,
    WELL_KNOWN_KEYS_PATH,
    Envelope,
    PublicKeyRead,
    PublishedKeys,
)
from services.kit.signing import SignatureInvalid, verify_envelope

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
# Enough to locate a fault without flooding the terminal for a 100,000-entry manifest.
_MAX_PROBLEMS_SHOWN = 5


class DocumentInvalid(Exception):
    """The document fails a check; the message says which one and where.

    `problem` is what a terminal shows; `problems` lists every failed check in full.
    """

    def __init__(self, kind: str, problem: str, *, problems: Sequence[str] = ()) -> None:
        super().__init__(f"{kind}: {problem}")
        self.kind = kind
        self.problem = problem
        self.problems = list(problems) or [problem]


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


@dataclass(frozen=True)
class VerifiedManifest:
    header: ManifestHeader
    entries: list[ManifestEntry]
    key: PublicKeyRead


class _Subject(BaseModel):
    name: str
    digest: dict[str, str]


class _Predicate(BaseModel):
    header: ManifestHeader
    entries: list[ManifestEntry]


class _Statement(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    type: str = Field(alias="_type")
    subject: list[_Subject]
    predicate_type: str = Field(alias="predicateType")
    predicate: _Predicate


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


def first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    location = ".".join(str(part) for part in error["loc"]) or "document"
    return f"{location}: {error['msg']}"


def _problems(kind: str, found: list[str]) -> DocumentInvalid:
    shown = "; ".join(found[:_MAX_PROBLEMS_SHOWN])
    more = len(found) - _MAX_PROBLEMS_SHOWN
    return DocumentInvalid(kind, shown + (f"; and {more} more" if more > 0 else ""), problems=found)


def _verify_signature(
    envelope: Envelope, keys: Sequence[PublicKeyRead], *, payload_type: str, purpose: str, kind: str
) -> tuple[bytes, PublicKeyRead]:
    eligible = [key for key in keys if key.purpose == purpose]
    try:
        return verify_envelope(envelope, eligible, payload_type=payload_type)
    except SignatureInvalid as exc:
        other_purposes = {key.key_id: key.purpose for key in keys if key.purpose != purpose}
        misused = [s.keyid for s in envelope.signatures if s.keyid in other_purposes]
        if misused:
            key_id = misused[0]
            raise DocumentInvalid(
                kind,
                f"signature: key {key_id} is published for {other_purposes[key_id]}, "
                f"not {purpose}, and no {purpose} key's signature verifies",
            ) from exc
        raise DocumentInvalid(kind, f"signature: {exc}") from exc


def verify_manifest(envelope: Envelope, keys: Sequence[PublicKeyRead]) -> VerifiedManifest:
    """The manifest's header and entries once its signature and its statement check out."""
    kind = "delivery manifest"
    payload, key = _verify_signature(
        envelope, keys, payload_type=IN_TOTO_PAYLOAD_TYPE, purpose=MANIFEST_KEY_PURPOSE, kind=kind
    )
    try:
        statement = _Statement.model_validate_json(payload)
    except ValidationError as exc:
        raise DocumentInvalid(kind, f"statement: {first_error(exc)}") from exc
    if statement.type != IN_TOTO_STATEMENT_TYPE:
        raise DocumentInvalid(kind, f"statement: _type is {statement.type!r}")
    if statement.predicate_type != MANIFEST_PREDICATE_TYPE:
        raise DocumentInvalid(kind, f"statement: predicateType is {statement.predicate_type!r}")
    header, entries = statement.predicate.header, statement.predicate.entries
    found: list[str] = []
    if header.key_id != key.key_id:
        found.append(f"header: names key {header.key_id}, but key {key.key_id} signed it")
    if header.entry_count != len(entries):
        found.append(f"header: entry_count is {header.entry_count}, there are {len(entries)}")
    for number, entry in enumerate(entries, start=1):
        where = f"entry {number} ({entry.file_name!r})"
        if not _SHA256_HEX.fullmatch(entry.sha256):
            found.append(f"{where}: sha256 {entry.sha256!r} is not 64 lowercase hex digits")
        if entry.size < 0:
            found.append(f"{where}: size {entry.size} is negative")
        # The client sends its API key to the gateway + this path, so it must stay a path.
        if not entry.path.startswith("/"):
            found.append(f"{where}: path {entry.path!r} is not a path on the gateway")
    found += _subjects_disagree(statement.subject, entries)
    if found:
        raise _problems(kind, found)
    return VerifiedManifest(header=header, entries=entries, key=key)


def _subjects_disagree(subjects: list[_Subject], entries: list[ManifestEntry]) -> list[str]:
    """The statement's subjects must be exactly the entries' paths and digests, since a
    generic in-toto tool checks the subjects and a lab checks the entries."""
    found = [
        f"{name!r} is listed {count} times as a {what}"
        for names, what in (
            (Counter(subject.name for subject in subjects), "subject"),
            (Counter(entry.path for entry in entries), "entry path"),
        )
        for name, count in names.items()
        if count > 1
    ]
    digests = {subject.name: subject.digest.get("sha256") for subject in subjects}
    for entry in entries:
        if entry.path not in digests:
            found.append(f"entry {entry.path!r} ({entry.file_name!r}) has no subject")
        elif digests[entry.path] != entry.sha256:
            found.append(
                f"entry {entry.path!r} ({entry.file_name!r}): subject digest "
                f"{digests[entry.path]}, entry sha256 {entry.sha256}"
            )
    paths = {entry.path for entry in entries}
    found += [f"subject {name!r} has no entry" for name in digests if name not in paths]
    return found


def _check_manifest(
    envelope: Envelope, shown: Mapping[str, Any], keys: Sequence[PublicKeyRead]
) -> Verdict:
    manifest = verify_manifest(envelope, keys)
    header = manifest.header
    claimed = shown.get("delivery_id")
    if claimed is not None and str(claimed) != str(header.delivery_id):
        raise DocumentInvalid(
            "delivery manifest",
            f"delivery_id: shown as {claimed}, the signed manifest is for {header.delivery_id}",
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


def verify_certificate(
    envelope: Envelope, keys: Sequence[PublicKeyRead], *, shown: object | None = None
) -> tuple[LicenceCertificate, PublicKeyRead]:
    """The signed certificate, after checking it equals the one shown beside it, if any."""
    kind = "licence certificate"
    payload, key = _verify_signature(
        envelope,
        keys,
        payload_type=LICENCE_CERTIFICATE_TYPE,
        purpose=CERTIFICATE_KEY_PURPOSE,
        kind=kind,
    )
    try:
        signed = LicenceCertificate.model_validate_json(payload)
    except ValidationError as exc:
        raise DocumentInvalid(kind, f"signed payload: {first_error(exc)}") from exc
    if shown is not None:
        _check_shown(signed, shown, kind=kind, what="certificate")
    return signed, key


def _check_shown(signed: BaseModel, shown: object, *, kind: str, what: str) -> None:
    """What a document shows beside its envelope must be what was signed."""
    try:
        displayed = type(signed).model_validate(shown)
    except ValidationError as exc:
        raise DocumentInvalid(kind, f"{what} shown: {first_error(exc)}") from exc
    if displayed != signed:
        # Compared as models, so a timestamp written `Z` or `+00:00` is the same time.
        ours, theirs = dict(signed), dict(displayed)
        fields = ", ".join(name for name in ours if ours[name] != theirs[name])
        raise DocumentInvalid(kind, f"the {what} shown differs from the signed one in: {fields}")


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


def verify_checkpoint(
    envelope: Envelope,
    keys: Sequence[PublicKeyRead],
    *,
    shown: object | None = None,
) -> tuple[Checkpoint, PublicKeyRead]:
    """The signed checkpoint of this log, after checking it equals the one shown, if any."""
    kind = "audit checkpoint"
    payload, key = _verify_signature(
        envelope,
        keys,
        payload_type=CHECKPOINT_PAYLOAD_TYPE,
        purpose=CHECKPOINT_KEY_PURPOSE,
        kind=kind,
    )
    try:
        signed = Checkpoint.model_validate_json(payload)
    except ValidationError as exc:
        raise DocumentInvalid(kind, f"signed payload: {first_error(exc)}") from exc
    # A checkpoint of another log, signed with a key shared between logs, proves nothing
    # about this one.
    if signed.origin != LOG_ORIGIN:
        raise DocumentInvalid(
            kind, f"origin: the checkpoint is of log {signed.origin!r}, not {LOG_ORIGIN!r}"
        )
    if shown is not None:
        _check_shown(signed, shown, kind=kind, what="checkpoint")
    return signed, key


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

VERIFIERS: dict[str, Verifier] = {
    IN_TOTO_PAYLOAD_TYPE: _check_manifest,
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


def _check_chain(document: object, keys: Sequence[PublicKeyRead], kept: object | None) -> Verdict:
    # Imported here: assent.chain builds on this module's signature checks.
    from assent.chain import KIND, check_chain

    check = check_chain(document, keys, kept=kept)
    if check.problems or check.key is None:
        raise _problems(KIND, [problem.message for problem in check.problems])
    return Verdict(kind=KIND, key=check.key, facts=check.facts)


def verify_document(
    document: object, keys: Sequence[PublicKeyRead], *, kept: object | None = None
) -> Verdict:
    """Recognise a parsed JSON document and verify it. `kept` is a checkpoint document
    kept earlier, which a licence chain must be consistent with."""
    if isinstance(document, dict) and document.get("type") == CHAIN_EXPORT_TYPE:
        return _check_chain(document, keys, kept)
    if kept is not None:
        raise UnrecognisedDocument("a kept checkpoint is checked only against a chain export")
    raw_envelope, shown = split_document(document)
    try:
        envelope = Envelope.model_validate(raw_envelope)
    except ValidationError as exc:
        raise DocumentInvalid("DSSE envelope", first_error(exc)) from exc
    verifier = VERIFIERS.get(envelope.payload_type)
    if verifier is None:
        known = ", ".join(sorted(VERIFIERS))
        raise UnrecognisedDocument(
            f"payload type {envelope.payload_type!r} is not one assent verify knows ({known})"
        )
    return verifier(envelope, shown, keys)
