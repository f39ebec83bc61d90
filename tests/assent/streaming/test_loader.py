"""The licence-enforcing loader against the gateway stand-in and the local object server:
it yields only what the licence allows for the declared use now, and says why it left
out the rest."""

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import datasets
import pytest

from assent.protocol import Signer
from assent.streaming import LicensedLoader, SkipReason, StreamError, rows, worker_records
from tests.assent.deliveries import RNG
from tests.assent.stand_in import GatewayStandIn
from tests.assent.streaming.deliveries import filesystem, license_delivery, url_of

FILES = [(f"sample-{n}.bin", RNG.randbytes(20_000 + n)) for n in range(6)]


def loader(
    gateway: GatewayStandIn, deliveries: list[object], use: str = "training"
) -> LicensedLoader:
    return LicensedLoader(
        [str(d) for d in deliveries], use, filesystem=filesystem(gateway.url), parallel=3
    )


def test_every_record_of_an_active_licence_is_yielded_in_order(
    gateway: GatewayStandIn, manifest_signer: Signer
) -> None:
    delivery_id, entries, licence = license_delivery(gateway, manifest_signer, FILES)
    streamed = loader(gateway, [delivery_id])

    records = list(streamed)

    assert [record.data for record in records] == [data for _, data in FILES]
    assert [record.url for record in records] == [url_of(delivery_id, e) for e in entries]
    assert {record.licence_id for record in records} == {licence["id"]}
    assert streamed.report.summary() == "6 records for training"
    assert streamed.report.yielded_bytes == sum(len(data) for _, data in FILES)


def test_a_refunded_licence_yields_nothing_and_says_so(
    gateway: GatewayStandIn, manifest_signer: Signer
) -> None:
    kept_id, _, _ = license_delivery(gateway, manifest_signer, FILES[:2])
    refunded_id, refunded_entries, refunded = license_delivery(gateway, manifest_signer, FILES[2:])
    refunded["status"] = "REFUNDED"
    refunded["refundedAt"] = datetime.now(UTC).isoformat()
    streamed = loader(gateway, [kept_id, refunded_id])

    records = list(streamed)

    assert [record.data for record in records] == [data for _, data in FILES[:2]]
    assert streamed.report.skipped_by_reason() == {SkipReason.LICENCE_REFUNDED: 4}
    assert {item.url for item in streamed.report.skipped} == {
        url_of(refunded_id, entry) for entry in refunded_entries
    }
    assert f"licence {refunded['id']} was refunded" in streamed.report.skipped[0].detail
    assert streamed.report.summary() == "2 records for training; skipped 4 (4 licence_refunded)"
    # No link was asked for what the licence no longer covers.
    assert not [path for path in gateway.downloads if str(refunded_id) in path]


def test_each_line_is_judged_on_its_status_duration_and_uses(
    gateway: GatewayStandIn, manifest_signer: Signer
) -> None:
    delivery_id, _, licence = license_delivery(gateway, manifest_signer, FILES)
    now = datetime.now(UTC)
    lines = licence["lines"]
    lines[0]["expired"] = True
    lines[1]["endsAt"] = (now - timedelta(minutes=1)).isoformat()
    lines[2]["startsAt"] = (now + timedelta(days=1)).isoformat()
    lines[3]["status"] = "REFUNDED"
    lines[4]["terms"] = {"uses": ["EVALUATION"]}
    streamed = loader(gateway, [delivery_id])

    records = list(streamed)

    assert [record.data for record in records] == [FILES[5][1]]
    assert streamed.report.skipped_by_reason() == {
        SkipReason.EXPIRED: 2,
        SkipReason.NOT_STARTED: 1,
        SkipReason.LINE_REFUNDED: 1,
        SkipReason.USE_NOT_LICENSED: 1,
    }
    assert streamed.report.skipped[-1].detail == "its terms allow evaluation, not training"


def test_a_use_the_licence_was_not_bought_for_is_refused(
    gateway: GatewayStandIn, manifest_signer: Signer
) -> None:
    delivery_id, _, _ = license_delivery(gateway, manifest_signer, FILES[:2], uses=["EVALUATION"])
    streamed = loader(gateway, [delivery_id], use="TRAINING")

    assert list(streamed) == []
    assert streamed.report.as_dict()["skipped_by_reason"] == {"use_not_licensed": 2}


