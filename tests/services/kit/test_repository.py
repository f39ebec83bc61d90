import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.accounts.models import Account, ApiKey
from services.kit.errors import InvalidRequest
from services.kit.repository import Page, Repository, encode_cursor

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class KeyRepository(Repository[ApiKey]):
    model = ApiKey

    async def page(
        self, account: Account, *, after: str | None, limit: int, descending: bool = False
    ) -> Page[ApiKey]:
        return await self.paginate(
            select(ApiKey).where(ApiKey.account_id == account.id),
            order_by=[ApiKey.created_at, ApiKey.id],
            after=after,
            limit=limit,
            descending=descending,
        )


async def create_account(session: AsyncSession, *, name: str = "Lab") -> Account:
    account = Account(name=name, email=f"{uuid.uuid4().hex}@example.org")
    session.add(account)
    await session.flush()
    return account


async def create_api_key(
    session: AsyncSession, *, account: Account, created_at: datetime, name: str = "key"
) -> ApiKey:
    key = ApiKey(
        account_id=account.id,
        name=name,
        prefix="assent_" + uuid.uuid4().hex[:8],
        secret_hash=uuid.uuid4().hex * 2,
        created_at=created_at,
    )
    session.add(key)
    await session.flush()
    return key


async def _keys(session: AsyncSession, account: Account, count: int) -> list[ApiKey]:
    """`count` keys, several sharing a creation time, in (created_at, id) order."""
    keys = [
        await create_api_key(
            session, account=account, created_at=T0 + timedelta(minutes=index // 3), name=str(index)
        )
        for index in range(count)
    ]
    return sorted(keys, key=lambda key: (key.created_at, key.id))


async def _walk(
    repository: KeyRepository, account: Account, *, limit: int, descending: bool = False
) -> list[list[ApiKey]]:
    pages: list[list[ApiKey]] = []
    cursor: str | None = None
    while True:
        page = await repository.page(account, after=cursor, limit=limit, descending=descending)
        pages.append(page.items)
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor
        assert len(pages) < 50, "pagination does not end"


async def test_pages_cover_every_row_once_in_order(gateway_session: AsyncSession) -> None:
    account = await create_account(gateway_session)
    # Another account's keys must not leak into the pages.
    other = await create_account(gateway_session, name="Other")
    await _keys(gateway_session, other, 4)
    expected = await _keys(gateway_session, account, 11)

    pages = await _walk(KeyRepository(gateway_session), account, limit=4)

    assert [len(page) for page in pages] == [4, 4, 3]
    walked = [key.id for page in pages for key in page]
    assert walked == [key.id for key in expected]
    assert len(set(walked)) == len(walked)


async def test_descending_pages_run_newest_first(gateway_session: AsyncSession) -> None:
    account = await create_account(gateway_session)
    expected = await _keys(gateway_session, account, 7)

    pages = await _walk(KeyRepository(gateway_session), account, limit=3, descending=True)

    assert [len(page) for page in pages] == [3, 3, 1]
    assert [key.id for page in pages for key in page] == [key.id for key in reversed(expected)]


async def test_exact_multiple_of_the_limit_ends_without_an_empty_page(
    gateway_session: AsyncSession,
) -> None:
    account = await create_account(gateway_session)
    await _keys(gateway_session, account, 6)

    pages = await _walk(KeyRepository(gateway_session), account, limit=3)

    assert [len(page) for page in pages] == [3, 3]


async def test_no_rows_gives_one_empty_last_page(gateway_session: AsyncSession) -> None:
    account = await create_account(gateway_session)

    page = await KeyRepository(gateway_session).page(account, after=None, limit=10)

    assert page.items == []
    assert page.next_cursor is None


async def test_rows_added_before_the_cursor_do_not_shift_later_pages(
    gateway_session: AsyncSession,
) -> None:
    account = await create_account(gateway_session)
    expected = await _keys(gateway_session, account, 6)
    repository = KeyRepository(gateway_session)

    first = await repository.page(account, after=None, limit=3)
    await create_api_key(gateway_session, account=account, created_at=T0 - timedelta(days=1))
    second = await repository.page(account, after=first.next_cursor, limit=3)

    assert [key.id for key in first.items + second.items] == [key.id for key in expected]


@pytest.mark.parametrize("limit", [0, -1, 101])
async def test_limit_outside_1_to_100_is_refused(gateway_session: AsyncSession, limit: int) -> None:
    account = await create_account(gateway_session)

    with pytest.raises(InvalidRequest, match="between 1 and 100"):
        await KeyRepository(gateway_session).page(account, after=None, limit=limit)


@pytest.mark.parametrize("limit", [1, 100])
async def test_limit_bounds_are_accepted(gateway_session: AsyncSession, limit: int) -> None:
    account = await create_account(gateway_session)
    await _keys(gateway_session, account, 2)

    page = await KeyRepository(gateway_session).page(account, after=None, limit=limit)

    assert len(page.items) == min(limit, 2)


def _raw_cursor(values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


NOW = {"dt": "2026-03-01T09:00:00+00:00"}
AN_ID = {"uuid": "6f1c0b7e-4f0e-4a51-9d51-2b0a2f7c3e11"}


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param("not a cursor!", id="not-base64"),
        pytest.param(base64.urlsafe_b64encode(b"\xff\xfe").decode(), id="not-json"),
        pytest.param(_raw_cursor({"created_at": NOW}), id="not-a-list"),
        pytest.param(_raw_cursor([NOW]), id="too-few-values"),
        pytest.param(_raw_cursor([NOW, AN_ID, AN_ID]), id="too-many-values"),
        pytest.param(_raw_cursor([NOW, {"uuid": "not-a-uuid"}]), id="bad-uuid"),
        pytest.param(_raw_cursor([{"dt": "yesterday"}, AN_ID]), id="bad-time"),
        pytest.param(_raw_cursor([{"when": "now"}, AN_ID]), id="unknown-tag"),
        pytest.param(_raw_cursor([[1, 2], AN_ID]), id="nested-list"),
    ],
)
async def test_garbage_cursor_is_refused(gateway_session: AsyncSession, cursor: str) -> None:
    account = await create_account(gateway_session)

    with pytest.raises(InvalidRequest, match="the cursor is not valid"):
        await KeyRepository(gateway_session).page(account, after=cursor, limit=10)


