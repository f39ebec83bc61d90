"""A work's co-creator shares: checked when named, and changed only with the consent of
everyone whose share changes (their invitation asks them again)."""

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.access import owned_for_change, read_work, require_not_withdrawn
from services.catalogue.creator.repository import CreatorRepository
from services.catalogue.invitation.service import invitation_service
from services.catalogue.listing import refresh_listing
from services.catalogue.models import Share, Work
from services.catalogue.work.repository import WorkRepository
from services.contracts.catalogue import (
    BASIS_POINTS_WHOLE,
    InvitationStatus,
    ShareIn,
    WorkRead,
)
from services.kit.errors import FieldError, InvalidRequest
from services.kit.internal_token import Caller


def _named_twice(owner_id: uuid.UUID, shares: Sequence[ShareIn]) -> list[FieldError]:
    problems = []
    seen: set[uuid.UUID] = set()
    for index, share in enumerate(shares):
        if share.creator_id in seen and share.creator_id == owner_id:
            problems.append(
                FieldError(
                    f"shares.{index}.creator_id",
                    "you hold the owner's share; you cannot also be your own co-creator",
                    "owner_as_co_creator",
                )
            )
        elif share.creator_id in seen:
            problems.append(
                FieldError(
                    f"shares.{index}.creator_id", "this creator is listed twice", "duplicate"
                )
            )
        seen.add(share.creator_id)
    return problems


async def checked_shares(
    session: AsyncSession, owner_id: uuid.UUID, shares: Sequence[ShareIn]
) -> list[tuple[uuid.UUID, int]]:
    """The shares as (creator, basis points) in the order given, or every problem at once
    as field errors: nothing is written while any remains."""
    if not shares:
        return [(owner_id, BASIS_POINTS_WHOLE)]
    problems = _named_twice(owner_id, shares)
    total = sum(share.basis_points for share in shares)
    if total != BASIS_POINTS_WHOLE:
        problems.append(
            FieldError("shares", f"the shares sum to {total}, not {BASIS_POINTS_WHOLE}", "sum")
        )
    named = sorted({share.creator_id for share in shares})
    known = {creator.id for creator in await CreatorRepository(session).get_many(named)}
    problems.extend(
        FieldError(
            f"shares.{index}.creator_id",
            # Accounts reach the catalogue through the gateway's outbox: one made a moment
            # ago may not be here yet, and the same request then succeeds.
            "no such creator; an account made in the last few seconds may not be known "
            "yet, so try again in a moment",
            "unknown_creator",
        )
        for index, share in enumerate(shares)
        if share.creator_id not in known
    )
    if problems:
        raise InvalidRequest("the co-creator shares are not valid", fields=problems)
    return [(share.creator_id, share.basis_points) for share in shares]


def _left_out_without_consent(work: Work, wanted: dict[uuid.UUID, int]) -> list[FieldError]:
    """Only a co-creator who declined may be left out: anyone else named holds a share
    they accepted or have yet to answer, and there is no share of zero to ask them about."""
    return [
        FieldError(
            "shares",
            f"{invitation.creator.name} has not declined their share, so it cannot be left out",
            "co_creator_left_out",
        )
        for invitation in work.invitations
        if invitation.status != InvitationStatus.DECLINED and invitation.creator_id not in wanted
    ]


def _rewrite(work: Work, wanted: list[tuple[uuid.UUID, int]]) -> None:
    # Rows are kept by creator (their key), so a kept co-creator's row is updated in place.
    current = {share.creator_id: share for share in work.shares}
    work.shares[:] = [
        current.get(creator_id) or Share(creator_id=creator_id) for creator_id, _ in wanted
    ]
    for position, (share, (_, points)) in enumerate(zip(work.shares, wanted, strict=True)):
        share.position = position
        share.basis_points = points


class ShareService:
    async def change(
        self,
        session: AsyncSession,
        caller: Caller,
        work_id: uuid.UUID,
        shares_in: Sequence[ShareIn],
    ) -> WorkRead:
        """New shares for the owner's work. Each co-creator whose share changes (or who is
        new) is asked again, and the work is off sale until they accept; only a
        co-creator who declined may be left out."""
        work = await owned_for_change(session, caller, work_id)
        require_not_withdrawn(work)
        wanted = await checked_shares(session, work.owner_id, shares_in)
        if problems := _left_out_without_consent(work, dict(wanted)):
            raise InvalidRequest("the co-creator shares are not valid", fields=problems)
        _rewrite(work, wanted)
        await invitation_service.ask_again(session, work)
        # Read again with the new shares' and invitations' creators, which the reasons name.
        changed = await WorkRepository(session).get_for_read(work.id)
        assert changed is not None
        refresh_listing(changed)
        await session.flush()
        return await read_work(session, work.id)


share_service = ShareService()
