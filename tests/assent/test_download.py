"""`assent download` against the gateway's delivery surface and the real local object server:
files land verified, resume, retry and go through the proxy the environment names."""

import http.server
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from assent.cli import main
from assent.download import ATTEMPTS, MANIFEST_FILE, DownloadError, FileStatus, download
from assent.protocol import Signer
from services.contracts.signing import WELL_KNOWN_KEYS_PATH
from tests.assent.bundles import sell
from tests.assent.conftest import ObjectServer
from tests.assent.deliveries import (
    FILES,
    RNG,
    MiB,
    download_args,
    fetch,
    files_under,
    publish,
    sha256_of,
    statuses,
)
from tests.assent.stand_in import API_KEY, GatewayStandIn


def test_every_file_lands_verified_beside_the_signed_manifest(
    gateway: GatewayStandIn, object_server: ObjectServer, manifest_signer: Signer, tmp_path: Path
) -> None:
    delivery_id, entries = publish(gateway, manifest_signer)

    result = fetch(gateway, delivery_id, tmp_path)

    assert result.ok
    assert set(statuses(result).values()) == {FileStatus.DOWNLOADED}
    for entry in entries:
        path = tmp_path / str(entry.work_id) / entry.file_name
        assert (path.stat().st_size, sha256_of(path)) == (entry.size, entry.sha256)
    assert not [path for path in files_under(tmp_path) if path.suffix == ".part"]
    issued = gateway.deliveries[str(delivery_id)].envelope
    assert issued is not None
    assert json.loads((tmp_path / MANIFEST_FILE).read_text()) == issued.model_dump()
    assert result.fetched == sum(entry.size for entry in entries)
    # The key goes to the gateway only, never to the object store.
    assert {seen.authorization for seen in object_server.recorder.seen} == {None}
    assert len(gateway.downloads) == len(entries)


def test_a_second_run_fetches_nothing(
    gateway: GatewayStandIn, object_server: ObjectServer, manifest_signer: Signer, tmp_path: Path
) -> None:
    delivery_id, _ = publish(gateway, manifest_signer)
    fetch(gateway, delivery_id, tmp_path)
    gateway.downloads.clear()
    object_server.recorder.seen.clear()

    again = fetch(gateway, delivery_id, tmp_path)

    assert again.ok
    assert set(statuses(again).values()) == {FileStatus.COMPLETE}
    assert (again.fetched, gateway.downloads, object_server.recorder.seen) == (0, [], [])


def test_a_truncated_part_resumes_with_a_range_request(
    gateway: GatewayStandIn, object_server: ObjectServer, manifest_signer: Signer, tmp_path: Path
) -> None:
    delivery_id, entries = publish(gateway, manifest_signer)
    fetch(gateway, delivery_id, tmp_path)
    big = next(entry for entry in entries if entry.file_name == "big.bin")
    path = tmp_path / str(big.work_id) / "big.bin"
    kept = MiB + 7
    path.with_name("big.bin.part").write_bytes(path.read_bytes()[:kept])
    path.unlink()
    object_server.recorder.seen.clear()

    result = fetch(gateway, delivery_id, tmp_path)

    assert result.ok
    assert statuses(result)["big.bin"] == FileStatus.RESUMED
    assert result.fetched == big.size - kept
    assert [seen.range for seen in object_server.recorder.seen] == [f"bytes={kept}-"]
    assert sha256_of(path) == big.sha256
    assert not path.with_name("big.bin.part").exists()


def test_a_part_with_wrong_bytes_is_fetched_whole_again(
    gateway: GatewayStandIn, object_server: ObjectServer, manifest_signer: Signer, tmp_path: Path
) -> None:
    delivery_id, entries = publish(gateway, manifest_signer, [("big.bin", FILES[3][1])])
    (big,) = entries
    part = tmp_path / str(big.work_id) / "big.bin.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"\0" * MiB)

    result = fetch(gateway, delivery_id, tmp_path)

    assert result.ok
    assert statuses(result)["big.bin"] == FileStatus.DOWNLOADED
    assert [seen.range for seen in object_server.recorder.seen] == [f"bytes={MiB}-", None]
    assert sha256_of(part.with_name("big.bin")) == big.sha256


def test_a_corrupted_file_is_fetched_again(
    gateway: GatewayStandIn, manifest_signer: Signer, tmp_path: Path
) -> None:
    delivery_id, entries = publish(gateway, manifest_signer)
    fetch(gateway, delivery_id, tmp_path)
    notes = next(entry for entry in entries if entry.file_name == "notes.txt")
    path = tmp_path / str(notes.work_id) / "notes.txt"
    damaged = bytearray(path.read_bytes())
    damaged[1234] ^= 0xFF
    path.write_bytes(bytes(damaged))
    gateway.downloads.clear()

    result = fetch(gateway, delivery_id, tmp_path)

    assert result.ok
    assert statuses(result) == {
        "empty.txt": FileStatus.COMPLETE,
        "one-byte.bin": FileStatus.COMPLETE,
        "notes.txt": FileStatus.DOWNLOADED,
        "big.bin": FileStatus.COMPLETE,
    }
    assert gateway.downloads == [notes.path]
    assert sha256_of(path) == notes.sha256


