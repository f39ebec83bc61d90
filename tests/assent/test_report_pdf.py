"""`assent audit export --pdf`: the report as an A4 PDF that names the parties and quotes
the consent words."""

from pathlib import Path

import pytest
from pypdf import PdfReader

from assent.cli import main
from assent.protocol import Signer
from services.contracts.audit import ChainRead
from tests.assent.chain_events import CONSENT_WORDS
from tests.assent.evidence_chain import (
    BUYER_NAME,
    BUYER_ORGANISATION,
    CO_CREATOR_NAME,
    CREATOR_ORGANISATION,
    named_sale,
)
from tests.assent.stand_in import API_KEY, AuditGatewayStandIn

A4_POINTS = (595.28, 841.89)


def test_export_writes_the_report_as_an_a4_pdf(
    tmp_path: Path,
    audit_gateway: AuditGatewayStandIn,
    checkpoint_signer: Signer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ASSENT_API_KEY", API_KEY)
    named = named_sale(checkpoint_signer)

    def chain(consistent_with: int | None) -> ChainRead:
        return named.chain

    audit_gateway.chains[str(named.sold.work_id)] = chain
    keys = tmp_path / "keys.json"
    keys.write_text(audit_gateway.keys.model_dump_json())
    to = tmp_path / "evidence"

    code = main(
        [
            *("audit", "export", "--work", str(named.sold.work_id), "--to", str(to)),
            *("--gateway", audit_gateway.url, "--keys", str(keys), "--pdf"),
        ]
    )

    output = capsys.readouterr().out
    assert code == 0, output
    pdf = to / f"chain-work-{named.sold.work_id}.pdf"
    reader = PdfReader(pdf)
    assert f"wrote {pdf} ({len(reader.pages)} pages, A4)" in output
    # Fourteen entries, the parties, the words and the keys: a few pages, not one per row.
    assert 2 <= len(reader.pages) <= 6
    for page in reader.pages:
        size = (float(page.mediabox.width), float(page.mediabox.height))
        assert size == pytest.approx(A4_POINTS, abs=1)
    text = "\n".join(page.extract_text() for page in reader.pages)
    flat = " ".join(text.split())
    for named_as in (
        f"organisation {CREATOR_ORGANISATION}",
        BUYER_NAME,
        f"organisation {BUYER_ORGANISATION}",
        CO_CREATOR_NAME,
        "not verified",
    ):
        assert named_as in flat
    for line in CONSENT_WORDS.splitlines():
        assert line in text
    assert f"page 1 of {len(reader.pages)}" in flat
