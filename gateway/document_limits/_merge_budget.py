"""How many field comparisons graphql-core's merging check would make, bounded: the check
compares fields sharing a response name pairwise, fragments expanded, so a document of a
few kilobytes can ask for millions."""

import dataclasses
from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)


@dataclass
class _Branch:
    """The fields of one response name at one place, fragments expanded: how many, and
    what their selections hold together, by response name."""

    count: int = 0
    inner: dict[str, "_Branch"] = dataclasses.field(default_factory=dict)


class _OverBudget(Exception):
    pass


class _MergeWork:
    """Each operation's and fragment's selections merged by response name (types aside),
    each fragment expanded once and copied where it is spread. Copying is charged a unit
    per branch, and the walk stops once the units pass the budget, so the work is linear
    in the document up to the budget."""

    def __init__(self, document: DocumentNode, budget: int) -> None:
        self.fragments = {
            definition.name.value: definition
            for definition in document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }
        self.budget = budget
        self.spent = 0
        self._expanded: dict[str, dict[str, _Branch] | None] = {}

    def merged(self, selection_set: SelectionSetNode) -> dict[str, _Branch]:
        merged: dict[str, _Branch] = {}
        self._add_selections(merged, selection_set)
        return merged

    def fragment(self, name: str) -> dict[str, _Branch] | None:
        if name in self._expanded:
            # None: being expanded, so a cycle, which NoFragmentCyclesRule reports.
            return self._expanded[name]
        definition = self.fragments.get(name)
        if definition is None:
            return None
        self._expanded[name] = None
        expanded = self.merged(definition.selection_set)
        self._expanded[name] = expanded
        return expanded

    def _add_selections(self, into: dict[str, _Branch], selection_set: SelectionSetNode) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                branch = self._branch(into, (selection.alias or selection.name).value, 1)
                if selection.selection_set is not None:
                    self._add_selections(branch.inner, selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                self._add_selections(into, selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                expanded = self.fragment(selection.name.value)
                if expanded is not None:
                    self._add_expanded(into, expanded)

    def _add_expanded(self, into: dict[str, _Branch], expanded: dict[str, _Branch]) -> None:
        for name, branch in expanded.items():
            self._add_expanded(self._branch(into, name, branch.count).inner, branch.inner)

    def _branch(self, into: dict[str, _Branch], name: str, count: int) -> _Branch:
        self.spent += 1
        if self.spent > self.budget:
            raise _OverBudget
        branch = into.setdefault(name, _Branch())
        branch.count += count
        return branch


def _comparisons(merged: dict[str, _Branch]) -> int:
    """At most how many field pairs merging `merged` compares: at each place, the square
    of the fields of each name (a field is compared to itself in the count, which keeps
    the sum above the branches copied)."""
    return sum(branch.count**2 + _comparisons(branch.inner) for branch in merged.values())


def merge_work(document: DocumentNode, budget: int) -> int | None:
    """An upper bound on the field comparisons graphql-core's merging check makes, for
    every operation and fragment; None when over `budget` (found within it)."""
    work = _MergeWork(document, budget)
    total = 0
    try:
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                merged = work.merged(definition.selection_set)
            elif isinstance(definition, FragmentDefinitionNode):
                merged = work.fragment(definition.name.value) or {}
            else:
                continue
            total += _comparisons(merged)
            if total > budget:
                return None
    except _OverBudget:
        return None
    return total
