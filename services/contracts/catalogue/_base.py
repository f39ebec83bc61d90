"""What every catalogue contract shares: limits, media types, uses, the base schema."""

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from services.contracts.text import NulFreeStr

BASIS_POINTS_WHOLE = 10_000

MAX_PAGE_SIZE = 100

SHA256_HEX = r"^[0-9a-f]{64}$"


class MediaType(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"
    OTHER = "other"


class Use(StrEnum):
    """What a licensee may do with a work; consent and offers are sets of these."""

    TRAINING = "training"
    FINE_TUNING = "fine_tuning"
    RETRIEVAL = "retrieval"
    EVALUATION = "evaluation"
    SYNTHETIC_DATA = "synthetic_data"


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


Tag = Annotated[
    NulFreeStr, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=50)
]

Sha256 = Annotated[str, StringConstraints(to_lower=True, pattern=SHA256_HEX)]
