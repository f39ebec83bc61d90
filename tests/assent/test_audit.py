"""`assent audit export` and `assent audit checkpoint` against a stand-in gateway."""

import html
import uuid
from pathlib import Path

import pytest
from graphql import build_schema, parse, validate

from assent.audit import CHECKPOINT_QUERY, chain_query
from assent.cli import main
from assent.protocol import Signer
from services.contracts.audit import ChainRead, ChainSubjectKind, CheckpointRead, ConsistencyProof
from services.contracts.signing import CHECKPOINT_KEY_PURPOSE, PublishedKeys
from tests.assent.chains import Log, Sale, sale
from tests.assent.documents import new_signer
from tests.assent.stand_in import API_KEY, AuditGatewayStandIn

ROOT = Path(__file__).resolve().parents[2]
WORK = ChainSubjectKind.WORK
LICENCE = ChainSubjectKind.LICENCE


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSENT_API_KEY", API_KEY)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def serve_chain(
    gateway: AuditGatewayStandIn, sold: Sale, signer: Signer, kind: ChainSubjectKind = WORK
) -> None:
    subject = sold.work_id if kind is WORK else sold.licence_id
    entries = sold.work_chain if kind is WORK else sold.licence_chain

    def chain(consistent_with: int | None) -> ChainRead:
        return sold.log.chain(signer, kind, subject, entries, consistent_with=consistent_with)

    gateway.chains[str(subject)] = chain


def export_args(gateway: AuditGatewayStandIn, to: Path, *subject: str) -> list[str]:
    return ["audit", "export", *subject, "--to", str(to), "--gateway", gateway.url]


