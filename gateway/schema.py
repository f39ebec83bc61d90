from collections.abc import AsyncIterator, Callable

import strawberry
import structlog
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
from strawberry.schema.config import StrawberryConfig
from strawberry.types.execution import ExecutionResult

from gateway.config import Settings
from gateway.context import Context
from gateway.executor import Executor
from gateway.resolvers.accounts import AccountMutation, AccountQuery
from gateway.resolvers.audit import AuditQuery
from gateway.resolvers.catalogue import CatalogueMutation, CatalogueQuery
from gateway.resolvers.delivery import DeliveryMutation, DeliveryQuery
from gateway.resolvers.licensing import LicensingMutation, LicensingQuery
from gateway.types.scalars import SCALARS

log = structlog.get_logger()


@strawberry.type
class Query(AccountQuery, CatalogueQuery, LicensingQuery, DeliveryQuery, AuditQuery):
    pass


@strawberry.type
class Mutation(AccountMutation, CatalogueMutation, LicensingMutation, DeliveryMutation):
    pass


class DatabaseTransaction(SchemaExtension):
    """Commits the operation's session once it has run; any unexpected error rolls it
    back. A commit that fails turns the whole answer into the masked error: the client
    must never see success, nor SQL, for writes that were not kept."""

    async def on_operation(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        committed = False
        try:
            yield
            result = self.execution_context.result
            if isinstance(context, Context):
                failed = result is None or bool(getattr(result, "errors", None))
                try:
                    await context.finish(commit=not failed)
                    committed = True
                except Exception:
                    log.exception("graphql.commit.failed")
                    if isinstance(result, ExecutionResult):
                        result.data = None
                        result.errors = [GraphQLError("Unexpected error.")]
        finally:
            if isinstance(context, Context) and not committed:
                await context.finish(commit=False)


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
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        extensions=extensions,
        config=StrawberryConfig(scalar_map=SCALARS),
        execution_context_class=Executor,
    )
