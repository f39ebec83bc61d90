"""The catalogue's REST API (the contract is `services.contracts.catalogue`)."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.errors import (
    ConsentNotInForce,
    ConsentRequired,
    NoPendingUpload,
    NotUnderReview,
    SingleUpload,
    UploadClosed,
    WorkWithdrawn,
)
from services.catalogue.service import Storage, creator_service, work_service
from services.contracts.catalogue import (
    MAX_PAGE_SIZE,
    ConsentIn,
    ConsentRead,
    ConsentWithdrawIn,
    CreatorRead,
    FileIn,
    OfferIn,
    OfferRead,
    PartsIn,
    PresignedPart,
    ReviewDecision,
    TermsSignals,
    UploadCompleted,
    UploadTarget,
    WorkCreate,
    WorkCreated,
    WorkPage,
    WorkRead,
    WorkSearch,
)
from services.kit.db import get_session
from services.kit.errors import (
    AssentError,
    ErrorBody,
    Forbidden,
    InvalidRequest,
    NotFound,
    ServiceUnavailable,
    Unauthenticated,
    error_responses,
)
from services.kit.internal_token import CurrentCaller

router = APIRouter(prefix="/v1", tags=["catalogue"])

Session = Annotated[AsyncSession, Depends(get_session, scope="function")]
Ids = Annotated[list[uuid.UUID], Query(alias="id", min_length=1, max_length=MAX_PAGE_SIZE)]


def _storage(request: Request) -> Storage:
    storage: Storage = request.app.state.catalogue_storage
    return storage


CatalogueStorage = Annotated[Storage, Depends(_storage)]


def _responses(*errors: type[AssentError]) -> dict[int | str, dict[str, Any]]:
    """`error_responses`, naming every error a status stands for (409 has several)."""
    merged = error_responses(*errors)
    for status_code, response in merged.items():
        names = [error.__name__ for error in errors if error.status_code == status_code]
        response["description"] = " | ".join(names)
    return merged


_READ = (Unauthenticated, NotFound)
_CHANGE = (Unauthenticated, Forbidden, NotFound, InvalidRequest)


@router.post(
    "/works",
    status_code=status.HTTP_201_CREATED,
    responses=_responses(Unauthenticated, Forbidden, InvalidRequest, ServiceUnavailable),
)
async def create_work(
    work: WorkCreate, caller: CurrentCaller, session: Session, storage: CatalogueStorage
) -> WorkCreated:
    """List a new work (creators) and get where to upload its file."""
    return await work_service.create(session, caller, work, storage=storage)


@router.get(
    "/works/search",
    responses={
        **_responses(Unauthenticated, InvalidRequest),
        status.HTTP_422_UNPROCESSABLE_CONTENT: {"model": ErrorBody},
    },
)
async def search_works(
    caller: CurrentCaller, search: Annotated[WorkSearch, Query()], session: Session
) -> WorkPage:
    """Search works: buyers see listed works; `mine` gives a creator's own in every state."""
    return await work_service.search(session, caller, search)


@router.get("/works", responses=_responses(Unauthenticated))
async def get_works(ids: Ids, caller: CurrentCaller, session: Session) -> list[WorkRead]:
    """Batch read in the order asked; works that are missing or hidden are left out."""
    return await work_service.get_many(session, caller, ids)


@router.get("/works/{work_id}", responses=_responses(*_READ))
async def get_work(work_id: uuid.UUID, caller: CurrentCaller, session: Session) -> WorkRead:
    """One work, if the caller may see it."""
    return await work_service.get(session, caller, work_id)


@router.get(
    "/works/{work_id}/upload",
    responses=_responses(*_CHANGE, NoPendingUpload, UploadClosed, ServiceUnavailable),
)
async def get_upload(
    work_id: uuid.UUID, caller: CurrentCaller, session: Session, storage: CatalogueStorage
) -> UploadTarget:
    """Where the pending file goes, with the parts already stored (to resume)."""
    return await work_service.upload_target(session, caller, work_id, storage=storage)


