"""Delivery's rules: entitlements from licensing, building a delivery, reading it,
handing out download links, and tracing a leaked manifest.

A delivery is built once per licence, after the grant has committed: every work is
checked again against the catalogue as it is at build time, and a work withdrawn or no
longer consented to for the licence's uses is left out with the reason (licensing
refunds it on `delivery.issued`). What is delivered is the version sold, even when the
work has a newer one.
"""

import asyncio
import math
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NoReturn, Protocol

import structlog
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.catalogue import ConsentKind, Use, WorkRead, WorkStatus
from services.contracts.delivery import (
    DeliveryExclusion,
    DeliveryFilePage,
    DeliveryIssued,
    DeliveryRead,
    DeliveryStatus,
    DownloadLink,
    FileDownloaded,
    ManifestEntry,
    ManifestRead,
    TraceIn,
    TraceMatch,
    TraceResult,
)
from services.contracts.events import Topic
from services.contracts.licensing import (
    ExclusionReason,
    LicenceGranted,
    LicenceLineStatus,
    LicenceRefunded,
    LicenceStatus,
)
from services.contracts.roles import Role
from services.contracts.signing import Envelope, PublicKeyRead
from services.delivery.errors import (
    DeliveryEmpty,
    DeliveryNotReady,
    LicenceExpired,
    LicenceRevoked,
)
from services.delivery.manifest import (
    ManifestLine,
    ManifestSigner,
    ManifestWriter,
    Watermark,
    download_path,
)
from services.delivery.models import Delivery, DeliveryEntry, Download, Licence
from services.delivery.repository import (
    DeliveryRepository,
    DownloadRepository,
    EntryRepository,
    LicenceRepository,
)
from services.delivery.trace import (
    FINGERPRINT_BITS,
    chance_match,
    confidence,
    find_tokens,
    order_agreement,
)
from services.kit.db import utcnow
from services.kit.errors import AssentError, Forbidden, NotFound, ServiceUnavailable
from services.kit.internal_token import Caller
from services.kit.outbox import backoff, emit
from storage.keys import manifest_key, work_version_key
from storage.object_store import ObjectNotFound, ObjectStore, StorageUnavailable

log = structlog.get_logger()

BUILD_CHUNK = 100
"""Lines read, checked against the catalogue (its batch limit) and recorded at a time."""
NAMING_CONFIDENCE = 0.9
"""A trace names a licence only when this share of the matches, or more, points to it."""
MAX_TRACE_CANDIDATES = 10


class WorkSource(Protocol):
    async def get_many(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, WorkRead]: ...


class _EntryBuffer:
    """Entries written a thousand at a time: a batch of builds shares one buffer, so a
    batch of small deliveries costs one INSERT, and a large one holds a few chunks at
    most."""

    LIMIT = 1_000

    def __init__(self, repository: EntryRepository) -> None:
        self._repository = repository
        self._rows: list[dict[str, Any]] = []

    async def add(self, rows: Sequence[dict[str, Any]]) -> None:
        self._rows.extend(rows)
        if len(self._rows) >= self.LIMIT:
            await self.flush()

    async def flush(self) -> None:
        if self._rows:
            await self._repository.add_many(self._rows)
            self._rows = []


class CatalogueChanged(Exception):
    """A work's withdrawal or consent changed while a batch was being built."""


def _consent_state(work: WorkRead | None) -> tuple[bool, ConsentKind | None, frozenset[Use]]:
    """What `exclusion` looks at, to tell whether a work's deliverability changed."""
    if work is None:
        return (False, None, frozenset())
    consent = work.consent
    return (
        work.status == WorkStatus.WITHDRAWN,
        None if consent is None else consent.kind,
        frozenset() if consent is None else frozenset(consent.uses),
    )


