"""The validation rules that bound what one document may cost, refusing it before it runs."""

from dataclasses import dataclass
from typing import Any

from graphql import (
    BREAK,
    ASTValidationRule,
    DocumentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VisitorAction,
)
from graphql.validation import OverlappingFieldsCanBeMergedRule

from ._measure import DocumentMeasurer, Measure
from ._merge_budget import merge_work
from ._refusal import DocumentRefused
from ._weights import FieldWeights


@dataclass(frozen=True)
class DocumentLimits:
    max_depth: int
    max_aliases: int
    max_cost: int
    # Fields graphql-core's merging check may compare, as `merge_work` bounds them: 400
    # copies of `me { __typename }` (2 x 400**2) took 0.6 s of CPU.
    max_merge_work: int = 5_000


def document_limit_rules(
    limits: DocumentLimits, weights: FieldWeights
) -> list[type[ASTValidationRule]]:
    """The rules that bound what one document may cost, its fields weighed by `weights`
    (`field_weights` of the schema). Built once per schema: the validation cache keys on
    the rule classes."""

    class OperationLimits(ValidationRule):
        """Depth, aliases and static cost of every operation; refused before it runs."""

        def enter_document(self, node: DocumentNode, *_args: object) -> VisitorAction:
            measurer = DocumentMeasurer(self.context, weights)
            for definition in node.definitions:
                if isinstance(definition, OperationDefinitionNode):
                    self._check(definition, measurer.operation(definition))
            return BREAK

        def _check(self, operation: OperationDefinitionNode, measure: Measure) -> None:
            name = operation.name.value if operation.name else "anonymous"
            if measure.depth > limits.max_depth:
                self.report_error(
                    DocumentRefused(
                        f"'{name}' exceeds maximum operation depth of {limits.max_depth}",
                        "QUERY_TOO_DEEP",
                        depth=measure.depth,
                        limit=limits.max_depth,
                    )
                )
            if measure.aliases > limits.max_aliases:
                self.report_error(
                    DocumentRefused(
                        f"{measure.aliases} aliases found. Allowed: {limits.max_aliases}",
                        "TOO_MANY_ALIASES",
                        aliases=measure.aliases,
                        limit=limits.max_aliases,
                    )
                )
            if measure.cost > limits.max_cost:
                self.report_error(
                    DocumentRefused(
                        f"'{name}' costs {measure.cost}, more than the limit of "
                        f"{limits.max_cost}; ask for smaller pages or fewer fields",
                        "QUERY_TOO_COSTLY",
                        cost=measure.cost,
                        limit=limits.max_cost,
                    )
                )

    class BoundedFieldMerging(ValidationRule):
        """graphql-core's check that fields sharing a response name can merge compares
        them pairwise, fragments expanded. It runs only when `merge_work` bounds those
        comparisons within `max_merge_work`; otherwise the document is refused."""

        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.merging: OverlappingFieldsCanBeMergedRule | None = None
            if merge_work(context.document, limits.max_merge_work) is not None:
                self.merging = OverlappingFieldsCanBeMergedRule(context)
            else:
                context.report_error(
                    DocumentRefused(
                        "fields of one name repeat too often once fragments are spread "
                        f"(more than {limits.max_merge_work} comparisons)",
                        "QUERY_TOO_REPETITIVE",
                        limit=limits.max_merge_work,
                    )
                )

        def enter_selection_set(
            self, selection_set: SelectionSetNode, key: Any, parent: Any, *args: Any
        ) -> VisitorAction:
            if self.merging is None:
                return BREAK
            self.merging.enter_selection_set(selection_set, key, parent, *args)
            return None

    return [OperationLimits, BoundedFieldMerging]
