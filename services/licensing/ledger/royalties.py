"""How one line's price divides between the platform and the work's co-creators.

The platform takes `fee_bps` of the price, rounded down. The rest (the pool) is split by
the co-creators' basis points with the largest-remainder method: each share first gets
floor(pool * bps / 10000); the few units left over go one each to the shares with the
largest fractional remainders, ties broken by the larger share, then by the smaller
creator id (as a UUID string). Every unit of the price is thus paid to someone, and the
same inputs always pay the same people.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from services.contracts.catalogue import BASIS_POINTS_WHOLE


@dataclass(frozen=True)
class Share:
    creator_id: uuid.UUID
    basis_points: int


@dataclass(frozen=True)
class Royalty:
    creator_id: uuid.UUID
    basis_points: int
    amount_minor: int


def platform_fee(price_minor: int, fee_bps: int) -> int:
    return price_minor * fee_bps // BASIS_POINTS_WHOLE


def split(pool_minor: int, shares: Sequence[Share]) -> list[Royalty]:
    """Each share's part of `pool_minor`, in the order given; the parts sum to the pool."""
    if sum(share.basis_points for share in shares) != BASIS_POINTS_WHOLE:
        raise ValueError("co-creator shares must sum to 10000 basis points")
    exact = [pool_minor * share.basis_points for share in shares]
    amounts = [value // BASIS_POINTS_WHOLE for value in exact]
    leftover = pool_minor - sum(amounts)
    ranked = sorted(
        range(len(shares)),
        key=lambda index: (
            -(exact[index] % BASIS_POINTS_WHOLE),
            -shares[index].basis_points,
            str(shares[index].creator_id),
        ),
    )
    for index in ranked[:leftover]:
        amounts[index] += 1
    return [
        Royalty(share.creator_id, share.basis_points, amount)
        for share, amount in zip(shares, amounts, strict=True)
    ]
