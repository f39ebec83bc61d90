"""Rate limits per API key and per client address, on a gateway of its own with a small
bucket (the shared fixtures keep the generous defaults)."""

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.accounts.service import account_service
from gateway.app import create_app
from gateway.config import Settings
from gateway.rate_limits import RateLimited, RateLimiter
from tests.fixtures.database import join_test_transaction
from tests.fixtures.internal_keys import key_settings

UNREACHABLE = "http://127.0.0.1:9"
ME = {"query": "{ me { __typename } }"}
DOWNLOAD = f"/downloads/00000000-0000-4000-8000-000000000001/{'a' * 32}"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _refused_after(limiter: RateLimiter, name: str) -> int:
    with pytest.raises(RateLimited) as refused:
        limiter.take(name)
    return refused.value.retry_after


def test_a_bucket_allows_its_burst_then_names_the_wait() -> None:
    limiter = RateLimiter(per_second=0.5, burst=3, clock=Clock())

    for _ in range(3):
        limiter.take("key:a")

    assert _refused_after(limiter, "key:a") == 2


def test_a_bucket_refills_at_its_rate_and_never_beyond_its_burst() -> None:
    clock = Clock()
    limiter = RateLimiter(per_second=2, burst=2, clock=clock)
    limiter.take("key:a")
    limiter.take("key:a")

    clock.now += 0.5
    limiter.take("key:a")
    with pytest.raises(RateLimited):
        limiter.take("key:a")
    clock.now += 3600
    limiter.take("key:a")
    limiter.take("key:a")

    assert _refused_after(limiter, "key:a") == 1


def test_buckets_are_separate() -> None:
    limiter = RateLimiter(per_second=1, burst=1, clock=Clock())
    limiter.take("key:a")

    limiter.take("key:b")
    limiter.take("address:10.0.0.1")

    assert _refused_after(limiter, "key:a") == 1


def test_buckets_left_to_fill_up_are_forgotten() -> None:
    clock = Clock()
    limiter = RateLimiter(per_second=10, burst=20, clock=clock)
    for number in range(1000):
        limiter.take(f"address:{number}")

    clock.now += 2
    limiter.take("key:a")

    assert len(limiter) == 1


@pytest.mark.parametrize(("per_second", "burst"), [(0, 1), (-1, 5), (1, 0)])
def test_a_limit_that_admits_nothing_is_refused(per_second: float, burst: int) -> None:
    with pytest.raises(ValueError, match="positive rate"):
        RateLimiter(per_second=per_second, burst=burst)


def test_the_defaults_are_generous() -> None:
    settings = Settings()

    # The benches drive up to 50 clients at once with one key each, and one key's
    # download of a bundle of small files is one request per file.
    assert settings.rate_limit_burst >= 500
    assert settings.rate_limit_per_second >= 500


@pytest.fixture
async def limited(
    migrated_postgres: str, gateway_session: AsyncSession
) -> AsyncIterator[tuple[httpx.AsyncClient, str, str]]:
    """A gateway allowing two requests in a burst and one every 100 s after, with two
    keys of one account."""
    settings = Settings(
        database_url=migrated_postgres,
        database_schema="gateway",
        **key_settings("gateway"),
        ASSENT_CATALOGUE_URL=UNREACHABLE,
        ASSENT_LICENSING_URL=UNREACHABLE,
        ASSENT_DELIVERY_URL=UNREACHABLE,
        ASSENT_AUDIT_URL=UNREACHABLE,
        rate_limit_per_second=0.01,
        rate_limit_burst=2,
    )
    app = create_app(settings)
    await join_test_transaction(app, gateway_session)
    async with app.state.sessionmaker() as session:
        first = await account_service.ensure_bootstrap_admin(session, None)
        assert first is not None
        principal = await account_service.authenticate(
            session, first, last_used_resolution=timedelta(0)
        )
        second = await account_service.create_key(session, principal, name="second")
        await session.commit()
    transport = httpx.ASGITransport(app=app, client=("192.0.2.10", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield client, first, second.secret
    await app.state.engine.dispose()
    await app.state.http.aclose()


def _bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


async def test_graphql_beyond_the_limit_is_429_with_a_retry_after(
    limited: tuple[httpx.AsyncClient, str, str],
) -> None:
    client, key, _ = limited

    answered = [await client.post("/graphql", json=ME, headers=_bearer(key)) for _ in range(3)]

    assert [response.status_code for response in answered] == [200, 200, 429]
    refused = answered[2]
    assert refused.headers["retry-after"] == "100"
    [error] = refused.json()["errors"]
    assert error["extensions"] == {"code": "RateLimited", "retryAfter": 100}
    assert "retry after 100 s" in error["message"]
    assert "data" not in refused.json()


async def test_each_key_has_its_own_bucket(limited: tuple[httpx.AsyncClient, str, str]) -> None:
    client, first, second = limited
    for _ in range(2):
        await client.post("/graphql", json=ME, headers=_bearer(first))

    other_key = await client.post("/graphql", json=ME, headers=_bearer(second))
    anonymous = await client.post("/graphql", json=ME)

    assert other_key.status_code == 200
    assert anonymous.status_code == 200
    assert anonymous.json()["data"]["me"]["__typename"] == "Unauthenticated"


async def test_anonymous_requests_and_wrong_keys_share_the_address_bucket(
    limited: tuple[httpx.AsyncClient, str, str],
) -> None:
    client, key, _ = limited

    anonymous = await client.post("/graphql", json=ME)
    wrong_key = await client.post("/graphql", json=ME, headers=_bearer("ak_" + "x" * 40))
    refused = await client.post("/graphql", json=ME)
    with_a_key = await client.post("/graphql", json=ME, headers=_bearer(key))

    # A wrong key is answered as no key is: the typed Unauthenticated, not an HTTP error.
    assert [anonymous.status_code, wrong_key.status_code] == [200, 200]
    assert wrong_key.json()["data"]["me"]["__typename"] == "Unauthenticated"
    assert refused.status_code == 429
    assert refused.json()["errors"][0]["extensions"]["code"] == "RateLimited"
    assert with_a_key.status_code == 200


async def test_download_links_count_and_are_refused_alike(
    limited: tuple[httpx.AsyncClient, str, str],
) -> None:
    client, key, _ = limited
    await client.post("/graphql", json=ME, headers=_bearer(key))

    # The link names no delivery: the first is counted, then answered as unavailable.
    counted = await client.get(DOWNLOAD, headers=_bearer(key))
    refused = await client.get(DOWNLOAD, headers=_bearer(key))

    assert counted.status_code != 429
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "100"
    assert refused.json()["error"] == "RateLimited"


async def test_health_checks_are_not_counted(
    limited: tuple[httpx.AsyncClient, str, str],
) -> None:
    client, _, _ = limited
    for _ in range(3):
        await client.post("/graphql", json=ME)

    answers = [(await client.get(path)).status_code for path in ("/healthz", "/readyz") * 3]

    assert answers == [200] * 6
