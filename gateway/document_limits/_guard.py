"""The checks made before a document is parsed: its length and its tokens."""

import re
from collections.abc import Iterator
from itertools import islice

from graphql import ASTValidationRule
from strawberry.extensions import SchemaExtension

from ._refusal import DocumentRefused

# A lexer's token count at C speed, never more than graphql-core's (commas and comments
# are not tokens); the parser's own count, stopped at the limit, stays the exact check.
_TOKEN = re.compile(
    # An unterminated string runs to the end of its line (a block string to the end of
    # the document), so no character is scanned twice whatever the input.
    r'"""(?:[^"\\]|\\.?|"(?!""))*+(?:"""|\Z)|"(?:[^"\\\n]|\\.?)*+(?:"|$)'
    r"|#[^\n]*|\.\.\.|[\w.+-]+|[!$&()\[\]{}:=@|]",
    re.MULTILINE | re.DOTALL,
)


class DocumentGuard(SchemaExtension):
    """Bounds the CPU a document may spend before it runs: its size is checked before
    parsing, the parser stops at the token limit (MaxTokensLimiter), and every rule runs
    in time linear in the document (graphql-core's field-merging check runs only where
    its pairwise comparisons are few). The tokens are counted up to the limit, uncached:
    a cache keyed by the text would keep refused documents in memory."""

    def __init__(
        self,
        *,
        max_length: int,
        max_tokens: int,
        rules: tuple[type[ASTValidationRule], ...],
    ) -> None:
        self.max_length = max_length
        self.max_tokens = max_tokens
        self.rules = rules

    def on_operation(self) -> Iterator[None]:
        query = self.execution_context.query or ""
        if len(query) > self.max_length:
            raise DocumentRefused(
                f"the document is longer than {self.max_length} characters; "
                "send values as variables",
                "DOCUMENT_TOO_LARGE",
                limit=self.max_length,
            )
        if _holds_more_tokens(query, self.max_tokens):
            raise DocumentRefused(
                f"the document holds more than {self.max_tokens} tokens",
                "DOCUMENT_TOO_LARGE",
                limit=self.max_tokens,
            )
        # Listed first among the extensions: the rules added after (introspection's) stay.
        self.execution_context.validation_rules = self.rules
        yield


def _holds_more_tokens(query: str, limit: int) -> bool:
    """Scans no further than the token past `limit`."""
    tokens = (token for token in _TOKEN.finditer(query) if token[0][0] != "#")
    return next(islice(tokens, limit, None), None) is not None
