"""Works' routes: list one, read them, edit its details, change its shares, withdraw one,
publish its terms' signals."""

import uuid

from fastapi import status

from services.catalogue.errors import UnreadableImage, WorkWithdrawn
from services.catalogue.routes import CHANGE, READ, Ids, Session, catalogue_router
from services.catalogue.storage import CatalogueStorage
from services.catalogue.work.edits import edit_service
from services.catalogue.work.errors import FileReplaced
from services.catalogue.work.service import work_service
from services.catalogue.work.shares import share_service
from services.contracts.catalogue import (
    SharesChange,
    TermsSignals,
    WorkCreate,
    WorkCreated,
    WorkHistory,
    WorkRead,
    WorkUpdate,
)
from services.kit.errors import (
    Forbidden,
    InvalidRequest,
    ServiceUnavailable,
    Unauthenticated,
    error_responses,
)
from services.kit.internal_token import CurrentCaller, ReadingCaller

router = catalogue_router()


@router.post(
    "/works",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(Unauthenticated, Forbidden, InvalidRequest, ServiceUnavailable),
)
async def create_work(
    work: WorkCreate, caller: CurrentCaller, session: Session, storage: CatalogueStorage
) -> WorkCreated:
    """List a new work (creators) and get where to upload its file."""
    return await work_service.create(session, caller, work, storage=storage)


@router.get("/works", responses=error_responses(Unauthenticated, Forbidden))
async def get_works(ids: Ids, caller: ReadingCaller, session: Session) -> list[WorkRead]:
    """Batch read in the order asked; works that are missing or hidden are left out."""
    return await work_service.get_many(session, caller, ids)


@router.get("/works/history", responses=error_responses(Unauthenticated))
async def get_histories(ids: Ids, caller: CurrentCaller, session: Session) -> list[WorkHistory]:
    """Batch read of works' details version by version, oldest first, with who changed
    what and when; works that are missing or hidden are left out."""
    return await edit_service.histories(session, caller, ids)


@router.get("/works/{work_id}", responses=error_responses(*READ))
async def get_work(work_id: uuid.UUID, caller: CurrentCaller, session: Session) -> WorkRead:
    """One work, if the caller may see it."""
    return await work_service.get(session, caller, work_id)


@router.patch(
    "/works/{work_id}",
    responses=error_responses(
        *CHANGE, WorkWithdrawn, UnreadableImage, FileReplaced, ServiceUnavailable
    ),
)
async def update_work(
    work_id: uuid.UUID,
    update: WorkUpdate,
    caller: CurrentCaller,
    session: Session,
    storage: CatalogueStorage,
) -> WorkRead:
    """Change the title, description, tags or kind (owner); each change is a new version
    of the work's details, and a new kind remakes the current file's preview for it."""
    return await edit_service.update(session, caller, work_id, update, storage=storage)


@router.post("/works/{work_id}/withdraw", responses=error_responses(*CHANGE))
async def withdraw_work(work_id: uuid.UUID, caller: CurrentCaller, session: Session) -> WorkRead:
    """Take the work out of future sales (owner or admin); licences sold stay valid."""
    return await work_service.withdraw(session, caller, work_id)


@router.put("/works/{work_id}/shares", responses=error_responses(*CHANGE, WorkWithdrawn))
async def change_shares(
    work_id: uuid.UUID, change: SharesChange, caller: CurrentCaller, session: Session
) -> WorkRead:
    """New co-creator shares (owner); each co-creator whose share changes is asked again,
    and the work is off sale until they accept."""
    return await share_service.change(session, caller, work_id, change.shares)


@router.get("/works/{work_id}/signals", responses=error_responses(*READ))
async def get_signals(work_id: uuid.UUID, caller: CurrentCaller, session: Session) -> TermsSignals:
    """The work's terms as TDMRep, ODRL and C2PA training-and-mining values."""
    return await work_service.signals(session, caller, work_id)
