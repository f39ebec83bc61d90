"""A creator signed in to the portal downloads a period's statement as a PDF from the
gateway: licensing and the catalogue in process, a real sale in the ledger, and the PDF's
words read back with pypdf. It says what the lab client's PDF of the same `earnings`
says; another creator's session gets only their own; no session, no PDF."""

import io
import secrets
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from pypdf import PdfReader
from sqlalchemy.ext.asyncio import AsyncSession

from assent.statements import EARNINGS, statement_of, statement_pdf, statement_variables
from gateway.accounts.service import account_service
from gateway.app import create_app as create_gateway_app
from gateway.config import Settings as GatewaySettings
from gateway.people.routes import CSRF_HEADER, SESSION_COOKIE
from gateway.people.secrets import PeopleSecrets
from gateway.people.service import People, SignedIn
from gateway.portal.statement import STATEMENT_PDF_PATH, pdf_filename
from services.contracts.roles import Role
from services.kit import app as services_kit_app
from services.kit.client import HttpxTransport
from tests.fixtures.database import join_test_transaction
from tests.fixtures.internal_keys import key_settings
from tests.gateway.test_fanout import ADMIN, catalogue_app, in_process, licensing_app, sessions
from tests.services.catalogue.helpers import Actor
from tests.services.licensing.helpers import Api as LicensingApi
from tests.services.licensing.helpers import listed_work

__all__ = ["catalogue_app", "licensing_app", "sessions"]

TITLE = "Harbour at dawn"
LAB = "Tidewater Lab"
# Paris in summer: the days in the file's name and the PDF are the creator's, not UTC's.
PARIS = timezone(timedelta(hours=2))


@dataclass
class Portal:
    http: httpx.AsyncClient
    people: People


@dataclass
class Creator:
    account_id: uuid.UUID
    signed: SignedIn


def pdf_text(body: bytes) -> str:
    """The words of every page, one space between each: a table cell wraps its lines."""
    pages = PdfReader(io.BytesIO(body)).pages
    return " ".join(" ".join(page.extract_text().split()) for page in pages)


def with_session(signed: SignedIn, *, csrf: bool = True) -> dict[str, str]:
    """What the portal's page sends: the cookie, and the session's CSRF token."""
    headers = {"cookie": f"{SESSION_COOKIE}={signed.token}"}
    if csrf:
        headers[CSRF_HEADER] = signed.csrf
    return headers


