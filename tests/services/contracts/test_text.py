import uuid
from collections.abc import Callable

import pydantic
import pytest

from services.contracts.catalogue import ReviewDecision, WorkSearch
from services.contracts.licensing import RefundIn, TopUpIn


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: ReviewDecision(accept=False, note="a\x00copy"), "note"),
        (lambda: WorkSearch(tags=["fine", "b\x00d"]), "tags.1"),
        (lambda: RefundIn(reason="\x00"), "reason"),
        (
            lambda: TopUpIn(
                amount_minor=1, currency="EUR", reference="ref\x00", buyer_id=uuid.uuid4()
            ),
            "reference",
        ),
    ],
)
def test_text_with_a_nul_is_a_payload_error_with_its_own_code(
    build: Callable[[], object], field: str
) -> None:
    with pytest.raises(pydantic.ValidationError) as refused:
        build()

    assert [(".".join(map(str, e["loc"])), e["type"]) for e in refused.value.errors()] == [
        (field, "nul_character")
    ]


def test_text_without_a_nul_keeps_its_constraints() -> None:
    assert WorkSearch(tags=[" Harbour "]).tags == ["harbour"]
    assert (
        TopUpIn(
            amount_minor=1, currency="EUR", reference=" bank-42 ", buyer_id=uuid.uuid4()
        ).reference
        == "bank-42"
    )
