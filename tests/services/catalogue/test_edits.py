"""A creator edits a work's title, description, tags and kind: each change a version of
its details, with who made it and when."""

from tests.services.catalogue.helpers import Actor, Api

PICTURE = b"a picture's bytes, in a format with no preview"


async def test_each_edit_is_a_new_version_of_the_details(api: Api, ines: Actor, lab: Actor) -> None:
    work = await api.listed_work(ines, PICTURE, file_name="estuary.raw")
    work_id = work["id"]

    renamed = await api.ok(
        ines, "PATCH", f"/v1/works/{work_id}", json={"title": "  Estuary, evening  "}
    )
    retagged = await api.ok(
        ines,
        "PATCH",
        f"/v1/works/{work_id}",
        json={"tags": ["Oil", "estuary", "oil"], "media_type": "other"},
    )

    assert renamed["title"] == "Estuary, evening"
    assert (retagged["tags"], retagged["media_type"]) == (["oil", "estuary"], "other")
    [found] = await api.ok(lab, "GET", "/v1/works/history", params={"id": work_id})
    history = found["versions"]
    assert found["work_id"] == work_id
    assert [(v["number"], v["title"], v["changed"]) for v in history] == [
        (1, "Evening over the estuary", []),
        (2, "Estuary, evening", ["title"]),
        (3, "Estuary, evening", ["tags", "media_type"]),
    ]
    assert {v["edited_by"] for v in history} == {ines.subject}
    assert history[1]["edited_at"] <= history[2]["edited_at"]
    page = await api.search(lab, query="evening")
    assert [item["title"] for item in page["items"] if item["id"] == work_id] == [
        "Estuary, evening"
    ]


async def test_only_the_owner_edits_and_bad_edits_change_nothing(
    api: Api, ines: Actor, omar: Actor
) -> None:
    work = await api.listed_work(ines, PICTURE, file_name="estuary.raw")
    work_id = work["id"]

    assert await api.refused(omar, "PATCH", f"/v1/works/{work_id}", json={"title": "Mine"}) == (
        403,
        "Forbidden",
    )
    assert (await api.refused(ines, "PATCH", f"/v1/works/{work_id}", json={}))[0] == 422
    blank = await api.refused(ines, "PATCH", f"/v1/works/{work_id}", json={"title": "   "})
    assert blank == (400, "InvalidRequest")
    unchanged = await api.ok(ines, "PATCH", f"/v1/works/{work_id}", json={"title": work["title"]})

    assert unchanged["title"] == work["title"]
    [found] = await api.ok(ines, "GET", "/v1/works/history", params={"id": work_id})
    assert [v["number"] for v in found["versions"]] == [1]


async def test_histories_are_read_in_a_batch_and_hidden_works_left_out(
    api: Api, ines: Actor, lab: Actor
) -> None:
    listed = await api.listed_work(ines, PICTURE, file_name="estuary.raw")
    unlisted = (await api.create_work(ines, PICTURE + b"!", file_name="draft.raw"))["work"]
    await api.ok(ines, "PATCH", f"/v1/works/{unlisted['id']}", json={"description": "A draft"})

    ids = [unlisted["id"], listed["id"]]
    seen_by_owner = await api.ok(ines, "GET", "/v1/works/history", params={"id": ids})
    seen_by_lab = await api.ok(lab, "GET", "/v1/works/history", params={"id": ids})

    assert [(h["work_id"], len(h["versions"])) for h in seen_by_owner] == [
        (unlisted["id"], 2),
        (listed["id"], 1),
    ]
    assert seen_by_owner[0]["versions"][1]["changed"] == ["description"]
    assert [h["work_id"] for h in seen_by_lab] == [listed["id"]]
