"""What a refused field says to a person, in plain words, by the validator's code.

pydantic's own messages are written for programmers ("String should match pattern
'^[A-Z]{3}$'"); a creator filling in a form should never read a regular expression. Each
code gets a sentence here, with the limits from the error's context; a pattern names what
the field expects where we know it, and nothing about how it is checked otherwise. The
code itself is kept unchanged beside the message for programs.
"""

from collections.abc import Mapping
from typing import Any

# What a field whose pattern was not matched should hold, by its last name part.
_EXPECTED_FORM = {
    "currency": "Use a three-letter currency code, such as EUR.",
    "language": "Use a language tag such as en or pt-BR.",
    "country": "Choose a country.",
    "territory": "Choose countries from the list, or worldwide.",
    "sha256": "Use the file's SHA-256 checksum: 64 hexadecimal characters.",
    "statementId": "This statement is not one of the platform's.",
    "statementVersion": "This statement version is not one of the platform's.",
    "url": "Use a web address starting with https://.",
}


def _limit(context: Mapping[str, Any], key: str) -> str:
    return str(context.get(key, ""))


def plain_message(code: str, field: str, message: str, context: Mapping[str, Any] | None) -> str:
    """The sentence for one field error; `message` is the validator's own, used only where
    it is already plain (our validators' ValueErrors)."""
    ctx = context or {}
    last = field.rsplit(".", 1)[-1]
    if code == "missing":
        return "This is required."
    if code == "string_too_short":
        minimum = int(ctx.get("min_length", 1))
        return "This is required." if minimum <= 1 else f"Use at least {minimum} characters."
    if code == "string_too_long":
        return f"Use at most {_limit(ctx, 'max_length')} characters."
    if code == "string_pattern_mismatch":
        return _EXPECTED_FORM.get(last, "This is not in the form expected here.")
    if code in ("too_short", "too_long"):
        bound = "at least" if code == "too_short" else "at most"
        key = "min_length" if code == "too_short" else "max_length"
        return f"Choose {bound} {_limit(ctx, key)}."
    if code in ("greater_than_equal", "greater_than"):
        bound = _limit(ctx, "ge") if code == "greater_than_equal" else _limit(ctx, "gt")
        word = "of at least" if code == "greater_than_equal" else "greater than"
        return f"Enter a number {word} {bound}."
    if code in ("less_than_equal", "less_than"):
        bound = _limit(ctx, "le") if code == "less_than_equal" else _limit(ctx, "lt")
        word = "of at most" if code == "less_than_equal" else "less than"
        return f"Enter a number {word} {bound}."
    if code in ("int_parsing", "int_type", "int_from_float"):
        return "Enter a whole number."
    if code in ("enum", "literal_error"):
        return f"Choose one of: {_limit(ctx, 'expected')}."
    if code in ("string_type", "bool_type", "list_type", "dict_type", "model_type"):
        return "This is not the kind of value expected here."
    if code == "value_error":
        # Our own validators raise ValueError with a sentence meant for people.
        return message.removeprefix("Value error, ")
    return "This value is not accepted here."
