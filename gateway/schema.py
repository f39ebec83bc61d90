import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import strawberry
from graphql import ASTValidationRule
from graphql.error import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.disable_introspection import DisableIntrospection
from strawberry.extensions.max_aliases import create_validator as alias_limit_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_limit_rule
from strawberry.types import Info

from gateway.accounts.service import account_service
from gateway.clients.services import SERVICE_NAMES
from gateway.config import Settings
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
    Registered,
    RegisterInput,
    RegisterResult,
    RevokeApiKeyResult,
    RoleGranted,
)
from gateway.types.errors import (
    Forbidden,
    NotFound,
    ServiceUnavailable,
    Unauthenticated,
    ValidationFailed,
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
class Query:
    @strawberry.field(description="The account the API key belongs to.")
    async def me(self, info: Info[Context, None]) -> MeResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
        except errors.Unauthenticated as error:
            return Unauthenticated.of(error)
        return AccountType.of(principal.account)

    @strawberry.field(description="Each service's schema revision and outbox backlog (admin).")
    async def system_status(self, info: Info[Context, None]) -> SystemStatusResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
        except errors.Unauthenticated as error:
            return Unauthenticated.of(error)
        if not principal.has(Role.ADMIN):
            return Forbidden(message="only an admin may see the system status")

        async def one(name: str) -> ServiceHealthResult:
            try:
                return ServiceHealth.of(await ctx.services.status(name, principal))
            except errors.ServiceUnavailable as error:
                return ServiceUnavailable(message=error.detail, service=name)

        return SystemStatus(services=list(await asyncio.gather(*map(one, SERVICE_NAMES))))


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Open an account; answers with its first API key, once.")
    async def register(self, info: Info[Context, None], input: RegisterInput) -> RegisterResult:
        ctx = info.context
        try:
            account, issued = await account_service.register(
                ctx.session,
                ctx.principal,
                name=input.name,
                email=input.email,
                role=Role(input.role.value),
            )
        except errors.InvalidRequest as error:
            await ctx.rollback()
            return ValidationFailed.of(error)
        except errors.Forbidden as error:
            await ctx.rollback()
            return Forbidden.of(error)
        return Registered(
            account=AccountType.of(account),
            api_key=CreatedApiKey(key=ApiKeyType.of(issued.key), secret=issued.secret),
        )

    @strawberry.mutation(description="A new API key for the caller's account, shown once.")
    async def create_api_key(self, info: Info[Context, None], name: str) -> CreateApiKeyResult:
        ctx = info.context
        try:
            issued = await account_service.create_key(
                ctx.session, ctx.require_principal(), name=name
            )
        except errors.Unauthenticated as error:
            return Unauthenticated.of(error)
        except errors.InvalidRequest as error:
            await ctx.rollback()
            return ValidationFailed.of(error)
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
            key = await account_service.revoke_key(ctx.session, principal, key_id)
        except errors.Unauthenticated as error:
            return Unauthenticated.of(error)
        except errors.NotFound as error:
            return NotFound.of(error)
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
            account = await account_service.grant_role(
                ctx.session, principal, target, Role(role.value)
            )
        except errors.Unauthenticated as error:
            return Unauthenticated.of(error)
        except errors.Forbidden as error:
            return Forbidden.of(error)
        except errors.NotFound as error:
            return NotFound.of(error)
        return RoleGranted(account=AccountType.of(account))


class DatabaseTransaction(SchemaExtension):
    """Commits the operation's session once it has run; any unexpected error rolls it back."""

    async def on_operation(self) -> AsyncIterator[None]:
        yield
        context = self.execution_context.context
        result = self.execution_context.result
        if isinstance(context, Context):
            failed = result is None or bool(getattr(result, "errors", None))
            await context.finish(commit=not failed)


def _is_unexpected(error: GraphQLError) -> bool:
    """Mask what a resolver raised by accident; keep parse and validation messages."""
    return error.original_error is not None and not isinstance(error.original_error, GraphQLError)


def build_schema(settings: Settings) -> strawberry.Schema:
    # The limit rules are built once: the validation cache keys on the rule classes, and
    # QueryDepthLimiter/MaxAliasesLimiter would make new classes for every operation (a
    # miss every time). Extensions are factories, a fresh one per operation; the parser
    # and validation caches are module-level inside strawberry, so they are shared.
    limit_rules: list[type[ASTValidationRule]] = [
        depth_limit_rule(settings.max_query_depth, None),
        alias_limit_rule(settings.max_aliases),
    ]
    extensions: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: ParserCache(maxsize=1000),
        lambda: AddValidationRules(limit_rules),
        lambda: ValidationCache(maxsize=1000),
        lambda: MaskErrors(should_mask_error=_is_unexpected, error_message="Unexpected error."),
        DatabaseTransaction,
    ]
    if not settings.introspection:
        extensions.append(DisableIntrospection)
    return strawberry.Schema(query=Query, mutation=Mutation, extensions=extensions)
