"""Purchases with the ledger accounts cache on and off, on a database they really commit
to (a rolled-back test transaction turns the cache off by itself)."""

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.contracts.licensing import LedgerAccountKind
from services.contracts.roles import Role
from services.kit.migrations import upgrade
from services.licensing.app import create_app
from services.licensing.ledger.known_accounts import KnownAccounts
from services.licensing.models import AccountKey
from services.stack import SERVICES
from tests.fixtures.database import fresh_database
from tests.services.catalogue.helpers import Actor
from tests.services.licensing.helpers import Api, licensing_settings, make_quote, quote_line

MIGRATIONS = next(c for c in SERVICES if c.name == "licensing").migrations


@pytest.fixture(scope="module")
def committed_database(postgres_server: str) -> Iterator[str]:
    assert MIGRATIONS is not None
    for url in fresh_database(postgres_server, "licensing_known_accounts"):
        upgrade(MIGRATIONS, url, "licensing")
        yield url


@pytest.fixture(params=[True, False], ids=["cache on", "cache off"])
async def known_accounts(request: pytest.FixtureRequest) -> KnownAccounts:
    return KnownAccounts(enabled=request.param)


@pytest.fixture
async def committing_app(
    committed_database: str, known_accounts: KnownAccounts
) -> AsyncIterator[FastAPI]:
    app = create_app(
        licensing_settings(committed_database, "licensing"), known_accounts=known_accounts
    )
    yield app
    await app.state.http.aclose()
    await app.state.engine.dispose()


def _actor(name: str, role: Role) -> Actor:
    return Actor(str(uuid.uuid4()), frozenset({role}), name)


async def test_a_buyers_second_sale_skips_only_the_accounts_the_first_committed(
    committing_app: FastAPI, known_accounts: KnownAccounts
) -> None:
    """With the cache on, the second sale writes only the co-creator new to it; either way
    both sales are charged, paid out and balanced."""
    sessions: async_sessionmaker[AsyncSession] = committing_app.state.sessionmaker
    buyer, admin = _actor("Cached Lab", Role.BUYER), _actor("Admin", Role.ADMIN)
    creator, newcomer = uuid.uuid4(), uuid.uuid4()
    async with sessions() as session:
        first = await make_quote(session, buyer.id, [quote_line(1000, [(creator, 10_000)])])
        second = await make_quote(
            session, buyer.id, [quote_line(600, [(creator, 5000), (newcomer, 5000)])]
        )
        await session.commit()

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=committing_app), base_url="http://licensing.internal"
    ) as http:
        api = Api(http)
        await api.top_up(admin, buyer, 2000)
        await api.ok(
            buyer,
            "POST",
            "/v1/purchases",
            json={"quote_id": str(first), "idempotency_key": "first"},
        )
        async with sessions() as session:
            known_after_first = {
                owner: known_accounts.knows(session, AccountKey(kind, owner, "EUR").id)
                for kind, owner in [
                    (LedgerAccountKind.BUYER_BALANCE, buyer.id),
                    (LedgerAccountKind.CREATOR_PAYABLE, creator),
                    (LedgerAccountKind.CREATOR_PAYABLE, newcomer),
                ]
            }
        await api.ok(
            buyer,
            "POST",
            "/v1/purchases",
            json={"quote_id": str(second), "idempotency_key": "second"},
        )
        balances = await api.ok(buyer, "GET", "/v1/balances")
        earnings = await api.ok(admin, "GET", "/v1/balances", params={"owner_id": str(newcomer)})
        check = await api.ok(admin, "GET", "/v1/ledger/check")

    on = known_accounts.enabled
    assert known_after_first == {buyer.id: on, creator: on, newcomer: False}
    assert [balance["balance_minor"] for balance in balances] == [2000 - 1000 - 600]
    assert [balance["balance_minor"] for balance in earnings] == [(600 - 90) // 2]
    assert check["unbalanced_transactions"] == []
    assert check["balance_mismatches"] == []
