"""A refused field reads as a sentence a person understands, never as a regular expression."""

import pydantic
import pytest
from pydantic import BaseModel, Field

from services.kit.field_words import plain_message


class Offer(BaseModel):
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    title: str = Field(min_length=1, max_length=5)
    code: str = Field(pattern=r"^[a-z]+$")
    days: int = Field(ge=1, le=36500)
    territory: list[str] = Field(min_length=1)


def messages(payload: dict[str, object]) -> dict[str, str]:
    with pytest.raises(pydantic.ValidationError) as raised:
        Offer.model_validate(payload)
    return {
        ".".join(map(str, e["loc"])): plain_message(
            e["type"], ".".join(map(str, e["loc"])), e["msg"], e.get("ctx")
        )
        for e in raised.value.errors()
    }


def test_each_refusal_is_in_plain_words_with_its_limits() -> None:
    found = messages({"currency": "euro", "title": "", "code": "X!", "days": 0, "territory": []})

    assert found == {
        "currency": "Use a three-letter currency code, such as EUR.",
        "title": "This is required.",
        "code": "This is not in the form expected here.",
        "days": "Enter a number of at least 1.",
        "territory": "Choose at least 1.",
    }
    assert not any("^" in message or "[" in message for message in found.values())


def test_a_missing_field_a_long_text_and_a_word_for_a_number() -> None:
    found = messages({"currency": "EUR", "title": "toolong", "code": "a", "days": "many"})

    assert found == {
        "title": "Use at most 5 characters.",
        "days": "Enter a whole number.",
        "territory": "This is required.",
    }
