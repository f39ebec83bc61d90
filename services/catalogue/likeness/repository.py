"""The fingerprint store's queries."""

import uuid
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import delete, select, union_all

from services.catalogue.likeness.fingerprint import Fingerprint
from services.catalogue.likeness.models import DuplicateMatch, FingerprintBand, StoredFingerprint
from services.kit.repository import Repository


@dataclass(frozen=True)
class WorkFingerprint:
    work_id: uuid.UUID
    creator_id: uuid.UUID
    fingerprint: Fingerprint


class FingerprintRepository(Repository[StoredFingerprint]):
    model = StoredFingerprint

    async def add(self, new: WorkFingerprint) -> StoredFingerprint:
        stored = StoredFingerprint(
            id=uuid.uuid4(),
            work_id=new.work_id,
            creator_id=new.creator_id,
            kind=new.fingerprint.kind,
            signature=new.fingerprint.signature,
        )
        self.session.add(stored)
        # The bands point at the fingerprint: it must be written first.
        await self.session.flush()
        self.session.add_all(
            FingerprintBand(
                kind=stored.kind,
                band=band,
                value=value,
                fingerprint_id=stored.id,
                signature=stored.signature,
            )
            for band, value in new.fingerprint.bands
        )
        await self.session.flush()
        return stored

    async def sharing_a_band(self, fingerprint: Fingerprint) -> dict[uuid.UUID, bytes]:
        """The signature of each stored fingerprint of the same kind with at least one
        band equal to one of `fingerprint`'s: the candidates, to be confirmed."""
        # One probe per band, joined by UNION ALL: each is then an index-only scan of the
        # primary key, where OR'ed conditions would make PostgreSQL visit the table.
        statement = union_all(
            *(
                select(FingerprintBand.fingerprint_id, FingerprintBand.signature).where(
                    FingerprintBand.kind == fingerprint.kind,
                    FingerprintBand.band == band,
                    FingerprintBand.value == value,
                )
                for band, value in sorted(fingerprint.bands)
            )
        )
        rows = await self.session.execute(statement)
        return {fingerprint_id: signature for fingerprint_id, signature in rows}

    async def read_many(
        self, ids: Collection[uuid.UUID], *, excluding_creator: uuid.UUID | None
    ) -> list[StoredFingerprint]:
        statement = select(StoredFingerprint).where(StoredFingerprint.id.in_(ids))
        if excluding_creator is not None:
            statement = statement.where(StoredFingerprint.creator_id != excluding_creator)
        return await self.list(statement)


class DuplicateMatchRepository(Repository[DuplicateMatch]):
    model = DuplicateMatch

    async def replace(self, work_id: uuid.UUID, matches: Collection[DuplicateMatch]) -> None:
        """The work's matches are now `matches`: those of its newest hold."""
        await self.session.execute(delete(DuplicateMatch).where(DuplicateMatch.work_id == work_id))
        self.session.add_all(matches)
        await self.session.flush()

    async def of_works(self, work_ids: Collection[uuid.UUID]) -> list[DuplicateMatch]:
        """The works' matches, each work's best first."""
        statement = (
            select(DuplicateMatch)
            .where(DuplicateMatch.work_id.in_(work_ids))
            .order_by(DuplicateMatch.score.desc(), DuplicateMatch.matched_work_id)
        )
        return await self.list(statement)