def test_export_writes_a_chain_that_verifies_and_a_report(
    tmp_path: Path,
    audit_gateway: AuditGatewayStandIn,
    checkpoint_signer: Signer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sold = sale()
    serve_chain(audit_gateway, sold, checkpoint_signer)
    keys = tmp_path / "keys.json"
    keys.write_text(audit_gateway.keys.model_dump_json())

    code, out, err = run(export_args(audit_gateway, tmp_path, "--work", str(sold.work_id)), capsys)

    assert code == 0, out + err
    stem = tmp_path / f"chain-work-{sold.work_id}"
    assert out.startswith(f"wrote {stem}.json and {stem}.html\nVALID licence chain")
    assert [query["variables"] for query in audit_gateway.queries] == [
        {"id": str(sold.work_id), "consistentWith": None}
    ]
    verified, verified_out, _ = run(["verify", f"{stem}.json", "--keys", str(keys)], capsys)
    assert verified == 0, verified_out
    assert f"subject: work {sold.work_id}" in verified_out
    page = Path(f"{stem}.html").read_text()
    assert "<svg" in page
    assert "<script" not in page
    assert "Verified." in page
    for logged in sold.work_chain:
        assert str(logged.event_id) in page
    # Payloads hold text creators and buyers wrote: it is shown, escaped, never as markup.
    assert html.escape("Example <Lab> & Co") in page
    assert html.escape("Work <b>0</b>") in page
    assert html.escape("Ada <Creator>") in page
    assert "<b>0</b>" not in page
    assert "<Lab>" not in page
    assert "royalty to Ada &lt;Creator&gt;" in page
    assert "54.00 EUR" in page
    assert "consented to the use of work" in page


def test_export_of_a_licence_with_a_kept_checkpoint_proves_consistency(
    tmp_path: Path,
    audit_gateway: AuditGatewayStandIn,
    checkpoint_signer: Signer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sold = sale()
    serve_chain(audit_gateway, sold, checkpoint_signer, LICENCE)
    kept = tmp_path / "kept.json"
    kept.write_text(sold.log.checkpoint(checkpoint_signer, 7).model_dump_json())

    code, out, err = run(
        [
            *export_args(audit_gateway, tmp_path, "--licence", str(sold.licence_id)),
            "--checkpoint",
            str(kept),
        ],
        capsys,
    )

    assert code == 0, out + err
    assert audit_gateway.queries[0]["variables"]["consistentWith"] == 7
    assert "licenceId: $id" in audit_gateway.queries[0]["query"]
    assert "consistency: the log grew from the kept checkpoint (size 7" in out
    page = (tmp_path / f"chain-licence-{sold.licence_id}.html").read_text()
    assert "the log grew from the kept checkpoint (size 7" in page


def test_a_chain_that_does_not_verify_is_still_written_and_says_so(
    tmp_path: Path,
    audit_gateway: AuditGatewayStandIn,
    checkpoint_signer: Signer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sold = sale(withdraw="work")
    serve_chain(audit_gateway, sold, checkpoint_signer)

    code, out, err = run(export_args(audit_gateway, tmp_path, "--work", str(sold.work_id)), capsys)

    assert code == 1
    assert "INVALID licence chain" in out
    assert f"delivers work {sold.work_id} without excluding it" in out
    assert "does NOT verify" in err
    page = (tmp_path / f"chain-work-{sold.work_id}.html").read_text()
    assert "Not verified." in page
    assert 'class="flagged"' in page
    assert (tmp_path / f"chain-work-{sold.work_id}.json").exists()


def test_a_forged_chain_is_written_and_refused(
    tmp_path: Path, audit_gateway: AuditGatewayStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    sold = sale()
    serve_chain(audit_gateway, sold, new_signer(CHECKPOINT_KEY_PURPOSE))

    code, out, _ = run(export_args(audit_gateway, tmp_path, "--work", str(sold.work_id)), capsys)

    assert code == 1
    assert "checkpoint: signature: no signature verifies" in out
    assert "Not verified." in (tmp_path / f"chain-work-{sold.work_id}.html").read_text()


def test_export_failures_write_nothing(
    tmp_path: Path,
    audit_gateway: AuditGatewayStandIn,
    checkpoint_signer: Signer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sold = sale()
    # The gateway answers with the chain of another work than the one asked for.
    audit_gateway.chains[str(sold.other_work_id)] = lambda _: sold.chain(checkpoint_signer)
    to = tmp_path / "out"

    missing, _, missing_err = run(
        export_args(audit_gateway, to, "--work", str(uuid.uuid4())), capsys
    )
    other, _, other_err = run(
        export_args(audit_gateway, to, "--work", str(sold.other_work_id)), capsys
    )
    monkeypatch.delenv("ASSENT_API_KEY")
    keyless, _, keyless_err = run(
        export_args(audit_gateway, to, "--work", str(sold.work_id)), capsys
    )

    assert (missing, other, keyless) == (1, 1, 2)
    assert "licenceChain: NotFound: no chain of" in missing_err
    assert f"the gateway answered with the chain of work {sold.work_id}" in other_err
    assert "give --key or set ASSENT_API_KEY" in keyless_err
    assert not to.exists()


class GrowingLog:
    """The stand-in's checkpoint source: the log at a size the test sets, with proofs."""

    def __init__(self, log: Log, signer: Signer, size: int) -> None:
        self.log, self.signer, self.size = log, signer, size

    def __call__(
        self, consistent_with: int | None
    ) -> tuple[CheckpointRead, ConsistencyProof | None]:
        proof = None
        if consistent_with is not None:
            proof = self.log.consistency(consistent_with, self.size)
        return self.log.checkpoint(self.signer, self.size), proof


def test_a_checkpoint_is_kept_and_replaced_only_by_a_consistent_one(
    tmp_path: Path,
    audit_gateway: AuditGatewayStandIn,
    checkpoint_signer: Signer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sold = sale()
    source = GrowingLog(sold.log, checkpoint_signer, 5)
    audit_gateway.checkpoint = source
    kept = tmp_path / "kept" / "checkpoint.json"
    args = ["audit", "checkpoint", "--to", str(kept), "--gateway", audit_gateway.url]
    keys = tmp_path / "keys.json"
    keys.write_text(audit_gateway.keys.model_dump_json())

    first, first_out, first_err = run(args, capsys)
    source.size = 12
    second, second_out, _ = run(args, capsys)
    verified, verified_out, _ = run(["verify", str(kept), "--keys", str(keys)], capsys)

    assert first == 0, first_out + first_err
    assert first_out.startswith(f"kept the checkpoint of tree size 5 in {kept}")
    assert second == 0
    assert f"consistent with the checkpoint it replaces (tree size 5, root {sold.log.root(5)})" in (
        second_out
    )
    assert [query["variables"]["consistentWith"] for query in audit_gateway.queries] == [None, 5]
    assert verified == 0
    assert "tree size: 12" in verified_out


def test_a_rewritten_log_cannot_replace_a_kept_checkpoint(
    tmp_path: Path,
    audit_gateway: AuditGatewayStandIn,
    checkpoint_signer: Signer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sold = sale()
    kept = tmp_path / "checkpoint.json"
    kept.write_text(sold.log.checkpoint(checkpoint_signer, 8).model_dump_json())
    before = kept.read_text()
    offer = sold.work_chain[2]
    rewritten = sold.log.rewritten(offer.index, offer.entry.replace("12000", "1"))
    audit_gateway.checkpoint = GrowingLog(rewritten, checkpoint_signer, 12)

    code, _, err = run(
        ["audit", "checkpoint", "--to", str(kept), "--gateway", audit_gateway.url], capsys
    )

    assert code == 1
    assert "are not one history" in err
    assert f"{kept} is left as it was" in err
    assert kept.read_text() == before


def test_an_unverifiable_checkpoint_is_not_kept(
    tmp_path: Path, audit_gateway: AuditGatewayStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    audit_gateway.checkpoint = GrowingLog(sale().log, new_signer(CHECKPOINT_KEY_PURPOSE), 12)
    kept = tmp_path / "checkpoint.json"

    code, _, err = run(
        ["audit", "checkpoint", "--to", str(kept), "--gateway", audit_gateway.url], capsys
    )

    assert code == 1
    assert "the gateway's checkpoint does not verify" in err
    assert not kept.exists()


def test_keys_given_on_the_command_line_are_the_ones_trusted(
    tmp_path: Path,
    audit_gateway: AuditGatewayStandIn,
    checkpoint_signer: Signer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sold = sale()
    serve_chain(audit_gateway, sold, checkpoint_signer)
    pinned = tmp_path / "keys.json"
    pinned.write_text(
        PublishedKeys(keys=[new_signer(CHECKPOINT_KEY_PURPOSE).published()]).model_dump_json()
    )

    code, out, _ = run(
        [
            *export_args(audit_gateway, tmp_path, "--work", str(sold.work_id)),
            "--keys",
            str(pinned),
        ],
        capsys,
    )

    assert code == 1
    assert "checkpoint: signature: no signature verifies" in out


def test_the_queries_are_valid_against_the_gateway_schema() -> None:
    schema = build_schema((ROOT / "gateway" / "schema.graphql").read_text())

    for query in (CHECKPOINT_QUERY, chain_query(WORK), chain_query(LICENCE)):
        assert validate(schema, parse(query)) == []
