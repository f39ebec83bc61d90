"""Changes to a work's title, description, tags and kind by its owner. Each change is a
new version of those details, with who made it and when; the first change also records
the details as the work was listed, so the history starts where the work did.

A preview depends on the kind (a thumbnail for an image, an excerpt for a text), so a
change of kind makes the current file's preview again, as its upload's completion did:
the file is read outside any transaction, and the edit is then applied to the work as it
is by then. An edit that keeps the kind never calls the store."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.access import is_visible, owned_for_change, read_work, require_not_withdrawn
from services.catalogue.models import MetadataVersion, Work
from services.catalogue.preview import Preview, preview_service
from services.catalogue.storage import Storage
from services.catalogue.work.errors import FileReplaced
from services.catalogue.work.repository import MetadataVersionRepository, WorkRepository
from services.contracts.catalogue import MetadataVersionRead, WorkHistory, WorkRead, WorkUpdate
from services.kit.db import utcnow
from services.kit.errors import FieldError, InvalidRequest
from services.kit.internal_token import Caller

# The contract's names of the details, in the order a change lists them.
DETAILS = ("title", "description", "tags", "media_type")


def _details(work: Work) -> dict[str, object]:
    return {
        "title": work.title,
        "description": work.description,
        "tags": list(work.tags),
        "media_type": work.media_type,
    }


def _snapshot(
    work: Work | WorkRead, number: int, changed: list[str], by: uuid.UUID, at: datetime
) -> MetadataVersion:
    return MetadataVersion(
        id=uuid.uuid4(),
        work_id=work.id,
        number=number,
        title=work.title,
        description=work.description,
        tags=list(work.tags),
        media_type=work.media_type,
        changed=changed,
        edited_by=by,
        edited_at=at,
    )


def _wanted(update: WorkUpdate) -> dict[str, object]:
    """The details the update names, as they would be stored."""
    wanted: dict[str, object] = {
        name: value for name in DETAILS if (value := getattr(update, name)) is not None
    }
    if "title" in wanted:
        wanted["title"] = str(wanted["title"]).strip()
        if not wanted["title"]:
            raise InvalidRequest(
                "a work needs a title",
                fields=[FieldError("title", "a work needs a title", "required")],
            )
    if "tags" in wanted:
        wanted["tags"] = list(dict.fromkeys(update.tags or []))
    return wanted


class EditService:
    async def update(
        self,
        session: AsyncSession,
        caller: Caller,
        work_id: uuid.UUID,
        update: WorkUpdate,
        *,
        storage: Storage,
    ) -> WorkRead:
        work = await owned_for_change(session, caller, work_id)
        require_not_withdrawn(work)
        wanted = _wanted(update)
        kind = update.media_type
        file = work.current_version
        preview: Preview | None = None
        if kind is not None and kind != work.media_type and file is not None:
            # No transaction stays open while the file is read; a damaged picture for an
            # image kind is refused here, before any detail of this edit is applied.
            await session.commit()
            preview = await preview_service.for_kind(work.id, file, kind, storage.store)
            work = await owned_for_change(session, caller, work_id)
            require_not_withdrawn(work)
            current = work.current_version
            if current is None or current.id != file.id:
                raise FileReplaced(
                    "a new file of this work was completed while its preview was being "
                    "made for the new kind; nothing was changed, send the change again"
                )
        return await self._apply(session, caller, work, wanted, preview)

    async def _apply(
        self,
        session: AsyncSession,
        caller: Caller,
        work: Work,
        wanted: dict[str, object],
        preview: Preview | None,
    ) -> WorkRead:
        assert caller.account_id is not None  # owned_for_change: the owner's account
        before = _details(work)
        changed = [name for name, value in wanted.items() if before[name] != value]
        if not changed:
            # The same details again: nothing to record.
            return await read_work(session, work.id)
        repository = MetadataVersionRepository(session)
        number = await repository.latest_number(work.id)
        if number == 0:
            await repository.create(_snapshot(work, 1, [], work.owner_id, work.created_at))
            number = 1
        for name in changed:
            setattr(work, name, wanted[name])
        if "media_type" in changed and work.current_version is not None:
            # Made above for this very file: without one (the kind kept, or no file then),
            # the work has stayed locked since it was read, so neither could change.
            assert preview is not None
            preview.record(work.current_version)
        await repository.create(_snapshot(work, number + 1, changed, caller.account_id, utcnow()))
        await session.flush()
        return await read_work(session, work.id)

    async def histories(
        self, session: AsyncSession, caller: Caller, work_ids: Sequence[uuid.UUID]
    ) -> list[WorkHistory]:
        """Each work's details version by version, oldest first (the work as listed alone
        until it is first changed), for the works the caller may see, in the order asked."""
        works = await WorkRepository(session).read_many(list(dict.fromkeys(work_ids)))
        visible = [work for work in works if is_visible(work, caller)]
        recorded: dict[uuid.UUID, list[MetadataVersion]] = {}
        for version in await MetadataVersionRepository(session).of_works([w.id for w in visible]):
            recorded.setdefault(version.work_id, []).append(version)
        return [
            WorkHistory(
                work_id=work.id,
                versions=[
                    MetadataVersionRead.model_validate(version)
                    for version in recorded.get(work.id)
                    or [_snapshot(work, 1, [], work.owner_id, work.created_at)]
                ],
            )
            for work in visible
        ]


edit_service = EditService()