@pytest.fixture
async def portal(
    migrated_postgres: str,
    sessions: dict[str, AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    catalogue_app: FastAPI,
    licensing_app: FastAPI,
) -> AsyncIterator[Portal]:
    """The gateway in process with sign-in on, its calls reaching the services in process."""
    for app, schema in [(catalogue_app, "catalogue"), (licensing_app, "licensing")]:
        await join_test_transaction(app, sessions[schema])
    routed = in_process({"catalogue": catalogue_app, "licensing": licensing_app}, Counter())
    monkeypatch.setattr(services_kit_app, "new_transport", lambda: HttpxTransport(routed))
    secret = SecretStr(secrets.token_urlsafe(32))
    settings = GatewaySettings.model_validate(
        {
            "database_url": migrated_postgres,
            "database_schema": "gateway",
            "session_secret": secret,
            **key_settings("gateway"),
            "ASSENT_CATALOGUE_URL": "http://catalogue.test",
            "ASSENT_LICENSING_URL": "http://licensing.test",
            "ASSENT_DELIVERY_URL": "http://127.0.0.1:9",
            "ASSENT_AUDIT_URL": "http://127.0.0.1:9",
        }
    )
    app = create_gateway_app(settings)
    await join_test_transaction(app, sessions["gateway"])
    people = People(
        PeopleSecrets(secret), session_length=timedelta(days=1), link_length=timedelta(hours=1)
    )
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://gateway")
    try:
        yield Portal(http, people)
    finally:
        await http.aclose()
        await routed.aclose()
        await app.state.engine.dispose()


async def signed_in(
    portal: Portal, session: AsyncSession, name: str, role: Role = Role.CREATOR
) -> Creator:
    email = f"{name.split()[0].lower()}-{secrets.token_hex(4)}@studio.example"
    account, _ = await account_service.register(session, None, name=name, email=email, role=role)
    return Creator(account.id, await portal.people.start_session(session, account.id))


async def sold(sessions: dict[str, AsyncSession], licensing_app: FastAPI, creator: Creator) -> None:
    """A lab buys the creator's work for 20.00 EUR: 3.00 to the platform, 17.00 theirs."""
    owner = Actor(
        subject=str(creator.account_id), roles=frozenset({Role.CREATOR}), name="Ines Duarte"
    )
    lab = Actor(subject=str(uuid.uuid4()), roles=frozenset({Role.BUYER}), name=LAB)
    work_id = await listed_work(sessions["catalogue"], owner, price_minor=2_000, title=TITLE)
    transport = httpx.ASGITransport(app=licensing_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://licensing.test") as http:
        licensing = LicensingApi(http)
        await licensing.top_up(ADMIN, lab, 10_000)
        await licensing.bought(lab, (await licensing.quote_works(lab, [work_id]))["id"])


async def earnings(portal: Portal, creator: Creator, variables: dict[str, Any]) -> dict[str, Any]:
    """The same period's `earnings`, as the portal's page and the SDK ask for it."""
    answered = await portal.http.post(
        "/graphql",
        json={"query": EARNINGS, "variables": variables},
        headers=with_session(creator.signed),
    )
    assert answered.status_code == 200, answered.text
    node: dict[str, Any] = answered.json()["data"]["earnings"]
    assert node["__typename"] == "Earnings", node
    return node


async def test_a_creator_downloads_the_periods_statement_as_the_sdks_pdf(
    portal: Portal, sessions: dict[str, AsyncSession], licensing_app: FastAPI
) -> None:
    ines = await signed_in(portal, sessions["gateway"], "Ines Duarte")
    await sold(sessions, licensing_app, ines)
    today = datetime.now(PARIS).date()
    since = datetime(today.year, today.month, today.day, tzinfo=PARIS) - timedelta(days=3)
    until = since + timedelta(days=7)

    answered = await portal.http.get(
        STATEMENT_PDF_PATH,
        params={"since": since.isoformat(), "until": until.isoformat()},
        headers=with_session(ines.signed),
    )

    assert answered.status_code == 200, answered.text
    assert answered.headers["content-type"] == "application/pdf"
    assert answered.headers["content-disposition"] == (
        f'attachment; filename="assent-statement-{since.date()}-{until.date()}.pdf"'
    )
    assert answered.headers["cache-control"] == "no-store"
    text = pdf_text(answered.content)
    assert TITLE in text
    assert LAB in text
    assert f"period {since.date()} to {until.date()}" in text
    # The ledger's numbers: the price, the platform's 15 %, their 17.00, owed at the close.
    node = await earnings(portal, ines, statement_variables(since=since, until=until))
    [line] = node["lines"]
    assert (line["price"]["amountMinor"], line["platformFee"]["amountMinor"]) == (2_000, 300)
    assert line["amount"]["amountMinor"] == 1_700
    assert [(b["amountMinor"], b["currency"]) for b in node["closing"]] == [(1_700, "EUR")]
    assert "20.00 EUR" in text
    assert "17.00 EUR" in text
    assert "Closing, EUR 17.00" in text
    # Word for word what the lab client's PDF of the same answer says.
    sdk = statement_pdf(statement_of(node, since=since, until=until))
    assert text == pdf_text(sdk)


async def test_another_creators_session_gets_their_own_statement_and_a_lab_none(
    portal: Portal, sessions: dict[str, AsyncSession], licensing_app: FastAPI
) -> None:
    ines = await signed_in(portal, sessions["gateway"], "Ines Duarte")
    await sold(sessions, licensing_app, ines)
    omar = await signed_in(portal, sessions["gateway"], "Omar Haddad")

    answered = await portal.http.get(STATEMENT_PDF_PATH, headers=with_session(omar.signed))

    assert answered.status_code == 200, answered.text
    assert 'filename="assent-statement-start-now.pdf"' in answered.headers["content-disposition"]
    text = pdf_text(answered.content)
    assert f"Creator {omar.account_id}" in text
    assert str(ines.account_id) not in text
    assert TITLE not in text
    assert LAB not in text

    lab = await signed_in(portal, sessions["gateway"], "Tidewater Lab", Role.BUYER)
    refused = await portal.http.get(STATEMENT_PDF_PATH, headers=with_session(lab.signed))
    assert refused.status_code == 403
    assert refused.json()["detail"] == "statements are for creators: sign in as one"


async def test_without_a_live_session_and_its_csrf_token_no_pdf_is_made(
    portal: Portal, sessions: dict[str, AsyncSession], licensing_app: FastAPI
) -> None:
    ines = await signed_in(portal, sessions["gateway"], "Ines Duarte")
    await sold(sessions, licensing_app, ines)

    nobody = await portal.http.get(STATEMENT_PDF_PATH)
    cookie_alone = await portal.http.get(
        STATEMENT_PDF_PATH, headers=with_session(ines.signed, csrf=False)
    )
    await portal.people.sign_out(
        sessions["gateway"],
        await portal.people.principal(sessions["gateway"], ines.signed.token, ines.signed.csrf),
        everywhere=False,
    )
    ended = await portal.http.get(STATEMENT_PDF_PATH, headers=with_session(ines.signed))

    for refused in (nobody, cookie_alone, ended):
        assert refused.status_code == 401, refused.text
        assert refused.headers["content-type"] == "application/json"
        assert refused.json()["error"] == "Unauthenticated"
        assert TITLE not in refused.text
    assert "CSRF" in cookie_alone.json()["detail"]


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"since": "last Tuesday"}, "since", "is not a date and time"),
        ({"until": "2025-02-01T00:00:00"}, "until", "give the time zone"),
        (
            {"since": "2025-02-01T00:00:00+01:00", "until": "2025-01-01T00:00:00+01:00"},
            "until",
            "the period must end after it begins",
        ),
    ],
)
async def test_a_date_that_is_not_one_is_refused_in_words(
    portal: Portal,
    sessions: dict[str, AsyncSession],
    params: dict[str, str],
    field: str,
    words: str,
) -> None:
    ines = await signed_in(portal, sessions["gateway"], "Ines Duarte")

    refused = await portal.http.get(
        STATEMENT_PDF_PATH, params=params, headers=with_session(ines.signed)
    )

    assert refused.status_code == 400, refused.text
    assert words in refused.json()["detail"]
    assert [f["field"] for f in refused.json()["fields"]] == [field]


def test_the_days_in_the_name_are_those_of_the_offset_given() -> None:
    late = datetime(2025, 3, 31, 23, 30, tzinfo=UTC)
    assert pdf_filename(late.astimezone(PARIS), None) == "assent-statement-2025-04-01-now.pdf"
