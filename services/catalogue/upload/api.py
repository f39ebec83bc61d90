"""A work's file routes: where to upload, presigned parts, completion, new versions."""

import uuid

from services.catalogue.errors import (
    NoPendingUpload,
    SingleUpload,
    UnreadableImage,
    UploadClosed,
    WorkWithdrawn,
)
from services.catalogue.routes import CHANGE, Session, catalogue_router
from services.catalogue.storage import CatalogueStorage
from services.catalogue.upload.service import upload_service
from services.contracts.catalogue import (
    FileIn,
    PartsIn,
    PresignedPart,
    UploadCompleted,
    UploadTarget,
)
from services.kit.errors import ServiceUnavailable, error_responses
from services.kit.internal_token import CurrentCaller

router = catalogue_router()


@router.get(
    "/works/{work_id}/upload",
    responses=error_responses(*CHANGE, NoPendingUpload, UploadClosed, ServiceUnavailable),
)
async def get_upload(
    work_id: uuid.UUID, caller: CurrentCaller, session: Session, storage: CatalogueStorage
) -> UploadTarget:
    """Where the pending file goes, with the parts already stored (to resume)."""
    return await upload_service.upload_target(session, caller, work_id, storage=storage)


@router.post(
    "/works/{work_id}/upload/parts",
    responses=error_responses(
        *CHANGE, NoPendingUpload, UploadClosed, SingleUpload, ServiceUnavailable
    ),
)
async def presign_parts(
    work_id: uuid.UUID,
    parts: PartsIn,
    caller: CurrentCaller,
    session: Session,
    storage: CatalogueStorage,
) -> list[PresignedPart]:
    """Presigned PUTs for parts of a multipart upload, each bound to its sha256."""
    return await upload_service.presign_parts(session, caller, work_id, parts, storage=storage)


@router.post(
    "/works/{work_id}/upload/complete",
    responses=error_responses(
        *CHANGE, NoPendingUpload, UploadClosed, WorkWithdrawn, UnreadableImage, ServiceUnavailable
    ),
)
async def complete_upload(
    work_id: uuid.UUID, caller: CurrentCaller, session: Session, storage: CatalogueStorage
) -> UploadCompleted:
    """Verify the stored file's size and sha256 (a refusal is `completed: false` with why)
    and make its preview; an image work's file that is no readable image is refused."""
    return await upload_service.complete_upload(session, caller, work_id, storage=storage)


@router.post(
    "/works/{work_id}/versions",
    responses=error_responses(*CHANGE, WorkWithdrawn, ServiceUnavailable),
)
async def new_version(
    work_id: uuid.UUID,
    file: FileIn,
    caller: CurrentCaller,
    session: Session,
    storage: CatalogueStorage,
) -> UploadTarget:
    """Replace the file: a new version, current once its upload completes."""
    return await upload_service.new_version(session, caller, work_id, file, storage=storage)
