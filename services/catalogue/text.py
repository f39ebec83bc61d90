"""Text as the catalogue stores it."""

from collections.abc import Sequence

from services.kit.errors import FieldError, InvalidRequest


def canonical_language(tag: str) -> str:
    """BCP 47 casing (`en-GB`, `zh-Hant-TW`), so that one language is one value."""
    primary, *rest = tag.split("-")
    subtags = [primary.lower()]
    for subtag in rest:
        if len(subtag) == 4 and subtag.isalpha():
            subtags.append(subtag.title())
        elif (len(subtag) == 2 and subtag.isalpha()) or (len(subtag) == 3 and subtag.isdigit()):
            subtags.append(subtag.upper())
        else:
            subtags.append(subtag.lower())
    return "-".join(subtags)


def refuse_nul(**texts: str | Sequence[str]) -> None:
    """PostgreSQL text cannot hold a NUL: refuse it as bad input rather than fail later."""
    problems = []
    for name, value in texts.items():
        values = [value] if isinstance(value, str) else list(value)
        for index, text in enumerate(values):
            if "\x00" in text:
                field = name if isinstance(value, str) else f"{name}.{index}"
                problems.append(FieldError(field, "contains a NUL character", "nul_character"))
    if problems:
        raise InvalidRequest("the text is not valid", fields=problems)
