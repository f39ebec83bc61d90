"""A page of works is read in one statement of plain columns, a single work through the
ORM: both answer the same `WorkRead`, whoever asks and however the work is reached."""

from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.catalogue import Use
from tests.services.catalogue.helpers import Actor, Api, create_work, list_work


async def test_a_work_in_a_page_or_a_batch_is_the_work_read_on_its_own(
    api: Api, session: AsyncSession, ines: Actor, omar: Actor, lab: Actor
) -> None:
    work = await create_work(
        session, owner=ines, title="Harbour at dawn", tags=["harbour", "sea"], co_creators=[omar]
    )
    await list_work(session, work, owner=ines, uses=(Use.TRAINING, Use.RETRIEVAL))

    single = await api.work(lab, str(work.id))
    page = await api.search(lab, query="harbour")
    batch = await api.ok(lab, "GET", "/v1/works", params=[("id", str(work.id))])

    assert page["items"] == [single]
    assert batch == [single]
    assert [share["creator_name"] for share in single["shares"]] == [ines.name, omar.name]
    assert single["offer"]["terms"]["uses"] == [Use.RETRIEVAL, Use.TRAINING]


async def test_a_batch_leaves_out_what_the_caller_may_not_see(
    api: Api, session: AsyncSession, ines: Actor, lab: Actor
) -> None:
    listed = await create_work(session, owner=ines, title="Listed")
    await list_work(session, listed, owner=ines)
    draft = await create_work(session, owner=ines, title="Draft")
    ids = [("id", str(draft.id)), ("id", str(listed.id)), ("id", str(draft.id))]

    seen_by_lab = await api.ok(lab, "GET", "/v1/works", params=ids)
    seen_by_owner = await api.ok(ines, "GET", "/v1/works", params=ids)

    assert [work["title"] for work in seen_by_lab] == ["Listed"]
    assert [work["title"] for work in seen_by_owner] == ["Draft", "Listed"]