async def test_cursor_round_trips_its_values(gateway_session: AsyncSession) -> None:
    account = await create_account(gateway_session)
    keys = await _keys(gateway_session, account, 3)
    cursor = encode_cursor([keys[0].created_at, keys[0].id])

    page = await KeyRepository(gateway_session).page(account, after=cursor, limit=10)

    assert [key.id for key in page.items] == [key.id for key in keys[1:]]


async def test_repository_create_and_get(gateway_session: AsyncSession) -> None:
    account = await create_account(gateway_session)
    repository = KeyRepository(gateway_session)

    created = await repository.create(
        ApiKey(account_id=account.id, name="ci", prefix="assent_abcdefgh", secret_hash="f" * 64)
    )

    assert await repository.get(created.id) is created
    assert await repository.get(uuid.uuid4()) is None
    assert created.created_at.tzinfo is not None


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param(_raw_cursor([{"dt": "2026-03-01T09:00:00"}, AN_ID]), id="naive-time"),
        pytest.param(_raw_cursor(["2026-03-01T09:00:00+00:00", AN_ID]), id="untagged-time"),
        pytest.param(_raw_cursor([AN_ID, NOW]), id="values-swapped"),
        pytest.param(_raw_cursor([12, AN_ID]), id="number-for-a-time"),
    ],
)
async def test_cursor_values_that_do_not_fit_the_columns_are_refused(
    gateway_session: AsyncSession, cursor: str
) -> None:
    account = await create_account(gateway_session)

    with pytest.raises(InvalidRequest, match="the cursor is not valid"):
        await KeyRepository(gateway_session).page(account, after=cursor, limit=10)
