"""Search: full text, every filter, every sort, keyset pages, and input meant to break it."""

import base64
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.catalogue import MediaType, SearchSort, Use, WorkSearch
from services.contracts.roles import Role
from tests.fixtures.database import connect_rolled_back, join_test_transaction
from tests.services.catalogue.helpers import Actor, Api, create_work, list_work

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Seed:
    title: str
    description: str = ""
    tags: tuple[str, ...] = ()
    media_type: MediaType = MediaType.IMAGE
    language: str = "en"
    price_minor: int = 1000
    currency: str = "EUR"
    uses: tuple[Use, ...] = (Use.TRAINING,)
    listed: bool = True


SEEDS = {
    "lights": Seed("Harbour lights", "A photograph of a harbour at night", ("harbour", "night")),
    "study": Seed(
        "Night harbour study",
        "A pencil sketch",
        ("sketch",),
        language="en-GB",
        price_minor=2500,
        uses=(Use.TRAINING, Use.EVALUATION),
    ),
    "rain": Seed(
        "Rain on a tin roof",
        "A field recording with harbours in the distance",
        ("rain",),
        MediaType.AUDIO,
        price_minor=500,
        uses=(Use.RETRIEVAL,),
    ),
    "port": Seed(
        "Le port la nuit",
        "Photographie",
        ("harbour", "night"),
        language="fr",
        price_minor=1500,
        uses=(Use.TRAINING, Use.RETRIEVAL),
    ),
    "market": Seed("Market noise", "", ("city",), MediaType.AUDIO, "de", 2000, "USD"),
    "ledger": Seed(
        "Harbour ledger", "", ("archive",), MediaType.TEXT, "ja", 300, "JPY", (Use.EVALUATION,)
    ),
    "draft": Seed("Harbour draft", "", ("harbour",), listed=False),
    "odd": Seed("Odd tags", "", ("o'brien \\ & :*", "a b"), MediaType.OTHER, "zh-Hant-TW"),
}


INES = Actor(str(uuid.uuid4()), frozenset({Role.CREATOR}), "Ines Creator")
OMAR = Actor(str(uuid.uuid4()), frozenset({Role.CREATOR}), "Omar Creator")


@pytest.fixture(scope="module")
async def search_session(migrated_postgres: str) -> AsyncIterator[AsyncSession]:
    """One rolled-back transaction for the whole module: its tests only read."""
    async for session in connect_rolled_back(migrated_postgres, "catalogue"):
        yield session


@pytest.fixture(scope="module")
async def seeded(search_session: AsyncSession) -> dict[str, str]:
    """Ines's works (one a draft), a duet Omar owns with Ines as co-creator, Omar's own."""
    session, ines, omar = search_session, INES, OMAR
    ids: dict[str, str] = {}
    for minute, (name, seed) in enumerate(SEEDS.items()):
        work = await create_work(
            session,
            owner=ines,
            title=seed.title,
            description=seed.description,
            tags=seed.tags,
            media_type=seed.media_type,
            language=seed.language,
            created_at=T0 + timedelta(minutes=minute),
        )
        if seed.listed:
            await list_work(
                session,
                work,
                owner=ines,
                uses=seed.uses,
                price_minor=seed.price_minor,
                currency=seed.currency,
            )
        ids[name] = str(work.id)
    duet = await create_work(
        session,
        owner=omar,
        title="Harbour duet",
        co_creators=[ines],
        created_at=T0 + timedelta(minutes=30),
    )
    await list_work(session, duet, owner=omar, price_minor=800)
    ids["duet"] = str(duet.id)
    solo = await create_work(
        session, owner=omar, title="Omar alone", created_at=T0 + timedelta(minutes=31)
    )
    await list_work(session, solo, owner=omar, price_minor=4000)
    ids["solo"] = str(solo.id)
    return ids


