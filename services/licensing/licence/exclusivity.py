"""Exclusive licences: while one's window is open, its work is sold to no one else for
overlapping uses and territory; and an exclusive offer is not sold while another buyer's
licence of the work still covers overlapping uses and territory.

An offer's `exclusivity_days` opens the window when its licence starts; it closes then,
or when the line ends, whichever is first. A refunded or excluded line holds nothing.

Quotes leave such works out with the reason `exclusive`, and a purchase checks again under
the works' locks (see `sale_scope`), so of two racing buyers only one is sold the work.
"""

import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from services.contracts.catalogue import WORLD, Terms
from services.contracts.licensing import LicenceLineStatus, LicenceStatus
from services.kit.repository import Repository
from services.licensing.models import Licence, LicenceLine


@dataclass(frozen=True)
class Holding:
    """What one buyer's licence line of a work still holds."""

    buyer_id: uuid.UUID
    uses: frozenset[str]
    territory: frozenset[str]
    ends_at: datetime
    exclusive_until: datetime | None
    """None for a line sold without exclusivity."""


@dataclass(frozen=True)
class Wanted:
    """A line a buyer asks for: its uses and the terms it would be sold under."""

    buyer_id: uuid.UUID
    uses: frozenset[str]
    terms: Terms

    @property
    def exclusive(self) -> bool:
        return self.terms.exclusivity_days > 0


def territories_overlap(a: Collection[str], b: Collection[str]) -> bool:
    return WORLD in a or WORLD in b or not set(a).isdisjoint(b)


def conflict(wanted: Wanted, holdings: Iterable[Holding], *, now: datetime) -> str | None:
    """Why this line cannot be sold now because of another buyer's licence, if it cannot."""
    for held in holdings:
        if held.buyer_id == wanted.buyer_id or held.ends_at <= now:
            continue
        if held.uses.isdisjoint(wanted.uses) or not territories_overlap(
            held.territory, wanted.terms.territory
        ):
            continue
        if held.exclusive_until is not None and held.exclusive_until > now:
            return f"licensed exclusively to another buyer until {held.exclusive_until:%Y-%m-%d}"
        if wanted.exclusive:
            return (
                "offered exclusively, but another buyer's licence covers these uses "
                f"until {held.ends_at:%Y-%m-%d}"
            )
    return None


def exclusive_until(terms: Terms, starts_at: datetime, ends_at: datetime) -> datetime | None:
    """When a line's exclusive window closes: its offer's days after it starts, or when it
    ends, whichever is first; None for a line sold without exclusivity."""
    if not terms.exclusivity_days:
        return None
    return min(starts_at + timedelta(days=terms.exclusivity_days), ends_at)


def _holding(line: LicenceLine, licence: Licence) -> Holding:
    return Holding(
        buyer_id=licence.buyer_id,
        uses=frozenset(licence.uses),
        territory=frozenset(Terms.model_validate(line.terms).territory),
        ends_at=line.ends_at,
        exclusive_until=line.exclusive_until,
    )


class HoldingRepository(Repository[LicenceLine]):
    model = LicenceLine

    async def in_force(
        self,
        work_ids: Collection[uuid.UUID],
        *,
        now: datetime,
        every_line_of: Collection[uuid.UUID] = (),
    ) -> dict[uuid.UUID, list[Holding]]:
        """The licence lines of these works that may stand in a sale's way (running, sold
        and not refunded): every one for the works in `every_line_of`, those sold
        exclusively, only the lines whose exclusive window is still open. A sale that is
        not exclusive conflicts with nothing else, and most are not: reading only the open
        windows keeps a work's many past sales out of every purchase."""
        everything = set(every_line_of) & set(work_ids)
        windows_only = set(work_ids) - everything
        holdings: dict[uuid.UUID, list[Holding]] = {}
        for works, condition in (
            (windows_only, LicenceLine.exclusive_until > now),
            (everything, LicenceLine.ends_at > now),
        ):
            if not works:
                continue
            # The lines first, then their licences: joined in one statement, a planner
            # without statistics on a young table walked every licence to its lines.
            lines = (
                await self.session.scalars(
                    select(LicenceLine).where(
                        LicenceLine.work_id.in_(sorted(works)),
                        condition,
                        LicenceLine.status == LicenceLineStatus.ACTIVE,
                    )
                )
            ).all()
            if not lines:
                continue
            licences = {
                licence.id: licence
                for licence in await self.session.scalars(
                    select(Licence).where(
                        Licence.id.in_(sorted({line.licence_id for line in lines})),
                        Licence.status == LicenceStatus.ACTIVE,
                    )
                )
            }
            for line in lines:
                if (licence := licences.get(line.licence_id)) is not None:
                    holdings.setdefault(line.work_id, []).append(_holding(line, licence))
        return holdings
