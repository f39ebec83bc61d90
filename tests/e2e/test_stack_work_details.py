"""A work's details and previews through the GraphQL API, every component in its own
process: edits answered with field errors where they belong, each kept in the history; a
sound's waveform and duration in a lab's search; a damaged picture refused at completion."""

import hashlib
import io
import math
import struct
import uuid
import wave

import httpx
import pytest
from PIL import Image

from tests.e2e.marketplace import (
    COMPLETE,
    TRAINING,
    create_work,
    list_for_sale,
    register,
    upload_single,
)
from tests.fixtures.graphql import GraphQLClient

pytestmark = pytest.mark.stack

UPDATE = """mutation($id: ID!, $input: UpdateWorkInput!) { updateWork(workId: $id, input: $input) {
  __typename ... on WorkUpdated { work { title tags mediaType
    history { number title changed editedBy } } }
  ... on ValidationFailed { message fields { field message code } }
  ... on Error { message } } }"""
COMPLETE_CHECKED = """mutation($id: ID!) { completeUpload(workId: $id) { __typename
  ... on ValidationFailed { message fields { field message code } }
  ... on UploadCompleted { work { currentVersion { preview { kind note } } } } } }"""
STATE = """query($id: ID!) { work(id: $id) { ... on Work { status currentVersion { id }
  pendingVersion { status } } } }"""
FOUND = """query($query: String!) { works(filter: {query: $query}) { __typename
  ... on WorkConnection { items { id currentVersion { size
    preview { kind durationMs imageUrl excerpt note } } } } } }"""


def _file(name: str, content: bytes) -> dict[str, object]:
    return {"fileName": name, "size": len(content), "sha256": hashlib.sha256(content).hexdigest()}


def _wav(seconds: float, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as sound:
        sound.setnchannels(2)
        sound.setsampwidth(2)
        sound.setframerate(rate)
        sound.writeframes(
            b"".join(
                struct.pack("<hh", round(9_000 * math.sin(i / 5)), 0)
                for i in range(round(seconds * rate))
            )
        )
    return out.getvalue()


async def test_edits_are_checked_field_by_field_and_kept_in_the_history(
    gateway: GraphQLClient,
) -> None:
    creator_id, creator = await register(gateway, "CREATOR", "Ines Duarte")
    _, other = await register(gateway, "CREATOR", "Omar Haddad")
    content = b"a poem about the tide, in a format with no picture"
    created = await create_work(
        gateway, creator, content, mediaType="TEXT", file=_file("tide.txt", content)
    )
    work_id = created["work"]["id"]

    refused = await gateway.execute(
        UPDATE, {"id": work_id, "input": {"tags": ["ok", "x" * 51]}}, key=creator
    )
    stranger = await gateway.execute(UPDATE, {"id": work_id, "input": {"title": "Mine"}}, key=other)
    renamed = await gateway.execute(
        UPDATE, {"id": work_id, "input": {"title": "Tide", "mediaType": "OTHER"}}, key=creator
    )

    assert refused["updateWork"]["__typename"] == "ValidationFailed"
    assert [f["field"] for f in refused["updateWork"]["fields"]] == ["tags.1"]
    assert stranger["updateWork"]["__typename"] == "NotFound"
    work = renamed["updateWork"]["work"]
    assert (work["title"], work["mediaType"]) == ("Tide", "OTHER")
    assert [(v["number"], v["changed"], v["editedBy"]) for v in work["history"]] == [
        (1, [], creator_id),
        (2, ["title", "mediaType"], creator_id),
    ]


async def test_a_lab_sees_a_sounds_waveform_and_duration(gateway: GraphQLClient) -> None:
    _, creator = await register(gateway, "CREATOR", "Ines Duarte")
    _, lab = await register(gateway, "BUYER", "Northwind Lab")
    word = f"gulls{uuid.uuid4().hex[:8]}"
    sound = _wav(2.25)
    created = await create_work(
        gateway,
        creator,
        sound,
        title=f"{word} at noon",
        mediaType="AUDIO",
        file=_file("g.wav", sound),
    )
    await upload_single(created, sound)
    work_id = created["work"]["id"]
    assert (await gateway.execute(COMPLETE, {"id": work_id}, key=creator))["completeUpload"][
        "__typename"
    ] == "UploadCompleted"
    await list_for_sale(gateway, creator, work_id, price=700, uses=TRAINING)

    found = await gateway.execute(FOUND, {"query": word}, key=lab)

    [item] = found["works"]["items"]
    version = item["currentVersion"]
    assert version["size"] == len(sound)
    preview = version["preview"]
    assert (preview["kind"], preview["durationMs"], preview["excerpt"]) == ("WAVEFORM", 2250, None)
    async with httpx.AsyncClient() as http:
        picture = await http.get(preview["imageUrl"])
    assert Image.open(io.BytesIO(picture.content)).size == (640, 120)


async def test_a_damaged_picture_is_refused_at_completion_and_nothing_changes(
    gateway: GraphQLClient,
) -> None:
    _, creator = await register(gateway, "CREATOR", "Ines Duarte")
    out = io.BytesIO()
    Image.new("RGB", (400, 300), "teal").save(out, format="JPEG")
    damaged = out.getvalue()[: len(out.getvalue()) // 2]
    created = await create_work(gateway, creator, damaged, file=_file("teal.jpg", damaged))
    await upload_single(created, damaged)
    work_id = created["work"]["id"]

    answer = (await gateway.execute(COMPLETE_CHECKED, {"id": work_id}, key=creator))[
        "completeUpload"
    ]
    again = (await gateway.execute(COMPLETE_CHECKED, {"id": work_id}, key=creator))[
        "completeUpload"
    ]

    assert answer["__typename"] == "ValidationFailed"
    assert "teal.jpg could not be read as an image" in answer["message"]
    assert [(f["field"], f["code"]) for f in answer["fields"]] == [("file", "unreadable_image")]
    assert again == answer
    state = (await gateway.execute(STATE, {"id": work_id}, key=creator))["work"]
    assert state == {
        "status": "PENDING_UPLOAD",
        "currentVersion": None,
        "pendingVersion": {"status": "PENDING"},
    }
