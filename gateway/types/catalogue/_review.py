"""The admins' review queue: works held as possible copies, beside the works they resemble."""

import uuid
from typing import Annotated

import strawberry
from strawberry.types import Info

from gateway.context import Context
from gateway.types.catalogue._work import Work
from gateway.types.errors import Forbidden, Refusals, ValidationFailed
from services.contracts import catalogue as contract

DuplicateKind = contract.DuplicateKind
strawberry.enum(DuplicateKind)


@strawberry.type(description="Another creator's work that a held work resembles.")
class DuplicateMatch:
    kind: DuplicateKind
    score: float = strawberry.field(description="1.0 for the same content, lower the less alike.")
    work_id: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, match: contract.DuplicateMatchRead) -> "DuplicateMatch":
        return cls(kind=match.kind, score=match.score, work_id=match.work_id)

    @strawberry.field(description="The work it resembles.")
    async def work(self, info: Info[Context, None]) -> Work | None:
        found = await info.context.loaders.works.load(self.work_id)
        return Work.of(found) if found is not None else None


@strawberry.type(description="A work held for review, and why.")
class HeldWork:
    work: Work
    reason: str = strawberry.field(description="Why it is held, as its creator reads it.")
    matches: list[DuplicateMatch] = strawberry.field(description="Best first.")

    @classmethod
    def of(cls, item: contract.ReviewItem) -> "HeldWork":
        return cls(
            work=Work.of(item.work),
            reason=item.reason,
            matches=[DuplicateMatch.of(match) for match in item.matches],
        )


@strawberry.type
class ReviewQueue:
    items: list[HeldWork]
    next_cursor: str | None


ReviewQueueResult = Annotated[
    ReviewQueue | ValidationFailed | Forbidden | Refusals, strawberry.union("ReviewQueueResult")
]