@pytest.fixture
async def api(
    shared_app: FastAPI, search_session: AsyncSession, seeded: dict[str, str]
) -> AsyncIterator[Api]:
    await join_test_transaction(shared_app, search_session)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=shared_app), base_url="http://catalogue.internal"
    ) as http:
        yield Api(http)


@pytest.fixture
def ines() -> Actor:
    return INES


@pytest.fixture
def omar() -> Actor:
    return OMAR


def _names(ids: dict[str, str], page: dict[str, Any]) -> list[str]:
    by_id = {work_id: name for name, work_id in ids.items()}
    return [by_id[work["id"]] for work in page["items"]]


async def _all_pages(api: Api, actor: Actor, **params: Any) -> list[list[str]]:
    pages: list[list[str]] = []
    after = None
    while True:
        page = await api.search(actor, **params, **({"after": after} if after else {}))
        pages.append([work["id"] for work in page["items"]])
        after = page["next_cursor"]
        if after is None:
            return pages
        assert len(pages) < 20, "the pages do not end"


async def test_text_matches_title_description_and_tags_with_stemming(
    api: Api, lab: Actor, seeded: dict[str, str]
) -> None:
    found = await api.search(lab, query="harbours")

    assert set(_names(seeded, found)) == {"lights", "study", "rain", "port", "ledger", "duet"}
    assert _names(seeded, await api.search(lab, query="pencil sketch")) == ["study"]
    assert _names(seeded, await api.search(lab, query="city")) == ["market"]


async def test_relevance_puts_title_matches_before_description_matches(
    api: Api, lab: Actor, seeded: dict[str, str]
) -> None:
    found = _names(seeded, await api.search(lab, query="harbour"))

    assert found[-1] == "rain"
    assert found[0] in {"lights", "study", "ledger", "duet"}


async def test_websearch_syntax_excludes_and_phrases(
    api: Api, lab: Actor, seeded: dict[str, str]
) -> None:
    excluded = await api.search(lab, query="harbour -night", sort="newest")
    phrase = await api.search(lab, query='"harbour lights"')

    assert set(_names(seeded, excluded)) == {"rain", "ledger", "duet"}
    assert _names(seeded, phrase) == ["lights"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"media_types": ["audio"]}, {"rain", "market"}),
        ({"media_types": ["audio", "text"]}, {"rain", "market", "ledger"}),
        ({"uses": ["training", "retrieval"]}, {"port"}),
        ({"uses": ["evaluation"]}, {"study", "ledger"}),
        ({"max_price_minor": 1000, "currency": "EUR"}, {"lights", "rain", "duet", "odd"}),
        ({"currency": "USD"}, {"market"}),
        ({"language": "en"}, {"lights", "study", "rain", "duet", "solo"}),
        ({"language": "EN-gb"}, {"study"}),
        ({"tags": ["night", "harbour"]}, {"lights", "port"}),
        ({"tags": ["Harbour"]}, {"lights", "port"}),
        ({"media_types": ["image"], "query": "night"}, {"lights", "study", "port"}),
        ({"tags": ["o'brien \\ & :*"]}, {"odd"}),
        ({"tags": ["a b"], "media_types": ["other"]}, {"odd"}),
        ({"tags": ["a"]}, set()),
        ({"language": "zh-Hant"}, {"odd"}),
        ({"language": "zh"}, {"odd"}),
        ({"language": "zh-Hans"}, set()),
    ],
)
async def test_each_filter_narrows_the_listed_works(
    api: Api,
    lab: Actor,
    seeded: dict[str, str],
    params: dict[str, Any],
    expected: set[str],
) -> None:
    assert set(_names(seeded, await api.search(lab, **params))) == expected


async def test_the_creator_filter_includes_co_created_works(
    api: Api, lab: Actor, ines: Actor, omar: Actor, seeded: dict[str, str]
) -> None:
    by_ines = await api.search(lab, creator_id=ines.subject)
    by_omar = await api.search(lab, creator_id=omar.subject)

    assert set(_names(seeded, by_ines)) == set(seeded) - {"draft", "solo"}
    assert set(_names(seeded, by_omar)) == {"duet", "solo"}


