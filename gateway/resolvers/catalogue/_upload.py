"""Listing a work and sending its file: whole or in parts, then checked; a new version
replaces it later."""

import uuid
from collections.abc import Sequence

import pydantic
import strawberry
from strawberry.types import Info

from gateway.accounts.repository import AccountRepository
from gateway.context import Context
from gateway.resolvers.catalogue._inputs import on_input_paths, owner_only, parse_work_id
from gateway.types.catalogue import (
    CompleteUploadResult,
    CreateWorkInput,
    CreateWorkResult,
    FileInput,
    PartInput,
    PartsPresigned,
    PresignedPart,
    PresignPartsResult,
    ReplaceFileResult,
    UploadCompleted,
    UploadRejected,
    UploadTarget,
    UploadTargetResult,
    VersionStarted,
    Work,
    WorkCreated,
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
from services.contracts.roles import Role
from services.kit import errors


def _file(file: FileInput) -> contract.FileIn:
    return contract.FileIn(file_name=file.file_name, size=file.size, sha256=file.sha256)


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
class UploadQuery:
    @strawberry.field(description="Where to send a pending file, and the parts already sent.")
    async def upload_target(
        self, info: Info[Context, None], work_id: strawberry.ID
    ) -> UploadTargetResult:
        ctx = info.context
        try:
            target = await ctx.catalogue.upload_target(
                ctx.require_principal(), parse_work_id(work_id)
            )
        except errors.AssentError as error:
            return failure(error, NotFound, Conflict, *REFUSALS)
        return UploadTarget.of(target)


@strawberry.type
class UploadMutation:
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
            return failure(on_input_paths(error), ValidationFailed, Forbidden, *REFUSALS)
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
            presigned = await ctx.catalogue.presign_parts(principal, parse_work_id(work_id), wanted)
        except (errors.AssentError, pydantic.ValidationError) as error:
            return failure(error, ValidationFailed, NotFound, Conflict, *REFUSALS)
        return PartsPresigned(parts=[PresignedPart.of(part) for part in presigned])

    @strawberry.mutation(
        description="Check the uploaded file's size and sha256 (a mismatch removes it) and "
        "make its preview; an image work's damaged picture is ValidationFailed on `file`, "
        "the upload left open for another file."
    )
    async def complete_upload(
        self, info: Info[Context, None], work_id: strawberry.ID
    ) -> CompleteUploadResult:
        ctx = info.context
        try:
            result = await ctx.catalogue.complete_upload(
                ctx.require_principal(), parse_work_id(work_id)
            )
        except errors.AssentError as error:
            return failure(error, ValidationFailed, NotFound, Conflict, *REFUSALS)
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
            target = await ctx.catalogue.new_version(principal, parse_work_id(work_id), _file(file))
        except (errors.AssentError, pydantic.ValidationError) as error:
            return failure(
                on_input_paths(owner_only(error)), ValidationFailed, NotFound, Conflict, *REFUSALS
            )
        return VersionStarted(upload=UploadTarget.of(target))
