"""Who may see and change a work: the checks every aggregate of the catalogue makes first."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.creator.repository import CreatorRepository
from services.catalogue.errors import WorkWithdrawn
from services.catalogue.models import Work
from services.catalogue.work.repository import WorkRepository
from services.contracts.catalogue import InvitationStatus, WorkRead, WorkStatus
from services.contracts.roles import Role
from services.kit.errors import Forbidden, NotFound
from services.kit.internal_token import Caller


def require_account(caller: Caller) -> uuid.UUID:
    found = caller.account_id
    if found is None:
        raise Forbidden("only an account may change the catalogue")
    return found


def is_visible(work: Work | WorkRead, caller: Caller) -> bool:
    """Buyers see listed works only; members (the owner and the co-creators), admins and
    auditors see every state."""
    if work.listed or caller.sees_everything:
        return True
    member = caller.account_id
    return member is not None and (
        member == work.owner_id or any(share.creator_id == member for share in work.shares)
    )


def require_not_withdrawn(work: Work) -> None:
    if work.status == WorkStatus.WITHDRAWN:
        raise WorkWithdrawn("this work has been withdrawn")


async def visible_work(
    session: AsyncSession, caller: Caller, work_id: uuid.UUID, *, lock: bool
) -> Work:
    """The work if the caller may see it; otherwise 404, never revealing that it exists."""
    work = await WorkRepository(session).get_for_read(work_id, for_update=lock)
    if work is None or not is_visible(work, caller):
        raise NotFound("no such work")
    return work


async def owned_work(
    session: AsyncSession, caller: Caller, work_id: uuid.UUID, *, lock: bool
) -> Work:
    work = await visible_work(session, caller, work_id, lock=lock)
    if work.owner_id != caller.account_id:
        raise Forbidden("only the work's owner may change it")
    return work


async def record_acting_creator(session: AsyncSession, caller: Caller) -> None:
    """A creator acting before `account.registered` arrives is in the directory at once."""
    creator_id = caller.account_id
    if creator_id is not None and caller.has(Role.CREATOR):
        await CreatorRepository(session).upsert(creator_id, caller.name)


async def owned_for_change(session: AsyncSession, caller: Caller, work_id: uuid.UUID) -> Work:
    """The caller's own work, locked for a change they make as its creator."""
    work = await owned_work(session, caller, work_id, lock=True)
    await record_acting_creator(session, caller)
    return work


async def consenting_member(session: AsyncSession, caller: Caller, work_id: uuid.UUID) -> Work:
    """The work, locked, for a consent its caller records for themselves: its owner, or a
    co-creator who accepted their share. Each member's consent is their own record."""
    work = await visible_work(session, caller, work_id, lock=True)
    if work.owner_id != caller.account_id and not any(
        invitation.creator_id == caller.account_id
        and invitation.status == InvitationStatus.ACCEPTED
        for invitation in work.invitations
    ):
        raise Forbidden("only the work's owner, or a co-creator who accepted, may consent")
    await record_acting_creator(session, caller)
    return work


async def read_work(session: AsyncSession, work_id: uuid.UUID) -> WorkRead:
    """The work as it is after a change, read again with everything it joins."""
    work = await WorkRepository(session).get_for_read(work_id)
    assert work is not None
    return WorkRead.model_validate(work)
