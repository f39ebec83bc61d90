"""Only a listed work reaches a buyer: complete, clear, consented, offered within the consent."""

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.consent.service import consent_service
from services.contracts.catalogue import Use
from tests.services.catalogue.helpers import (
    WITHDRAWAL,
    Actor,
    Api,
    consent_in,
    create_work,
    list_work,
    outbox_topics,
)

TITLE = "Harbour lights at low tide"


async def _seen_by(api: Api, actor: Actor, work_id: str) -> dict[str, bool]:
    """Where `actor` finds the work: by id, in a batch read, in search and in its signals."""
    by_id = await api.call(actor, "GET", f"/v1/works/{work_id}")
    batch = await api.ok(actor, "GET", "/v1/works", params=[("id", work_id)])
    browsed = await api.search(actor)
    searched = await api.search(actor, query="harbour lights")
    signals = await api.call(actor, "GET", f"/v1/works/{work_id}/signals")
    return {
        "by_id": by_id.status_code == 200,
        "batch": [w["id"] for w in batch] == [work_id],
        "browse": work_id in [w["id"] for w in browsed["items"]],
        "search": work_id in [w["id"] for w in searched["items"]],
        "signals": signals.status_code == 200,
    }


EVERYWHERE = dict.fromkeys(("by_id", "batch", "browse", "search", "signals"), True)
NOWHERE = dict.fromkeys(EVERYWHERE, False)


async def test_a_listed_work_is_found_by_a_buyer_everywhere(
    api: Api, session: AsyncSession, ines: Actor, lab: Actor, anonymous: Actor
) -> None:
    work = await create_work(session, owner=ines, title=TITLE)
    await list_work(session, work, owner=ines)

    assert await _seen_by(api, lab, str(work.id)) == EVERYWHERE
    assert await _seen_by(api, anonymous, str(work.id)) == EVERYWHERE


async def test_an_unconsented_work_is_never_shown_to_a_buyer(
    api: Api, session: AsyncSession, ines: Actor, lab: Actor
) -> None:
    work = await create_work(session, owner=ines, title=TITLE)

    assert await _seen_by(api, lab, str(work.id)) == NOWHERE
    owner_view = await api.work(ines, str(work.id))
    assert (owner_view["status"], owner_view["listed"], owner_view["consent"]) == (
        "ready",
        False,
        None,
    )


async def test_a_work_whose_consent_was_withdrawn_leaves_the_listing_at_once(
    api: Api, session: AsyncSession, ines: Actor, lab: Actor
) -> None:
    work = await create_work(session, owner=ines, title=TITLE)
    await list_work(session, work, owner=ines)

    await consent_service.withdraw_consent(session, ines.caller, work.id, WITHDRAWAL)

    assert await _seen_by(api, lab, str(work.id)) == NOWHERE
    assert (await api.work(ines, str(work.id)))["offer"] is not None


async def test_a_revised_consent_narrower_than_the_offer_unlists_the_work(
    api: Api, session: AsyncSession, ines: Actor, lab: Actor
) -> None:
    work = await create_work(session, owner=ines, title=TITLE)
    await list_work(session, work, owner=ines, uses=[Use.TRAINING, Use.RETRIEVAL])

    await consent_service.give_consent(
        session,
        ines.caller,
        work.id,
        consent_in(Use.RETRIEVAL),
    )

    assert await _seen_by(api, lab, str(work.id)) == NOWHERE


async def test_a_withdrawn_work_leaves_the_listing_and_says_so_once(
    api: Api, session: AsyncSession, ines: Actor, lab: Actor, admin: Actor
) -> None:
    work = await create_work(session, owner=ines, title=TITLE)
    await list_work(session, work, owner=ines)

    first = await api.ok(ines, "POST", f"/v1/works/{work.id}/withdraw")
    again = await api.ok(admin, "POST", f"/v1/works/{work.id}/withdraw")

    assert (first["status"], first["listed"]) == ("withdrawn", False)
    assert first["withdrawn_at"] is not None
    assert again == first
    assert await _seen_by(api, lab, str(work.id)) == NOWHERE
    assert (await outbox_topics(session)).count("work.withdrawn") == 1


async def test_an_admin_may_withdraw_any_work(
    api: Api, session: AsyncSession, ines: Actor, admin: Actor
) -> None:
    work = await create_work(session, owner=ines, title=TITLE)

    withdrawn = await api.ok(admin, "POST", f"/v1/works/{work.id}/withdraw")

    assert withdrawn["status"] == "withdrawn"


async def test_a_flagged_copy_is_hidden_from_buyers_but_not_from_its_creator(
    api: Api, ines: Actor, omar: Actor, lab: Actor
) -> None:
    data = b"the same bytes, uploaded twice"
    await api.listed_work(ines, data, title="Original harbour lights")
    copy = await api.listed_work(omar, data, title=TITLE)

    assert copy["review_status"] == "flagged"
    assert await _seen_by(api, lab, copy["id"]) == NOWHERE
    assert await _seen_by(api, omar, copy["id"]) == {
        "by_id": True,
        "batch": True,
        "browse": False,
        "search": False,
        "signals": True,
    }
    mine = await api.search(omar, mine="true")
    assert [w["id"] for w in mine["items"]] == [copy["id"]]


