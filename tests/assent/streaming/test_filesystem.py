"""`assent://` against the gateway stand-in and the real local object server: pandas,
pyarrow and `datasets` read a delivery's files, every read checked against the signed
sha256, with a fresh link on open, on 403 and once the gateway's link has ended."""

import json
import uuid

import datasets
import fsspec
import pandas as pd
import pyarrow.parquet as pq
import pytest

from assent.protocol import Signer
from assent.streaming import AssentFileSystem, ChecksumMismatch, LinkRefused
from tests.assent.deliveries import RNG, MiB
from tests.assent.stand_in import GatewayStandIn
from tests.assent.streaming.deliveries import (
    expiring_gateway,
    filesystem,
    license_delivery,
    options,
    parquet_table,
    url_of,
)

ROWS = b"".join(json.dumps({"n": n, "text": f"line {n}"}).encode() + b"\n" for n in range(50))
BIG = RNG.randbytes(3 * MiB + 17)


def test_pandas_and_pyarrow_read_a_delivered_parquet_file(
    gateway: GatewayStandIn, manifest_signer: Signer
) -> None:
    delivery_id, [entry], _ = license_delivery(
        gateway, manifest_signer, [("tides.parquet", parquet_table())]
    )
    url = url_of(delivery_id, entry)

    frame = pd.read_parquet(url, storage_options=options(gateway.url))
    table = pq.read_table(url.removeprefix("assent://"), filesystem=filesystem(gateway.url))

    assert frame["minutes"].tolist() == [372, 750, 1121]
    assert table.column("tide").to_pylist() == ["high", "low", "high"]


def test_datasets_streams_json_lines_from_a_delivery(
    gateway: GatewayStandIn, manifest_signer: Signer
) -> None:
    delivery_id, [entry], _ = license_delivery(gateway, manifest_signer, [("rows.jsonl", ROWS)])

    loaded = datasets.load_dataset(
        "json",
        data_files=url_of(delivery_id, entry),
        storage_options=options(gateway.url),
        split="train",
        streaming=True,
    )

    assert [row["n"] for row in loaded] == list(range(50))


def test_a_delivery_lists_as_directories_of_works(
    gateway: GatewayStandIn, manifest_signer: Signer
) -> None:
    delivery_id, entries, _ = license_delivery(
        gateway, manifest_signer, [("rows.jsonl", ROWS), ("big.bin", BIG)]
    )
    fs = filesystem(gateway.url)

    works = fs.ls(f"assent://{delivery_id}", detail=False)
    found = fs.find(str(delivery_id), detail=True)

    assert works == sorted(f"{delivery_id}/{entry.work_id}" for entry in entries)
    assert {info["size"] for info in found.values()} == {len(ROWS), len(BIG)}
    assert fs.info(url_of(delivery_id, entries[1]))["sha256"] == entries[1].sha256
    with pytest.raises(FileNotFoundError):
        fs.info(f"assent://{delivery_id}/{uuid.uuid4()}/nothing.bin")


def test_the_protocol_is_registered_with_fsspec(
    gateway: GatewayStandIn, manifest_signer: Signer
) -> None:
    delivery_id, [entry], _ = license_delivery(gateway, manifest_signer, [("rows.jsonl", ROWS)])

    with fsspec.open(url_of(delivery_id, entry), "rt", **options(gateway.url)) as file:
        first = file.readline()

    assert json.loads(first) == {"n": 0, "text": "line 0"}
    assert isinstance(fsspec.filesystem("assent", **options(gateway.url)), AssentFileSystem)


def test_bytes_unlike_the_signed_sha256_raise_when_read(
    gateway: GatewayStandIn, manifest_signer: Signer
) -> None:
    tampered = bytearray(BIG)
    tampered[2 * MiB] ^= 1
    delivery_id, [entry], _ = license_delivery(
        gateway, manifest_signer, [("big.bin", BIG)], served={"big.bin": bytes(tampered)}
    )
    fs = filesystem(gateway.url)

    with pytest.raises(ChecksumMismatch, match=entry.sha256):
        fs.cat_file(url_of(delivery_id, entry))


def test_a_file_read_in_part_is_verified_when_closed(
    gateway: GatewayStandIn, manifest_signer: Signer
) -> None:
    tampered = BIG[:-1] + bytes([BIG[-1] ^ 1])
    delivery_id, [entry], _ = license_delivery(
        gateway, manifest_signer, [("big.bin", BIG)], served={"big.bin": tampered}
    )
    fs = filesystem(gateway.url)
    url = url_of(delivery_id, entry)

    file = fs.open(url)
    file.seek(MiB)
    assert file.read(10) == BIG[MiB : MiB + 10]
    with pytest.raises(ChecksumMismatch):
        file.close()


def test_reads_out_of_order_verify_the_true_bytes(
    gateway: GatewayStandIn, manifest_signer: Signer
) -> None:
    delivery_id, [entry], _ = license_delivery(gateway, manifest_signer, [("big.bin", BIG)])
    fs = filesystem(gateway.url)

    with fs.open(url_of(delivery_id, entry)) as file:
        file.seek(-100, 2)
        tail = file.read()
        file.seek(0)
        head = file.read(len(BIG) - 100)
        raw = file.raw
        assert raw.verified

    assert head + tail == BIG


def test_a_link_the_store_refuses_is_asked_for_again(
    gateway: GatewayStandIn, manifest_signer: Signer
) -> None:
    delivery_id, [entry], _ = license_delivery(gateway, manifest_signer, [("big.bin", BIG)])
    gateway.expire_next.add(entry.path)

    data = filesystem(gateway.url).cat_file(url_of(delivery_id, entry))

    assert data == BIG
    assert gateway.downloads == [entry.path, entry.path]


def test_a_link_past_the_end_the_gateway_named_is_asked_for_again(
    gateway: GatewayStandIn, manifest_signer: Signer
) -> None:
    delivery_id, [entry], _ = license_delivery(gateway, manifest_signer, [("big.bin", BIG)])

    with expiring_gateway(gateway) as url:
        data = filesystem(url).cat_file(url_of(delivery_id, entry))

    assert data == BIG
    # Once on open, and again before the GET: the first link had already ended.
    assert gateway.downloads == [entry.path, entry.path]


def test_a_refused_link_is_a_permission_error(
    gateway: GatewayStandIn, manifest_signer: Signer
) -> None:
    delivery_id, [entry], _ = license_delivery(gateway, manifest_signer, [("big.bin", BIG)])
    gateway.deliveries[str(delivery_id)].refusal = (410, "LicenceRevoked")

    with pytest.raises(LinkRefused, match="LicenceRevoked") as raised:
        filesystem(gateway.url).open(url_of(delivery_id, entry))

    assert isinstance(raised.value, PermissionError)
