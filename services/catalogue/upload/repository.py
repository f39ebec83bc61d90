import uuid
from collections.abc import Sequence

from sqlalchemy import func, select

from services.catalogue.models import Work, WorkVersion
from services.catalogue.upload.store import StoredUpload
from services.contracts.catalogue import FileIn, VersionStatus
from services.kit.db import utcnow
from services.kit.repository import Repository


class VersionRepository(Repository[WorkVersion]):
    model = WorkVersion

    async def add(
        self, work: Work, version_id: uuid.UUID, file: FileIn, upload: StoredUpload
    ) -> WorkVersion:
        """The work's next version, pending until its bytes are checked."""
        highest = await self.session.scalar(
            select(func.max(WorkVersion.number)).where(WorkVersion.work_id == work.id)
        )
        version = await self.create(
            WorkVersion(
                id=version_id,
                work_id=work.id,
                number=(highest or 0) + 1,
                file_name=file.file_name,
                size=file.size,
                sha256=file.sha256,
                object_key=upload.key,
                upload_method=upload.method,
                upload_id=upload.upload_id,
                part_size=upload.part_size,
                part_count=upload.part_count,
                status=VersionStatus.PENDING,
                created_at=utcnow(),
            )
        )
        work.pending_version = version
        await self.session.flush()
        return version

    async def works_of_others_with(
        self, sha256: str, owner_id: uuid.UUID, *, limit: int
    ) -> list[uuid.UUID]:
        """Works of other owners with a complete file of this sha256 (at most `limit`)."""
        statement = (
            select(WorkVersion.work_id)
            .join(Work, Work.id == WorkVersion.work_id)
            .where(
                WorkVersion.sha256 == sha256,
                WorkVersion.status == VersionStatus.COMPLETE,
                Work.owner_id != owner_id,
            )
            .distinct()
            .limit(limit)
        )
        return list((await self.session.scalars(statement)).all())

    async def with_pictures(self, ids: Sequence[uuid.UUID]) -> list[WorkVersion]:
        """The versions among `ids` that have a preview picture in the store."""
        statement = select(WorkVersion).where(
            WorkVersion.id.in_(ids), WorkVersion.preview_key.is_not(None)
        )
        return await self.list(statement)
