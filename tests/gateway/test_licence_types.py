"""A licence reaches GraphQL as licensing reads it: expired when its duration has run out."""

import uuid
from datetime import timedelta

from gateway.types.licensing import Licence
from services.contracts.catalogue import MediaType, Terms, Use
from services.contracts.licensing import (
    LicenceLineRead,
    LicenceLineStatus,
    LicenceRead,
    LicenceStatus,
)
from services.kit.db import utcnow


def _read(*line_expiry: bool) -> LicenceRead:
    now = utcnow()
    terms = Terms(
        uses=[Use.TRAINING], commercial_use=True, attribution_required=False, duration_days=1
    )
    lines = [
        LicenceLineRead(
            work_id=uuid.uuid4(),
            version_id=uuid.uuid4(),
            title="A work",
            media_type=MediaType.IMAGE,
            file_name="work.png",
            size=100,
            sha256="0" * 64,
            attribution="Ines",
            terms_id="1" * 64,
            terms=terms,
            price_minor=100,
            starts_at=now - timedelta(days=2),
            ends_at=now - timedelta(days=1) if expired else now + timedelta(days=1),
            status=LicenceLineStatus.ACTIVE,
            excluded_reason=None,
            expired=expired,
        )
        for expired in line_expiry
    ]
    return LicenceRead(
        id=uuid.uuid4(),
        buyer_id=uuid.uuid4(),
        buyer_name="Lab",
        bundle_id=uuid.uuid4(),
        quote_id=uuid.uuid4(),
        uses=[Use.TRAINING],
        currency="EUR",
        total_minor=100 * len(lines),
        platform_fee_minor=0,
        refunded_minor=0,
        status=LicenceStatus.ACTIVE,
        granted_at=now - timedelta(days=2),
        starts_at=now - timedelta(days=2),
        ends_at=max(line.ends_at for line in lines),
        refunded_at=None,
        expired=all(line_expiry),
        lines=lines,
    )


def test_the_licence_and_each_line_carry_licensing_s_expiry() -> None:
    partly = Licence.of(_read(True, False))
    ended = Licence.of(_read(True, True))

    assert (partly.expired, [line.expired for line in partly.lines]) == (False, [True, False])
    assert (ended.expired, [line.expired for line in ended.lines]) == (True, [True, True])