async def test_mine_gives_a_creator_every_work_of_theirs_in_every_state(
    api: Api, ines: Actor, omar: Actor, lab: Actor, seeded: dict[str, str]
) -> None:
    mine = await api.search(ines, mine="true")

    assert set(_names(seeded, mine)) == set(seeded) - {"solo"}
    assert (await api.search(lab, mine="true"))["items"] == []
    assert "draft" not in _names(seeded, await api.search(omar, query="harbour"))


@pytest.mark.parametrize(
    ("sort", "key", "descending"),
    [
        ("newest", lambda w: (w["created_at"], w["id"]), True),
        ("price_asc", lambda w: (w["offer"]["price_minor"], w["id"]), False),
        ("price_desc", lambda w: (w["offer"]["price_minor"], w["id"]), True),
    ],
)
async def test_each_sort_orders_the_works(
    api: Api, lab: Actor, seeded: dict[str, str], sort: str, key: Any, descending: bool
) -> None:
    items = (await api.search(lab, sort=sort))["items"]

    assert len(items) == len(seeded) - 1
    # Equal keys (two works at 10.00) fall back to the id, in the same direction.
    assert items == sorted(items, key=key, reverse=descending)


async def test_newest_is_the_default_without_a_query(
    api: Api, lab: Actor, seeded: dict[str, str]
) -> None:
    names = _names(seeded, await api.search(lab))

    assert names[:4] == ["solo", "duet", "odd", "ledger"]


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "newest"},
        {"sort": "price_asc"},
        {"sort": "price_desc", "media_types": ["image", "audio"]},
        {"query": "harbour"},
        {"query": "harbour night", "sort": "newest"},
    ],
)
async def test_pages_cover_every_result_once(
    api: Api, lab: Actor, seeded: dict[str, str], params: dict[str, Any]
) -> None:
    whole = [work["id"] for work in (await api.search(lab, **params))["items"]]

    pages = await _all_pages(api, lab, first=2, **params)

    assert [work_id for page in pages for work_id in page] == whole
    assert all(len(page) == 2 for page in pages[:-1])
    assert len(whole) >= 2


HOSTILE = [
    "harbour & | ! ( )",
    "'harbour",
    '"harbour',
    '"""',
    "!!!",
    "-",
    "harbour OR OR OR",
    "NOT",
    "*",
    "harbour*",
    "title:harbour",
    "NEAR(harbour lights)",
    "') OR 1=1; DROP TABLE work; --",
    "\\",
    "\x00",
    "ハーバー ナイト",
    "a" * 500,
    "   ",
    "<->",
    ":*",
]


@pytest.mark.parametrize("query", HOSTILE)
async def test_a_hostile_query_answers_results_or_none(
    api: Api, lab: Actor, seeded: dict[str, str], query: str
) -> None:
    for sort in ("relevance", "newest"):
        response = await api.call(
            lab, "GET", "/v1/works/search", params={"query": query, "sort": sort}
        )
        if query.strip(" \x00"):
            assert response.status_code == 200, response.text
        else:
            # Nothing but blanks is no query at all, which relevance cannot sort.
            assert response.status_code == (400 if sort == "relevance" else 200), response.text
    for work in response.json().get("items", []):
        assert work["listed"] is True


def _cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor",
        "!!!",
        _cursor(["newest"]),
        _cursor(["price_asc", 100, "00000000-0000-4000-8000-000000000000"]),
        _cursor(["newest", "yesterday", "00000000-0000-4000-8000-000000000000"]),
        _cursor(["newest", "2026-05-01T09:00:00", "00000000-0000-4000-8000-000000000000"]),
        _cursor(["newest", "2026-05-01T09:00:00+00:00", "not-a-uuid"]),
        _cursor({"sort": "newest"}),  # type: ignore[arg-type]
    ],
)
async def test_a_bad_cursor_is_an_invalid_request(
    api: Api, lab: Actor, seeded: dict[str, str], cursor: str
) -> None:
    response = await api.call(
        lab, "GET", "/v1/works/search", params={"sort": "newest", "after": cursor}
    )

    assert response.status_code == 400
    assert response.json()["error"] == "InvalidRequest"


