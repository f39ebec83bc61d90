"""Previews made when an upload completes: a thumbnail, a waveform with its duration, an
excerpt, or why there is none; a damaged picture is refused with nothing changed."""

import io
import math
import struct
import wave

import httpx
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.models import WorkVersion
from tests.services.catalogue.helpers import (
    Actor,
    Api,
    count,
    put_single,
    uploaded_work,
    work_payload,
)


def png_picture(width: int = 900, height: int = 600) -> bytes:
    picture = Image.new("RGB", (width, height))
    picture.putdata(
        [(x % 256, y % 256, (x * y) % 256) for y in range(height) for x in range(width)]
    )
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def wav_sound(seconds: float = 1.5, rate: int = 8000) -> bytes:
    frames = b"".join(
        struct.pack("<h", round(12_000 * math.sin(i / 7))) for i in range(round(seconds * rate))
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(rate)
        sound.writeframes(frames)
    return out.getvalue()


async def _picture_of(api: Api, actor: Actor, work: dict[str, object]) -> Image.Image:
    version = work["current_version"]
    assert isinstance(version, dict)
    found = await api.ok(actor, "GET", "/v1/previews", params={"id": version["id"]})
    assert [url["version_id"] for url in found] == [version["id"]]
    async with httpx.AsyncClient() as client:
        response = await client.get(found[0]["url"])
    assert response.status_code == 200
    return Image.open(io.BytesIO(response.content))


async def test_a_picture_gets_a_thumbnail_that_a_buyer_can_fetch(
    api: Api, ines: Actor, lab: Actor
) -> None:
    picture = png_picture()
    work = await api.listed_work(ines, picture, file_name="dusk.png")

    version = work["current_version"]
    assert (version["preview_kind"], version["preview_note"]) == ("thumbnail", None)
    page = await api.search(lab, query="estuary")
    found = next(item for item in page["items"] if item["id"] == work["id"])
    assert found["current_version"]["size"] == len(picture)
    assert found["current_version"]["preview_kind"] == "thumbnail"
    thumb = await _picture_of(api, lab, work)
    assert (thumb.format, thumb.size) == ("PNG", (320, 213))


async def test_a_picture_is_not_shown_to_buyers_before_the_work_is_listed(
    api: Api, ines: Actor, lab: Actor
) -> None:
    work = await uploaded_work(api, ines, png_picture(), file_name="dusk.png")
    version = work["current_version"]
    assert isinstance(version, dict)

    seen = await api.ok(lab, "GET", "/v1/previews", params={"id": version["id"]})

    assert seen == []
    assert (await _picture_of(api, ines, work)).size == (320, 213)


async def test_a_wav_gets_its_duration_and_a_waveform(api: Api, ines: Actor) -> None:
    work = await uploaded_work(api, ines, wav_sound(1.5), media_type="audio", file_name="gull.wav")

    version = work["current_version"]
    assert isinstance(version, dict)
    assert (version["preview_kind"], version["duration_ms"]) == ("waveform", 1500)
    waveform = await _picture_of(api, ines, work)
    assert waveform.size == (640, 120)


async def test_other_sounds_say_there_is_no_preview_for_their_format(api: Api, ines: Actor) -> None:
    work = await uploaded_work(
        api, ines, b"ID3\x04\x00" + bytes(500), media_type="audio", file_name="gull.mp3"
    )

    version = work["current_version"]
    assert isinstance(version, dict)
    assert version["preview_kind"] == "none"
    assert version["duration_ms"] is None
    assert "no preview for this format" in version["preview_note"]


async def test_a_text_gets_its_opening_as_an_excerpt(api: Api, ines: Actor) -> None:
    poem = ("Salt on the\x00 wind, a gull's   long cry —\n\n" + "the tide turns. " * 100).encode()
    work = await uploaded_work(api, ines, poem, media_type="text", file_name="tide.txt")

    version = work["current_version"]
    assert isinstance(version, dict)
    excerpt = version["excerpt"]
    assert version["preview_kind"] == "excerpt"
    assert excerpt.startswith("Salt on the wind, a gull's long cry —\nthe tide turns.")
    assert excerpt.endswith("…")
    assert len(excerpt) == 501


async def test_a_damaged_picture_is_refused_and_nothing_changes(
    api: Api, ines: Actor, session: AsyncSession
) -> None:
    picture = png_picture()
    damaged = picture[:100] + bytes(len(picture) - 100)
    created = await api.create_work(ines, damaged, file_name="dusk.png")
    work_id = created["work"]["id"]
    await put_single(created["upload"], damaged)

    response = await api.call(ines, "POST", f"/v1/works/{work_id}/upload/complete")

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "UnreadableImage"
    assert "dusk.png could not be read as an image" in body["detail"]
    assert body["fields"][0]["field"] == "file"
    work = await api.work(ines, work_id)
    assert work["status"] == "pending_upload"
    assert work["current_version"] is None
    assert work["pending_version"]["status"] == "pending"
    assert await count(session, WorkVersion, work_id=created["work"]["id"], status="complete") == 0


async def test_a_file_over_the_limit_is_refused_in_plain_words(api: Api, ines: Actor) -> None:
    response = await api.call(
        ines, "POST", "/v1/works", json={**work_payload(b"x"), "size": 6 * 1024**4}
    )

    assert response.status_code == 422
    assert "a work's file may be at most 5 TiB" in response.text