@pytest.mark.parametrize(
    ("served", "reason"),
    [
        (RNG.randbytes(70_000), "sha256 mismatch"),
        (RNG.randbytes(70_001), "holds 70001 bytes, the signed manifest says 70000"),
    ],
    ids=["same-size", "other-size"],
)
def test_bytes_unlike_the_manifest_fail_that_file_and_exit_non_zero(
    gateway: GatewayStandIn,
    manifest_signer: Signer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    served: bytes,
    reason: str,
) -> None:
    delivery_id, entries = publish(gateway, manifest_signer, served={"notes.txt": served})

    code = main([*download_args(gateway, delivery_id, tmp_path), "--key", API_KEY])

    output = capsys.readouterr()
    assert code == 1
    failed = [line for line in output.err.splitlines() if line.startswith("  ")]
    assert len(failed) == 1
    assert failed[0].startswith(f"  {entries[2].work_id}/notes.txt")
    assert reason in failed[0]
    assert not (tmp_path / str(entries[2].work_id) / "notes.txt").exists()
    assert not (tmp_path / str(entries[2].work_id) / "notes.txt.part").exists()
    assert "3 downloaded, 0 resumed, 0 already complete, 1 failed" in output.out


def test_the_cli_downloads_with_the_key_from_the_environment(
    gateway: GatewayStandIn,
    manifest_signer: Signer,
    licence_signer: Signer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    delivery_id = sell(gateway, manifest_signer, licence_signer).delivery_id
    monkeypatch.setenv("ASSENT_API_KEY", API_KEY)

    first = main(download_args(gateway, delivery_id, tmp_path))
    second = main(download_args(gateway, delivery_id, tmp_path))

    output = capsys.readouterr().out
    assert (first, second) == (0, 0)
    assert "3 downloaded, 0 resumed, 0 already complete, 0 failed" in output
    assert "0 downloaded, 0 resumed, 3 already complete, 0 failed" in output
    assert f"check offline with assent verify {tmp_path}" in output
    assert f"manifest verified: signed by key {manifest_signer.key_id}" in output
    assert main(["verify", str(tmp_path / MANIFEST_FILE), "--keys", gateway.url]) == 0


def test_the_cli_wants_an_api_key(
    gateway: GatewayStandIn,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ASSENT_API_KEY", raising=False)

    code = main(download_args(gateway, uuid.uuid4(), tmp_path))

    assert code == 2
    assert "ASSENT_API_KEY" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["download", "not-a-uuid", "--to", str(tmp_path), "--key", API_KEY])
    assert usage.value.code == 2


def test_an_expired_link_is_asked_for_again(
    gateway: GatewayStandIn, object_server: ObjectServer, manifest_signer: Signer, tmp_path: Path
) -> None:
    delivery_id, entries = publish(gateway, manifest_signer, FILES[1:3])
    gateway.expire_next.add(entries[0].path)

    result = fetch(gateway, delivery_id, tmp_path)

    assert result.ok
    assert gateway.downloads.count(entries[0].path) == 2
    assert len(object_server.recorder.seen) == 3


def test_a_refusal_by_the_gateway_is_listed_for_each_file(
    gateway: GatewayStandIn, manifest_signer: Signer, tmp_path: Path
) -> None:
    delivery_id, entries = publish(gateway, manifest_signer)
    gateway.deliveries[str(delivery_id)].refusal = (410, "LicenceRevoked")

    result = fetch(gateway, delivery_id, tmp_path)

    assert len(result.failed) == len(entries)
    assert {file.error for file in result.failed} == {
        "gateway: 410 LicenceRevoked: the licence was refunded"
    }
    assert files_under(tmp_path) == {tmp_path / MANIFEST_FILE}


def test_a_delivery_still_being_built_is_waited_for(
    gateway: GatewayStandIn, manifest_signer: Signer, tmp_path: Path
) -> None:
    delivery_id, _ = publish(gateway, manifest_signer, FILES[:2])
    gateway.deliveries[str(delivery_id)].building_polls = 1

    result = fetch(gateway, delivery_id, tmp_path)

    assert result.ok
    assert len(gateway.queries) == 2


def test_an_unknown_delivery_or_key_is_an_error(gateway: GatewayStandIn, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="NotFound"):
        fetch(gateway, uuid.uuid4(), tmp_path)
    with pytest.raises(DownloadError, match="Unauthenticated"):
        download(uuid.uuid4(), tmp_path, gateway_url=gateway.url, api_key="wrong")


@contextmanager
def refusing_proxy() -> Iterator[tuple[str, list[str]]]:
    """An HTTP proxy that keeps each request line it is sent and answers 502 to all."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.requestline)
            self.send_error(502)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{server.server_port}", seen
        finally:
            server.shutdown()


def test_the_proxy_the_environment_names_is_used_unless_no_proxy_exempts_the_host(
    gateway: GatewayStandIn,
    object_server: ObjectServer,
    manifest_signer: Signer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    delivery_id, _ = publish(gateway, manifest_signer, FILES[1:2])
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)

    with refusing_proxy() as (proxy, seen):
        monkeypatch.setenv("HTTP_PROXY", proxy)
        with pytest.raises(DownloadError, match="502"):
            fetch(gateway, delivery_id, tmp_path)
        assert seen == [f"GET {gateway.url}{WELL_KNOWN_KEYS_PATH} HTTP/1.1"]

        # The gateway exempted by host and port, the object store is still behind the proxy.
        monkeypatch.setenv("NO_PROXY", gateway.url.removeprefix("http://"))
        seen.clear()
        (failed,) = fetch(gateway, delivery_id, tmp_path).failed
        assert failed.error is not None
        assert failed.error.startswith("object store: 502")
        assert len(seen) == ATTEMPTS
        assert all(line.startswith(f"GET {object_server.url}/") for line in seen)

        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        seen.clear()
        assert fetch(gateway, delivery_id, tmp_path).ok
        assert seen == []
