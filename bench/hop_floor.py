"""The least that a gateway in front of a service can add to a search: two bare HTTP hops.

`bench/catalogue_search.py` runs these two ASGI apps, each under uvicorn in its own
process, as the real stack runs its components, and times its searches through them
beside the real gateway and the direct SQL:

- `relay` stands in for the gateway. It reads the request, asks `search` over aiohttp,
  parses the page, keeps the fields the bench's GraphQL query selects and answers JSON.
- `search` stands in for the catalogue. It runs the catalogue's own two queries (the
  search, then the read of the page) and answers the page as the catalogue does.

Neither has a framework, authentication, validation or GraphQL: what they cost is the
hops themselves (two HTTP exchanges, four JSON passes, two event loops waking), which no
service architecture avoids.

Settings come from the environment: `ASSENT_BENCH_FLOOR_DATABASE_URL` for `search`,
`ASSENT_BENCH_FLOOR_SEARCH_URL` for `relay`.
"""

import dataclasses
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import aiohttp
import orjson

from services.catalogue.search.repository import SearchFilters, SearchRepository
from services.catalogue.work.repository import WorkRepository
from services.contracts.catalogue import MediaType, SearchSort, WorkPage
from services.kit.db import create_engine, create_sessionmaker

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
JSON_HEADERS = [(b"content-type", b"application/json")]


def search_body(filters: SearchFilters, sort: SearchSort) -> bytes:
    """A search as the relay receives it and passes it on."""
    fields = dataclasses.asdict(filters)
    fields["media_types"] = sorted(fields["media_types"])
    return orjson.dumps({"filters": fields, "sort": sort.value})


def _parsed_search(body: bytes) -> tuple[SearchFilters, SearchSort]:
    request = orjson.loads(body)
    fields = request["filters"]
    fields["media_types"] = frozenset(MediaType(media) for media in fields["media_types"])
    fields["tags"] = tuple(fields["tags"])
    return SearchFilters(**fields), SearchSort(request["sort"])


async def _body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += bytes(message.get("body", b""))
        if not message.get("more_body"):
            return body


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _answer(send: Send, body: bytes) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": JSON_HEADERS})
    await send({"type": "http.response.body", "body": body})


class _Search:
    def __init__(self) -> None:
        self.engine = create_engine(
            os.environ["ASSENT_BENCH_FLOOR_DATABASE_URL"], schema="catalogue"
        )
        self.sessionmaker = create_sessionmaker(self.engine)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            await self.engine.dispose()
            return
        body = await _body(receive)
        if scope["method"] == "GET":
            return await _answer(send, b"{}")
        filters, sort = _parsed_search(body)
        async with self.sessionmaker() as session, session.begin():
            page = await SearchRepository(session).search(filters, sort=sort, after=None, limit=20)
            items = await WorkRepository(session).read_many(page.ids)
            found = WorkPage(items=items, next_cursor=page.next_cursor)
        await _answer(send, found.model_dump_json().encode())


class _Relay:
    def __init__(self) -> None:
        self.search_url = os.environ["ASSENT_BENCH_FLOOR_SEARCH_URL"]
        self.http: aiohttp.ClientSession | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            if self.http is not None:
                await self.http.close()
            return
        body = await _body(receive)
        if scope["method"] == "GET":
            return await _answer(send, b"{}")
        if self.http is None:
            self.http = aiohttp.ClientSession()
        async with self.http.post(self.search_url, data=body) as response:
            page = orjson.loads(await response.read())
        await _answer(send, orjson.dumps({"data": {"works": _selected(page)}}))


def _selected(page: dict[str, Any]) -> dict[str, Any]:
    """The fields of `catalogue_search.SEARCH`, named as GraphQL names them."""
    return {
        "__typename": "WorkConnection",
        "nextCursor": page["next_cursor"],
        "items": [
            {
                "id": work["id"],
                "title": work["title"],
                "mediaType": work["media_type"].upper(),
                "listed": work["listed"],
                "offer": {
                    "price": {
                        "amountMinor": work["offer"]["price_minor"],
                        "currency": work["offer"]["currency"],
                    },
                    "terms": {
                        "uses": [use.upper() for use in work["offer"]["terms"]["uses"]],
                        "durationDays": work["offer"]["terms"]["duration_days"],
                    },
                },
                "shares": [
                    {
                        "creator": {"name": share["creator_name"]},
                        "basisPoints": share["basis_points"],
                    }
                    for share in work["shares"]
                ],
            }
            for work in page["items"]
        ],
    }


def search() -> _Search:
    return _Search()


def relay() -> _Relay:
    return _Relay()
