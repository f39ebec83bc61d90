"""A creator's file: one presigned PUT or a resumable multipart upload, checked on completion."""

import os

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.models import WorkVersion
from storage import ObjectNotFound, ObjectStore
from storage.keys import work_version_key
from storage.object_store import MiB
from tests.services.catalogue.helpers import (
    Actor,
    Api,
    count,
    put_single,
    sha256,
    work_payload,
)

SMALL = b"a small poem about the sea, licensed for training"
PART = 5 * MiB


async def test_a_small_file_goes_up_in_one_put_and_becomes_the_current_version(
    api: Api, ines: Actor, object_store: ObjectStore
) -> None:
    created = await api.create_work(ines, SMALL, tags=["Poem", "sea", "poem"], language="EN-gb")

    work, upload = created["work"], created["upload"]
    assert upload["method"] == "single"
    assert (upload["part_size"], upload["part_count"], upload["uploaded_parts"]) == (None, None, [])
    assert work["status"] == "pending_upload"
    assert work["listed"] is False
    assert work["tags"] == ["poem", "sea"]
    assert work["language"] == "en-GB"
    assert work["shares"] == [
        {"creator_id": ines.subject, "creator_name": "Ines Creator", "basis_points": 10_000}
    ]
    assert work["pending_version"]["number"] == 1
    assert work["current_version"] is None

    await put_single(upload, SMALL)
    completed = await api.complete(ines, work["id"])

    assert completed["completed"] is True
    assert completed["reason"] is None
    done = completed["work"]
    assert done["status"] == "ready"
    assert done["pending_version"] is None
    assert done["current_version"]["status"] == "complete"
    assert done["current_version"]["sha256"] == sha256(SMALL)
    assert done["current_version"]["completed_at"] is not None
    key = work_version_key(work["id"], upload["version_id"])
    assert await object_store.get(key) == SMALL


async def test_a_large_file_is_uploaded_in_parts_and_resumed_from_the_listed_ones(
    api: Api, ines: Actor, object_store: ObjectStore
) -> None:
    data = os.urandom(2 * PART + 1000)
    created = await api.create_work(ines, data, file_name="archive.tar")
    work_id, upload = created["work"]["id"], created["upload"]
    assert upload["method"] == "multipart"
    assert upload["put"] is None
    assert (upload["part_size"], upload["part_count"]) == (PART, 3)

    # The client uploads two parts, then loses its connection.
    await api.upload_parts(ines, work_id, data, PART, [1, 3])
    not_yet = await api.complete(ines, work_id)
    resumed = await api.ok(ines, "GET", f"/v1/works/{work_id}/upload")

    assert not_yet["completed"] is False
    assert "part 2" in not_yet["reason"]
    assert not_yet["work"]["status"] == "pending_upload"
    assert [(p["part_number"], p["size"]) for p in resumed["uploaded_parts"]] == [
        (1, PART),
        (3, 1000),
    ]
    assert resumed["version_id"] == upload["version_id"]

    await api.upload_parts(ines, work_id, data, PART, [2])
    completed = await api.complete(ines, work_id)

    assert completed["completed"] is True
    assert completed["work"]["current_version"]["size"] == len(data)
    stored = await object_store.head(work_version_key(work_id, upload["version_id"]))
    assert (stored.size, stored.sha256) == (len(data), sha256(data))


async def test_completing_before_any_byte_arrives_changes_nothing(
    api: Api, ines: Actor, session: AsyncSession
) -> None:
    created = await api.create_work(ines, SMALL)
    work_id = created["work"]["id"]

    completed = await api.complete(ines, work_id)

    assert completed == {
        "work": created["work"],
        "completed": False,
        "reason": "the file was not uploaded",
    }
    # The same upload still works afterwards.
    await put_single(created["upload"], SMALL)
    assert (await api.complete(ines, work_id))["completed"] is True


async def test_a_multipart_upload_without_parts_is_not_uploaded(api: Api, ines: Actor) -> None:
    created = await api.create_work(ines, os.urandom(10), size=3 * PART)

    completed = await api.complete(ines, created["work"]["id"])

    assert (completed["completed"], completed["reason"]) == (False, "the file was not uploaded")


