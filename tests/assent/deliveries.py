"""Deliveries published on the gateway stand-in, and fetched from it as a lab would."""

import asyncio
import hashlib
import random
import uuid
from collections.abc import Sequence
from pathlib import Path

from assent.download import DownloadResult, FileStatus, download
from assent.protocol import Signer
from services.contracts.delivery import ManifestEntry
from tests.assent.documents import signed_manifest
from tests.assent.stand_in import API_KEY, GatewayStandIn

MiB = 1024 * 1024
RNG = random.Random(5)
FILES = [
    ("empty.txt", b""),
    ("one-byte.bin", b"x"),
    ("notes.txt", RNG.randbytes(70_000)),
    # Larger than a chunk, so a resumed transfer starts mid-file.
    ("big.bin", RNG.randbytes(3 * MiB + 123)),
]


def publish(
    gateway: GatewayStandIn,
    signer: Signer,
    files: Sequence[tuple[str, bytes]] = FILES,
    *,
    served: dict[str, bytes] | None = None,
) -> tuple[uuid.UUID, list[ManifestEntry]]:
    delivery_id = uuid.uuid4()
    entries = asyncio.run(gateway.store_files(delivery_id, files, served=served))
    gateway.issue(delivery_id, signed_manifest(signer, delivery_id, entries))
    return delivery_id, entries


def fetch(gateway: GatewayStandIn, delivery_id: uuid.UUID, to: Path) -> DownloadResult:
    return download(delivery_id, to, gateway_url=gateway.url, api_key=API_KEY, parallel=3)


def download_args(gateway: GatewayStandIn, delivery_id: uuid.UUID, to: Path) -> list[str]:
    return ["download", str(delivery_id), "--to", str(to), "--gateway", gateway.url, "--quiet"]


def statuses(result: DownloadResult) -> dict[str, FileStatus]:
    return {file.entry.file_name: file.status for file in result.files}


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def files_under(directory: Path) -> set[Path]:
    return {path for path in directory.rglob("*") if path.is_file()}
