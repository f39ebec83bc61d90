import uuid

import strawberry
from strawberry.types import Info

from gateway.context import Context
from gateway.types.audit import (
    AuditCheckpoint,
    AuditCheckpointResult,
    LicenceChain,
    LicenceChainResult,
)
from gateway.types.errors import REFUSALS, Forbidden, NotFound, ValidationFailed, failure
from services.contracts.audit import ChainSubjectKind
from services.kit import errors


def _subject(
    work_id: strawberry.ID | None, licence_id: strawberry.ID | None
) -> tuple[ChainSubjectKind, uuid.UUID]:
    if (work_id is None) == (licence_id is None):
        raise errors.InvalidRequest(
            "name exactly one of workId and licenceId",
            fields=[
                errors.FieldError(field="workId", message="give workId or licenceId", code="one_of")
            ],
        )
    kind, value = (
        (ChainSubjectKind.WORK, work_id)
        if work_id is not None
        else (ChainSubjectKind.LICENCE, licence_id)
    )
    try:
        return kind, uuid.UUID(str(value))
    except ValueError:
        # An id that is not a UUID names nothing: the same answer as an unknown one.
        raise errors.NotFound(f"no chain for that {kind}") from None


@strawberry.type
class AuditQuery:
    @strawberry.field(
        description="The audit log's latest signed checkpoint (or the one of treeSize), with "
        "a consistency proof from an earlier size you kept (consistentWith)."
    )
    async def audit_checkpoint(
        self,
        info: Info[Context, None],
        tree_size: int | None = None,
        consistent_with: int | None = None,
    ) -> AuditCheckpointResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            found = await ctx.audit.checkpoint(
                principal, tree_size=tree_size, consistent_with=consistent_with
            )
        except errors.AssentError as error:
            return failure(error, NotFound, ValidationFailed, *REFUSALS)
        return AuditCheckpoint.of(found.checkpoint, found.consistency)

    @strawberry.field(
        description="The licence chain of a work (workId) or of a licence (licenceId): "
        "consent, offers, licences, payment and royalty split, deliveries, downloads and "
        "withdrawal, each entry with its inclusion proof against one signed checkpoint. "
        "Auditors and admins see every chain; a creator the chains of their own works; a "
        "buyer their own licences."
    )
    async def licence_chain(
        self,
        info: Info[Context, None],
        work_id: strawberry.ID | None = None,
        licence_id: strawberry.ID | None = None,
        tree_size: int | None = None,
        consistent_with: int | None = None,
    ) -> LicenceChainResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            kind, subject_id = _subject(work_id, licence_id)
            chain = await ctx.audit.chain(
                principal,
                kind,
                subject_id,
                tree_size=tree_size,
                consistent_with=consistent_with,
            )
        except errors.AssentError as error:
            return failure(error, NotFound, Forbidden, ValidationFailed, *REFUSALS)
        return LicenceChain.of(chain)
