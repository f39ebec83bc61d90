"""Works: one read verb for changes (locking as a parameter), and the read of many works
as `WorkRead` in one Core statement, for search pages and batch reads."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.interfaces import LoaderOption

from services.catalogue.models import (
    Consent,
    Creator,
    Invitation,
    MetadataVersion,
    Offer,
    Share,
    TermsRecord,
    Work,
    WorkVersion,
)
from services.contracts.catalogue import (
    ConsentRead,
    OfferRead,
    ReviewStatus,
    Terms,
    VersionRead,
    WorkCreate,
    WorkRead,
    WorkStatus,
)
from services.kit.db import utcnow
from services.kit.repository import Repository

# One work as the ORM loads it (for changes): its current version, pending version,
# newest consent and offer joined, then the shares, invitations (with their creators), the
# invitations by email still unclaimed, and every member's consents.
READ_OPTIONS: tuple[LoaderOption, ...] = (
    joinedload(Work.current_version),
    joinedload(Work.pending_version),
    joinedload(Work.consent),
    joinedload(Work.offer).joinedload(Offer.terms_record),
    selectinload(Work.shares).joinedload(Share.creator),
    selectinload(Work.invitations).joinedload(Invitation.creator),
    selectinload(Work.address_invitations),
    selectinload(Work.consent_history),
)


# The tables themselves, for the statements that only read rows: a statement of plain
# table columns runs as Core, without the ORM's compile and loading steps (about 0.3 ms
# of CPU a search, on the catalogue and on whoever runs the same SQL).
WORK: Table = Work.__table__  # type: ignore[assignment]
SHARE: Table = Share.__table__  # type: ignore[assignment]
_VERSION: Table = WorkVersion.__table__  # type: ignore[assignment]
_CONSENT: Table = Consent.__table__  # type: ignore[assignment]
_OFFER: Table = Offer.__table__  # type: ignore[assignment]
_TERMS: Table = TermsRecord.__table__  # type: ignore[assignment]
_CREATOR: Table = Creator.__table__  # type: ignore[assignment]

# Many works as read (`WorkRead`), for search pages and batch reads: one statement of
# plain columns, shares and creators joined, with no ORM objects in between. Loading a
# page of 20 as ORM objects (two statements) and converting those took about 5 ms of CPU;
# this takes 2. The columns are the contracts' own fields, so a field added there is
# read here too. Built once: putting the statement together took longer than running it.
_CURRENT = _VERSION.alias("current_version")
_PENDING = _VERSION.alias("pending_version")
_NESTED = frozenset({"current_version", "pending_version", "shares", "consent", "offer"})
_WORK_FIELDS = tuple(name for name in WorkRead.model_fields if name not in _NESTED)
_VERSION_FIELDS = tuple(VersionRead.model_fields)
_CONSENT_FIELDS = tuple(ConsentRead.model_fields)
_OFFER_FIELDS = tuple(name for name in OfferRead.model_fields if name != "terms")
_READ_MANY = (
    select(
        *(WORK.c[name] for name in _WORK_FIELDS),
        *(_CURRENT.c[name] for name in _VERSION_FIELDS),
        *(_PENDING.c[name] for name in _VERSION_FIELDS),
        *(_CONSENT.c[name] for name in _CONSENT_FIELDS),
        *(_OFFER.c[name] for name in _OFFER_FIELDS),
        _TERMS.c.canonical_json,
        SHARE.c.creator_id,
        _CREATOR.c.name,
        SHARE.c.basis_points,
    )
    .select_from(WORK)
    .outerjoin(_CURRENT, _CURRENT.c.id == WORK.c.current_version_id)
    .outerjoin(_PENDING, _PENDING.c.id == WORK.c.pending_version_id)
    .outerjoin(_CONSENT, _CONSENT.c.id == WORK.c.consent_id)
    .outerjoin(_OFFER, _OFFER.c.id == WORK.c.offer_id)
    .outerjoin(_TERMS, _TERMS.c.id == _OFFER.c.terms_id)
    .outerjoin(SHARE, SHARE.c.work_id == WORK.c.id)
    .outerjoin(_CREATOR, _CREATOR.c.id == SHARE.c.creator_id)
    .where(WORK.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(SHARE.c.position)
)


def _work_fields(row: Any, terms: dict[str, Terms]) -> dict[str, Any]:
    """`WorkRead`'s fields from a row of `_READ_MANY`, its shares still to add."""
    values = iter(row)
    work = {name: next(values) for name in _WORK_FIELDS}
    for relation in ("current_version", "pending_version"):
        version = {name: next(values) for name in _VERSION_FIELDS}
        work[relation] = version if version["id"] is not None else None
    consent = {name: next(values) for name in _CONSENT_FIELDS}
    work["consent"] = consent if consent["id"] is not None else None
    offer = {name: next(values) for name in _OFFER_FIELDS}
    canonical = next(values)
    if offer["id"] is None:
        work["offer"] = None
    else:
        # Terms are shared by many works: each is parsed once a read.
        if canonical not in terms:
            terms[canonical] = Terms.model_validate_json(canonical)
        work["offer"] = {**offer, "terms": terms[canonical]}
    work["shares"] = []
    return work