class _BatchWorks:
    """The works of a batch's first chunks, read from the catalogue once at the batch's
    start and once more just before its commit (`confirm`): a withdrawal or a change of
    consent in between fails the batch, whose deliveries are then built one at a time,
    each on a fresh read. The first chunks thus cost two catalogue requests for the whole
    batch and issue nothing the catalogue stopped allowing before its last read. A large
    bundle's later chunks are read as a single build reads them, and not kept."""

    def __init__(self, source: WorkSource, asked: Sequence[uuid.UUID]) -> None:
        self._source = source
        self._asked = set(asked)
        self._found: dict[uuid.UUID, WorkRead] = {}

    async def read(self) -> None:
        self._found = await self._source.get_many(sorted(self._asked))

    async def get_many(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, WorkRead]:
        if any(work_id not in self._asked for work_id in ids):
            return await self._source.get_many(ids)
        return {work_id: self._found[work_id] for work_id in ids if work_id in self._found}

    async def confirm(self) -> None:
        if not self._asked:
            return
        asked = sorted(self._asked)
        now = await self._source.get_many(asked)
        changed = [
            work_id
            for work_id in asked
            if _consent_state(now.get(work_id)) != _consent_state(self._found.get(work_id))
        ]
        if changed:
            raise CatalogueChanged(f"{len(changed)} work(s) changed while the batch was built")


@dataclass(frozen=True)
class DeliveryKeys:
    signer: ManifestSigner
    watermark: Watermark


@dataclass(frozen=True)
class BuildTools:
    """What a build needs besides its session."""

    works: WorkSource
    store: ObjectStore
    keys: DeliveryKeys


def account_id(caller: Caller) -> uuid.UUID | None:
    try:
        return uuid.UUID(caller.subject)
    except ValueError:
        return None


def sees_every_delivery(caller: Caller) -> bool:
    return caller.has(Role.ADMIN, Role.AUDITOR, Role.SERVICE)


def may_see(delivery: Delivery, caller: Caller) -> bool:
    return sees_every_delivery(caller) or delivery.buyer_id == account_id(caller)


def exclusion(
    work_id: uuid.UUID, work: WorkRead | None, uses: set[Use]
) -> DeliveryExclusion | None:
    """Why a licensed work may not be delivered now, or None when it may."""
    if work is None:
        return DeliveryExclusion(
            work_id=work_id,
            reason=ExclusionReason.NOT_FOUND,
            detail="the catalogue has no such work",
        )
    if work.status == WorkStatus.WITHDRAWN:
        when = f" on {work.withdrawn_at:%Y-%m-%d}" if work.withdrawn_at is not None else ""
        return DeliveryExclusion(
            work_id=work_id,
            reason=ExclusionReason.WITHDRAWN,
            detail=f"withdrawn from the catalogue{when}",
        )
    consent = work.consent
    if consent is None or consent.kind == ConsentKind.WITHDRAWN:
        detail = "no consent on record" if consent is None else "the creator withdrew consent"
        return DeliveryExclusion(work_id=work_id, reason=ExclusionReason.NO_CONSENT, detail=detail)
    uncovered = uses - set(consent.uses)
    if uncovered:
        return DeliveryExclusion(
            work_id=work_id,
            reason=ExclusionReason.NO_CONSENT,
            detail=f"the consent in force no longer covers {', '.join(sorted(uncovered))}",
        )
    return None


def _read(delivery: Delivery) -> DeliveryRead:
    return DeliveryRead.model_validate(delivery)


def _entry(delivery_id: uuid.UUID, entry: DeliveryEntry) -> ManifestEntry:
    line = entry.line
    return ManifestEntry(
        work_id=line.work_id,
        version_id=line.version_id,
        file_name=line.file_name,
        size=line.size,
        sha256=line.sha256,
        media_type=line.media_type,
        attribution=line.attribution,
        terms_id=line.terms_id,
        fingerprint=entry.fingerprint,
        path=download_path(delivery_id, entry.fingerprint),
    )


@asynccontextmanager
async def _storage_calls() -> AsyncIterator[None]:
    try:
        yield
    except StorageUnavailable as exc:
        raise ServiceUnavailable("the object store is unavailable; try again") from exc


def _refuse(
    reason: str,
    error: AssentError,
    *,
    caller: Caller,
    delivery_id: uuid.UUID,
    fingerprint: str,
) -> NoReturn:
    log.warning(
        "delivery.download.refused",
        reason=reason,
        delivery_id=str(delivery_id),
        fingerprint=fingerprint,
        caller=caller.subject,
        error=error.name,
    )
    raise error


