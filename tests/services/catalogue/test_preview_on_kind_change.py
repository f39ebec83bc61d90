"""A change of a work's kind makes its current file's preview again for the new kind, as
an upload under that kind would have; a damaged picture refuses a change to an image
with nothing changed; an edit that keeps the kind leaves the preview alone."""

import io
import uuid
from typing import Any

import httpx
from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.models import MetadataVersion, WorkVersion
from storage import ObjectStore
from tests.services.catalogue.helpers import Actor, Api, count, put_single, uploaded_work
from tests.services.catalogue.test_previews import png_picture, wav_sound


async def _picture_of(api: Api, actor: Actor, version_id: str) -> Image.Image:
    found = await api.ok(actor, "GET", "/v1/previews", params={"id": version_id})
    assert [url["version_id"] for url in found] == [version_id]
    async with httpx.AsyncClient() as client:
        response = await client.get(found[0]["url"])
    assert response.status_code == 200
    return Image.open(io.BytesIO(response.content))


async def _preview_row(session: AsyncSession, version_id: str) -> tuple[Any, ...]:
    """The version's preview as stored, read afresh (not from the session's cache)."""
    statement = select(
        WorkVersion.preview_kind,
        WorkVersion.preview_key,
        WorkVersion.duration_ms,
        WorkVersion.excerpt,
        WorkVersion.preview_note,
    ).where(WorkVersion.id == uuid.UUID(version_id))
    return tuple((await session.execute(statement)).one())


async def test_a_text_relabelled_as_audio_gets_a_waveform_and_loses_its_excerpt(
    api: Api, ines: Actor
) -> None:
    work = await uploaded_work(api, ines, wav_sound(1.5), media_type="text", file_name="gull.wav")
    version = work["current_version"]
    assert version["preview_kind"] == "excerpt"

    edited = await api.ok(ines, "PATCH", f"/v1/works/{work['id']}", json={"media_type": "audio"})

    assert edited["media_type"] == "audio"
    relabelled = edited["current_version"]
    assert relabelled["id"] == version["id"]
    assert (relabelled["preview_kind"], relabelled["duration_ms"]) == ("waveform", 1500)
    assert (relabelled["excerpt"], relabelled["preview_note"]) == (None, None)
    assert (await _picture_of(api, ines, version["id"])).size == (640, 120)
    assert (await api.work(ines, work["id"]))["current_version"]["preview_kind"] == "waveform"


async def test_a_picture_listed_as_other_gets_a_thumbnail_once_it_is_an_image(
    api: Api, ines: Actor
) -> None:
    work = await uploaded_work(api, ines, png_picture(), media_type="other", file_name="dusk.png")
    assert work["current_version"]["preview_note"] == "no preview for this format"

    edited = await api.ok(ines, "PATCH", f"/v1/works/{work['id']}", json={"media_type": "image"})

    relabelled = edited["current_version"]
    assert (relabelled["preview_kind"], relabelled["preview_note"]) == ("thumbnail", None)
    thumb = await _picture_of(api, ines, relabelled["id"])
    assert (thumb.format, thumb.size) == ("PNG", (320, 213))


async def test_a_damaged_picture_cannot_be_made_an_image_and_nothing_changes(
    api: Api, ines: Actor, session: AsyncSession
) -> None:
    picture = png_picture()
    damaged = picture[:100] + bytes(len(picture) - 100)
    work = await uploaded_work(api, ines, damaged, media_type="other", file_name="dusk.png")
    work_id = work["id"]
    version_id = work["current_version"]["id"]
    preview_before = await _preview_row(session, version_id)

    response = await api.call(
        ines,
        "PATCH",
        f"/v1/works/{work_id}",
        json={"title": "Dusk, restored", "tags": ["dusk"], "media_type": "image"},
    )

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "UnreadableImage"
    [field] = body["fields"]
    assert (field["field"], field["code"]) == ("media_type", "unreadable_image")
    assert "dusk.png could not be read as an image" in field["message"]
    assert "Nothing was changed" in body["detail"]
    after = await api.work(ines, work_id)
    assert (after["media_type"], after["title"], after["tags"]) == (
        "other",
        work["title"],
        work["tags"],
    )
    [history] = await api.ok(ines, "GET", "/v1/works/history", params={"id": work_id})
    assert [v["number"] for v in history["versions"]] == [1]
    assert await count(session, MetadataVersion, work_id=uuid.UUID(work_id)) == 0
    assert await _preview_row(session, version_id) == preview_before
    assert after["current_version"]["preview_note"] == "no preview for this format"


async def test_a_text_made_an_image_says_there_is_no_preview_as_its_upload_would(
    api: Api, ines: Actor
) -> None:
    work = await uploaded_work(
        api, ines, b"The tide turns at dusk.", media_type="text", file_name="tide.txt"
    )

    edited = await api.ok(ines, "PATCH", f"/v1/works/{work['id']}", json={"media_type": "image"})

    relabelled = edited["current_version"]
    assert (relabelled["preview_kind"], relabelled["excerpt"]) == ("none", None)
    assert relabelled["preview_note"] == "no preview for this format"


async def test_an_edit_that_keeps_the_kind_leaves_the_preview_and_never_reads_the_file(
    api: Api, ines: Actor, session: AsyncSession, object_store: ObjectStore
) -> None:
    work = await uploaded_work(api, ines, png_picture(), file_name="dusk.png")
    version = work["current_version"]
    preview_before = await _preview_row(session, version["id"])
    # With the file gone from the store, an edit that read it would fail.
    key = await session.scalar(
        select(WorkVersion.object_key).where(WorkVersion.id == uuid.UUID(version["id"]))
    )
    assert key is not None
    await object_store.delete(key)

    edited = await api.ok(
        ines,
        "PATCH",
        f"/v1/works/{work['id']}",
        json={"title": "Dusk, again", "media_type": "image"},
    )

    assert edited["title"] == "Dusk, again"
    assert edited["current_version"]["preview_kind"] == "thumbnail"
    assert await _preview_row(session, version["id"]) == preview_before
    assert (await _picture_of(api, ines, version["id"])).size == (320, 213)


async def test_a_work_awaiting_its_file_just_changes_kind_and_its_upload_uses_the_new_one(
    api: Api, ines: Actor
) -> None:
    picture = png_picture()
    created = await api.create_work(ines, picture, media_type="text", file_name="dusk.png")
    work_id = created["work"]["id"]

    edited = await api.ok(ines, "PATCH", f"/v1/works/{work_id}", json={"media_type": "image"})
    await put_single(created["upload"], picture)
    completed = await api.complete(ines, work_id)

    assert (edited["media_type"], edited["current_version"]) == ("image", None)
    assert completed["work"]["current_version"]["preview_kind"] == "thumbnail"