@router.post(
    "/works/{work_id}/upload/parts",
    responses=_responses(*_CHANGE, NoPendingUpload, UploadClosed, SingleUpload, ServiceUnavailable),
)
async def presign_parts(
    work_id: uuid.UUID,
    parts: PartsIn,
    caller: CurrentCaller,
    session: Session,
    storage: CatalogueStorage,
) -> list[PresignedPart]:
    """Presigned PUTs for parts of a multipart upload, each bound to its sha256."""
    return await work_service.presign_parts(session, caller, work_id, parts, storage=storage)


@router.post(
    "/works/{work_id}/upload/complete",
    responses=_responses(
        *_CHANGE, NoPendingUpload, UploadClosed, WorkWithdrawn, ServiceUnavailable
    ),
)
async def complete_upload(
    work_id: uuid.UUID, caller: CurrentCaller, session: Session, storage: CatalogueStorage
) -> UploadCompleted:
    """Verify the stored file's size and sha256; a refusal is `completed: false` with why."""
    return await work_service.complete_upload(session, caller, work_id, storage=storage)


@router.post(
    "/works/{work_id}/versions",
    responses=_responses(*_CHANGE, WorkWithdrawn, ServiceUnavailable),
)
async def new_version(
    work_id: uuid.UUID,
    file: FileIn,
    caller: CurrentCaller,
    session: Session,
    storage: CatalogueStorage,
) -> UploadTarget:
    """Replace the file: a new version, current once its upload completes."""
    return await work_service.new_version(session, caller, work_id, file, storage=storage)


@router.post(
    "/works/{work_id}/consents",
    status_code=status.HTTP_201_CREATED,
    responses=_responses(*_CHANGE, WorkWithdrawn),
)
async def give_consent(
    work_id: uuid.UUID, consent: ConsentIn, caller: CurrentCaller, session: Session
) -> ConsentRead:
    """Record the creator's opt-in (a new record; a revision when one is in force)."""
    return await work_service.give_consent(session, caller, work_id, consent)


@router.post(
    "/works/{work_id}/consents/withdraw",
    responses=_responses(*_CHANGE, ConsentNotInForce),
)
async def withdraw_consent(
    work_id: uuid.UUID, withdrawal: ConsentWithdrawIn, caller: CurrentCaller, session: Session
) -> ConsentRead:
    """Record the withdrawal of consent; the work leaves the listing at once."""
    return await work_service.withdraw_consent(session, caller, work_id, withdrawal)


@router.put(
    "/works/{work_id}/offer",
    responses=_responses(*_CHANGE, ConsentRequired, WorkWithdrawn),
)
async def set_offer(
    work_id: uuid.UUID, offer: OfferIn, caller: CurrentCaller, session: Session
) -> OfferRead:
    """Publish a price and terms (within the consent); it supersedes the previous offer."""
    return await work_service.set_offer(session, caller, work_id, offer)


@router.post("/works/{work_id}/withdraw", responses=_responses(*_CHANGE))
async def withdraw_work(work_id: uuid.UUID, caller: CurrentCaller, session: Session) -> WorkRead:
    """Take the work out of future sales (owner or admin); licences sold stay valid."""
    return await work_service.withdraw(session, caller, work_id)


@router.post(
    "/works/{work_id}/review",
    responses=_responses(*_CHANGE, NotUnderReview),
)
async def review_work(
    work_id: uuid.UUID, decision: ReviewDecision, caller: CurrentCaller, session: Session
) -> WorkRead:
    """Decide on a flagged work (admins): accept lists it again, refuse withdraws it."""
    return await work_service.review(session, caller, work_id, decision)


@router.get("/works/{work_id}/signals", responses=_responses(*_READ))
async def get_signals(work_id: uuid.UUID, caller: CurrentCaller, session: Session) -> TermsSignals:
    """The work's terms as TDMRep, ODRL and C2PA training-and-mining values."""
    return await work_service.signals(session, caller, work_id)


@router.get("/creators", responses=_responses(Unauthenticated))
async def get_creators(ids: Ids, _caller: CurrentCaller, session: Session) -> list[CreatorRead]:
    """Batch read of creators in the order asked; unknown ids are left out."""
    return await creator_service.get_many(session, ids)