class DeliveryService:
    # --- entitlements (events from licensing) ---

    async def record_grants(
        self, session: AsyncSession, grants: Sequence[LicenceGranted], *, watermark: Watermark
    ) -> None:
        """Store each grant's entitlement and a delivery to build (the builder does the
        rest), in a statement per table rather than per grant: a relay's batch carries
        the grants of many sales."""
        known = await LicenceRepository(session).existing_ids([g.licence_id for g in grants])
        now = utcnow()
        licences: list[dict[str, Any]] = []
        lines: list[dict[str, Any]] = []
        deliveries: list[dict[str, Any]] = []
        for granted in grants:
            if granted.licence_id in known:
                # The same licence in another event: one delivery per licence.
                log.info("delivery.grant.duplicate", licence_id=str(granted.licence_id))
                continue
            known.add(granted.licence_id)
            licence_text = str(granted.licence_id)
            licences.append(
                {
                    "id": granted.licence_id,
                    "buyer_id": granted.buyer_id,
                    "buyer_name": granted.buyer_name,
                    "bundle_id": granted.bundle_id,
                    "uses": sorted(set(granted.uses)),
                    "status": LicenceStatus.ACTIVE,
                    "granted_at": granted.granted_at,
                    "received_at": now,
                }
            )
            lines.extend(
                {
                    "licence_id": granted.licence_id,
                    "work_id": line.work_id,
                    "version_id": line.version_id,
                    "file_name": line.file_name,
                    "size": line.size,
                    "sha256": line.sha256,
                    "media_type": line.media_type,
                    "attribution": line.attribution,
                    "terms_id": line.terms_id,
                    "ends_at": line.ends_at,
                    "order_key": watermark.order_key(licence_text, str(line.work_id)),
                }
                for line in granted.lines
                if line.status == LicenceLineStatus.ACTIVE
            )
            deliveries.append(
                {
                    "id": uuid.uuid4(),
                    "licence_id": granted.licence_id,
                    "buyer_id": granted.buyer_id,
                    "status": DeliveryStatus.BUILDING,
                    "created_at": now,
                    "entry_count": 0,
                    "excluded": [],
                    "attempts": 0,
                    "next_attempt_at": now,
                }
            )
        if not licences:
            return
        repository = LicenceRepository(session)
        await repository.add(licences)
        if lines:
            await repository.add_lines(lines)
        await DeliveryRepository(session).add(deliveries)

    async def record_refund(self, session: AsyncSession, refunded: LicenceRefunded) -> None:
        """From now on every link of the licence is refused."""
        licence = await LicenceRepository(session).lock(refunded.licence_id)
        if licence is None:
            # Licensing relays a licence's grant before its refund, so this is a bug
            # upstream; acknowledging keeps the events behind it flowing.
            log.error("delivery.refund.unknown_licence", licence_id=str(refunded.licence_id))
            return
        if licence.status == LicenceStatus.REFUNDED:
            return
        licence.status = LicenceStatus.REFUNDED
        licence.refunded_at = refunded.refunded_at
        await session.flush()
        log.info("delivery.licence.revoked", licence_id=str(licence.id))

    # --- building ---

    async def build_many(
        self, session: AsyncSession, deliveries: Sequence[Delivery], *, tools: BuildTools
    ) -> list[DeliveryIssued]:
        """Build several deliveries in the caller's transaction (which holds them locked),
        each as `build` does, with what they have in common read once: their licences,
        their first chunk of lines, and the works of those lines from the catalogue, as
        it is now. A sale of a few works costs a fraction of a catalogue request."""
        licence_ids = [delivery.licence_id for delivery in deliveries]
        licences = LicenceRepository(session)
        # Held here: the session's identity map keeps objects only while they are referenced.
        by_id = {licence.id: licence for licence in await licences.get_many(licence_ids)}
        first = await licences.first_lines(licence_ids, limit=BUILD_CHUNK)
        works = _BatchWorks(
            tools.works, [line.work_id for lines in first.values() for line in lines]
        )
        await works.read()
        entries = _EntryBuffer(EntryRepository(session))
        issued = [
            await self.build(
                session,
                delivery,
                tools=tools,
                licence=by_id[delivery.licence_id],
                first_chunk=first[delivery.licence_id],
                works=works,
                entries=entries,
            )
            for delivery in deliveries
        ]
        await entries.flush()
        await works.confirm()
        return issued

    async def build(
        self,
        session: AsyncSession,
        delivery: Delivery,
        *,
        tools: BuildTools,
        licence: Licence | None = None,
        first_chunk: Sequence[Row[Any]] | None = None,
        works: WorkSource | None = None,
        entries: _EntryBuffer | None = None,
    ) -> DeliveryIssued:
        """Check every work, write and sign the manifest, store it, record the entries and
        issue the delivery, in the caller's transaction (which holds the delivery locked).

        The lines stream through in chunks, in manifest order, straight from the index
        on (licence, order key): memory holds one chunk, never the whole bundle.
        `build_many` hands over the licence, the first chunk and the works it has read,
        and writes the entries of its builds together.
        """
        licence = licence or await LicenceRepository(session).get(delivery.licence_id)
        assert licence is not None
        uses = {Use(use) for use in licence.uses}
        lines = LicenceRepository(session)
        entry_buffer = entries or _EntryBuffer(EntryRepository(session))
        catalogue = works or tools.works
        excluded: list[DeliveryExclusion] = []
        watermark, signer = tools.keys.watermark, tools.keys.signer
        with ManifestWriter(
            delivery_id=delivery.id,
            licence_id=licence.id,
            bundle_id=licence.bundle_id,
            buyer_id=licence.buyer_id,
            buyer_name=licence.buyer_name,
            watermark=watermark,
        ) as writer:
            chunk = (
                first_chunk
                if first_chunk is not None
                else await lines.lines_in_order(licence.id, after=None, limit=BUILD_CHUNK)
            )
            while chunk:
                found = await catalogue.get_many([line.work_id for line in chunk])
                rows = []
                for line in chunk:
                    left_out = exclusion(line.work_id, found.get(line.work_id), uses)
                    if left_out is not None:
                        excluded.append(left_out)
                        continue
                    fingerprint = writer.add(
                        ManifestLine(
                            work_id=line.work_id,
                            version_id=line.version_id,
                            file_name=line.file_name,
                            size=line.size,
                            sha256=line.sha256,
                            media_type=line.media_type,
                            attribution=line.attribution,
                            terms_id=line.terms_id,
                        )
                    )
                    rows.append(
                        {
                            "fingerprint": fingerprint,
                            "delivery_id": delivery.id,
                            "position": writer.count - 1,
                            "licence_id": licence.id,
                            "work_id": line.work_id,
                        }
                    )
                await entry_buffer.add(rows)
                # A short chunk is the last: no query to find there is nothing after it.
                chunk = (
                    await lines.lines_in_order(
                        licence.id, after=chunk[-1].order_key, limit=BUILD_CHUNK
                    )
                    if len(chunk) == BUILD_CHUNK
                    else []
                )
            if entries is None:
                await entry_buffer.flush()
            issued_at = utcnow()
            delivery.issued_at = issued_at
            delivery.entry_count = writer.count
            delivery.watermark_commitment = writer.watermark_commitment
            if writer.count:
                if writer.in_memory:
                    signed = writer.sign(signer, issued_at=issued_at)
                else:
                    signed = await asyncio.to_thread(writer.sign, signer, issued_at=issued_at)
                key = manifest_key(delivery.id)
                # Written under the delivery's lock: a build that dies before its commit
                # leaves an object the next build overwrites.
                await tools.store.put(key, signed.envelope, content_type="application/json")
                delivery.status = DeliveryStatus.ISSUED
                delivery.key_id = signer.key_id
                delivery.manifest_key = key
                delivery.manifest_sha256 = signed.sha256
            else:
                delivery.status = DeliveryStatus.EMPTY
        # Sorted by work, so the list says nothing of the keyed order.
        excluded.sort(key=lambda left_out: left_out.work_id)
        delivery.excluded = [left_out.model_dump(mode="json") for left_out in excluded]
        delivery.last_error = None
        issued = DeliveryIssued(
            delivery_id=delivery.id,
            licence_id=licence.id,
            buyer_id=licence.buyer_id,
            status=delivery.status,
            issued_at=issued_at,
            manifest_key=delivery.manifest_key,
            manifest_sha256=delivery.manifest_sha256,
            key_id=signer.key_id,
            entry_count=delivery.entry_count,
            excluded=excluded,
            watermark_commitment=writer.watermark_commitment,
        )
        emit(session, Topic.DELIVERY_ISSUED, issued)
        log.info(
            "delivery.issued",
            delivery_id=str(delivery.id),
            status=delivery.status,
            entries=delivery.entry_count,
            excluded=len(excluded),
        )
        return issued

    async def postpone(
        self, session: AsyncSession, delivery_id: uuid.UUID, *, error: str, max_backoff: float
    ) -> None:
        """A failed build runs again later, with backoff, by whichever replica is free."""
        delivery = await DeliveryRepository(session).lock(delivery_id)
        if delivery is None or delivery.status != DeliveryStatus.BUILDING:
            return
        delivery.attempts += 1
        delivery.next_attempt_at = utcnow() + backoff(delivery.attempts, max_seconds=max_backoff)
        delivery.last_error = error[:2_000]
        await session.flush()

    # --- reads ---

    async def get(
        self, session: AsyncSession, caller: Caller, delivery_id: uuid.UUID
    ) -> DeliveryRead:
        return _read(await self._visible(session, caller, delivery_id))

    async def get_many(
        self, session: AsyncSession, caller: Caller, licence_ids: Sequence[uuid.UUID]
    ) -> list[DeliveryRead]:
        """In the order of `licence_ids`; deliveries the caller may not see are left out."""
        unique = list(dict.fromkeys(licence_ids))
        found = {
            delivery.licence_id: delivery
            for delivery in await DeliveryRepository(session).by_licence_ids(unique)
            if may_see(delivery, caller)
        }
        return [_read(found[licence_id]) for licence_id in unique if licence_id in found]

    async def manifest(
        self, session: AsyncSession, caller: Caller, delivery_id: uuid.UUID, *, store: ObjectStore
    ) -> ManifestRead:
        delivery = await self._visible(session, caller, delivery_id)
        self._require_built(delivery)
        if delivery.manifest_key is None:
            raise DeliveryEmpty("every work was left out of this delivery: it has no manifest")
        async with _storage_calls():
            try:
                stored = await store.get(delivery.manifest_key)
            except ObjectNotFound as exc:
                log.error("delivery.manifest.missing", delivery_id=str(delivery.id))
                raise ServiceUnavailable("the manifest is not in the object store") from exc
        return ManifestRead(delivery_id=delivery.id, envelope=Envelope.model_validate_json(stored))

    async def files(
        self,
        session: AsyncSession,
        caller: Caller,
        delivery_id: uuid.UUID,
        *,
        first: int,
        after: str | None,
    ) -> DeliveryFilePage:
        delivery = await self._visible(session, caller, delivery_id)
        self._require_built(delivery)
        page = await EntryRepository(session).page(delivery.id, after=after, limit=first)
        return DeliveryFilePage(
            items=[_entry(delivery.id, entry) for entry in page.items],
            next_cursor=page.next_cursor,
        )

    def keys(self, keys: DeliveryKeys) -> list[PublicKeyRead]:
        return [keys.signer.published()]

    # --- downloads ---

    async def link(
        self,
        session: AsyncSession,
        caller: Caller,
        delivery_id: uuid.UUID,
        fingerprint: str,
        *,
        store: ObjectStore,
        ttl: timedelta,
    ) -> DownloadLink:
        """Check the entitlement now, record the download, and presign the licensed bytes.

        Refusals are logged; another buyer's delivery is not found, never forbidden.
        """

        def refuse(reason: str, error: AssentError) -> NoReturn:
            _refuse(reason, error, caller=caller, delivery_id=delivery_id, fingerprint=fingerprint)

        delivery = await DeliveryRepository(session).get(delivery_id)
        if delivery is None:
            refuse("no_such_delivery", NotFound("no such delivery"))
        buyer_id = account_id(caller)
        if delivery.buyer_id != buyer_id:
            if may_see(delivery, caller):
                refuse("not_the_buyer", Forbidden("only the licence's buyer downloads its files"))
            refuse("not_the_buyer", NotFound("no such delivery"))
        licence = await LicenceRepository(session).lock(delivery.licence_id, shared=True)
        assert licence is not None
        if licence.status == LicenceStatus.REFUNDED:
            refuse("licence_refunded", LicenceRevoked("the licence was refunded and revoked"))
        if delivery.status == DeliveryStatus.BUILDING:
            refuse("building", DeliveryNotReady("the delivery is still being built"))
        entry = await EntryRepository(session).in_delivery(delivery.id, fingerprint)
        if entry is None:
            refuse("no_such_file", NotFound("no such file in this delivery"))
        line = entry.line
        now = utcnow()
        if line.ends_at <= now:
            refuse(
                "licence_expired",
                LicenceExpired(f"the licence of this file ended on {line.ends_at:%Y-%m-%d}"),
            )
        await DownloadRepository(session).create(
            Download(
                id=uuid.uuid4(),
                delivery_id=delivery.id,
                fingerprint=fingerprint,
                buyer_id=delivery.buyer_id,
                downloaded_at=now,
            )
        )
        emit(
            session,
            Topic.FILE_DOWNLOADED,
            FileDownloaded(
                delivery_id=delivery.id,
                licence_id=licence.id,
                buyer_id=delivery.buyer_id,
                work_id=line.work_id,
                version_id=line.version_id,
                downloaded_at=now,
            ),
        )
        async with _storage_calls():
            url = await store.presign_get(
                work_version_key(line.work_id, line.version_id),
                expires_in=ttl,
                filename=line.file_name,
            )
        log.info(
            "delivery.download.link_issued",
            delivery_id=str(delivery.id),
            fingerprint=fingerprint,
            work_id=str(line.work_id),
        )
        return DownloadLink(url=url, expires_at=now + ttl, size=line.size, sha256=line.sha256)

    # --- tracing ---

    async def trace(self, session: AsyncSession, caller: Caller, trace_in: TraceIn) -> TraceResult:
        """Name the licence a leaked manifest was issued under, with the evidence."""
        if not caller.has(Role.ADMIN, Role.AUDITOR):
            log.warning("delivery.trace.refused", reason="not_an_auditor", caller=caller.subject)
            raise Forbidden("only auditors and admins trace manifests")
        tokens = find_tokens(trace_in.manifest)
        examined = len(tokens.fingerprints)
        found = f"{examined} candidate fingerprint(s) (32 hex digits) in the input"
        if tokens.from_payload:
            found += f", {tokens.from_payload} of them inside a base64 (DSSE) payload"
        if not examined:
            return _nobody(0, 0, [found + ": nothing Assent issues can be recognised"])
        located = await EntryRepository(session).locate(tokens.fingerprints)
        # Positions in the order the text lists them, per delivery.
        by_delivery: dict[uuid.UUID, list[int]] = {}
        for token in tokens.fingerprints:
            if token in located:
                delivery_id, position = located[token]
                by_delivery.setdefault(delivery_id, []).append(position)
        matched_all = sum(len(positions) for positions in by_delivery.values())
        if not matched_all:
            return _nobody(examined, 0, [found, "none of them was issued by Assent"])
        ranked = sorted(by_delivery.items(), key=lambda item: (-len(item[1]), str(item[0])))
        ranked = ranked[:MAX_TRACE_CANDIDATES]
        deliveries = await DeliveryRepository(session).get_many_with_licence(
            [delivery_id for delivery_id, _ in ranked]
        )
        candidates = [
            TraceMatch(
                delivery_id=delivery_id,
                licence_id=deliveries[delivery_id].licence_id,
                buyer_id=deliveries[delivery_id].buyer_id,
                buyer_name=deliveries[delivery_id].licence.buyer_name,
                matched_entries=len(positions),
            )
            for delivery_id, positions in ranked
        ]
        top_id, top_positions = ranked[0]
        top = deliveries[top_id]
        matched = len(top_positions)
        score = confidence(
            matched=matched,
            matched_all=matched_all,
            examined=examined,
            delivery_entries=top.entry_count,
        )
        agreement = order_agreement(top_positions)
        named = score >= NAMING_CONFIDENCE
        deliveries_word = "delivery" if len(by_delivery) == 1 else "deliveries"
        evidence = [
            found,
            f"{matched_all} of them were issued by Assent, in {len(by_delivery)} {deliveries_word}",
            *(
                _match_evidence(deliveries[delivery_id], len(positions))
                for delivery_id, positions in ranked
            ),
            _chance_evidence(examined, top.entry_count, matched),
            _order_evidence(agreement, matched),
        ]
        if named:
            evidence += [
                "the delivery's watermark commitment, logged to the audit log when it was "
                f"issued: {top.watermark_commitment}",
                f"named: licence {top.licence_id} (buyer {top.licence.buyer_name}), "
                f"confidence {score:.4f}",
            ]
        else:
            evidence.append(
                f"nobody named: the leading candidate holds {matched / matched_all:.0%} of the "
                f"matches, below the {NAMING_CONFIDENCE:.0%} needed; the text mixes manifests "
                "(pooled by several buyers?)"
            )
        return TraceResult(
            licence_id=top.licence_id if named else None,
            delivery_id=top.id if named else None,
            buyer_id=top.buyer_id if named else None,
            buyer_name=top.licence.buyer_name if named else None,
            confidence=score,
            entries_examined=examined,
            entries_matched=matched_all,
            order_agreement=agreement,
            evidence=evidence,
            candidates=candidates,
        )

    # --- helpers ---

    async def _visible(
        self, session: AsyncSession, caller: Caller, delivery_id: uuid.UUID
    ) -> Delivery:
        """The delivery if the caller may see it; otherwise 404, never revealing it exists."""
        delivery = await DeliveryRepository(session).get(delivery_id)
        if delivery is not None and not may_see(delivery, caller):
            log.warning(
                "delivery.read.refused",
                reason="not_the_buyer",
                delivery_id=str(delivery_id),
                caller=caller.subject,
            )
            delivery = None
        if delivery is None:
            raise NotFound("no such delivery")
        return delivery

    def _require_built(self, delivery: Delivery) -> None:
        if delivery.status == DeliveryStatus.BUILDING:
            raise DeliveryNotReady("the delivery is still being built; try again shortly")


