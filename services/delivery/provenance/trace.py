"""Tracing a file handed in to the licence it was delivered under.

First the embedded C2PA manifest (`reading`): when its signature, its hash of the file
and its certificate chain verify, Assent's licence assertion names the delivery and the
entry's fingerprint, checked against the fingerprint index. Otherwise the file's sha256
is looked up among the copies Assent delivered: a byte-identical copy is named even when
its manifest can no longer be checked (a test CA made anew at a restart, for example).
Neither: the answer says why (no manifest, or a signature that fails).

Admins and auditors trace any file; a buyer only their own: a file of another buyer's
delivery is not found, never named.
"""

import asyncio
import base64
import binascii
import hashlib
import uuid
from typing import NoReturn

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from services.contracts.delivery import (
    MAX_TRACE_FILE_BYTES,
    FileProvenance,
    FileTraceIn,
    FileTraceResult,
)
from services.contracts.roles import Role
from services.delivery.models import Delivery, DeliveryEntry
from services.delivery.provenance.embed import Provenance
from services.delivery.provenance.reading import Reading, Verdict, read_provenance
from services.kit.errors import Forbidden, InvalidRequest, NotFound
from services.kit.internal_token import Caller

log = structlog.get_logger()

_UNTRACED = {
    Verdict.NO_MANIFEST: FileProvenance.NO_PROVENANCE,
    Verdict.SIGNATURE_FAILS: FileProvenance.SIGNATURE_FAILS,
    Verdict.NOT_ASSENT: FileProvenance.NOT_ASSENT,
}


def _decoded(trace_in: FileTraceIn) -> bytes:
    try:
        data = base64.b64decode(trace_in.content_base64, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest("content_base64 is not base64") from None
    if len(data) > MAX_TRACE_FILE_BYTES:
        raise InvalidRequest(f"the file is larger than {MAX_TRACE_FILE_BYTES} bytes")
    return data


async def _entry(session: AsyncSession, *conditions: object) -> DeliveryEntry | None:
    statement = (
        select(DeliveryEntry)
        .join(Delivery, Delivery.id == DeliveryEntry.delivery_id)
        .where(*conditions)  # type: ignore[arg-type]
        .options(
            joinedload(DeliveryEntry.line),
            joinedload(DeliveryEntry.delivery).joinedload(Delivery.licence),
        )
        .limit(1)
    )
    return (await session.scalars(statement)).first()


def _as_uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


class FileTraceService:
    async def trace(
        self,
        session: AsyncSession,
        caller: Caller,
        trace_in: FileTraceIn,
        *,
        provenance: Provenance | None,
    ) -> FileTraceResult:
        auditor = caller.has(Role.ADMIN, Role.AUDITOR)
        if not auditor and not caller.has(Role.BUYER):
            log.warning("delivery.trace_file.refused", caller=caller.subject)
            raise Forbidden("only buyers (their own files), auditors and admins trace files")
        data = _decoded(trace_in)
        sha256 = hashlib.sha256(data).hexdigest()
        if provenance is None:
            reading = Reading(Verdict.NO_MANIFEST, "provenance is switched off here", None)
        else:
            reading = await asyncio.to_thread(read_provenance, data, provenance)
        evidence = [f"the file: {len(data)} bytes, sha256 {sha256}", reading.detail]
        entry, matched_by = None, None
        if reading.verdict == Verdict.VERIFIED and reading.assertion is not None:
            delivery_id = _as_uuid(reading.assertion.get("delivery_id"))
            fingerprint = str(reading.assertion.get("fingerprint", ""))
            if delivery_id is not None:
                entry = await _entry(
                    session,
                    DeliveryEntry.delivery_id == delivery_id,
                    DeliveryEntry.fingerprint == fingerprint,
                )
            if entry is not None:
                matched_by = "manifest"
                evidence.append(
                    f"its licence assertion names delivery {delivery_id}, entry {fingerprint}, "
                    "which Assent issued"
                )
        if entry is None:
            entry = await _entry(session, DeliveryEntry.delivered_sha256 == sha256)
            if entry is not None:
                matched_by = "sha256"
                evidence.append("its sha256 is that of a copy Assent delivered, byte for byte")
        if entry is None:
            status = _UNTRACED.get(reading.verdict, FileProvenance.NO_PROVENANCE)
            if status == FileProvenance.NO_PROVENANCE:
                evidence.append("no copy Assent delivered has this sha256")
            return FileTraceResult(
                status=status,
                matched_by=None,
                licence_id=None,
                delivery_id=None,
                buyer_id=None,
                buyer_name=None,
                work_id=None,
                file_name=None,
                sha256=sha256,
                detail=reading.detail,
                evidence=evidence,
            )
        delivery = entry.delivery
        if not auditor and delivery.buyer_id != caller.account_id:
            _not_yours(caller)
        licence = delivery.licence
        evidence.append(
            f"named: licence {licence.id} (buyer {licence.buyer_name}), delivery {delivery.id}, "
            f"work {entry.work_id}"
        )
        return FileTraceResult(
            status=FileProvenance.TRACED,
            matched_by=matched_by,
            licence_id=licence.id,
            delivery_id=delivery.id,
            buyer_id=delivery.buyer_id,
            buyer_name=licence.buyer_name,
            work_id=entry.work_id,
            file_name=entry.line.file_name,
            sha256=sha256,
            detail=f"delivered under licence {licence.id}",
            evidence=evidence,
        )


def _not_yours(caller: Caller) -> NoReturn:
    log.warning("delivery.trace_file.refused", reason="not_the_buyer", caller=caller.subject)
    raise NotFound("no file of your deliveries is this one")


file_trace_service = FileTraceService()