def test_a_refund_during_a_pass_skips_what_the_gateway_then_refuses(
    gateway: GatewayStandIn, manifest_signer: Signer
) -> None:
    delivery_id, _, _ = license_delivery(gateway, manifest_signer, FILES)
    gateway.deliveries[str(delivery_id)].refusal = (410, "LicenceRevoked")
    streamed = loader(gateway, [delivery_id])

    assert list(streamed) == []
    assert streamed.report.skipped_by_reason() == {SkipReason.LINK_REFUSED: 6}
    assert "LicenceRevoked" in streamed.report.skipped[0].detail


def test_each_pass_checks_the_licence_again(
    gateway: GatewayStandIn, manifest_signer: Signer
) -> None:
    delivery_id, _, licence = license_delivery(gateway, manifest_signer, FILES[:3])
    streamed = loader(gateway, [delivery_id])

    first = list(streamed)
    licence["status"] = "REFUNDED"
    second = list(streamed)

    assert (len(first), len(second)) == (3, 0)
    assert streamed.report.skipped_by_reason() == {SkipReason.LICENCE_REFUNDED: 3}


def test_workers_share_the_records_each_read_once(
    gateway: GatewayStandIn, manifest_signer: Signer
) -> None:
    """What the torch IterableDataset does with each DataLoader worker (torch itself is
    not installed here: the wrapper only hands `get_worker_info()` to this)."""
    delivery_id, _, _ = license_delivery(gateway, manifest_signer, FILES)
    streamed = loader(gateway, [delivery_id])

    shares = [
        [r.data for r in worker_records(streamed, SimpleNamespace(id=n, num_workers=3))]
        for n in range(3)
    ]
    alone = [r.data for r in worker_records(streamed, None)]

    assert sorted(data for share in shares for data in share) == sorted(alone)
    assert [len(share) for share in shares] == [2, 2, 2]
    assert len(alone) == len(FILES)


def test_datasets_iterates_the_loader_with_its_licence_columns(
    gateway: GatewayStandIn, manifest_signer: Signer
) -> None:
    delivery_id, entries, licence = license_delivery(gateway, manifest_signer, FILES[:3])
    streamed = loader(gateway, [delivery_id])

    dataset = datasets.IterableDataset.from_generator(rows, gen_kwargs={"loader": streamed})
    loaded = list(dataset)

    assert [row["bytes"] for row in loaded] == [data for _, data in FILES[:3]]
    assert {row["licence_id"] for row in loaded} == {licence["id"]}
    assert loaded[0]["licence_uses"] == ["training"]
    assert loaded[0]["work_id"] == str(entries[0].work_id)


def test_the_client_imports_none_of_the_streaming_libraries() -> None:
    heavy = ["fsspec", "pyarrow", "torch", "datasets", "assent.streaming"]
    code = f"import sys, assent.client; print([m for m in {heavy!r} if m in sys.modules])"
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "[]"


def test_the_signed_status_list_is_the_word_that_counts(
    gateway: GatewayStandIn, manifest_signer: Signer
) -> None:
    delivery_id, entries, _ = license_delivery(gateway, manifest_signer, FILES[:3])
    # The licence's state still says active; the signed list says the second record ended.
    gateway.deliveries[str(delivery_id)].revoked = {1}
    streamed = loader(gateway, [delivery_id])

    records = list(streamed)

    assert [record.data for record in records] == [FILES[0][1], FILES[2][1]]
    [skipped] = streamed.report.skipped
    assert (skipped.reason, skipped.url) == (
        SkipReason.STATUS_LIST,
        url_of(delivery_id, entries[1]),
    )


def test_a_status_list_that_does_not_verify_stops_the_loader(
    gateway: GatewayStandIn, manifest_signer: Signer, licence_signer: Signer
) -> None:
    delivery_id, _, _ = license_delivery(gateway, manifest_signer, FILES[:2])
    gateway.deliveries[str(delivery_id)].status_signer = licence_signer

    with pytest.raises(StreamError, match="status list does not verify"):
        list(loader(gateway, [delivery_id]))


def test_a_revoked_licence_yields_nothing_and_says_so(
    gateway: GatewayStandIn, manifest_signer: Signer
) -> None:
    delivery_id, _, licence = license_delivery(gateway, manifest_signer, FILES[:2])
    licence["status"] = "REVOKED"
    streamed = loader(gateway, [delivery_id])

    assert list(streamed) == []
    assert streamed.report.skipped_by_reason() == {SkipReason.LICENCE_REVOKED: 2}
