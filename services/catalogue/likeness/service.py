"""Near duplicates: a file's fingerprint, and the stored works it nearly copies.

Fingerprinting decodes and hashes the whole file, which is CPU work: call it from a
thread (`asyncio.to_thread`) when an event loop is running.
"""

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.likeness.fingerprint import (
    SCHEMES,
    Fingerprint,
    fingerprint_content,
    near_score,
)
from services.catalogue.likeness.models import StoredFingerprint
from services.catalogue.likeness.repository import FingerprintRepository, WorkFingerprint
from services.contracts.catalogue import MediaType


@dataclass(frozen=True)
class Match:
    work_id: uuid.UUID
    creator_id: uuid.UUID
    # 1.0 for the same fingerprint; images: the share of equal hash bits,
    # texts: the estimated Jaccard similarity of their shingles.
    score: float


class LikenessService:
    def covers(self, media_type: MediaType) -> bool:
        """Whether files of `media_type` are fingerprinted (others match by sha256 only)."""
        return media_type in SCHEMES

    def fingerprint(self, content: bytes, media_type: MediaType) -> Fingerprint | None:
        return fingerprint_content(content, media_type)

    async def record(
        self,
        session: AsyncSession,
        fingerprint: Fingerprint,
        *,
        work_id: uuid.UUID,
        creator_id: uuid.UUID,
    ) -> StoredFingerprint:
        return await FingerprintRepository(session).add(
            WorkFingerprint(work_id=work_id, creator_id=creator_id, fingerprint=fingerprint)
        )

    async def find_near(
        self,
        session: AsyncSession,
        fingerprint: Fingerprint,
        excluding_creator: uuid.UUID | None,
    ) -> list[Match]:
        """Stored works near `fingerprint`, best first; one match per work."""
        repository = FingerprintRepository(session)
        candidates = await repository.sharing_a_band(fingerprint)
        scores = {
            fingerprint_id: score
            for fingerprint_id, signature in candidates.items()
            if (score := near_score(fingerprint.kind, fingerprint.signature, signature)) is not None
        }
        if not scores:
            return []
        best: dict[uuid.UUID, Match] = {}
        for stored in await repository.read_many(scores, excluding_creator=excluding_creator):
            score = scores[stored.id]
            kept = best.get(stored.work_id)
            if kept is None or score > kept.score:
                best[stored.work_id] = Match(stored.work_id, stored.creator_id, score)
        return sorted(best.values(), key=lambda match: (-match.score, str(match.work_id)))


likeness_service = LikenessService()
