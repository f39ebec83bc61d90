"""What one GraphQL document may cost, checked before it runs, each check in time linear
in the document however its fragments spread:

- its length and tokens, before it is parsed (`DocumentGuard`);
- the depth, aliases and static cost of each operation (`_measure`), every field weighed
  once per schema from its definition (`field_weights`, `list_bound`);
- how often fields of one name repeat, which graphql-core's merging check compares
  pairwise (`_merge_budget`).

A refusal is a `DocumentRefused`, with a code a client can act on.
"""

from ._guard import DocumentGuard
from ._refusal import DocumentRefused
from ._rules import DocumentLimits, document_limit_rules
from ._weights import field_weights, list_bound

__all__ = [
    "DocumentGuard",
    "DocumentLimits",
    "DocumentRefused",
    "document_limit_rules",
    "field_weights",
    "list_bound",
]
