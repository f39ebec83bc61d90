"""Copies of another creator's work, caught when an upload completes: the same bytes
(sha256), or an image or text near enough to be a resized, re-encoded or edited copy.
Either holds the work for an admin's review, with the matches beside it."""

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.likeness import DuplicateMatch, Fingerprint, Match, likeness_service
from services.catalogue.likeness.repository import DuplicateMatchRepository
from services.catalogue.models import Work, WorkVersion
from services.catalogue.upload.repository import VersionRepository
from services.contracts.catalogue import DuplicateKind, MediaType, ReviewStatus
from services.kit.db import utcnow
from services.kit.errors import storage_calls
from storage.object_store import MiB, ObjectNotFound, ObjectStore

# Larger files are matched by their sha256 alone: a picture or a text this large is rare,
# and the whole file is read into memory to be fingerprinted.
MAX_FINGERPRINTED_BYTES = 64 * MiB
# Enough for a reviewer to compare; a file copied more often than this is no less a copy.
MATCHES_KEPT = 10
SAME_FILE = "the same file is listed by another creator"


async def fingerprint_of(
    version: WorkVersion, media_type: MediaType, store: ObjectStore
) -> Fingerprint | None:
    """The verified file's fingerprint, read from the store; call it outside a transaction."""
    if not likeness_service.covers(media_type) or version.size > MAX_FINGERPRINTED_BYTES:
        return None
    try:
        async with storage_calls():
            content = await store.get(version.object_key)
    except ObjectNotFound:
        # Replaced meanwhile: the completion then finds the upload closed.
        return None
    # Decoding and hashing a picture takes tens of milliseconds: off the event loop.
    return await asyncio.to_thread(likeness_service.fingerprint, content, media_type)


def _near_reason(kind: DuplicateKind, match: Match, matched: Work | None) -> str:
    reason = f"looks like another creator's work ({kind} match, score {match.score:.2f})"
    # Named only when buyers can see it anyway: the other creator's unlisted work is theirs.
    if matched is not None and matched.listed:
        reason += f': "{matched.title}"'
    return reason


async def _near_copies(session: AsyncSession, work: Work, fingerprint: Fingerprint) -> list[Match]:
    """Other creators' works near the fingerprint, best first; it is then recorded, so
    that later copies of this work are caught too."""
    near = await likeness_service.find_near(session, fingerprint, work.owner_id)
    await likeness_service.record(session, fingerprint, work_id=work.id, creator_id=work.owner_id)
    return near


async def hold_if_copied(
    session: AsyncSession, work: Work, version: WorkVersion, fingerprint: Fingerprint | None
) -> None:
    """Hold the work for review when its new file copies another creator's work; the
    work is locked by the caller."""
    exact = await VersionRepository(session).works_of_others_with(
        version.sha256, work.owner_id, limit=MATCHES_KEPT
    )
    near = await _near_copies(session, work, fingerprint) if fingerprint is not None else []
    near = [match for match in near if match.work_id not in exact]
    if not exact and not near:
        return
    now = utcnow()
    found = [(work_id, DuplicateKind.EXACT, 1.0) for work_id in exact]
    # Today's words for the same bytes, which creators have read since exact copies were
    # first held; a near copy is told apart by its kind and score.
    work.review_note = SAME_FILE
    if fingerprint is not None and near:
        kind = DuplicateKind(fingerprint.kind)
        found += [(match.work_id, kind, match.score) for match in near]
        if not exact:
            best = near[0]
            work.review_note = _near_reason(kind, best, await session.get(Work, best.work_id))
    work.review_status = ReviewStatus.FLAGGED
    await DuplicateMatchRepository(session).replace(
        work.id,
        [
            DuplicateMatch(
                work_id=work.id, matched_work_id=work_id, kind=kind, score=score, found_at=now
            )
            for work_id, kind, score in found[:MATCHES_KEPT]
        ],
    )
