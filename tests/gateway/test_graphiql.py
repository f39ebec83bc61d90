"""GraphiQL as the gateway serves it: a page that loads only the gateway's own files, each
served whole and matching the integrity hash the page pins."""

import base64
import hashlib
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from gateway.app import create_app
from tests.gateway.conftest import unattached_settings

GATEWAY = "http://gateway"


class Loads(HTMLParser):
    """Every address the page makes the browser fetch, with its integrity hash."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        address = named.get("src") or (named.get("href") if tag == "link" else None)
        if address is not None:
            self.found.append((address, named.get("integrity")))


@pytest.fixture
async def gateway_http(gateway_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=gateway_app)
    async with httpx.AsyncClient(transport=transport, base_url=GATEWAY) as http:
        yield http


async def page_loads(http: httpx.AsyncClient) -> list[tuple[str, str | None]]:
    page = await http.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    parser = Loads()
    parser.feed(page.text)
    return parser.found


async def test_the_graphiql_page_loads_nothing_but_the_gateways_own_files(
    gateway_http: httpx.AsyncClient,
) -> None:
    loads = await page_loads(gateway_http)

    addresses = {urljoin(f"{GATEWAY}/graphql", address) for address, _ in loads}
    assert {urlsplit(address).netloc for address in addresses} == {"gateway"}
    assert f"{GATEWAY}/graphiql/graphiql.min.js" in addresses
    assert f"{GATEWAY}/graphiql/react.production.min.js" in addresses


async def test_every_script_and_stylesheet_is_served_and_matches_its_integrity_hash(
    gateway_http: httpx.AsyncClient,
) -> None:
    loads = [(address, pinned) for address, pinned in await page_loads(gateway_http) if pinned]
    assert len(loads) == 6

    for address, pinned in loads:
        served = await gateway_http.get(urljoin("/graphql", address))
        assert served.status_code == 200, address
        digest = base64.b64encode(hashlib.sha384(served.content).digest()).decode()
        assert pinned == f"sha384-{digest}", address
        kind = "javascript" if address.endswith(".js") else "css"
        assert served.headers["content-type"] == f"text/{kind}; charset=utf-8"


async def test_a_file_already_held_is_answered_not_modified_and_others_not_found(
    gateway_http: httpx.AsyncClient,
) -> None:
    first = await gateway_http.get("/graphiql/graphiql.min.css")
    again = await gateway_http.get(
        "/graphiql/graphiql.min.css", headers={"if-none-match": first.headers["etag"]}
    )

    assert again.status_code == 304
    assert (await gateway_http.get("/graphiql/page.html")).status_code == 404


async def test_without_graphiql_neither_the_page_nor_its_files_are_served(
    migrated_postgres: str,
) -> None:
    app = create_app(unattached_settings(migrated_postgres, graphiql=False))
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=GATEWAY) as http:
            page = await http.get("/graphql", headers={"accept": "text/html"})
            assert not page.headers["content-type"].startswith("text/html")
            assert (await http.get("/graphiql/graphiql.min.js")).status_code == 404
    finally:
        await app.state.engine.dispose()
        await app.state.http.aclose()
