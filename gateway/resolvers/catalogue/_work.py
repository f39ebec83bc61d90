"""Reading works, and a work's end of life: withdrawal by its creator, review by an admin."""

import pydantic
import strawberry
from strawberry.types import Info

from gateway.context import Context
from gateway.resolvers.catalogue._inputs import (
    on_input_paths,
    owner_only,
    parse_work_id,
    work_search,
)
from gateway.types.catalogue import (
    ReviewWorkResult,
    SearchSort,
    UpdateWorkInput,
    UpdateWorkResult,
    WithdrawWorkResult,
    Work,
    WorkConnection,
    WorkFilter,
    WorkResult,
    WorkReviewed,
    WorksResult,
    WorkUpdated,
    WorkWithdrawn,
)
from gateway.types.errors import (
    REFUSALS,
    Conflict,
    Forbidden,
    NotFound,
    ValidationFailed,
    failure,
)
from services.contracts import catalogue as contract
from services.kit import errors


@strawberry.type
class WorkQuery:
    @strawberry.field(description="One work, if you may see it.")
    async def work(self, info: Info[Context, None], id: strawberry.ID) -> WorkResult:
        ctx = info.context
        try:
            ctx.require_principal()
            found = await ctx.loaders.works.load(parse_work_id(id))
            if found is None:
                raise errors.NotFound("no such work")
        except (errors.AssentError, pydantic.ValidationError) as error:
            return failure(error, NotFound, *REFUSALS)
        return Work.of(found)

    @strawberry.field(
        description="Search the catalogue: buyers see listed works; creators add mine: true "
        "for their own works in every state."
    )
    async def works(
        self,
        info: Info[Context, None],
        filter: WorkFilter | None = None,
        sort: SearchSort | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> WorksResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            page = await ctx.catalogue.search(principal, work_search(filter, sort, first, after))
        except (errors.AssentError, pydantic.ValidationError) as error:
            return failure(error, ValidationFailed, *REFUSALS)
        return WorkConnection(
            items=[Work.of(work) for work in page.items], next_cursor=page.next_cursor
        )


@strawberry.type
class WorkMutation:
    @strawberry.mutation(
        description="Change a work's title, description, tags or kind (its owner); each "
        "change is a new version of its details, kept in `Work.history`."
    )
    async def update_work(
        self, info: Info[Context, None], work_id: strawberry.ID, input: UpdateWorkInput
    ) -> UpdateWorkResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            update = contract.WorkUpdate.model_validate(
                {
                    "title": input.title,
                    "description": input.description,
                    "tags": input.tags,
                    "media_type": input.media_type,
                }
            )
            work = await ctx.catalogue.update_work(principal, parse_work_id(work_id), update)
        except (errors.AssentError, pydantic.ValidationError) as error:
            return failure(
                on_input_paths(owner_only(error)), ValidationFailed, NotFound, Conflict, *REFUSALS
            )
        return WorkUpdated(work=Work.of(work))

    @strawberry.mutation(
        description="Take a work out of future sales and bundles at once; licences "
        "already sold stay valid on their terms."
    )
    async def withdraw_work(
        self, info: Info[Context, None], work_id: strawberry.ID
    ) -> WithdrawWorkResult:
        ctx = info.context
        try:
            work = await ctx.catalogue.withdraw_work(
                ctx.require_principal(), parse_work_id(work_id)
            )
        except errors.AssentError as error:
            return failure(error, NotFound, Forbidden, *REFUSALS)
        return WorkWithdrawn(work=Work.of(work))

    @strawberry.mutation(description="Decide on a work flagged as a possible duplicate (admin).")
    async def review_work(
        self, info: Info[Context, None], work_id: strawberry.ID, accept: bool, note: str = ""
    ) -> ReviewWorkResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            decision = contract.ReviewDecision(accept=accept, note=note)
            work = await ctx.catalogue.review_work(principal, parse_work_id(work_id), decision)
        except (errors.AssentError, pydantic.ValidationError) as error:
            return failure(error, ValidationFailed, NotFound, Forbidden, Conflict, *REFUSALS)
        return WorkReviewed(work=Work.of(work))
