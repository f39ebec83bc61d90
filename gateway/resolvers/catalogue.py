import uuid
from collections.abc import Sequence

import pydantic
import strawberry
from strawberry.types import Info

from gateway.accounts.repository import AccountRepository
from gateway.context import Context
from gateway.types.catalogue import (
    CompleteUploadResult,
    ConsentInput,
    ConsentRecorded,
    ConsentResult,
    CreateWorkInput,
    CreateWorkResult,
    FileInput,
    OfferInput,
    OfferSet,
    PartInput,
    PartsPresigned,
    PresignedPart,
    PresignPartsResult,
    ReplaceFileResult,
    ReviewWorkResult,
    SearchSort,
    SetOfferResult,
    UploadCompleted,
    UploadRejected,
    UploadTarget,
    UploadTargetResult,
    VersionStarted,
    WithdrawWorkResult,
    Work,
    WorkConnection,
    WorkCreated,
    WorkFilter,
    WorkResult,
    WorkReviewed,
    WorksResult,
    WorkWithdrawn,
)
from gateway.types.catalogue import Consent as ConsentType
from gateway.types.catalogue import Offer as OfferType
from gateway.types.errors import (
    Conflict,
    ConsentRequired,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    Unauthenticated,
    ValidationFailed,
    failure,
)
from services.contracts import catalogue as contract
from services.contracts.roles import Role
from services.kit import errors

REFUSALS = (Unauthenticated, ServiceUnavailable)


def _owner_only(error: Exception) -> Exception:
    """A write on another account's work answers as for an unknown work, listed or not:
    the catalogue's 403 for a work the caller can see has no place in these payloads."""
    if isinstance(error, errors.Forbidden):
        return errors.NotFound("no such work")
    return error


