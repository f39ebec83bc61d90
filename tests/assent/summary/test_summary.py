"""The Article 53(1)(d) summary from a lab's licences and receipts: each figure ties to
its inputs, creators are counted and never named, what Assent cannot know is left to the
provider, and the HTML and PDF say the same."""

import io
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pypdf import PdfReader

from assent.models import Licence
from assent.summary import ProviderInput, TrainingDataSummary, build_summary, summary_html
from assent.summary.render import write_summary_pdf
from services.contracts.catalogue import Use
from services.contracts.licensing import TrainingLicenceUse, TrainingRunRead, TrainingStatement

NOW = datetime(2026, 12, 5, 12, tzinfo=UTC)
SECRET_NAMES = ("Noor Haddad", "Tomas Reyes", "Ines Duarte")


def _line(media_type: str, size: int, attribution: str) -> dict[str, Any]:
    return {
        "workId": str(uuid.uuid4()),
        "versionId": str(uuid.uuid4()),
        "title": "A work",
        "mediaType": media_type,
        "fileName": "work.bin",
        "size": size,
        "sha256": "0" * 64,
        "attribution": attribution,
        "termsId": "1" * 64,
        "terms": {
            "uses": ["training"],
            "commercialUse": True,
            "attributionRequired": True,
            "durationDays": 365,
            "exclusivityDays": 0,
            "territory": ["WORLD"],
        },
        "price": {"amountMinor": 100, "currency": "EUR"},
        "startsAt": NOW - timedelta(days=10),
        "endsAt": NOW + timedelta(days=355),
        "status": "active",
    }


def _licence(lines: list[dict[str, Any]], *, granted: datetime, status: str = "ACTIVE") -> Licence:
    money = {"amountMinor": 100 * len(lines), "currency": "EUR"}
    return Licence.model_validate(
        {
            "id": str(uuid.uuid4()),
            "buyerId": str(uuid.uuid4()),
            "buyerName": "Northwind Labs",
            "bundleId": str(uuid.uuid4()),
            "quoteId": str(uuid.uuid4()),
            "uses": ["TRAINING"],
            "total": money,
            "platformFee": money,
            "refunded": {"amountMinor": 0, "currency": "EUR"},
            "status": status,
            "grantedAt": granted,
            "startsAt": granted,
            "endsAt": granted + timedelta(days=365),
            "lines": lines,
        }
    )


def _run(model: str, licence: Licence, works: list[str]) -> TrainingRunRead:
    statement = TrainingStatement(
        run_id=uuid.uuid4(),
        buyer_id=uuid.UUID(licence.buyer_id),
        model_name=model,
        model_version="1.0",
        declared_use=Use.TRAINING,
        started_at=NOW - timedelta(days=3),
        ended_at=NOW - timedelta(days=2),
        licences=[
            TrainingLicenceUse(
                licence_id=uuid.UUID(licence.id), work_ids=[uuid.UUID(w) for w in works]
            )
        ],
    )
    return TrainingRunRead(
        id=statement.run_id,
        buyer_id=statement.buyer_id,
        buyer_name="Northwind Labs",
        model_name=model,
        model_version="1.0",
        declared_use=Use.TRAINING,
        started_at=statement.started_at,
        ended_at=statement.ended_at,
        licences=statement.licences,
        record_count=len(works),
        recorded_at=NOW,
        statement=statement,
        statement_sha256="0" * 64,
        lab_key_id="0" * 16,
        lab_public_key="",
        lab_signature="",
        platform_key_id="0" * 16,
        platform_signature="",
    )


def _summary(model: str | None) -> tuple[TrainingDataSummary, Licence, Licence]:
    images = _licence(
        [
            _line("IMAGE", 1_000, "Noor Haddad, Tomas Reyes"),
            _line("IMAGE", 3_000, "Noor Haddad"),
            _line("TEXT", 40_000, "Ines Duarte"),
        ],
        granted=NOW - timedelta(days=30),
    )
    refunded = _licence(
        [_line("AUDIO", 9_000, "Tomas Reyes")], granted=NOW - timedelta(days=5), status="REFUNDED"
    )
    runs = [
        _run("Northwind-7B", images, [images.lines[0].work_id, images.lines[2].work_id]),
        _run("Other-1B", images, [images.lines[1].work_id]),
    ]
    summary = build_summary(
        provider="Northwind Labs",
        licences=[images, refunded],
        runs=runs,
        model=model,
        chain_url=lambda licence_id: f"chain of {licence_id}",
        generated_at=NOW,
        withdrawn={images.lines[2].work_id},
    )
    return summary, images, refunded


def test_a_models_summary_counts_only_what_its_receipts_name() -> None:
    summary, images, _ = _summary("Northwind-7B")

    general = summary.general
    assert general.model_names == ["Northwind-7B 1.0"]
    figures = {m.modality: (m.records, m.bytes) for m in general.modalities}
    assert figures == {"image": (1, 1_000), "text": (1, 40_000)}
    assert (general.total_records, general.total_bytes) == (2, 41_000)
    assert general.latest_acquisition == (NOW - timedelta(days=30)).date()
    licensed = summary.sources.licensed
    assert (licensed.licences, licensed.works, licensed.creators) == (1, 2, 3)
    assert licensed.chains == [f"chain of {images.id}"]
    assert summary.processing.rights_reservations.withdrawn_since == 1
    [text] = [m for m in general.modalities if m.modality == "text"]
    assert isinstance(text.size_range, str)
    assert text.size_range.startswith("Less than 1 billion")


def test_the_labs_summary_covers_every_licence_and_leaves_the_rest_to_the_provider() -> None:
    summary, _, _refunded = _summary(None)

    assert summary.general.total_records == 4
    assert summary.processing.rights_reservations.ended_licences == 1
    [audio] = [m for m in summary.general.modalities if m.modality == "audio"]
    assert isinstance(audio.size_range, ProviderInput)
    for unknown in (
        summary.sources.public_datasets,
        summary.sources.crawled,
        summary.sources.user_data,
        summary.sources.synthetic,
        summary.processing.illegal_content,
        summary.general.placed_on_market,
    ):
        assert unknown.status == "to be completed by the provider"
    document = summary.model_dump_json()
    assert TrainingDataSummary.model_validate_json(document) == summary
    assert not any(name in document for name in SECRET_NAMES)


def test_the_page_and_the_pdf_show_every_section_and_the_totals(tmp_path: Path) -> None:
    summary, _, _ = _summary("Northwind-7B")

    page = summary_html(summary)
    written = write_summary_pdf(summary, tmp_path / "summary.pdf")

    for heading in (
        "1. General information",
        "1.3 Modalities, overall training data size",
        "2.2.1 Datasets commercially licensed by rightsholders",
        "2.3 Data crawled and scraped",
        "3.1 Respect of reservation of rights",
        "3.2 Removal of illegal content",
    ):
        assert heading in page, heading
    assert page.count("To be completed by the provider.") >= 9
    assert not any(name in page for name in SECRET_NAMES)
    text = " ".join(
        page.extract_text() for page in PdfReader(io.BytesIO(written.path.read_bytes())).pages
    )
    assert "Northwind-7B 1.0" in text
    assert "41,000 bytes" in " ".join(text.split())
