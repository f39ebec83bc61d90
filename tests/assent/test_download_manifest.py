"""What a delivery's signed manifest allows a download: a tampered one, or one with file
names that would escape the directory or collide, is refused before any file is fetched."""

import asyncio
import uuid
from pathlib import Path

import pytest

from assent.download import MANIFEST_FILE, ManifestRefused, download, safe_file_name
from assent.protocol import Signer
from tests.assent.conftest import ObjectServer
from tests.assent.deliveries import FILES, fetch, files_under, publish
from tests.assent.documents import (
    MANIFEST_PURPOSE,
    new_signer,
    published,
    sign_statement,
    signed_manifest,
    statement,
    with_payload,
)
from tests.assent.stand_in import API_KEY, GatewayStandIn


def _swap_digest(document: dict[str, object]) -> None:
    entries = document["predicate"]["entries"]  # type: ignore[index]
    entries[1]["sha256"] = "0" * 64


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ("payload", "no signature verifies"),
        ("unpublished-key", "no signature verifies"),
        ("licence-key", "published for licence-certificate"),
        ("other-delivery", "it is for delivery"),
    ],
)
def test_a_tampered_manifest_is_refused_before_any_download(
    gateway: GatewayStandIn,
    object_server: ObjectServer,
    manifest_signer: Signer,
    licence_signer: Signer,
    tmp_path: Path,
    tamper: str,
    reason: str,
) -> None:
    delivery_id, entries = publish(gateway, manifest_signer)
    good = gateway.deliveries[str(delivery_id)].envelope
    assert good is not None
    if tamper == "payload":
        envelope = with_payload(good, _swap_digest)
    elif tamper == "unpublished-key":
        envelope = signed_manifest(new_signer(MANIFEST_PURPOSE), delivery_id, entries)
    elif tamper == "licence-key":
        envelope = sign_statement(licence_signer, statement(delivery_id, entries, "ignored"))
    else:
        other, _ = publish(gateway, manifest_signer)
        envelope = good
        delivery_id = other
    gateway.issue(delivery_id, envelope)

    with pytest.raises(ManifestRefused, match=reason):
        fetch(gateway, delivery_id, tmp_path / "out")

    assert (gateway.downloads, object_server.recorder.seen) == ([], [])
    assert not (tmp_path / "out").exists()


def test_pinned_keys_overrule_the_gateways(
    gateway: GatewayStandIn, manifest_signer: Signer, tmp_path: Path
) -> None:
    delivery_id, _ = publish(gateway, manifest_signer, FILES[:1])
    someone_else = published(new_signer(MANIFEST_PURPOSE)).keys

    with pytest.raises(ManifestRefused, match="no signature verifies"):
        download(delivery_id, tmp_path, gateway_url=gateway.url, api_key=API_KEY, keys=someone_else)


MALICIOUS_NAMES = [
    "../../escape.txt",
    "/etc/passwd",
    "..\\..\\windows.ini",
    "a/../../../b.txt",
    "..",
    "",
    "...",
    ".hidden",
    "con:trol\x00\n|chars?.txt",
    "x" * 300 + ".safetensors",
]


def test_malicious_file_names_cannot_escape_the_directory(
    gateway: GatewayStandIn, manifest_signer: Signer, tmp_path: Path
) -> None:
    files = [(name, f"file {index}".encode()) for index, name in enumerate(MALICIOUS_NAMES)]
    delivery_id, _ = publish(gateway, manifest_signer, files)
    out = tmp_path / "deep" / "out"

    result = fetch(gateway, delivery_id, out)

    assert result.ok
    assert files_under(tmp_path) == {out / MANIFEST_FILE} | {file.path for file in result.files}
    for file in result.files:
        assert file.path.parent == out / str(file.entry.work_id)
        assert file.path.read_bytes() == dict(files)[file.entry.file_name]
        assert len(file.path.name.encode()) <= 200


def test_two_entries_for_one_file_are_refused(
    gateway: GatewayStandIn, manifest_signer: Signer, tmp_path: Path
) -> None:
    delivery_id = uuid.uuid4()
    work_id = uuid.uuid4()
    files = [("Data.bin", b"one"), ("data.bin", b"two")]
    entries = asyncio.run(gateway.store_files(delivery_id, files, work_id=work_id))
    gateway.issue(delivery_id, signed_manifest(manifest_signer, delivery_id, entries))

    with pytest.raises(ManifestRefused, match="would both be written"):
        fetch(gateway, delivery_id, tmp_path)
    assert gateway.downloads == []


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../escape.txt", "escape.txt"),
        ("C:\\Users\\x\\model.bin", "model.bin"),
        ("..", "file"),
        (".bashrc", "bashrc"),
        ("a:b*c?.txt", "a_b_c_.txt"),
        ("tab\there.txt", "tab_here.txt"),
        ("trailing. ", "trailing"),
        ("é" * 150 + ".wav", "é" * 98 + ".wav"),
    ],
)
def test_safe_file_name(name: str, safe: str) -> None:
    assert safe_file_name(name) == safe
