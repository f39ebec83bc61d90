"""Signed documents checked with only the published keys: manifests, certificates and
checkpoints.

Each check accepts only keys published for its document's purpose: a signature by the
licence key over a manifest is refused even though DSSE would bind it to the manifest
type. What a document shows beside its envelope is checked against the signed payload,
since a reader trusts what is shown, not the base64 underneath. Each is also refused when
its signing time (`issued_at`) lies outside its key's interval: a retired key signs
nothing after it was retired.
"""

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.contracts.audit import CHECKPOINT_PAYLOAD_TYPE, LOG_ORIGIN, Checkpoint
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
    Envelope,
    KeyRotated,
    PublicKeyRead,
)

from ._errors import VerificationError
from ._signing import interval_text, key_history, outside_interval, verify_envelope

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
# Enough to locate a fault without flooding the terminal for a 100,000-entry manifest.
_MAX_PROBLEMS_SHOWN = 5


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


def first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    location = ".".join(str(part) for part in error["loc"]) or "document"
    return f"{location}: {error['msg']}"


def many_problems(kind: str, found: list[str]) -> VerificationError:
    shown = "; ".join(found[:_MAX_PROBLEMS_SHOWN])
    more = len(found) - _MAX_PROBLEMS_SHOWN
    return VerificationError(
        shown + (f"; and {more} more" if more > 0 else ""), kind=kind, problems=found
    )


def signed_payload(
    envelope: Envelope, keys: Sequence[PublicKeyRead], *, payload_type: str, purpose: str, kind: str
) -> tuple[bytes, PublicKeyRead]:
    eligible = [key for key in keys if key.purpose == purpose]
    try:
        return verify_envelope(envelope, eligible, payload_type=payload_type)
    except VerificationError as exc:
        other_purposes = {key.key_id: key.purpose for key in keys if key.purpose != purpose}
        misused = [s.keyid for s in envelope.signatures if s.keyid in other_purposes]
        if misused:
            key_id = misused[0]
            raise VerificationError(
                f"signature: key {key_id} is published for {other_purposes[key_id]}, "
                f"not {purpose}, and no {purpose} key's signature verifies",
                kind=kind,
            ) from exc
        raise VerificationError(f"signature: {exc}", kind=kind) from exc


def check_interval(key: PublicKeyRead, signed_at: datetime, *, kind: str) -> None:
    """Refuses a document its key signed outside the key's interval."""
    problem = outside_interval(key, signed_at)
    if problem is not None:
        raise VerificationError(f"signing key: {problem}", kind=kind)


def verify_manifest(envelope: Envelope, keys: Sequence[PublicKeyRead]) -> VerifiedManifest:
    """The manifest's header and entries once its signature and its statement check out."""
    kind = "delivery manifest"
    payload, key = signed_payload(
        envelope, keys, payload_type=IN_TOTO_PAYLOAD_TYPE, purpose=MANIFEST_KEY_PURPOSE, kind=kind
    )
    try:
        statement = _Statement.model_validate_json(payload)
    except ValidationError as exc:
        raise VerificationError(f"statement: {first_error(exc)}", kind=kind) from exc
    if statement.type != IN_TOTO_STATEMENT_TYPE:
        raise VerificationError(f"statement: _type is {statement.type!r}", kind=kind)
    if statement.predicate_type != MANIFEST_PREDICATE_TYPE:
        raise VerificationError(
            f"statement: predicateType is {statement.predicate_type!r}", kind=kind
        )
    header, entries = statement.predicate.header, statement.predicate.entries
    check_interval(key, header.issued_at, kind=kind)
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
        raise many_problems(kind, found)
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


def verify_certificate(
    envelope: Envelope, keys: Sequence[PublicKeyRead], *, shown: object | None = None
) -> tuple[LicenceCertificate, PublicKeyRead]:
    """The signed certificate, after checking it equals the one shown beside it, if any."""
    kind = "licence certificate"
    payload, key = signed_payload(
        envelope,
        keys,
        payload_type=LICENCE_CERTIFICATE_TYPE,
        purpose=CERTIFICATE_KEY_PURPOSE,
        kind=kind,
    )
    try:
        signed = LicenceCertificate.model_validate_json(payload)
    except ValidationError as exc:
        raise VerificationError(f"signed payload: {first_error(exc)}", kind=kind) from exc
    check_interval(key, signed.issued_at, kind=kind)
    if shown is not None:
        check_shown(signed, shown, kind=kind, what="certificate")
    return signed, key


def check_shown(signed: BaseModel, shown: object, *, kind: str, what: str) -> None:
    """What a document shows beside its envelope must be what was signed."""
    try:
        displayed = type(signed).model_validate(shown)
    except ValidationError as exc:
        raise VerificationError(f"{what} shown: {first_error(exc)}", kind=kind) from exc
    if displayed != signed:
        # Compared as models, so a timestamp written `Z` or `+00:00` is the same time.
        ours, theirs = dict(signed), dict(displayed)
        fields = ", ".join(name for name in ours if ours[name] != theirs[name])
        raise VerificationError(
            f"the {what} shown differs from the signed one in: {fields}", kind=kind
        )


def verify_checkpoint(
    envelope: Envelope,
    keys: Sequence[PublicKeyRead],
    *,
    shown: object | None = None,
) -> tuple[Checkpoint, PublicKeyRead]:
    """The signed checkpoint of this log, after checking it equals the one shown, if any."""
    kind = "audit checkpoint"
    payload, key = signed_payload(
        envelope,
        keys,
        payload_type=CHECKPOINT_PAYLOAD_TYPE,
        purpose=CHECKPOINT_KEY_PURPOSE,
        kind=kind,
    )
    try:
        signed = Checkpoint.model_validate_json(payload)
    except ValidationError as exc:
        raise VerificationError(f"signed payload: {first_error(exc)}", kind=kind) from exc
    # A checkpoint of another log, signed with a key shared between logs, proves nothing
    # about this one.
    if signed.origin != LOG_ORIGIN:
        raise VerificationError(
            f"origin: the checkpoint is of log {signed.origin!r}, not {LOG_ORIGIN!r}", kind=kind
        )
    check_interval(key, signed.issued_at, kind=kind)
    if shown is not None:
        check_shown(signed, shown, kind=kind, what="checkpoint")
    return signed, key


def key_problems(shown: Sequence[PublicKeyRead], rotations: Sequence[KeyRotated]) -> list[str]:
    """Where the keys an export carries differ from those its proven `key.rotated` entries
    name (in log order): the keys an auditor checks with must be the log's own."""
    logged = {key.key_id: key for key in key_history(rotations)}
    carried = {key.key_id: key for key in shown}
    found = [
        f"keys: key {key_id} is carried but no key.rotated entry of the export names it"
        for key_id in carried
        if key_id not in logged
    ]
    for key_id, key in logged.items():
        if key_id not in carried:
            found.append(f"keys: key {key_id} ({key.purpose}) is logged but not carried")
        elif carried[key_id] != key:
            found.append(
                f"keys: key {key_id} is carried as {interval_text(carried[key_id])}, "
                f"its log entries say {interval_text(key)}"
            )
    return found
