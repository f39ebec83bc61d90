"""`assent audit`: fetch a licence chain or a checkpoint from the gateway and keep it.

- `export_chain` asks `licenceChain` (with `consistentWith` the size of a checkpoint the
  auditor kept, when given), writes the chain export as `DIR/chain-<kind>-<id>.json` and
  an HTML report beside it (and, asked, the report as a PDF: `assent.pdf`), and verifies
  the chain at once (`assent.protocol`) with the published keys, refusing keys carried in
  the export that differ from them. The files are written whether or not it verifies: an
  invalid chain is evidence too, and the report says what failed.
- `save_checkpoint` keeps the log's current signed checkpoint in a file. A file already
  holding one is replaced only by a checkpoint proven consistent with it, so the file
  stays a witness: a log that rewrote its history cannot talk the auditor out of the
  checkpoint that shows it.
"""

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from pydantic import BaseModel, Field, ValidationError

from assent.evidence import carried_keys, pinned_problems
from assent.pdf import PdfUnavailable, WrittenPdf, write_pdf
from assent.protocol import ChainCheck, VerificationError, consistency_problem
from assent.report import render
from assent.verify import (
    KeysUnavailable,
    UnrecognisedDocument,
    check_chain_document,
    checkpoint_of,
    load_keys,
)
from services.contracts.audit import ChainSubjectKind, Checkpoint, ConsistencyProof
from services.contracts.signing import WELL_KNOWN_KEYS_PATH, PublicKeyRead

CHECKPOINT_QUERY = """query($consistentWith: Int) {
  auditCheckpoint(consistentWith: $consistentWith) { __typename
    ... on AuditCheckpoint { document consistencyProof { fromSize toSize hashes } }
    ... on Error { message } } }"""

_CHAIN_ARGUMENT = {ChainSubjectKind.WORK: "workId", ChainSubjectKind.LICENCE: "licenceId"}


def chain_query(kind: ChainSubjectKind) -> str:
    return (
        f"query($id: ID!, $consistentWith: Int) {{\n  licenceChain({_CHAIN_ARGUMENT[kind]}: $id, "
        "consistentWith: $consistentWith) { __typename\n"
        "    ... on LicenceChain { document }\n    ... on Error { message } } }"
    )


class AuditError(Exception):
    """Nothing was written: the gateway, the keys or a kept checkpoint failed."""


@dataclass(frozen=True)
class Export:
    json_path: Path
    html_path: Path
    check: ChainCheck
    pdf: WrittenPdf | None = None
    key_conflicts: tuple[str, ...] = ()
    """Keys the export carries unlike the trusted ones of the same id: it does not verify."""

    @property
    def ok(self) -> bool:
        return self.check.ok and self.check.key is not None and not self.key_conflicts


@dataclass(frozen=True)
class SavedCheckpoint:
    path: Path
    checkpoint: Checkpoint
    key: PublicKeyRead
    replaced: Checkpoint | None
    """The checkpoint the file held before, which the new one is consistent with."""


class _GraphQLError(BaseModel):
    message: str


class _Response(BaseModel):
    data: dict[str, Any] | None = None
    errors: list[_GraphQLError] | None = None


class _Proof(BaseModel):
    from_size: int = Field(alias="fromSize")
    to_size: int = Field(alias="toSize")
    hashes: list[str]


class _Gateway:
    def __init__(self, http: httpx.Client, url: str, api_key: str) -> None:
        self._http = http
        self.url = url.rstrip("/")
        self._auth = {"Authorization": f"Bearer {api_key}"}

    def keys(self) -> list[PublicKeyRead]:
        try:
            return load_keys(self.url + WELL_KNOWN_KEYS_PATH)
        except KeysUnavailable as exc:
            raise AuditError(str(exc)) from exc

    def ask(self, query: str, variables: dict[str, Any], field: str, typename: str) -> Any:
        """The `field` of the answer, when it is a `typename`; else raises AuditError."""
        body = {"query": query, "variables": variables}
        try:
            response = self._http.post(self.url + "/graphql", json=body, headers=self._auth)
        except httpx.HTTPError as exc:
            raise AuditError(f"cannot reach the gateway at {self.url}: {exc}") from exc
        if response.status_code != 200:
            raise AuditError(f"the {field} query was answered {response.status_code}")
        try:
            parsed = _Response.model_validate_json(response.content)
        except ValidationError as exc:
            raise AuditError(f"the gateway's answer to {field} is not GraphQL: {exc}") from exc
        if parsed.errors or parsed.data is None:
            messages = "; ".join(error.message for error in parsed.errors or [])
            raise AuditError(f"the {field} query failed: {messages or 'no data'}")
        node = parsed.data.get(field)
        if not isinstance(node, dict):
            raise AuditError(f"the gateway's answer holds no {field}")
        if node.get("__typename") != typename:
            raise AuditError(f"{field}: {node.get('__typename')}: {node.get('message')}")
        return node


