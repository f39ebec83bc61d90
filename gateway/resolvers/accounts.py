import asyncio
import uuid

import strawberry
from strawberry.types import Info

from gateway.accounts.service import account_service
from gateway.clients.services import SERVICE_NAMES
from gateway.context import Context
from gateway.types.accounts import (
    AccountRole,
    AccountType,
    ApiKeyCreated,
    ApiKeyRevoked,
    ApiKeyType,
    CreateApiKeyResult,
    CreatedApiKey,
    GrantRoleResult,
    MeResult,
    OrganisationVerified,
    Registered,
    RegisterInput,
    RegisterResult,
    RevokeApiKeyResult,
    RoleGranted,
    VerifyOrganisationResult,
)
from gateway.types.errors import (
    REFUSALS,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    ValidationFailed,
    failure,
)
from gateway.types.status import (
    ServiceHealth,
    ServiceHealthResult,
    SystemStatus,
    SystemStatusResult,
)
from services.contracts.roles import Role
from services.kit import errors


def _parse_id(value: strawberry.ID) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


@strawberry.type
class AccountQuery:
    @strawberry.field(description="The account the API key belongs to.")
    async def me(self, info: Info[Context, None]) -> MeResult:
        try:
            principal = info.context.require_principal()
        except errors.AssentError as error:
            return failure(error, *REFUSALS)
        return AccountType.of(principal.account)

    @strawberry.field(description="Each service's schema revision and outbox backlog (admin).")
    async def system_status(self, info: Info[Context, None]) -> SystemStatusResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
        except errors.AssentError as error:
            return failure(error, *REFUSALS)
        if not principal.has(Role.ADMIN):
            return Forbidden(message="only an admin may see the system status")

        async def one(name: str) -> ServiceHealthResult:
            try:
                return ServiceHealth.of(await ctx.services.status(name, principal))
            except errors.ServiceUnavailable as error:
                return ServiceUnavailable(message=error.detail, service=name)

        return SystemStatus(services=list(await asyncio.gather(*map(one, SERVICE_NAMES))))


@strawberry.type
class AccountMutation:
    @strawberry.mutation(description="Open an account; answers with its first API key, once.")
    async def register(self, info: Info[Context, None], input: RegisterInput) -> RegisterResult:
        ctx = info.context
        try:
            async with ctx.atomic() as session:
                account, issued = await account_service.register(
                    session,
                    ctx.principal,
                    name=input.name,
                    email=input.email,
                    role=Role(input.role.value),
                )
        except errors.AssentError as error:
            return failure(error, ValidationFailed, Forbidden, ServiceUnavailable)
        return Registered(
            account=AccountType.of(account),
            api_key=CreatedApiKey(key=ApiKeyType.of(issued.key), secret=issued.secret),
        )

    @strawberry.mutation(description="A new API key for the caller's account, shown once.")
    async def create_api_key(self, info: Info[Context, None], name: str) -> CreateApiKeyResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            async with ctx.atomic() as session:
                issued = await account_service.create_key(session, principal, name=name)
        except errors.AssentError as error:
            return failure(error, ValidationFailed, *REFUSALS)
        return ApiKeyCreated(
            api_key=CreatedApiKey(key=ApiKeyType.of(issued.key), secret=issued.secret)
        )

    @strawberry.mutation(description="Revoke one of the caller's API keys at once.")
    async def revoke_api_key(
        self, info: Info[Context, None], id: strawberry.ID
    ) -> RevokeApiKeyResult:
        ctx = info.context
        key_id = _parse_id(id)
        try:
            principal = ctx.require_principal()
            if key_id is None:
                raise errors.NotFound("no such API key on this account")
            async with ctx.atomic() as session:
                key = await account_service.revoke_key(session, principal, key_id)
            revoked_id = key.id
            ctx.after_commit(lambda: ctx.principals.forget_key(revoked_id))
        except errors.AssentError as error:
            return failure(error, NotFound, *REFUSALS)
        return ApiKeyRevoked(key=ApiKeyType.of(key))

    @strawberry.mutation(description="Give an account another role (admin).")
    async def grant_role(
        self, info: Info[Context, None], account_id: strawberry.ID, role: AccountRole
    ) -> GrantRoleResult:
        ctx = info.context
        target = _parse_id(account_id)
        try:
            principal = ctx.require_principal()
            if target is None:
                raise errors.NotFound("no such account")
            async with ctx.atomic() as session:
                account = await account_service.grant_role(
                    session, principal, target, Role(role.value)
                )
            ctx.after_commit(lambda: ctx.principals.forget_account(target))
        except errors.AssentError as error:
            return failure(error, NotFound, Forbidden, *REFUSALS)
        return RoleGranted(account=AccountType.of(account))

    @strawberry.mutation(
        description="Confirm the organisation an account acts for, its papers checked "
        "(admin). Logged in the audit log: chain exports name the account by it."
    )
    async def verify_organisation(
        self, info: Info[Context, None], account_id: strawberry.ID, name: str
    ) -> VerifyOrganisationResult:
        ctx = info.context
        target = _parse_id(account_id)
        try:
            principal = ctx.require_principal()
            if not principal.has(Role.ADMIN):
                raise errors.Forbidden("only an admin may confirm an organisation")
            if target is None:
                raise errors.NotFound("no such account")
            async with ctx.atomic() as session:
                account, verified = await account_service.verify_organisation(
                    session, principal, target, name=name
                )
        except errors.AssentError as error:
            return failure(error, ValidationFailed, NotFound, Forbidden, *REFUSALS)
        return OrganisationVerified(
            account=AccountType.of(account),
            organisation=verified.value,
            verified_at=verified.verified_at,
        )