def _nobody(examined: int, matched: int, evidence: list[str]) -> TraceResult:
    return TraceResult(
        licence_id=None,
        delivery_id=None,
        buyer_id=None,
        buyer_name=None,
        confidence=0.0,
        entries_examined=examined,
        entries_matched=matched,
        order_agreement=None,
        evidence=evidence,
        candidates=[],
    )


def _match_evidence(delivery: Delivery, matched: int) -> str:
    issued = f"{delivery.issued_at:%Y-%m-%d %H:%M} UTC" if delivery.issued_at else "not yet"
    return (
        f"{matched} match delivery {delivery.id} of licence {delivery.licence_id} (buyer "
        f"{delivery.licence.buyer_name}, {delivery.buyer_id}), {matched} of its "
        f"{delivery.entry_count} entries; issued {issued}"
    )


def _chance_evidence(examined: int, entries: int, matched: int) -> str:
    per_token = chance_match(examined, entries, 1)
    return (
        f"fingerprints are {FINGERPRINT_BITS}-bit HMACs under a key only Assent holds: a token "
        f"hits one of the leading candidate's fingerprints by chance with probability at most "
        f"{per_token:.1e}, and {matched} such hits are that to the power {matched}"
    )


def _order_evidence(agreement: float | None, matched: int) -> str:
    if agreement is None:
        return "order: a single matched entry, nothing to compare"
    pairs = math.comb(matched, 2)
    return (
        f"order: {agreement:.2f} of the {pairs} pairs of the leading candidate's matched "
        "entries stand in its keyed order (1.00 as issued, about 0.50 once shuffled; a "
        "shuffle does not weaken the fingerprints)"
    )


delivery_service = DeliveryService()