async def test_other_bytes_than_declared_are_removed_and_the_version_fails(
    api: Api, ines: Actor, object_store: ObjectStore
) -> None:
    created = await api.create_work(ines, SMALL)
    work_id, version_id = created["work"]["id"], created["upload"]["version_id"]
    key = work_version_key(work_id, version_id)
    # Same size, other bytes: written to the store directly, as a store that does not
    # verify presigned checksums (moto) would accept them.
    await object_store.put(key, SMALL.upper())

    completed = await api.complete(ines, work_id)

    assert completed["completed"] is False
    assert "sha256" in completed["reason"]
    work = completed["work"]
    assert work["status"] == "pending_upload"
    assert work["current_version"] is None
    assert work["pending_version"]["status"] == "failed"
    assert work["pending_version"]["failure_reason"] == completed["reason"]
    with pytest.raises(ObjectNotFound):
        await object_store.head(key)
    refused = await api.call(ines, "POST", f"/v1/works/{work_id}/upload/complete")
    assert (refused.status_code, refused.json()["error"]) == (409, "UploadClosed")


async def test_a_file_of_another_size_is_refused(
    api: Api, ines: Actor, object_store: ObjectStore
) -> None:
    created = await api.create_work(ines, SMALL)
    key = work_version_key(created["work"]["id"], created["upload"]["version_id"])
    await object_store.put(key, SMALL + b"!")

    completed = await api.complete(ines, created["work"]["id"])

    assert completed["completed"] is False
    assert f"not the declared {len(SMALL)}" in completed["reason"]
    with pytest.raises(ObjectNotFound):
        await object_store.head(key)


async def test_parts_that_do_not_hash_to_the_declared_file_fail_the_version(
    api: Api, ines: Actor, object_store: ObjectStore
) -> None:
    data = os.urandom(PART + MiB + 10)
    created = await api.create_work(ines, data, sha256=sha256(b"another file"))
    work_id = created["work"]["id"]
    await api.upload_parts(ines, work_id, data, PART, [1, 2])

    completed = await api.complete(ines, work_id)

    assert completed["completed"] is False
    assert "sha256" in completed["reason"]
    assert completed["work"]["pending_version"]["status"] == "failed"
    with pytest.raises(ObjectNotFound):
        await object_store.head(work_version_key(work_id, created["upload"]["version_id"]))


async def test_parts_beyond_the_upload_are_refused(api: Api, ines: Actor) -> None:
    created = await api.create_work(ines, os.urandom(10), size=2 * PART)

    response = await api.call(
        ines,
        "POST",
        f"/v1/works/{created['work']['id']}/upload/parts",
        json={"parts": [{"part_number": 3, "sha256": sha256(b"x")}]},
    )

    assert response.status_code == 400
    assert response.json()["fields"] == [
        {
            "field": "parts.0.part_number",
            "message": "this upload has parts 1 to 2",
            "code": "out_of_range",
        }
    ]


async def test_a_single_upload_has_no_parts(api: Api, ines: Actor) -> None:
    created = await api.create_work(ines, SMALL)

    response = await api.call(
        ines,
        "POST",
        f"/v1/works/{created['work']['id']}/upload/parts",
        json={"parts": [{"part_number": 1, "sha256": sha256(SMALL)}]},
    )

    assert (response.status_code, response.json()["error"]) == (409, "SingleUpload")


async def test_a_new_version_becomes_current_only_once_complete(
    api: Api, ines: Actor, session: AsyncSession, object_store: ObjectStore
) -> None:
    listed = await api.listed_work(ines, SMALL)
    work_id, first = listed["id"], listed["current_version"]
    second_bytes = b"a revised poem about the sea"

    target = await api.ok(
        ines,
        "POST",
        f"/v1/works/{work_id}/versions",
        json={
            "file_name": "poem-v2.txt",
            "size": len(second_bytes),
            "sha256": sha256(second_bytes),
        },
    )
    during = await api.work(ines, work_id)

    assert during["current_version"] == first
    assert during["pending_version"]["number"] == 2
    assert during["listed"] is True

    await put_single(target, second_bytes)
    completed = await api.complete(ines, work_id)

    current = completed["work"]["current_version"]
    assert (current["number"], current["file_name"]) == (2, "poem-v2.txt")
    assert completed["work"]["listed"] is True
    # The first version is untouched, and so are its bytes: licences point at them.
    old = await session.get(WorkVersion, listed["current_version"]["id"], populate_existing=True)
    assert old is not None
    assert (old.number, old.status, old.sha256) == (1, "complete", first["sha256"])
    assert await object_store.get(old.object_key) == SMALL


