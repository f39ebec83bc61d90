"""A search page reaches the gateway as the catalogue's `WorkPage`, validated against the
contract: the work a lab sees in a listing must be the same as the one it reads on its own
(`work(id)`, through `WorkRead`)."""

import uuid
from datetime import UTC, datetime, timedelta

import pydantic
import pytest
from pydantic import TypeAdapter

from gateway.types.catalogue import Work
from services.contracts.catalogue import (
    ConsentKind,
    ConsentRead,
    MediaType,
    OfferRead,
    ReviewStatus,
    RightsAttestation,
    ShareRead,
    Terms,
    Use,
    VersionRead,
    VersionStatus,
    WorkPage,
    WorkRead,
    WorkStatus,
)


def _work(*, complete: bool) -> WorkRead:
    work_id, owner, co_creator = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    made = datetime(2026, 3, 1, 12, 30, 15, 250_000, tzinfo=UTC)
    version = VersionRead(
        id=uuid.uuid4(),
        number=2,
        file_name="song.flac",
        size=7 * 1024**4,
        sha256="ab" * 32,
        status=VersionStatus.COMPLETE if complete else VersionStatus.PENDING,
        failure_reason=None,
        created_at=made,
        completed_at=made + timedelta(minutes=3) if complete else None,
    )
    return WorkRead(
        id=work_id,
        owner_id=owner,
        title="Dawn chorus",
        description="Field recording, 48 kHz.",
        media_type=MediaType.AUDIO,
        tags=["birds", "field"],
        language="en-GB",
        status=WorkStatus.READY if complete else WorkStatus.PENDING_UPLOAD,
        review_status=ReviewStatus.CLEAR,
        listed=complete,
        created_at=made,
        withdrawn_at=None,
        current_version=version if complete else None,
        pending_version=None if complete else version,
        shares=[
            ShareRead(creator_id=owner, creator_name="Ana", basis_points=6_000),
            ShareRead(creator_id=co_creator, creator_name="Ben", basis_points=4_000),
        ],
        consent=ConsentRead(
            id=uuid.uuid4(),
            work_id=work_id,
            sequence=3,
            kind=ConsentKind.REVISED,
            uses=[Use.TRAINING, Use.RETRIEVAL],
            statement_id="opt-in",
            statement_version="1",
            statement_sha256="ab" * 32,
            attestation=RightsAttestation(owns_rights=True, depicts_identifiable_people=False),
            given_by=owner,
            given_at=made,
        )
        if complete
        else None,
        offer=OfferRead(
            id=uuid.uuid4(),
            work_id=work_id,
            price_minor=12_345_678_901,
            currency="EUR",
            terms_id="cd" * 32,
            terms=Terms(
                uses=[Use.TRAINING],
                commercial_use=True,
                attribution_required=False,
                territory=["DE", "FR"],
                duration_days=365,
                exclusivity_days=30,
                max_models=None,
            ),
            published_at=made,
        )
        if complete
        else None,
    )


def test_a_work_in_a_search_page_is_the_work_read_on_its_own() -> None:
    works = [_work(complete=True), _work(complete=False)]
    answer = WorkPage(items=works, next_cursor="abc").model_dump_json()

    page = TypeAdapter(WorkPage).validate_json(answer)

    assert page.next_cursor == "abc"
    assert [Work.of(item) for item in page.items] == [Work.of(w) for w in works]


def test_a_page_that_breaks_the_contract_is_refused() -> None:
    answer = WorkPage(items=[_work(complete=True)], next_cursor=None).model_dump(mode="json")
    answer["items"][0]["media_type"] = "hologram"

    with pytest.raises(pydantic.ValidationError, match="media_type"):
        TypeAdapter(WorkPage).validate_python(answer)