def _write(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".part")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def _kept_checkpoint(kept: object, keys: Sequence[PublicKeyRead]) -> Checkpoint:
    try:
        return checkpoint_of(kept, keys)[0]
    except UnrecognisedDocument as exc:
        raise AuditError(str(exc)) from exc
    except VerificationError as exc:
        raise AuditError(f"the kept checkpoint does not verify: {exc.problem}") from exc


def chain_file_stem(kind: ChainSubjectKind, subject: UUID) -> str:
    return f"chain-{kind}-{subject}"


def export_chain(
    kind: ChainSubjectKind,
    subject: UUID,
    directory: Path,
    *,
    gateway_url: str,
    api_key: str,
    keys: Sequence[PublicKeyRead] | None = None,
    kept: object | None = None,
    pdf: bool = False,
) -> Export:
    """Fetch, verify and write the chain of a work or a licence. `kept` is a checkpoint
    document kept earlier; `keys` pins the published keys instead of the gateway's; `pdf`
    writes the report as a PDF too."""
    with httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0)) as http:
        gateway = _Gateway(http, gateway_url, api_key)
        trusted = list(keys) if keys is not None else gateway.keys()
        kept_size = _kept_checkpoint(kept, trusted).tree_size if kept is not None else None
        node = gateway.ask(
            chain_query(kind),
            {"id": str(subject), "consistentWith": kept_size},
            "licenceChain",
            "LicenceChain",
        )
    try:
        document = json.loads(node.get("document") or "")
        check = check_chain_document(document, trusted, kept=kept)
        conflicts = tuple(pinned_problems(carried_keys(document), trusted))
    except ValueError as exc:
        raise AuditError(f"the gateway's chain document is not JSON: {exc}") from exc
    except VerificationError as exc:
        raise AuditError(f"the gateway's chain document is not a chain export: {exc}") from exc
    answered = (check.chain.subject_kind, check.chain.subject_id)
    if answered != (kind, subject):
        raise AuditError(
            f"asked for the chain of {kind} {subject}, the gateway answered with the chain of "
            f"{answered[0]} {answered[1]}"
        )
    directory.mkdir(parents=True, exist_ok=True)
    stem = chain_file_stem(kind, subject)
    json_path, html_path = directory / f"{stem}.json", directory / f"{stem}.html"
    _write(json_path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    keys_from = "the keys given" if keys is not None else f"the keys {gateway_url} publishes"
    page = render(
        check,
        exported_at=datetime.now(UTC),
        source=gateway_url,
        json_name=json_path.name,
        keys_from=keys_from,
    )
    _write(html_path, page)
    written = None
    if pdf:
        try:
            written = write_pdf(page, directory / f"{stem}.pdf")
        except PdfUnavailable as exc:
            raise AuditError(f"wrote {json_path} and {html_path}, but no PDF: {exc}") from exc
    return Export(json_path, html_path, check, written, conflicts)


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_bytes())
    except OSError as exc:
        raise AuditError(f"cannot read {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise AuditError(f"{path} is not JSON: {exc}") from exc


def save_checkpoint(
    path: Path,
    *,
    gateway_url: str,
    api_key: str,
    keys: Sequence[PublicKeyRead] | None = None,
) -> SavedCheckpoint:
    """Keep the log's current checkpoint in `path`, once it verifies and, if `path`
    already holds a checkpoint, once it is proven consistent with that one."""
    with httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0)) as http:
        gateway = _Gateway(http, gateway_url, api_key)
        trusted = list(keys) if keys is not None else gateway.keys()
        previous = None
        if path.exists():
            try:
                previous = _kept_checkpoint(_read_json(path), trusted)
            except AuditError as exc:
                raise AuditError(
                    f"{path} holds no valid checkpoint ({exc}); remove it or choose another file"
                ) from exc
        node = gateway.ask(
            CHECKPOINT_QUERY,
            {"consistentWith": previous.tree_size if previous else None},
            "auditCheckpoint",
            "AuditCheckpoint",
        )
    text = node.get("document") or ""
    try:
        document = json.loads(text)
        checkpoint, key = checkpoint_of(document, trusted)
    except ValueError as exc:
        raise AuditError(f"the gateway's checkpoint document is not JSON: {exc}") from exc
    except (VerificationError, UnrecognisedDocument) as exc:
        raise AuditError(f"the gateway's checkpoint does not verify: {exc}") from exc
    if previous is not None:
        raw_proof = node.get("consistencyProof")
        try:
            proof = None
            if raw_proof is not None:
                shown = _Proof.model_validate(raw_proof)
                proof = ConsistencyProof(
                    from_size=shown.from_size, to_size=shown.to_size, hashes=shown.hashes
                )
        except ValidationError as exc:
            raise AuditError(f"the gateway's consistency proof is malformed: {exc}") from exc
        problem = consistency_problem(previous, checkpoint, proof, this="the gateway's checkpoint")
        if problem is not None:
            raise AuditError(f"{problem}; {path} is left as it was")
    path.parent.mkdir(parents=True, exist_ok=True)
    _write(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return SavedCheckpoint(path, checkpoint, key, previous)