async def test_a_new_version_replaces_a_pending_one(
    api: Api, ines: Actor, session: AsyncSession
) -> None:
    created = await api.create_work(ines, SMALL)
    work_id = created["work"]["id"]
    other = b"the file the creator meant"

    target = await api.ok(
        ines,
        "POST",
        f"/v1/works/{work_id}/versions",
        json={"file_name": "right.txt", "size": len(other), "sha256": sha256(other)},
    )
    await put_single(target, other)
    completed = await api.complete(ines, work_id)

    assert completed["work"]["current_version"]["number"] == 2
    replaced = await session.get(WorkVersion, created["upload"]["version_id"])
    assert replaced is not None
    assert replaced.status == "failed"
    assert await count(session, WorkVersion, work_id=replaced.work_id) == 2


async def test_the_same_file_listed_by_another_creator_is_flagged(
    api: Api, ines: Actor, omar: Actor, lab: Actor, admin: Actor
) -> None:
    original = await api.listed_work(ines, SMALL)
    copy = await api.listed_work(omar, SMALL)

    assert original["review_status"] == "clear"
    assert copy["review_status"] == "flagged"
    assert copy["listed"] is False
    hidden = await api.call(lab, "GET", f"/v1/works/{copy['id']}")
    assert hidden.status_code == 404

    accepted = await api.ok(
        admin, "POST", f"/v1/works/{copy['id']}/review", json={"accept": True, "note": "licensed"}
    )
    assert (accepted["review_status"], accepted["listed"]) == ("clear", True)
    assert (await api.work(lab, copy["id"]))["id"] == copy["id"]


async def test_a_refused_review_withdraws_the_copy(
    api: Api, ines: Actor, omar: Actor, admin: Actor
) -> None:
    await api.listed_work(ines, SMALL)
    copy = await api.listed_work(omar, SMALL)

    refused = await api.ok(
        admin, "POST", f"/v1/works/{copy['id']}/review", json={"accept": False, "note": "a copy"}
    )
    again = await api.call(admin, "POST", f"/v1/works/{copy['id']}/review", json={"accept": True})

    assert (refused["status"], refused["review_status"], refused["listed"]) == (
        "withdrawn",
        "flagged",
        False,
    )
    assert (again.status_code, again.json()["error"]) == (409, "NotUnderReview")


async def test_the_same_creator_may_list_the_same_file_twice(api: Api, ines: Actor) -> None:
    await api.listed_work(ines, SMALL)
    second = await api.listed_work(ines, SMALL, title="The same poem, another edition")

    assert second["review_status"] == "clear"


async def test_a_withdrawn_work_takes_no_new_file(api: Api, ines: Actor) -> None:
    listed = await api.listed_work(ines, SMALL)
    await api.ok(ines, "POST", f"/v1/works/{listed['id']}/withdraw")

    response = await api.call(
        ines,
        "POST",
        f"/v1/works/{listed['id']}/versions",
        json={"file_name": "x.txt", "size": 3, "sha256": sha256(b"abc")},
    )

    assert (response.status_code, response.json()["error"]) == (409, "WorkWithdrawn")


async def test_uploaded_bytes_go_where_the_presigned_url_says(api: Api, ines: Actor) -> None:
    created = await api.create_work(ines, SMALL)
    put = created["upload"]["put"]

    assert put["headers"]["Content-Length"] == str(len(SMALL))
    assert put["headers"]["x-amz-meta-sha256"] == sha256(SMALL)
    async with httpx.AsyncClient() as client:
        response = await client.put(put["url"], headers=put["headers"], content=SMALL)
    assert response.status_code == 200


async def test_text_with_a_nul_is_refused_not_stored(
    api: Api, session: AsyncSession, ines: Actor
) -> None:
    response = await api.call(
        ines,
        "POST",
        "/v1/works",
        json=work_payload(b"x", title="bad\x00title", tags=["ok", "b\x00d"]),
    )

    # A payload error, refused by the contract before the service runs.
    assert response.status_code == 422
    assert {(f["field"], f["code"]) for f in response.json()["fields"]} == {
        ("body.title", "nul_character"),
        ("body.tags.1", "nul_character"),
    }
    assert await count(session, WorkVersion) == 0
