"""A work's files: each new version is uploaded (in one PUT or in parts, resumable) and
checked against its declared size and sha256 before it becomes the current one."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.access import (
    owned_for_change,
    owned_work,
    read_work,
    require_not_withdrawn,
)
from services.catalogue.errors import NoPendingUpload, SingleUpload, UploadClosed
from services.catalogue.listing import refresh_listing
from services.catalogue.models import Work, WorkVersion
from services.catalogue.preview import Preview, preview_service
from services.catalogue.storage import Storage
from services.catalogue.upload.duplicates import fingerprint_of, hold_if_copied
from services.catalogue.upload.repository import VersionRepository
from services.catalogue.upload.store import (
    UPLOAD_URL_LIFETIME,
    NotYet,
    Rejected,
    discard,
    open_in_store,
    presigned_target,
    verify,
)
from services.contracts.catalogue import (
    FileIn,
    PartsIn,
    PresignedPart,
    UploadCompleted,
    UploadedPartRead,
    UploadTarget,
    VersionStatus,
    WorkRead,
    WorkStatus,
    WorkVersionPublished,
)
from services.contracts.events import Topic
from services.kit.db import utcnow
from services.kit.errors import FieldError, InvalidRequest, storage_calls
from services.kit.internal_token import Caller
from services.kit.outbox import emit
from storage.object_store import UploadNotFound

REPLACED = "replaced by a newer upload before it completed"


def open_upload(work: Work) -> WorkVersion:
    version = work.pending_version
    if version is None:
        raise NoPendingUpload("this work has no upload in progress")
    if version.status != VersionStatus.PENDING:
        raise UploadClosed(
            f"the last upload failed ({version.failure_reason}); start a new version"
        )
    return version


class UploadService:
    async def new_version(
        self,
        session: AsyncSession,
        caller: Caller,
        work_id: uuid.UUID,
        file: FileIn,
        *,
        storage: Storage,
    ) -> UploadTarget:
        work = await owned_work(session, caller, work_id, lock=False)
        require_not_withdrawn(work)
        # Ended before the store opens the new upload: no transaction stays open across it.
        await session.commit()
        version_id = uuid.uuid4()
        upload = await open_in_store(work.id, version_id, file, storage=storage)
        work = await owned_for_change(session, caller, work_id)
        require_not_withdrawn(work)
        replaced = work.pending_version
        if replaced is not None and replaced.status != VersionStatus.PENDING:
            replaced = None
        if replaced is not None:
            replaced.status = VersionStatus.FAILED
            replaced.failure_reason = REPLACED
        version = await VersionRepository(session).add(work, version_id, file, upload)
        target = await presigned_target(work, version, storage=storage, uploaded=[])
        if replaced is not None:
            # Its bytes go once the replacement is committed; left behind if the store
            # fails now, they are no version's and nothing serves them.
            await session.commit()
            await discard(replaced, storage.store)
        return target

    async def upload_target(
        self, session: AsyncSession, caller: Caller, work_id: uuid.UUID, *, storage: Storage
    ) -> UploadTarget:
        work = await owned_work(session, caller, work_id, lock=False)
        version = open_upload(work)
        # The parts are listed outside any transaction.
        await session.commit()
        uploaded: list[UploadedPartRead] = []
        if version.upload_id is not None:
            async with storage_calls():
                try:
                    parts = await storage.store.list_parts(version.object_key, version.upload_id)
                except UploadNotFound as exc:
                    raise UploadClosed("the upload is no longer open; start a new version") from exc
            uploaded = [
                UploadedPartRead(part_number=p.part_number, size=p.size, sha256=p.sha256)
                for p in parts
            ]
        return await presigned_target(work, version, storage=storage, uploaded=uploaded)

    async def presign_parts(
        self,
        session: AsyncSession,
        caller: Caller,
        work_id: uuid.UUID,
        parts_in: PartsIn,
        *,
        storage: Storage,
    ) -> list[PresignedPart]:
        work = await owned_work(session, caller, work_id, lock=False)
        version = open_upload(work)
        if version.upload_id is None or version.part_count is None:
            raise SingleUpload("this file goes up in one PUT; it has no parts")
        beyond = [
            FieldError(
                f"parts.{index}.part_number",
                f"this upload has parts 1 to {version.part_count}",
                "out_of_range",
            )
            for index, part in enumerate(parts_in.parts)
            if part.part_number > version.part_count
        ]
        if beyond:
            raise InvalidRequest("some parts are not part of this upload", fields=beyond)
        presigned = []
        async with storage_calls():
            for part in parts_in.parts:
                request = await storage.store.presign_upload_part(
                    version.object_key,
                    version.upload_id,
                    part.part_number,
                    expires_in=UPLOAD_URL_LIFETIME,
                    sha256=part.sha256,
                )
                presigned.append(
                    PresignedPart(
                        part_number=part.part_number,
                        url=request.url,
                        headers=request.headers,
                        expires_at=request.expires_at,
                    )
                )
        return presigned

    async def complete_upload(
        self, session: AsyncSession, caller: Caller, work_id: uuid.UUID, *, storage: Storage
    ) -> UploadCompleted:
        work = await owned_work(session, caller, work_id, lock=False)
        require_not_withdrawn(work)
        checked = open_upload(work)
        media_type = work.media_type
        # The stored bytes are checked (hashing a large file takes a while) and
        # fingerprinted outside any transaction; the outcome is then applied to the work
        # as it is by then.
        await session.commit()
        outcome: NotYet | Rejected | None = None
        fingerprint = None
        preview: Preview | None = None
        try:
            async with storage_calls():
                await verify(checked, storage.store)
        except (NotYet, Rejected) as found:
            outcome = found
        else:
            # An image that cannot be read is refused here, with nothing recorded.
            preview = await preview_service.make(work_id, checked, media_type, storage.store)
            fingerprint = await fingerprint_of(checked, media_type, storage.store)
        version_id = checked.id
        work = await owned_for_change(session, caller, work_id)
        require_not_withdrawn(work)
        current = work.current_version
        if work.pending_version is None and current is not None and current.id == version_id:
            # Another call completed the same upload meanwhile: the same answer.
            return UploadCompleted(work=WorkRead.model_validate(work), completed=True, reason=None)
        version = open_upload(work)
        if version.id != version_id:
            raise UploadClosed("a newer upload replaced this one; send the new one")
        if isinstance(outcome, NotYet):
            return UploadCompleted(
                work=WorkRead.model_validate(work), completed=False, reason=outcome.reason
            )
        if isinstance(outcome, Rejected):
            version.status = VersionStatus.FAILED
            version.failure_reason = outcome.reason
            await session.flush()
            return UploadCompleted(
                work=await read_work(session, work.id), completed=False, reason=outcome.reason
            )
        version.status = VersionStatus.COMPLETE
        version.completed_at = utcnow()
        if preview is not None:
            preview.record(version)
        # Labs holding a licence of the work hear of its new file (their own version is
        # unchanged), and the log records which file future sales deliver.
        emit(
            session,
            Topic.WORK_VERSION_PUBLISHED,
            WorkVersionPublished(
                work_id=work.id,
                version_id=version.id,
                previous_version_id=current.id if current is not None else None,
                sha256=version.sha256,
                size=version.size,
                published_at=version.completed_at,
            ),
        )
        work.current_version = version
        work.pending_version = None
        work.status = WorkStatus.READY
        # A copy of someone else's work is hidden from buyers until an admin reviews it.
        await hold_if_copied(session, work, version, fingerprint)
        refresh_listing(work)
        await session.flush()
        return UploadCompleted(work=await read_work(session, work.id), completed=True, reason=None)


upload_service = UploadService()