class WorkRepository(Repository[Work]):
    model = Work

    async def add(
        self,
        work_id: uuid.UUID,
        owner_id: uuid.UUID,
        work_in: WorkCreate,
        shares: Sequence[tuple[uuid.UUID, int]],
    ) -> Work:
        """A new work, waiting for its first file, with its co-creators' shares in order."""
        work = Work(
            id=work_id,
            owner_id=owner_id,
            title=work_in.title,
            description=work_in.description,
            media_type=work_in.media_type,
            tags=list(work_in.tags),
            language=work_in.language,
            status=WorkStatus.PENDING_UPLOAD,
            review_status=ReviewStatus.CLEAR,
            created_at=utcnow(),
            listed=False,
            offer_uses=0,
            shares=[
                Share(creator_id=creator_id, position=position, basis_points=points)
                for position, (creator_id, points) in enumerate(shares)
            ],
            invitations=[],
        )
        return await self.create(work)

    async def get_for_read(self, work_id: uuid.UUID, *, for_update: bool = False) -> Work | None:
        """The work with everything it joins; `for_update` locks it until the transaction
        ends, for a change that reads then writes.

        The lock comes first, on its own: a `FOR UPDATE` with the joined consent and
        offer would, after waiting, recheck only the work row and return the joined rows
        as they were before the other transaction committed. Loaded afterwards, in a new
        statement, everything is current.
        """
        if for_update:
            locked = await self.session.scalar(
                select(Work.id).where(Work.id == work_id).with_for_update()
            )
            if locked is None:
                return None
        statement = (
            select(Work)
            .where(Work.id == work_id)
            .options(*READ_OPTIONS)
            .execution_options(populate_existing=True)
        )
        return (await self.session.scalars(statement)).unique().one_or_none()

    async def read_many(self, ids: Sequence[uuid.UUID]) -> list[WorkRead]:
        """The works found, in the order of `ids`, in one statement."""
        if not ids:
            return []
        found: dict[uuid.UUID, dict[str, Any]] = {}
        terms: dict[str, Terms] = {}
        # A row per share, the work's columns repeated on each.
        for row in await self.session.execute(_READ_MANY, {"ids": list(ids)}):
            work = found.get(row[0])
            if work is None:
                work = found[row[0]] = _work_fields(row, terms)
            creator_id, creator_name, basis_points = row[-3:]
            if creator_id is not None:
                work["shares"].append(
                    {
                        "creator_id": creator_id,
                        "creator_name": creator_name,
                        "basis_points": basis_points,
                    }
                )
        return [WorkRead.model_validate(found[work_id]) for work_id in ids if work_id in found]


class MetadataVersionRepository(Repository[MetadataVersion]):
    model = MetadataVersion

    async def of_works(self, work_ids: Sequence[uuid.UUID]) -> list[MetadataVersion]:
        """The recorded details of these works, each work's oldest first."""
        return await self.list(
            select(MetadataVersion)
            .where(MetadataVersion.work_id.in_(work_ids))
            .order_by(MetadataVersion.work_id, MetadataVersion.number)
        )

    async def latest_number(self, work_id: uuid.UUID) -> int:
        """The newest version's number; 0 before the first edit."""
        highest = await self.session.scalar(
            select(func.max(MetadataVersion.number)).where(MetadataVersion.work_id == work_id)
        )
        return highest or 0
