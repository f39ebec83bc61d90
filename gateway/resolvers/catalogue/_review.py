"""The admins' review queue of works held as possible copies (decisions: `reviewWork`)."""

import pydantic
import strawberry
from strawberry.types import Info

from gateway.context import Context
from gateway.types.catalogue import HeldWork, ReviewQueue, ReviewQueueResult
from gateway.types.errors import REFUSALS, Forbidden, ValidationFailed, failure
from services.contracts import catalogue as contract
from services.kit import errors


@strawberry.type
class ReviewQuery:
    @strawberry.field(
        description="Works held for review as possible copies of another creator's work, "
        "oldest first, each with the works it resembles and the match scores (admins)."
    )
    async def review_queue(
        self, info: Info[Context, None], first: int = 20, after: str | None = None
    ) -> ReviewQueueResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            query = contract.ReviewQuery(
                first=max(1, min(first, contract.MAX_PAGE_SIZE)), after=after
            )
            page = await ctx.catalogue.review_queue(principal, query)
        except (errors.AssentError, pydantic.ValidationError) as error:
            # A cursor that is not one the service gave is refused as invalid.
            return failure(error, ValidationFailed, Forbidden, *REFUSALS)
        return ReviewQueue(
            items=[HeldWork.of(item) for item in page.items], next_cursor=page.next_cursor
        )
