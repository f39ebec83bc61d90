"""A bundle is a buyer's selection: works by id, or what a catalogue search finds."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.catalogue import MAX_PAGE_SIZE, Use
from tests.services.catalogue.helpers import Actor, create_work, list_work
from tests.services.licensing.helpers import Api, listed_work


async def test_works_are_kept_in_the_order_given_without_repeats(api: Api, lab: Actor) -> None:
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    bundle = await api.bundle(lab, [b, a, b, c, a], Use.TRAINING, Use.TRAINING, Use.EVALUATION)

    assert bundle["work_ids"] == [str(b), str(a), str(c)]
    assert (bundle["source"], bundle["search"], bundle["buyer_id"]) == ("works", None, lab.subject)
    assert bundle["uses"] == ["evaluation", "training"]


async def test_a_search_is_resolved_into_the_works_the_buyer_sees_page_after_page(
    api: Api, catalogue_session: AsyncSession, ines: Actor, lab: Actor
) -> None:
    tagged = []
    for index in range(MAX_PAGE_SIZE + 5):
        work = await create_work(catalogue_session, owner=ines, tags=["tidal"], title=f"T{index}")
        await list_work(catalogue_session, work, owner=ines)
        tagged.append(str(work.id))
    await create_work(catalogue_session, owner=ines, tags=["tidal"])  # not listed: not shown
    search = {"tags": ["tidal"], "media_types": ["image"], "uses": ["training"]}

    bundle = await api.ok(
        lab,
        "POST",
        "/v1/bundles",
        json={"name": "Tides", "uses": ["training"], "search": search},
        status=201,
    )

    assert sorted(bundle["work_ids"]) == sorted(tagged)
    assert bundle["source"] == "search"
    assert (bundle["search"]["tags"], bundle["search"]["media_types"]) == (["tidal"], ["image"])


async def test_a_search_the_catalogue_refuses_or_that_finds_nothing_is_refused(
    api: Api, lab: Actor
) -> None:
    refused = await api.call(
        lab,
        "POST",
        "/v1/bundles",
        json={"name": "x", "uses": ["training"], "search": {"sort": "relevance"}},
    )
    empty = await api.call(
        lab,
        "POST",
        "/v1/bundles",
        json={"name": "x", "uses": ["training"], "search": {"tags": ["nothing-has-this"]}},
    )

    assert (refused.status_code, refused.json()["fields"][0]["field"]) == (400, "search.sort")
    assert (empty.status_code, empty.json()["fields"][0]["code"]) == (400, "no_results")


async def test_bad_bundles_are_refused(api: Api, lab: Actor, ines: Actor) -> None:
    work = [str(uuid.uuid4())]

    def body(**fields: object) -> dict[str, object]:
        return {"name": "x", "uses": ["training"], "work_ids": work, **fields}

    foreign = await api.call(lab, "POST", "/v1/bundles", json=body(currency="XAU"))
    assert (foreign.status_code, foreign.json()["fields"][0]["field"]) == (400, "currency")
    both = body(search={"tags": ["a"]})
    assert (await api.call(lab, "POST", "/v1/bundles", json=both)).status_code == 422
    assert (await api.call(lab, "POST", "/v1/bundles", json=body(uses=[]))).status_code == 422
    with_nul = await api.call(lab, "POST", "/v1/bundles", json=body(name="a\x00b"))
    assert (with_nul.status_code, with_nul.json()["fields"][0]["code"]) == (422, "nul_character")
    blank = await api.call(lab, "POST", "/v1/bundles", json=body(name="   "))
    assert (blank.status_code, blank.json()["fields"][0]["field"]) == (400, "name")
    assert await api.refused(ines, "POST", "/v1/bundles", json=body()) == (403, "Forbidden")


async def test_a_buyer_lists_their_own_bundles_newest_first_a_page_at_a_time(
    api: Api, catalogue_session: AsyncSession, ines: Actor, lab: Actor, rival: Actor
) -> None:
    work_id = await listed_work(catalogue_session, ines)
    made = [(await api.bundle(lab, [work_id]))["id"] for _ in range(3)]
    await api.bundle(rival, [work_id])

    first = await api.ok(lab, "GET", "/v1/bundles", params={"first": 2})
    second = await api.ok(
        lab, "GET", "/v1/bundles", params={"first": 2, "after": first["next_cursor"]}
    )

    assert [b["id"] for b in first["items"] + second["items"]] == made[::-1]
    assert second["next_cursor"] is None
    assert (await api.call(lab, "GET", "/v1/bundles", params={"after": "junk"})).status_code == 400


async def test_a_search_for_ones_own_works_is_refused_in_words_and_saves_nothing(
    api: Api, lab: Actor
) -> None:
    refused = await api.call(
        lab,
        "POST",
        "/v1/bundles",
        json={"name": "Mine", "uses": ["training"], "search": {"mine": True}},
    )
    listed = await api.ok(lab, "GET", "/v1/bundles")

    assert refused.status_code == 400
    assert refused.json()["fields"][0] == {
        "field": "search.mine",
        "message": "cannot make a bundle",
        "code": "not_for_bundles",
    }
    assert [bundle["name"] for bundle in listed["items"]] == []
