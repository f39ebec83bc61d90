"""Previews, made when an upload completes: the checked file is read from the store
(outside any transaction), its picture stored beside it, and the outcome recorded on the
version by the completion's own transaction. A change of the work's kind makes the
current file's preview again, the same way, for the new kind.

Made in the completion rather than by a worker afterwards: an image's thumbnail or a
WAV's waveform takes tens of milliseconds, small beside hashing the file, and an image
that cannot be read must be refused by that very call, before it becomes the current
file, which a worker could only report after the fact.
"""

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.access import is_visible
from services.catalogue.errors import UnreadableImage
from services.catalogue.models import WorkVersion
from services.catalogue.preview._pictures import UnreadableImage as NotAPicture
from services.catalogue.preview._pictures import thumbnail, waveform
from services.catalogue.preview._text import EXCERPT_BYTES, excerpt
from services.catalogue.upload.repository import VersionRepository
from services.catalogue.work.repository import WorkRepository
from services.contracts.catalogue import MediaType, PreviewKind, PreviewUrl
from services.kit.db import utcnow
from services.kit.errors import FieldError, storage_calls
from services.kit.internal_token import Caller
from storage.keys import preview_key
from storage.object_store import MiB, ObjectNotFound, ObjectStore

# Pictures and sounds are read whole to be drawn: larger files get no preview.
MAX_PREVIEWED_BYTES = 64 * MiB
PREVIEW_URL_LIFETIME = timedelta(minutes=10)
NO_PREVIEW = "no preview for this format"
TOO_LARGE = "no preview: the file is larger than 64 MiB"
THUMBNAIL = "thumbnail.png"
WAVEFORM = "waveform.png"
NOT_WAV = "no preview for this format: waveforms are drawn for WAV files only"
EMPTY_TEXT = "no preview: the text is empty"


@dataclass(frozen=True)
class Preview:
    kind: PreviewKind
    key: str | None = None
    duration_ms: int | None = None
    excerpt: str | None = None
    note: str | None = None

    def record(self, version: WorkVersion) -> None:
        version.preview_kind = self.kind
        version.preview_key = self.key
        version.duration_ms = self.duration_ms
        version.excerpt = self.excerpt
        version.preview_note = self.note


def unreadable(file_name: str) -> UnreadableImage:
    message = (
        f"{file_name} could not be read as an image: it looks damaged or cut short. The "
        "upload was not completed; send the file again, or a new version of it"
    )
    return UnreadableImage(message, fields=[FieldError("file", message, "unreadable_image")])


def not_an_image(file_name: str) -> UnreadableImage:
    message = (
        f"{file_name} could not be read as an image: it looks damaged or cut short, so the "
        "work cannot be made an image. Nothing was changed; send a new version of the file "
        "first, or keep the work's kind"
    )
    return UnreadableImage(message, fields=[FieldError("media_type", message, "unreadable_image")])


class PreviewService:
    async def make(
        self, work_id: uuid.UUID, version: WorkVersion, media_type: MediaType, store: ObjectStore
    ) -> Preview | None:
        """The checked file's preview, its picture stored; call it outside a transaction.
        An image work whose file is a damaged picture raises `UnreadableImage`; one in a
        format Pillow does not know (a camera's raw file) just gets no preview. None when
        the file is gone: replaced meanwhile, which the completion then finds."""
        try:
            return await self._made(work_id, version, media_type, store)
        except ObjectNotFound:
            return None
        except NotAPicture:
            raise unreadable(version.file_name) from None

    async def for_kind(
        self, work_id: uuid.UUID, version: WorkVersion, media_type: MediaType, store: ObjectStore
    ) -> Preview:
        """A complete version's preview made again for the work's new kind, its picture
        stored under the same keys as on completion; call it outside a transaction (a
        complete version's file is never deleted, so it is there to read). The outcome
        is the one an upload under that kind would have had, a damaged picture included:
        it refuses the change of kind (`UnreadableImage` on `media_type`) rather than
        being listed as an image with a "no preview" note, because the kind is the
        creator's claim about the file, and a claim the file contradicts is bad input,
        to be turned down with nothing changed, as the upload would be."""
        try:
            return await self._made(work_id, version, media_type, store)
        except NotAPicture:
            raise not_an_image(version.file_name) from None

    async def _made(
        self, work_id: uuid.UUID, version: WorkVersion, media_type: MediaType, store: ObjectStore
    ) -> Preview:
        # A damaged picture raises `NotAPicture`, which each caller words for its request.
        if media_type == MediaType.TEXT:
            async with storage_calls():
                opening = b"".join(
                    [
                        chunk
                        async for chunk in store.stream(
                            version.object_key, end=min(version.size, EXCERPT_BYTES)
                        )
                    ]
                )
            text = excerpt(opening)
            if not text:
                return Preview(PreviewKind.NONE, note=EMPTY_TEXT)
            return Preview(PreviewKind.EXCERPT, excerpt=text)
        if media_type not in (MediaType.IMAGE, MediaType.AUDIO):
            return Preview(PreviewKind.NONE, note=NO_PREVIEW)
        if version.size > MAX_PREVIEWED_BYTES:
            return Preview(PreviewKind.NONE, note=TOO_LARGE)
        async with storage_calls():
            content = await store.get(version.object_key)
        if media_type == MediaType.IMAGE:
            # Decoding a picture takes tens of milliseconds: off the event loop.
            png = await asyncio.to_thread(thumbnail, content)
            if png is None:
                return Preview(PreviewKind.NONE, note=NO_PREVIEW)
            key = await self._store(store, work_id, version.id, THUMBNAIL, png)
            return Preview(PreviewKind.THUMBNAIL, key=key)
        drawn = await asyncio.to_thread(waveform, content)
        if drawn is None:
            return Preview(PreviewKind.NONE, note=NOT_WAV)
        key = await self._store(store, work_id, version.id, WAVEFORM, drawn.png)
        return Preview(PreviewKind.WAVEFORM, key=key, duration_ms=drawn.duration_ms)

    async def _store(
        self,
        store: ObjectStore,
        work_id: uuid.UUID,
        version_id: uuid.UUID,
        name: str,
        png: bytes,
    ) -> str:
        key = preview_key(work_id, version_id, name)
        async with storage_calls():
            await store.put(key, png, content_type="image/png")
        return key

    async def urls(
        self,
        session: AsyncSession,
        caller: Caller,
        version_ids: Sequence[uuid.UUID],
        *,
        store: ObjectStore,
    ) -> list[PreviewUrl]:
        """Short-lived addresses of these versions' pictures, for the versions that have
        one and whose work the caller may see; the others are left out."""
        versions = await VersionRepository(session).with_pictures(version_ids)
        works = await WorkRepository(session).read_many(list({v.work_id for v in versions}))
        visible = {work.id for work in works if is_visible(work, caller)}
        keys = [(v.id, v.preview_key) for v in versions if v.work_id in visible and v.preview_key]
        # Nothing is written: the transaction ends before the store is asked.
        await session.commit()
        expires_at = utcnow() + PREVIEW_URL_LIFETIME
        urls = []
        async with storage_calls():
            for version_id, key in keys:
                url = await store.presign_get(key, expires_in=PREVIEW_URL_LIFETIME)
                urls.append(PreviewUrl(version_id=version_id, url=url, expires_at=expires_at))
        return urls


preview_service = PreviewService()
