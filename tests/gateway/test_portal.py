"""The creator portal as the gateway serves it: every file, the headers that keep a
signed-in page to itself, markup that works under its own policy, GraphQL operations that
match the schema, and object stores that accept the page's uploads."""

import hashlib
import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import graphql
import httpx
import pycountry
import pytest
from fastapi import FastAPI

from gateway.portal import PORTAL_PATH, portal_router, upload_origins
from storage import StorageSettings, create_object_store
from tests.fixtures.storage import REPO_ROOT, LocalObjectServer

STATIC = REPO_ROOT / "gateway" / "portal" / "static"
SCHEMA = REPO_ROOT / "gateway" / "schema.graphql"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


@pytest.fixture
async def portal_http(gateway_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=gateway_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        yield http


def policy(response: httpx.Response) -> dict[str, list[str]]:
    directives = response.headers["content-security-policy"].split(";")
    parsed = {}
    for directive in directives:
        name, *values = directive.split()
        parsed[name] = values
    return parsed


def assert_kept_to_itself(response: httpx.Response) -> None:
    csp = policy(response)
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["form-action"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


class Markup(HTMLParser):
    """What a policy without inline script or style would refuse, and what a reader needs."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.stylesheets: list[str] = []
        self.inline: list[str] = []
        self.ids: set[str] = set()
        self.labelled: set[str] = set()
        self.controls: list[dict[str, str | None]] = []
        self.forms: list[dict[str, str | None]] = []
        self.named: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if element_id := attributes.get("id"):
            self.ids.add(element_id)
        handlers = [name for name in attributes if name.startswith("on")]
        if handlers or "style" in attributes:
            self.inline.append(f"<{tag} {' '.join([*handlers, *attributes.keys()])}>")
        if tag == "script":
            self.scripts.append(attributes)
            self._in_script = True
        if tag == "style":
            self.inline.append("<style>")
        if tag == "link" and attributes.get("rel") in {"stylesheet", "icon"}:
            self.stylesheets.append(attributes["href"] or "")
        if tag == "label" and attributes.get("for"):
            self.labelled.add(attributes["for"] or "")
        if tag in {"input", "select", "textarea"}:
            self.controls.append(attributes)
        if tag == "form":
            self.forms.append(attributes)
        if "name" in attributes and tag in {"input", "select", "textarea"}:
            self.named.append(attributes.get("id") or tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append("inline script")


def parsed_page() -> Markup:
    markup = Markup()
    markup.feed((STATIC / "index.html").read_text())
    return markup


def module_imports(source: str) -> set[str]:
    return set(re.findall(r'from\s+"\./([\w/-]+\.js)"', source)) | set(
        re.findall(r'import\(\s*"\./([\w/-]+\.js)"\s*\)', source)
    )


def operations() -> dict[str, str]:
    """queries.js's operations with its ${...} fragments filled in, as the browser sends them."""
    source = (STATIC / "queries.js").read_text()
    values: dict[str, str] = {}
    for name, _quote, text in re.findall(r'const (\w+) = (["`])(.*?)\2;', source, re.DOTALL):
        for key, value in values.items():
            text = text.replace("${" + key + "}", value)
        assert "${" not in text, f"{name} uses an unknown fragment"
        values[name] = text
    return {name: text for name, text in values.items() if text.startswith(("query ", "mutation "))}


async def test_the_gateway_serves_the_portal_with_its_security_headers(
    portal_http: httpx.AsyncClient,
) -> None:
    page = await portal_http.get(f"{PORTAL_PATH}/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "<title>Assent · creator portal</title>" in page.text
    assert_kept_to_itself(page)
    assert page.headers["x-frame-options"] == "DENY"

    moved = await portal_http.get(PORTAL_PATH)
    assert moved.status_code == 308
    assert moved.headers["location"] == "portal/"


async def test_every_file_the_page_loads_is_served_with_its_type(
    portal_http: httpx.AsyncClient,
) -> None:
    markup = parsed_page()
    wanted = {str(script["src"]) for script in markup.scripts} | set(markup.stylesheets)
    seen: set[str] = set()
    while wanted - seen:
        name = sorted(wanted - seen)[0]
        seen.add(name)
        response = await portal_http.get(f"{PORTAL_PATH}/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"] == CONTENT_TYPES[Path(name).suffix], name
        assert_kept_to_itself(response)
        if name.endswith(".js"):
            wanted |= module_imports(response.text)
    # vendor/ holds libraries as their packages ship them, and where they came from.
    shipped = {
        str(path.relative_to(STATIC))
        for path in STATIC.rglob("*")
        if path.is_file() and path.name != "VENDORED.md"
    }
    assert seen == shipped - {"index.html"}, "a file is shipped that nothing loads"


async def test_an_unchanged_file_is_not_sent_again(portal_http: httpx.AsyncClient) -> None:
    first = await portal_http.get(f"{PORTAL_PATH}/main.js")
    again = await portal_http.get(
        f"{PORTAL_PATH}/main.js", headers={"if-none-match": first.headers["etag"]}
    )
    assert again.status_code == 304
    assert again.content == b""
    assert first.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize(
    "path", ["nothing.js", "..%2Fapp.py", "../app.py", "router.py", "__init__.py", "static"]
)
async def test_only_the_portals_own_files_are_served(
    portal_http: httpx.AsyncClient, path: str
) -> None:
    response = await portal_http.get(f"{PORTAL_PATH}/{path}")
    assert response.status_code == 404
    assert b"import" not in response.content


def test_the_page_runs_under_a_policy_without_inline_script_or_style() -> None:
    markup = parsed_page()
    assert markup.inline == []
    assert markup.scripts == [{"type": "module", "src": "main.js"}]
    for source in STATIC.glob("*.js"):
        text = source.read_text()
        # Refused by script-src 'self' and style-src 'self' at run time.
        assert "eval(" not in text
        assert "innerHTML" not in text, source.name
        assert 'setAttribute("style"' not in text, source.name


def test_no_form_can_put_the_key_in_a_url() -> None:
    markup = parsed_page()
    assert all("action" not in form and "method" not in form for form in markup.forms)
    # A control without a name is never submitted, whatever happens to the script.
    assert markup.named == []
    api_key = next(c for c in markup.controls if c.get("id") == "api-key")
    assert api_key["type"] == "password"
    main = (STATIC / "main.js").read_text() + (STATIC / "api.js").read_text()
    assert "sessionStorage" in main
    assert "localStorage" not in main
    assert "document.cookie" not in main


def test_every_control_has_a_label() -> None:
    markup = parsed_page()
    unlabelled = [c.get("id") for c in markup.controls if c.get("id") not in markup.labelled]
    assert unlabelled == []
    assert {"status", "alert"} <= markup.ids


def test_every_operation_the_portal_sends_matches_the_schema() -> None:
    schema = graphql.build_schema(SCHEMA.read_text())
    found = operations()
    assert {"ME", "MY_WORKS", "CREATE_WORK", "PRESIGN_PARTS", "EARNINGS", "CHAIN"} <= set(found)
    for name, text in found.items():
        problems = graphql.validate(schema, graphql.parse(text))
        assert problems == [], f"{name}: {problems}"


def storage(**settings: object) -> StorageSettings:
    return StorageSettings.model_validate(settings)


@pytest.mark.parametrize(
    ("settings", "origins"),
    [
        (
            {"backend": "local", "public_url": "http://127.0.0.1:8005/"},
            ("http://127.0.0.1:8005",),
        ),
        (
            {"backend": "s3", "s3_endpoint_url": "http://minio:9000"},
            ("http://minio:9000",),
        ),
        (
            {
                "backend": "s3",
                "s3_endpoint_url": "http://minio:9000",
                "s3_public_endpoint_url": "http://localhost:9000",
            },
            ("http://localhost:9000",),
        ),
        (
            {
                "backend": "s3",
                "s3_endpoint_url": "https://objects.example.org",
                "s3_addressing_style": "virtual",
            },
            ("https://objects.example.org", "https://*.objects.example.org"),
        ),
        ({"backend": "s3"}, ("https://*.amazonaws.com",)),
    ],
)
def test_uploads_may_go_to_the_configured_store_only(
    settings: dict[str, object], origins: tuple[str, ...]
) -> None:
    assert upload_origins(storage(**settings)) == origins


async def test_the_page_may_connect_to_its_gateway_and_its_store_and_nowhere_else() -> None:
    app = FastAPI()
    app.include_router(portal_router(storage(backend="s3", s3_endpoint_url="http://minio:9000")))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        page = await http.get(f"{PORTAL_PATH}/")
    assert policy(page)["connect-src"] == ["'self'", "http://minio:9000"]


async def test_the_local_object_server_takes_a_signed_put_from_the_portals_origin(
    local_object_server: LocalObjectServer,
) -> None:
    store = create_object_store(local_object_server.settings)
    content = b"a sketch of a pier"
    key = f"portal-test/{uuid.uuid4()}"
    put = await store.presign_put(
        key,
        expires_in=timedelta(minutes=5),
        content_length=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
    )
    gateway_origin = "http://127.0.0.1:8000"
    async with httpx.AsyncClient() as http:
        preflight = await http.options(
            put.url,
            headers={
                "origin": gateway_origin,
                "access-control-request-method": "PUT",
                "access-control-request-headers": "content-type",
            },
        )
        stored = await http.put(put.url, content=content, headers={"origin": gateway_origin})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "PUT" in preflight.headers["access-control-allow-methods"]
    assert stored.status_code == 200
    assert stored.headers["access-control-allow-origin"] == "*"
    info = await store.head(key)
    assert info.size == len(content)
    await store.close()


async def test_the_root_is_a_page_leading_to_the_portal_and_the_api(
    portal_http: httpx.AsyncClient,
) -> None:
    answered = await portal_http.get("/")

    assert answered.status_code == 200
    assert answered.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in answered.headers["content-security-policy"]
    assert 'href="/portal/"' in answered.text
    assert 'href="/graphql"' in answered.text


async def test_the_territory_picker_lists_every_country_the_catalogue_accepts(
    portal_http: httpx.AsyncClient,
) -> None:
    response = await portal_http.get(f"{PORTAL_PATH}/countries.json")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert_kept_to_itself(response)
    countries = response.json()
    assert {c["code"] for c in countries} == {c.alpha_2 for c in pycountry.countries}
    names = {c["code"]: c["name"] for c in countries}
    # The names people use, not the standard's formal ones.
    assert (names["BO"], names["GB"], names["DE"]) == ("Bolivia", "United Kingdom", "Germany")
    assert [c["name"] for c in countries][:2] == ["Afghanistan", "Åland Islands"]
