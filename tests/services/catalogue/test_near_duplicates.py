"""Near copies of another creator's work are held when their upload completes, and wait
in the admins' review queue beside the works they resemble."""

import re
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.likeness import DuplicateMatch
from tests.services.catalogue.helpers import Actor, Api, count, outbox_topics
from tests.services.catalogue.likeness.material import TEXT, encoded, scene

ORIGINAL = scene(7)
PICTURE = encoded(ORIGINAL)
RESIZED = encoded(ORIGINAL.resize((160, 120)), "JPEG", quality=80)
UNRELATED = encoded(scene(8))
HELD_REASON = re.compile(
    r"^held for review: looks like another creator's work \(image match, score [01]\.\d\d\)"
)


def _held(work: dict[str, Any]) -> list[str]:
    return [r["detail"] for r in work["sale_status"] if r["code"] == "held_for_review"]


async def _queue(api: Api, admin: Actor, **params: Any) -> dict[str, Any]:
    page: dict[str, Any] = await api.ok(admin, "GET", "/v1/reviews", params=params)
    return page


async def test_a_resized_copy_of_another_creators_image_is_held_with_the_reason(
    api: Api, ines: Actor, omar: Actor, lab: Actor, admin: Actor, session: AsyncSession
) -> None:
    original = await api.listed_work(ines, PICTURE, title="Harbour at dawn")
    copy = await api.listed_work(omar, RESIZED, file_name="harbour.jpg")

    assert (copy["review_status"], copy["listed"]) == ("flagged", False)
    [reason] = _held(await api.work(omar, copy["id"]))
    assert HELD_REASON.match(reason), reason
    # The other creator's work is listed, so its title is public; nothing else of theirs.
    assert reason.endswith(': "Harbour at dawn"')
    assert "Ines" not in reason
    assert (await api.call(lab, "GET", f"/v1/works/{copy['id']}")).status_code == 404

    queue = await _queue(api, admin)
    [item] = [item for item in queue["items"] if item["work"]["id"] == copy["id"]]
    assert item["reason"] == reason.removeprefix("held for review: ")
    [match] = item["matches"]
    assert (match["work_id"], match["kind"]) == (original["id"], "image")
    assert 0.9 <= match["score"] <= 1.0
    assert await count(session, DuplicateMatch, work_id=uuid.UUID(copy["id"])) == 1


async def test_a_creators_own_re_upload_is_not_held(api: Api, ines: Actor) -> None:
    await api.listed_work(ines, PICTURE)
    again = await api.listed_work(ines, RESIZED, title="The harbour, smaller")

    assert (again["review_status"], again["listed"]) == ("clear", True)


async def test_an_unrelated_image_is_not_held(api: Api, ines: Actor, omar: Actor) -> None:
    await api.listed_work(ines, PICTURE)
    other = await api.listed_work(omar, UNRELATED)

    assert (other["review_status"], other["listed"]) == ("clear", True)


async def test_a_lightly_edited_copy_of_a_text_is_held(api: Api, ines: Actor, omar: Actor) -> None:
    await api.listed_work(ines, TEXT.encode(), media_type="text", file_name="harbour.txt")
    edited = TEXT.replace("gulls", "seagulls").encode()
    copy = await api.listed_work(omar, edited, media_type="text", file_name="quay.txt")

    [reason] = _held(copy)
    assert "text match, score" in reason, reason


async def test_the_same_bytes_keep_todays_words_and_join_the_queue(
    api: Api, ines: Actor, omar: Actor, admin: Actor
) -> None:
    original = await api.listed_work(ines, PICTURE)
    copy = await api.listed_work(omar, PICTURE)

    assert _held(copy) == ["held for review: the same file is listed by another creator"]
    queue = await _queue(api, admin)
    [item] = [item for item in queue["items"] if item["work"]["id"] == copy["id"]]
    assert [(m["work_id"], m["kind"], m["score"]) for m in item["matches"]] == [
        (original["id"], "exact", 1.0)
    ]


async def test_an_accepted_copy_is_listed_and_leaves_the_queue(
    api: Api, ines: Actor, omar: Actor, lab: Actor, admin: Actor, session: AsyncSession
) -> None:
    await api.listed_work(ines, PICTURE)
    copy = await api.listed_work(omar, RESIZED)

    accepted = await api.ok(
        admin,
        "POST",
        f"/v1/works/{copy['id']}/review",
        json={"accept": True, "note": "Omar holds a licence from Ines"},
    )

    assert (accepted["review_status"], accepted["listed"], accepted["sale_status"]) == (
        "clear",
        True,
        [],
    )
    assert (await api.work(lab, copy["id"]))["listed"] is True
    queue = await _queue(api, admin)
    assert copy["id"] not in {item["work"]["id"] for item in queue["items"]}
    assert (await outbox_topics(session))[-1] == "work.reviewed"


async def test_a_rejected_copy_stays_unlisted_with_the_note(
    api: Api, ines: Actor, omar: Actor, admin: Actor, session: AsyncSession
) -> None:
    await api.listed_work(ines, PICTURE)
    copy = await api.listed_work(omar, RESIZED)

    refused = await api.ok(
        admin,
        "POST",
        f"/v1/works/{copy['id']}/review",
        json={"accept": False, "note": "a copy of Harbour at dawn"},
    )

    assert (refused["status"], refused["listed"]) == ("withdrawn", False)
    seen = await api.work(omar, copy["id"])
    assert _held(seen) == ["held for review: a copy of Harbour at dawn"]
    assert (await outbox_topics(session))[-2:] == ["work.withdrawn", "work.reviewed"]


async def test_a_decision_by_a_non_admin_is_forbidden_and_changes_nothing(
    api: Api, ines: Actor, omar: Actor, session: AsyncSession
) -> None:
    await api.listed_work(ines, PICTURE)
    copy = await api.listed_work(omar, RESIZED)
    topics = await outbox_topics(session)

    by_owner = await api.call(omar, "POST", f"/v1/works/{copy['id']}/review", json={"accept": True})
    by_other = await api.call(ines, "POST", f"/v1/works/{copy['id']}/review", json={"accept": True})

    assert (by_owner.status_code, by_owner.json()["error"]) == (403, "Forbidden")
    # The other creator is not told that an unlisted work exists.
    assert (by_other.status_code, by_other.json()["error"]) == (404, "NotFound")
    after = await api.work(omar, copy["id"])
    assert (after["review_status"], after["listed"]) == ("flagged", False)
    assert _held(after) == _held(copy)
    assert await outbox_topics(session) == topics


async def test_the_queue_is_for_admins_and_pages_oldest_first(
    api: Api, ines: Actor, omar: Actor, lab: Actor, admin: Actor
) -> None:
    await api.listed_work(ines, PICTURE)
    first = await api.listed_work(omar, RESIZED)
    second = await api.listed_work(omar, PICTURE)

    one = await _queue(api, admin, first=1)
    two = await _queue(api, admin, first=1, after=one["next_cursor"])
    refused = [await api.call(actor, "GET", "/v1/reviews") for actor in (omar, lab)]

    assert [one["items"][0]["work"]["id"], two["items"][0]["work"]["id"]] == [
        first["id"],
        second["id"],
    ]
    assert [(r.status_code, r.json()["error"]) for r in refused] == [(403, "Forbidden")] * 2
    tampered = await api.call(admin, "GET", "/v1/reviews", params={"after": "not-a-cursor"})
    assert (tampered.status_code, tampered.json()["error"]) == (400, "InvalidRequest")