async def test_members_admins_and_auditors_see_a_draft(
    api: Api, session: AsyncSession, ines: Actor, omar: Actor, admin: Actor, auditor: Actor
) -> None:
    work = await create_work(session, owner=ines, title=TITLE, co_creators=[omar])

    for actor in (ines, omar, admin, auditor):
        assert (await api.work(actor, str(work.id)))["listed"] is False
    co_created = await api.search(omar, mine="true")
    assert [w["id"] for w in co_created["items"]] == [str(work.id)]


async def test_a_batch_read_keeps_the_order_asked_and_leaves_out_what_is_hidden(
    api: Api, session: AsyncSession, ines: Actor, lab: Actor
) -> None:
    first = await create_work(session, owner=ines, title="First")
    hidden = await create_work(session, owner=ines, title="Hidden")
    last = await create_work(session, owner=ines, title="Last")
    for work in (first, last):
        await list_work(session, work, owner=ines)
    missing = "00000000-0000-4000-8000-000000000000"
    ids = [str(last.id), missing, str(hidden.id), str(first.id), str(last.id)]

    seen = await api.ok(lab, "GET", "/v1/works", params=[("id", i) for i in ids])
    owned = await api.ok(ines, "GET", "/v1/works", params=[("id", i) for i in ids])

    assert [w["id"] for w in seen] == [str(last.id), str(first.id)]
    assert [w["title"] for w in owned] == ["Last", "Hidden", "First"]


async def test_a_batch_read_and_a_search_show_each_work_as_its_own_read_does(
    api: Api, session: AsyncSession, ines: Actor, omar: Actor
) -> None:
    listed = await create_work(session, owner=ines, title="Listed duet", co_creators=[omar])
    await list_work(session, listed, owner=ines, uses=[Use.TRAINING, Use.RETRIEVAL])
    withdrawn = await create_work(session, owner=ines, title="Consent withdrawn", tags=["sea"])
    await list_work(session, withdrawn, owner=ines)
    await consent_service.withdraw_consent(session, ines.caller, withdrawn.id, WITHDRAWAL)
    replacing = await create_work(session, owner=ines, title="File being replaced")
    await list_work(session, replacing, owner=ines, price_minor=700, currency="JPY")
    new_file = {"file_name": "v2.bin", "size": 10, "sha256": "ab" * 32}
    await api.ok(ines, "POST", f"/v1/works/{replacing.id}/versions", json=new_file)
    draft = await create_work(session, owner=ines, title="Draft", language="pt-BR")
    ids = [str(work.id) for work in (listed, withdrawn, replacing, draft)]

    one_by_one = [await api.work(ines, work_id) for work_id in ids]
    batch = await api.ok(ines, "GET", "/v1/works", params=[("id", i) for i in ids])
    mine = await api.search(ines, mine="true", sort="newest")

    assert one_by_one[2]["pending_version"] is not None
    assert batch == one_by_one
    assert mine["items"] == one_by_one[::-1]


async def test_a_batch_read_takes_at_most_one_hundred_ids(api: Api, lab: Actor) -> None:
    ids = [("id", f"00000000-0000-4000-8000-{n:012d}") for n in range(101)]

    response = await api.call(lab, "GET", "/v1/works", params=ids)

    assert response.status_code == 422


async def _statements(api: Api, session: AsyncSession, actor: Actor, ids: list[str]) -> int:
    """How many queries one batch read of `ids` costs (the test's savepoints aside)."""
    executed: list[str] = []

    def record(*args: object) -> None:
        executed.append(str(args[2]))

    connection = (await session.connection()).sync_connection
    assert connection is not None
    event.listen(connection, "before_cursor_execute", record)
    try:
        found = await api.ok(actor, "GET", "/v1/works", params=[("id", i) for i in ids])
    finally:
        event.remove(connection, "before_cursor_execute", record)
    assert len(found) == len(ids)
    return sum(statement.startswith("SELECT") for statement in executed)


async def test_a_batch_read_costs_the_same_few_queries_for_one_work_or_many(
    api: Api, session: AsyncSession, ines: Actor, omar: Actor, lab: Actor
) -> None:
    works = [await create_work(session, owner=ines, co_creators=[omar]) for _ in range(12)]
    for work in works:
        await list_work(session, work, owner=ines)
    ids = [str(work.id) for work in works]

    one = await _statements(api, session, lab, ids[:1])
    many = await _statements(api, session, lab, ids)

    # The works with their versions, consent, offer and shares with creators, joined.
    assert one == many == 1
