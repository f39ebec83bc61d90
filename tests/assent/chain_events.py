"""The payloads of a licence chain's events, as the services publish them, at minutes
after a fixed time."""

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from services.contracts.catalogue import (
    ConsentKind,
    ConsentRecorded,
    MediaType,
    OfferPublished,
    RightsAttestation,
    Terms,
    Use,
    statement_sha256,
)
from services.contracts.delivery import (
    DeliveryExclusion,
    DeliveryIssued,
    DeliveryStatus,
    FileDownloaded,
)
from services.contracts.licensing import (
    LedgerAccountKind,
    LedgerRecorded,
    LicenceGranted,
    LicenceLineRead,
    LicenceLineStatus,
    PostingRead,
    TransactionKind,
    TransactionRead,
)
from tests.assent.documents import NOW

TERMS = Terms(
    uses=[Use.TRAINING], commercial_use=True, attribution_required=True, duration_days=365
)


def at(minutes: int) -> datetime:
    return NOW + timedelta(minutes=minutes)


CONSENT_WORDS = "I opt in to my work being licensed through Assent.\nI own the rights in it."


def consent(work_id: uuid.UUID, by: uuid.UUID, kind: ConsentKind, minute: int) -> ConsentRecorded:
    return ConsentRecorded(
        consent_id=uuid.uuid4(),
        work_id=work_id,
        kind=kind,
        uses=[Use.TRAINING, Use.EVALUATION],
        statement_id="opt-in",
        statement_version="1",
        statement_sha256=statement_sha256(CONSENT_WORDS),
        statement_text=CONSENT_WORDS,
        attestation=RightsAttestation(
            owns_rights=True, depicts_identifiable_people=True, holds_releases=True
        ),
        given_by=by,
        given_at=at(minute),
    )


def offer(work_id: uuid.UUID, minute: int) -> OfferPublished:
    return OfferPublished(
        offer_id=uuid.uuid4(),
        work_id=work_id,
        price_minor=12_000,
        currency="EUR",
        terms_id="t" * 64,
        terms=TERMS,
        published_at=at(minute),
    )


def licence_line(work_id: uuid.UUID, title: str, minute: int) -> LicenceLineRead:
    return LicenceLineRead(
        work_id=work_id,
        version_id=uuid.uuid4(),
        title=title,
        media_type=MediaType.IMAGE,
        file_name="work.png",
        size=1234,
        sha256="a" * 64,
        attribution="A. Creator, B. Painter",
        terms_id="t" * 64,
        terms=TERMS,
        price_minor=12_000,
        starts_at=at(minute),
        ends_at=at(minute) + timedelta(days=365),
        status=LicenceLineStatus.ACTIVE,
        excluded_reason=None,
    )


def grant(
    licence_id: uuid.UUID, buyer_id: uuid.UUID, works: Sequence[uuid.UUID], minute: int
) -> LicenceGranted:
    return LicenceGranted(
        licence_id=licence_id,
        buyer_id=buyer_id,
        buyer_name="Example <Lab> & Co",
        bundle_id=uuid.uuid4(),
        quote_id=uuid.uuid4(),
        uses=[Use.TRAINING],
        currency="EUR",
        total_minor=12_000 * len(works),
        granted_at=at(minute),
        lines=[licence_line(work, f"Work <b>{n}</b>", minute) for n, work in enumerate(works)],
    )


def sale_payment(
    licence_id: uuid.UUID,
    buyer_id: uuid.UUID,
    work_id: uuid.UUID,
    creators: Sequence[uuid.UUID],
    minute: int,
) -> LedgerRecorded:
    def posting(kind: LedgerAccountKind, owner: uuid.UUID | None, amount: int) -> PostingRead:
        work = None if kind is LedgerAccountKind.BUYER_BALANCE else work_id
        return PostingRead(account_kind=kind, owner_id=owner, amount_minor=amount, work_id=work)

    return LedgerRecorded(
        transaction=TransactionRead(
            id=uuid.uuid4(),
            kind=TransactionKind.SALE,
            currency="EUR",
            licence_id=licence_id,
            reference=None,
            recorded_by=buyer_id,
            recorded_at=at(minute),
            postings=[
                posting(LedgerAccountKind.BUYER_BALANCE, buyer_id, -12_000),
                posting(LedgerAccountKind.PLATFORM_REVENUE, None, 1_200),
                posting(LedgerAccountKind.CREATOR_PAYABLE, creators[0], 5_400),
                posting(LedgerAccountKind.CREATOR_PAYABLE, creators[1], 5_400),
            ],
        )
    )


def delivery(
    delivery_id: uuid.UUID,
    licence_id: uuid.UUID,
    buyer_id: uuid.UUID,
    minute: int,
    *,
    excluded: Sequence[uuid.UUID] = (),
) -> DeliveryIssued:
    return DeliveryIssued(
        delivery_id=delivery_id,
        licence_id=licence_id,
        buyer_id=buyer_id,
        status=DeliveryStatus.ISSUED,
        issued_at=at(minute),
        manifest_key="deliveries/manifest.json",
        manifest_sha256="d" * 64,
        key_id="k" * 16,
        entry_count=1,
        excluded=[
            DeliveryExclusion(work_id=work, reason="withdrawn", detail="withdrawn <meanwhile>")
            for work in excluded
        ],
        watermark_commitment="e" * 64,
    )


def download(
    delivery_id: uuid.UUID, licence_id: uuid.UUID, buyer_id: uuid.UUID, work: uuid.UUID, minute: int
) -> FileDownloaded:
    return FileDownloaded(
        delivery_id=delivery_id,
        licence_id=licence_id,
        buyer_id=buyer_id,
        work_id=work,
        version_id=uuid.uuid4(),
        downloaded_at=at(minute),
    )
