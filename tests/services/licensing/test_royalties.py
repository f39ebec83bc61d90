"""Every unit of a price is paid to someone, and the same sale always pays the same people."""

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession

from services.licensing.ledger.royalties import Share, platform_fee, split
from tests.services.catalogue.helpers import Actor
from tests.services.licensing.helpers import Api, make_quote, quote_line, top_up

# Ordered so that the smallest id is not the first share: the tie-break must sort, not
# take the order given.
A = uuid.UUID("30000000-0000-0000-0000-000000000000")
B = uuid.UUID("10000000-0000-0000-0000-000000000000")
C = uuid.UUID("20000000-0000-0000-0000-000000000000")
THIRDS = [Share(A, 3333), Share(B, 3333), Share(C, 3334)]


@pytest.mark.parametrize(
    ("pool", "expected"),
    [
        (1, [0, 0, 1]),
        (2, [0, 1, 1]),
        (7, [2, 2, 3]),
        (100, [33, 33, 34]),
        (9999, [3333, 3333, 3333]),
        (10001, [3333, 3333, 3335]),
    ],
)
def test_three_co_creators_split_awkward_amounts_exactly(pool: int, expected: list[int]) -> None:
    royalties = split(pool, THIRDS)

    assert [r.amount_minor for r in royalties] == expected
    assert sum(expected) == pool
    assert [r.creator_id for r in royalties] == [A, B, C]


def test_a_tie_goes_to_the_larger_share_then_to_the_smaller_creator_id() -> None:
    # 1 unit, equal remainders: the larger share wins it.
    assert [r.amount_minor for r in split(1, [Share(A, 5000), Share(B, 2500), Share(C, 2500)])] == [
        1,
        0,
        0,
    ]
    # Equal shares and remainders: the smaller creator id wins.
    assert [r.amount_minor for r in split(1, [Share(A, 5000), Share(B, 5000)])] == [0, 1]


def test_the_largest_remainder_wins_over_the_larger_share() -> None:
    # 7.15 and 3.85: the smaller share's larger remainder takes the one unit left over.
    assert [r.amount_minor for r in split(11, [Share(A, 6500), Share(B, 3500)])] == [7, 4]


def test_shares_that_do_not_sum_to_the_whole_are_refused() -> None:
    with pytest.raises(ValueError, match="10000"):
        split(100, [Share(A, 5000), Share(B, 4000)])


@pytest.mark.parametrize(
    ("price", "fee"), [(1, 0), (2, 0), (7, 1), (100, 15), (9999, 1499), (10001, 1500)]
)
def test_the_platform_fee_is_rounded_down(price: int, fee: int) -> None:
    assert platform_fee(price, 1500) == fee
    assert platform_fee(price, 0) == 0


@settings(max_examples=200, deadline=None)
@given(
    pool=st.integers(min_value=0, max_value=10**15),
    points=st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=8),
)
def test_any_split_pays_the_whole_pool_within_one_unit_of_each_exact_share(
    pool: int, points: list[int]
) -> None:
    whole = sum(points)
    # Scale to 10000 basis points, the rounding error going to the first share.
    bps = [p * 10_000 // whole for p in points]
    bps[0] += 10_000 - sum(bps)
    shares = [Share(uuid.uuid4(), b) for b in bps if b > 0]
    if sum(s.basis_points for s in shares) != 10_000:
        return

    royalties = split(pool, shares)

    assert sum(r.amount_minor for r in royalties) == pool
    for royalty in royalties:
        exact = pool * royalty.basis_points / 10_000
        assert exact - 1 < royalty.amount_minor < exact + 1


@pytest.mark.parametrize("fee_bps", [0, 1500])
async def test_a_sale_pays_three_co_creators_exactly_on_awkward_prices(
    api: Api, session: AsyncSession, lab: Actor, admin: Actor, fee_bps: int
) -> None:
    prices = [1, 2, 7, 100, 9999, 10001]
    quote_id = await make_quote(
        session,
        lab.id,
        [
            quote_line(
                price, [(share.creator_id, share.basis_points) for share in THIRDS], fee_bps=fee_bps
            )
            for price in prices
        ],
    )
    await top_up(session, lab.id, sum(prices))

    licence = await api.bought(lab, str(quote_id))

    fees = [platform_fee(price, fee_bps) for price in prices]
    expected = [split(p - f, THIRDS) for p, f in zip(prices, fees, strict=True)]
    for index, creator in enumerate((A, B, C)):
        owed = await api.ok(admin, "GET", "/v1/balances", params={"owner_id": str(creator)})
        assert [b["balance_minor"] for b in owed] == [sum(r[index].amount_minor for r in expected)]
    creators_total = sum(r.amount_minor for royalties in expected for r in royalties)
    assert creators_total + sum(fees) == sum(prices) == licence["total_minor"]
    assert licence["platform_fee_minor"] == sum(fees)
    check = await api.ok(admin, "GET", "/v1/ledger/check")
    assert check["unbalanced_transactions"] == []
    assert check["totals"] == {"EUR": 0}