async def test_a_cursor_is_bound_to_its_sort(api: Api, lab: Actor, seeded: dict[str, str]) -> None:
    page = await api.search(lab, sort="price_asc", first=1)

    response = await api.call(
        lab, "GET", "/v1/works/search", params={"sort": "newest", "after": page["next_cursor"]}
    )

    assert response.status_code == 400


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({"max_price_minor": 100}, "currency", "required"),
        ({"currency": "XTS"}, "currency", "unknown_currency"),
        ({"sort": "relevance"}, "sort", "needs_query"),
    ],
)
async def test_a_search_that_cannot_be_answered_says_why(
    api: Api, lab: Actor, params: dict[str, Any], field: str, code: str
) -> None:
    response = await api.call(lab, "GET", "/v1/works/search", params=params)

    assert response.status_code == 400
    assert [(f["field"], f["code"]) for f in response.json()["fields"]] == [(field, code)]


async def test_a_page_holds_at_most_one_hundred_works(api: Api, lab: Actor) -> None:
    response = await api.call(lab, "GET", "/v1/works/search", params={"first": 101})

    assert response.status_code == 422


async def test_a_list_parameter_takes_every_repetition_and_another_its_last(
    api: Api, lab: Actor, seeded: dict[str, str]
) -> None:
    params = [
        ("media_types", "image"),
        ("media_types", "audio"),
        ("first", "50"),
        ("first", "2"),
        ("unknown", "ignored"),
    ]

    page = await api.ok(lab, "GET", "/v1/works/search", params=params)
    everything = await api.search(lab, media_types=["image", "audio"], first=50)

    assert [work["id"] for work in page["items"]] == [
        work["id"] for work in everything["items"][:2]
    ]
    assert {work["media_type"] for work in everything["items"]} == {"image", "audio"}


async def test_bad_parameters_are_refused_each_by_name(api: Api, lab: Actor) -> None:
    params = [("media_types", "image"), ("media_types", "film"), ("mine", "maybe"), ("first", "0")]

    response = await api.call(lab, "GET", "/v1/works/search", params=params)

    assert response.status_code == 422
    body = response.json()
    assert (body["error"], body["detail"]) == ("ValidationFailed", "the request is not valid")
    assert [(field["field"], field["code"]) for field in body["fields"]] == [
        ("query.media_types.1", "enum"),
        ("query.mine", "bool_parsing"),
        ("query.first", "greater_than_equal"),
    ]


async def test_a_search_without_a_token_is_unauthenticated_whatever_its_query(
    api: Api,
) -> None:
    response = await api.http.get("/v1/works/search", params={"first": "0"})

    assert response.status_code == 401
    assert response.json()["detail"] == "an internal token is required"


def test_the_search_parameters_are_published(shared_app: FastAPI) -> None:
    published = shared_app.openapi()
    search = published["paths"]["/v1/works/search"]["get"]

    parameters = {parameter["name"]: parameter for parameter in search["parameters"]}
    assert list(parameters) == list(WorkSearch.model_fields)
    assert all(parameter["in"] == "query" for parameter in parameters.values())
    assert parameters["media_types"]["schema"]["items"] == {
        "$ref": "#/components/schemas/MediaType"
    }
    assert parameters["sort"]["schema"]["anyOf"][0] == {"$ref": "#/components/schemas/SearchSort"}
    assert published["components"]["schemas"]["SearchSort"]["enum"] == list(SearchSort)
    assert search["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }
