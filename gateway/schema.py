import re
import time
from collections.abc import AsyncIterator, Callable, Iterator

import strawberry
import structlog
from graphql import ASTValidationRule, specified_rules
from graphql import ExecutionResult as CoreExecutionResult
from graphql.error import GraphQLError
from graphql.language import FieldNode, OperationDefinitionNode
from graphql.validation import OverlappingFieldsCanBeMergedRule
from strawberry.extensions import (
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.disable_introspection import DisableIntrospection
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext, ExecutionResult

from gateway.config import Settings
from gateway.context import Context
from gateway.document_limits import (
    DocumentGuard,
    DocumentLimits,
    document_limit_rules,
    field_weights,
)
from gateway.resolvers.accounts import AccountMutation, AccountQuery
from gateway.resolvers.audit import AuditQuery
from gateway.resolvers.card import CardMutation
from gateway.resolvers.catalogue import CatalogueMutation, CatalogueQuery
from gateway.resolvers.delivery import DeliveryMutation, DeliveryQuery
from gateway.resolvers.invoices import InvoicesMutation, InvoicesQuery
from gateway.resolvers.licensing import LicensingMutation, LicensingQuery
from gateway.resolvers.notifications import NotificationsMutation, NotificationsQuery
from gateway.resolvers.payouts import PayoutsMutation, PayoutsQuery
from gateway.resolvers.provenance import ProvenanceMutation
from gateway.resolvers.training import TrainingMutation, TrainingQuery
from gateway.resolvers.webhooks import WebhookMutation, WebhookQuery
from gateway.types.scalars import SCALARS
from services.kit.metrics import ProcessMetrics

log = structlog.get_logger()

COMMIT_FAILED = "COMMIT_FAILED"
# What a refused request's log line may hold of the error's message.
_LOGGED_MESSAGE_CHARS = 300
_EMAIL = re.compile(r"[^\s'\"@]+@[^\s'\"@]+")
# graphql-core writes a value the client sent after these words (or quotes an enum's).
_GIVEN_VALUES = [
    (
        re.compile(r"(got invalid value|found|cannot represent[^:]*:) .*?(;|\.?$)", re.I),
        r"\1 [value]\2",
    ),
    (re.compile(r"\bValue '.*?' does not exist"), "Value [value] does not exist"),
]


@strawberry.type
class Query(
    AccountQuery,
    CatalogueQuery,
    LicensingQuery,
    DeliveryQuery,
    AuditQuery,
    TrainingQuery,
    PayoutsQuery,
    InvoicesQuery,
    WebhookQuery,
    NotificationsQuery,
):
    pass


@strawberry.type
class Mutation(
    AccountMutation,
    CatalogueMutation,
    LicensingMutation,
    DeliveryMutation,
    ProvenanceMutation,
    TrainingMutation,
    WebhookMutation,
    CardMutation,
    PayoutsMutation,
    InvoicesMutation,
    NotificationsMutation,
):
    pass


def _replace_errors(
    result: object,
    errors: list[GraphQLError],
    *,
    clear_data: bool,
) -> None:
    """Both result classes reach an extension: strawberry's answers pre-execution
    failures, graphql-core's an executed operation (strawberry converts it after)."""
    if isinstance(result, ExecutionResult | CoreExecutionResult):
        result.errors = errors
        if clear_data:
            result.data = None


class DatabaseTransaction(SchemaExtension):
    """Commits the operation's session once it has run. Each mutation wrote in a savepoint
    of its own, which its failure already undid, so errors the resolvers placed in the
    answer (a service unavailable at a nested field) keep the others' writes. Only an
    exception that escaped the operation, or a statement that broke the transaction,
    rolls it back. Either way, writes that were answered but not kept, or a commit that
    fails, turn the whole answer into one typed error, COMMIT_FAILED: the client must
    never see success, nor SQL, for writes that were not kept."""

    async def on_operation(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        finished = False
        try:
            yield
            result = self.execution_context.result
            if isinstance(context, Context):
                # An answer with no data (an unexpected error nulled it, and graphql-core
                # ran no later mutation) reports no success, so nothing of it is kept.
                answered = result is not None and result.data is not None
                keep = answered and not context.transaction_broken
                refused = answered and not keep and context.writes_answered
                try:
                    await context.finish(commit=keep)
                except Exception:
                    log.exception("graphql.commit.failed")
                    refused = True
                finished = True
                if refused:
                    refusal = GraphQLError(
                        "the gateway could not save this operation's changes to accounts "
                        "and keys, and made none of them; a change made by another service "
                        "in the same operation (a purchase, a bundle) may stand: retry with "
                        "the same idempotency key, or read it back",
                        extensions={"code": COMMIT_FAILED},
                    )
                    _replace_errors(result, [refusal], clear_data=True)
        finally:
            if isinstance(context, Context) and not finished:
                await context.finish(commit=False)


class HideSuggestions(SchemaExtension):
    """With introspection off, "Did you mean ..." would still name the schema's fields,
    types and enum values; the answer keeps the error and drops the suggestion."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            _replace_errors(
                result, [_without_suggestion(e) for e in result.errors], clear_data=False
            )


def _without_suggestion(error: GraphQLError) -> GraphQLError:
    message, _, _ = error.message.partition(" Did you mean ")
    if message == error.message:
        return error
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error,
        extensions=error.extensions,
    )


def _is_unexpected(error: GraphQLError) -> bool:
    """Mask what a resolver raised by accident; keep parse and validation messages."""
    return error.original_error is not None and not isinstance(error.original_error, GraphQLError)


def _loggable(message: str) -> str:
    """A refused request's message without the values it was sent (emails among them),
    and short: the message never carries the document."""
    message = message[: _LOGGED_MESSAGE_CHARS * 4]
    for given, replacement in _GIVEN_VALUES:
        message = given.sub(replacement, message)
    message = _EMAIL.sub("[email]", message)
    return message[:_LOGGED_MESSAGE_CHARS]


class GatewaySchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """A client's mistake (syntax, validation, variables, a refused document) is
        logged at INFO without the document; a resolver's failure at ERROR with its
        traceback."""
        operation = execution_context.operation_name if execution_context else None
        for error in errors:
            if _is_unexpected(error):
                log.error(
                    "graphql.resolver_failed",
                    operation=operation,
                    path=error.path,
                    exc_info=error.original_error,
                )
                continue
            code = (error.extensions or {}).get("code")
            log.info(
                "graphql.request_refused",
                operation=operation,
                code=code,
                message=_loggable(error.message),
            )


class OperationMetrics(SchemaExtension):
    """Counts and times each operation by its type and first root field: bounded by the
    schema, where a client's operation name is not."""

    def __init__(self, metrics: ProcessMetrics) -> None:
        self._metrics = metrics

    async def on_operation(self) -> AsyncIterator[None]:
        started = time.perf_counter()
        yield
        context = self.execution_context
        label = "unparsed"
        document = context.graphql_document
        if document is not None:
            label = "other"
            for definition in document.definitions:
                if isinstance(definition, OperationDefinitionNode):
                    selections = definition.selection_set.selections
                    first = selections[0] if selections else None
                    name = first.name.value if isinstance(first, FieldNode) else "fragment"
                    label = f"{definition.operation.value} {name}"
                    break
        erred = context.result is None or bool(context.result.errors)
        self._metrics.graphql_operations.labels(label, "error" if erred else "ok").inc()
        self._metrics.graphql_seconds.labels(label).observe(time.perf_counter() - started)


def build_schema(settings: Settings, metrics: ProcessMetrics | None = None) -> strawberry.Schema:
    # Extensions are factories, a fresh one per operation; the parser and validation
    # caches are module-level inside strawberry, so they are shared.
    rules: tuple[type[ASTValidationRule], ...] = ()
    extensions: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [
        # Reads `rules` when an operation starts, by when they are built (below).
        lambda: DocumentGuard(
            max_length=settings.max_document_length,
            max_tokens=settings.max_tokens,
            rules=rules,
        ),
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: ParserCache(maxsize=1000),
        lambda: ValidationCache(maxsize=1000),
        lambda: MaskErrors(should_mask_error=_is_unexpected, error_message="Unexpected error."),
        DatabaseTransaction,
    ]
    if not settings.introspection:
        extensions += [DisableIntrospection, HideSuggestions]
    if metrics is not None:
        extensions.append(lambda: OperationMetrics(metrics))
    schema = GatewaySchema(
        query=Query,
        mutation=Mutation,
        extensions=extensions,
        config=StrawberryConfig(scalar_map=SCALARS),
    )
    # The limit rules weigh each field by its definition in the schema, so they are built
    # once it is, and only once: the validation cache keys on the rule classes.
    limits = DocumentLimits(
        max_depth=settings.max_query_depth,
        max_aliases=settings.max_aliases,
        max_cost=settings.max_query_cost,
    )
    rules = (
        *(rule for rule in specified_rules if rule is not OverlappingFieldsCanBeMergedRule),
        *document_limit_rules(limits, field_weights(schema)),
    )
    return schema
