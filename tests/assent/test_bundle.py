"""A downloaded bundle stands on its own: the documents beside its files verify offline,
`datasets` loads it with no Assent code and the licence columns, and mlcroissant reads its
croissant.json's records."""

import hashlib
import json
import socket
from pathlib import Path

import datasets
import mlcroissant
import pytest
import yaml

from assent.bundle import (
    CARD_FILE,
    CERTIFICATE_FILE,
    CROISSANT_FILE,
    KEYS_FILE,
    NOTICE_FILE,
    TERMS_DIR,
    open_bundle,
)
from assent.cli import main
from assent.client import AssentClient
from assent.errors import BundleInvalid
from assent.protocol import Signer
from tests.assent.bundles import WORKS, SoldBundle, sell
from tests.assent.stand_in import API_KEY, GatewayStandIn

LICENCE_COLUMNS = {"licence_id", "licence_uses", "licence_status", "licence_ends_at", "creators"}


@pytest.fixture
def sold(gateway: GatewayStandIn, manifest_signer: Signer, licence_signer: Signer) -> SoldBundle:
    return sell(gateway, manifest_signer, licence_signer)


@pytest.fixture
def bundle(gateway: GatewayStandIn, sold: SoldBundle, tmp_path: Path) -> Path:
    directory = tmp_path / "bundle"
    with AssentClient(gateway.url, API_KEY) as client:
        assert client.download(sold.delivery_id, directory).ok
    return directory


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No connection can be opened: anything that needs the network fails."""

    def refuse(*args: object, **kwargs: object) -> socket.socket:
        raise OSError("offline")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_the_bundle_keeps_its_certificate_keys_terms_and_notice(
    bundle: Path, sold: SoldBundle
) -> None:
    certificate = json.loads((bundle / CERTIFICATE_FILE).read_text())
    assert certificate == sold.licence["certificate"]
    assert json.loads((bundle / KEYS_FILE).read_text())["keys"]
    for work in WORKS:
        kept = (bundle / TERMS_DIR / f"{work.terms.terms_id}.json").read_bytes()
        assert hashlib.sha256(kept).hexdigest() == work.terms.terms_id
    notice = (bundle / NOTICE_FILE).read_text()
    credited, _, every = notice.partition("Every work")
    assert "Ines Duarte" in credited
    assert "Rui Costa, Ana Melo" not in credited
    assert "Rui Costa, Ana Melo" in every


def test_records_and_verify_work_from_the_bundle_alone(
    bundle: Path, sold: SoldBundle, offline: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with AssentClient("http://127.0.0.1:9", API_KEY) as client:
        records = list(client.records(bundle))

    assert [r.title for r in records] == [work.title for work in WORKS]
    assert records[2].terms.uses == WORKS[2].terms.uses
    assert main(["verify", str(bundle)]) == 0
    shown = capsys.readouterr().out
    assert "VALID bundle" in shown
    assert f"licence certificate: {sold.licence_id}" in shown


def test_a_file_changed_after_the_download_fails_verify(
    bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    changed = next(bundle.glob("*/tides.txt"))
    changed.write_text("High water at noon.\n".ljust(len(changed.read_text())))

    assert main(["verify", str(bundle)]) == 1
    assert "tides.txt" in capsys.readouterr().out


def test_a_kept_certificate_that_was_tampered_with_is_refused(bundle: Path) -> None:
    kept = json.loads((bundle / CERTIFICATE_FILE).read_text())
    kept["certificate"]["buyer_name"] = "Someone Else"
    (bundle / CERTIFICATE_FILE).write_text(json.dumps(kept))

    with pytest.raises(BundleInvalid, match="certificate"):
        open_bundle(bundle)


def test_datasets_loads_the_images_and_the_texts_with_their_licence_columns(
    bundle: Path, offline: None
) -> None:
    images = datasets.load_dataset(str(bundle), split="train")
    texts = datasets.load_dataset("json", data_files=str(bundle / "texts.jsonl"), split="train")

    assert len(images) == 2
    assert set(images.column_names) >= LICENCE_COLUMNS
    assert images[0]["image"].size == (8, 6)
    assert sorted(images["creators"]) == ["Ines Duarte", "Rui Costa, Ana Melo"]
    assert texts[0]["text"] == WORKS[2].data.decode()
    assert texts[0]["licence_uses"] == ["training", "evaluation"]


def test_the_dataset_card_has_front_matter_the_hub_reads(bundle: Path) -> None:
    card = (bundle / CARD_FILE).read_text()
    _, front, body = card.split("---\n", 2)

    meta = yaml.safe_load(front)
    assert meta["license"] == "other"
    assert meta["configs"][0]["config_name"] == "default"
    assert "load_dataset" in body


def test_croissant_json_is_valid_and_mlcroissant_reads_every_record(
    bundle: Path, sold: SoldBundle, offline: None
) -> None:
    dataset = mlcroissant.Dataset(jsonld=bundle / CROISSANT_FILE)
    records = list(dataset.records("records"))

    assert dataset.metadata.ctx.issues.warnings == set()
    assert len(records) == len(WORKS)
    by_file = {record["records/file_name"].decode(): record for record in records}
    harbour = by_file[f"{sold.entries[0].work_id}/harbour.png"]
    assert harbour["records/licence_id"].decode() == str(sold.licence_id)
    assert harbour["records/creators"].decode() == "Ines Duarte"
    document = json.loads((bundle / CROISSANT_FILE).read_text())
    assert document["conformsTo"] == "http://mlcommons.org/croissant/1.1"
    sha256s = {item["@id"]: item["sha256"] for item in document["distribution"]}
    assert sha256s[f"{sold.entries[0].work_id}/harbour.png"] == sold.entries[0].sha256
