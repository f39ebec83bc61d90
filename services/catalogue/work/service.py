"""Works: listing one with its first file, reading them, and withdrawing one from sale."""

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.access import (
    is_visible,
    read_work,
    record_acting_creator,
    require_account,
    visible_work,
)
from services.catalogue.creator.service import creator_service
from services.catalogue.invitation.service import invitation_service
from services.catalogue.listing import refresh_listing
from services.catalogue.models import Work
from services.catalogue.signals import terms_signals
from services.catalogue.storage import Storage
from services.catalogue.text import canonical_language
from services.catalogue.upload.repository import VersionRepository
from services.catalogue.upload.store import open_in_store, presigned_target
from services.catalogue.work.repository import WorkRepository
from services.catalogue.work.shares import checked_shares
from services.contracts.catalogue import (
    TermsSignals,
    WorkCreate,
    WorkCreated,
    WorkRead,
    WorkStatus,
)
from services.contracts.catalogue import WorkWithdrawn as WorkWithdrawnEvent
from services.contracts.events import Topic
from services.contracts.roles import Role
from services.kit.db import utcnow
from services.kit.errors import Forbidden
from services.kit.internal_token import Caller
from services.kit.outbox import emit


def mark_withdrawn(session: AsyncSession, caller: Caller, work: Work) -> None:
    """Out of future sales for good; licences already sold stay valid."""
    withdrawn_by = require_account(caller)
    work.status = WorkStatus.WITHDRAWN
    work.withdrawn_at = utcnow()
    work.withdrawn_by = withdrawn_by
    refresh_listing(work)
    emit(
        session,
        Topic.WORK_WITHDRAWN,
        WorkWithdrawnEvent(
            work_id=work.id, withdrawn_by=withdrawn_by, withdrawn_at=work.withdrawn_at
        ),
    )


class WorkService:
    async def create(
        self, session: AsyncSession, caller: Caller, work_in: WorkCreate, *, storage: Storage
    ) -> WorkCreated:
        owner_id = require_account(caller)
        if not caller.has(Role.CREATOR):
            raise Forbidden("only a creator may list a work")
        await record_acting_creator(session, caller)
        await creator_service.record_confirmed(session, caller, work_in)
        shares = await checked_shares(session, owner_id, work_in.shares)
        # The directory's entries stand on their own. Committed now, so that no transaction
        # stays open while the store opens the upload.
        await session.commit()
        work_id, version_id = uuid.uuid4(), uuid.uuid4()
        upload = await open_in_store(work_id, version_id, work_in, storage=storage)
        work_in = work_in.model_copy(
            update={
                "title": work_in.title.strip(),
                "tags": list(dict.fromkeys(work_in.tags)),
                "language": canonical_language(work_in.language),
            }
        )
        work = await WorkRepository(session).add(work_id, owner_id, work_in, shares)
        version = await VersionRepository(session).add(work, version_id, work_in, upload)
        await invitation_service.invite_co_creators(session, work)
        # Read again with everything the listing looks at, to say why it is not for sale.
        loaded = await WorkRepository(session).get_for_read(work.id)
        assert loaded is not None
        refresh_listing(loaded)
        await session.flush()
        target = await presigned_target(work, version, storage=storage, uploaded=[])
        return WorkCreated(work=await read_work(session, work.id), upload=target)

    async def get(self, session: AsyncSession, caller: Caller, work_id: uuid.UUID) -> WorkRead:
        return WorkRead.model_validate(await visible_work(session, caller, work_id, lock=False))

    async def get_many(
        self, session: AsyncSession, caller: Caller, ids: Sequence[uuid.UUID]
    ) -> list[WorkRead]:
        """The works the caller may see, in the order asked."""
        works = await WorkRepository(session).read_many(list(dict.fromkeys(ids)))
        return [work for work in works if is_visible(work, caller)]

    async def signals(
        self, session: AsyncSession, caller: Caller, work_id: uuid.UUID
    ) -> TermsSignals:
        return terms_signals(await visible_work(session, caller, work_id, lock=False))

    async def withdraw(self, session: AsyncSession, caller: Caller, work_id: uuid.UUID) -> WorkRead:
        work = await visible_work(session, caller, work_id, lock=True)
        if work.owner_id != caller.account_id and not caller.has(Role.ADMIN):
            raise Forbidden("only the work's owner or an admin may withdraw it")
        if work.status != WorkStatus.WITHDRAWN:
            mark_withdrawn(session, caller, work)
            await session.flush()
        return await read_work(session, work.id)


work_service = WorkService()