def _work_id(value: strawberry.ID) -> uuid.UUID:
    """An id that is not a UUID names no work: the same answer as an unknown one."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise errors.NotFound("no such work") from None


def work_search(
    wanted: WorkFilter | None, sort: SearchSort | None, first: int, after: str | None
) -> contract.WorkSearch:
    wanted = wanted or WorkFilter()
    try:
        creator_id = uuid.UUID(str(wanted.creator_id)) if wanted.creator_id else None
    except ValueError:
        raise errors.InvalidRequest(
            "the filter is not valid",
            fields=[errors.FieldError("filter.creatorId", "not a valid id", "invalid")],
        ) from None
    return contract.WorkSearch(
        query=wanted.query,
        media_types=list(wanted.media_types),
        uses=list(wanted.uses),
        max_price_minor=wanted.max_price_minor,
        currency=wanted.currency,
        creator_id=creator_id,
        language=wanted.language,
        tags=list(wanted.tags),
        mine=wanted.mine,
        sort=sort,
        first=first,
        after=after,
    )


def _file(file: FileInput) -> contract.FileIn:
    return contract.FileIn(file_name=file.file_name, size=file.size, sha256=file.sha256)


# The file's fields travel beside the work's in the contract, under `file` in the input.
_FILE_FIELDS = frozenset({"fileName", "size", "sha256"})


def _camel(segment: str) -> str:
    head, *rest = segment.split("_")
    return head + "".join(word.title() for word in rest)


def _input_path(field: str) -> str:
    """A contract's field path (`shares.1.basis_points`) as the GraphQL input names it
    (`shares.1.basisPoints`), which is what a client can find in its own document."""
    segments = [_camel(segment) for segment in field.split(".")]
    if segments[0] in _FILE_FIELDS:
        segments.insert(0, "file")
    return ".".join(segments)


def _on_input_paths(error: Exception) -> Exception:
    """Field errors of the contract or of the catalogue, named by their input paths."""
    if isinstance(error, pydantic.ValidationError):
        fields = [
            errors.FieldError(
                ".".join(str(part) for part in detail["loc"]), detail["msg"], detail["type"]
            )
            for detail in error.errors()
        ]
        error = errors.InvalidRequest("the input is not valid", fields=fields)
    if isinstance(error, errors.InvalidRequest):
        return errors.InvalidRequest(
            error.detail,
            fields=[
                errors.FieldError(_input_path(f.field), f.message, f.code) for f in error.fields
            ],
        )
    return error


def _work_create(input: CreateWorkInput) -> contract.WorkCreate:
    return contract.WorkCreate.model_validate(
        {
            "title": input.title,
            "description": input.description,
            "media_type": input.media_type,
            "tags": list(input.tags),
            "language": input.language,
            "file_name": input.file.file_name,
            "size": input.file.size,
            "sha256": input.file.sha256,
            "shares": [
                {"creator_id": str(share.creator_id), "basis_points": share.basis_points}
                for share in input.shares
            ],
        }
    )


async def _confirmed_creators(ctx: Context, ids: Sequence[uuid.UUID]) -> list[contract.CreatorRead]:
    """Which of these accounts are creators, by the gateway's own accounts: the catalogue
    learns of an account through the outbox, a moment after it registered."""
    if not ids:
        return []
    async with ctx.db() as session:
        opened_here = not session.in_transaction()
        repository = AccountRepository(session)
        accounts = [await repository.get_with_roles(account_id) for account_id in ids]
        if opened_here:
            # Only this read is in the transaction: end it before the catalogue is called.
            await session.commit()
    return [
        contract.CreatorRead(id=account.id, name=account.name)
        for account in accounts
        if account is not None and Role.CREATOR in account.role_set
    ]


@strawberry.type
class CatalogueQuery:
    @strawberry.field(description="One work, if you may see it.")
    async def work(self, info: Info[Context, None], id: strawberry.ID) -> WorkResult:
        ctx = info.context
        try:
            ctx.require_principal()
            found = await ctx.loaders.works.load(_work_id(id))
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

    @strawberry.field(description="Where to send a pending file, and the parts already sent.")
    async def upload_target(
        self, info: Info[Context, None], work_id: strawberry.ID
    ) -> UploadTargetResult:
        ctx = info.context
        try:
            target = await ctx.catalogue.upload_target(ctx.require_principal(), _work_id(work_id))
        except errors.AssentError as error:
            return failure(error, NotFound, Conflict, *REFUSALS)
        return UploadTarget.of(target)


@strawberry.type
class CatalogueMutation:
    @strawberry.mutation(
        description="List a new work (creators). Answers with where to upload its file."
    )
    async def create_work(
        self, info: Info[Context, None], input: CreateWorkInput
    ) -> CreateWorkResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            work = _work_create(input)
            co_creators = [
                s.creator_id for s in work.shares if s.creator_id != principal.account_id
            ]
            confirmed = await _confirmed_creators(ctx, co_creators)
            created = await ctx.catalogue.create_work(
                principal, work.model_copy(update={"confirmed_creators": confirmed})
            )
        except (errors.AssentError, pydantic.ValidationError) as error:
            return failure(_on_input_paths(error), ValidationFailed, Forbidden, *REFUSALS)
        return WorkCreated(work=Work.of(created.work), upload=UploadTarget.of(created.upload))

    @strawberry.mutation(description="Presign the PUT of each part of a multipart upload.")
    async def presign_upload_parts(
        self, info: Info[Context, None], work_id: strawberry.ID, parts: list[PartInput]
    ) -> PresignPartsResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            wanted = contract.PartsIn(
                parts=[contract.PartIn(part_number=p.part_number, sha256=p.sha256) for p in parts]
            )
            presigned = await ctx.catalogue.presign_parts(principal, _work_id(work_id), wanted)
        except (errors.AssentError, pydantic.ValidationError) as error:
            return failure(error, ValidationFailed, NotFound, Conflict, *REFUSALS)
        return PartsPresigned(parts=[PresignedPart.of(part) for part in presigned])

    @strawberry.mutation(
        description="Check the uploaded file's size and sha256; a mismatch removes it."
    )
    async def complete_upload(
        self, info: Info[Context, None], work_id: strawberry.ID
    ) -> CompleteUploadResult:
        ctx = info.context
        try:
            result = await ctx.catalogue.complete_upload(ctx.require_principal(), _work_id(work_id))
        except errors.AssentError as error:
            return failure(error, NotFound, Conflict, *REFUSALS)
        if not result.completed:
            return UploadRejected(work=Work.of(result.work), reason=result.reason or "refused")
        return UploadCompleted(work=Work.of(result.work))

    @strawberry.mutation(
        description="Replace a work's file: a new version; licences keep their own version."
    )
    async def replace_work_file(
        self, info: Info[Context, None], work_id: strawberry.ID, file: FileInput
    ) -> ReplaceFileResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            target = await ctx.catalogue.new_version(principal, _work_id(work_id), _file(file))
        except (errors.AssentError, pydantic.ValidationError) as error:
            return failure(
                _on_input_paths(_owner_only(error)), ValidationFailed, NotFound, Conflict, *REFUSALS
            )
        return VersionStarted(upload=UploadTarget.of(target))

    @strawberry.mutation(
        description="Record your explicit opt-in for these uses. A new record each time: "
        "consent is never edited, only revised or withdrawn."
    )
    async def give_consent(
        self, info: Info[Context, None], work_id: strawberry.ID, input: ConsentInput
    ) -> ConsentResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            consent = contract.ConsentIn(
                uses=list(input.uses),
                statement_text=input.statement_text,
                statement_version=input.statement_version,
            )
            recorded = await ctx.catalogue.give_consent(principal, _work_id(work_id), consent)
        except (errors.AssentError, pydantic.ValidationError) as error:
            return failure(
                _on_input_paths(_owner_only(error)), ValidationFailed, NotFound, Conflict, *REFUSALS
            )
        return ConsentRecorded(consent=ConsentType.of(recorded))

    @strawberry.mutation(description="Withdraw consent: the work leaves sale at once.")
    async def withdraw_consent(
        self, info: Info[Context, None], work_id: strawberry.ID, statement_text: str = ""
    ) -> ConsentResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            withdrawal = contract.ConsentWithdrawIn(statement_text=statement_text)
            recorded = await ctx.catalogue.withdraw_consent(
                principal, _work_id(work_id), withdrawal
            )
        except (errors.AssentError, pydantic.ValidationError) as error:
            return failure(
                _on_input_paths(_owner_only(error)), ValidationFailed, NotFound, Conflict, *REFUSALS
            )
        return ConsentRecorded(consent=ConsentType.of(recorded))

    @strawberry.mutation(
        description="Set the price and terms; uses must be within your consent. Quotes "
        "already issued keep the price they locked."
    )
    async def set_offer(
        self, info: Info[Context, None], work_id: strawberry.ID, input: OfferInput
    ) -> SetOfferResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            terms = input.terms
            offer = contract.OfferIn(
                price_minor=input.price_minor,
                currency=input.currency,
                terms=contract.Terms(
                    uses=list(terms.uses),
                    commercial_use=terms.commercial_use,
                    attribution_required=terms.attribution_required,
                    territory=list(terms.territory),
                    duration_days=terms.duration_days,
                    exclusivity_days=terms.exclusivity_days,
                    max_models=terms.max_models,
                ),
            )
            published = await ctx.catalogue.set_offer(principal, _work_id(work_id), offer)
        except (errors.AssentError, pydantic.ValidationError) as error:
            return failure(
                _on_input_paths(_owner_only(error)),
                ValidationFailed,
                ConsentRequired,
                NotFound,
                Conflict,
                *REFUSALS,
            )
        return OfferSet(offer=OfferType.of(published))

    @strawberry.mutation(
        description="Take a work out of future sales and bundles at once; licences "
        "already sold stay valid on their terms."
    )
    async def withdraw_work(
        self, info: Info[Context, None], work_id: strawberry.ID
    ) -> WithdrawWorkResult:
        ctx = info.context
        try:
            work = await ctx.catalogue.withdraw_work(ctx.require_principal(), _work_id(work_id))
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
            work = await ctx.catalogue.review_work(principal, _work_id(work_id), decision)
        except (errors.AssentError, pydantic.ValidationError) as error:
            return failure(error, ValidationFailed, NotFound, Forbidden, Conflict, *REFUSALS)
        return WorkReviewed(work=Work.of(work))
