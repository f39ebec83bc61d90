"""Text the services accept: PostgreSQL text cannot hold a NUL character, so a contract
refuses one as a payload error before it reaches a service or its database."""

from typing import Annotated

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError


def _refuse_nul(text: str) -> str:
    if "\x00" in text:
        raise PydanticCustomError("nul_character", "contains a NUL character")
    return text


NulFreeStr = Annotated[str, AfterValidator(_refuse_nul)]
