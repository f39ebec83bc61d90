"""C2PA provenance in delivered files: (a) what embedding costs per file, (b) what it
does to a delivery build's throughput, side by side in one run.

(a) Embeds the manifest a delivery writes (`services.delivery.provenance`: the
    `cawg.training-mining` and Assent licence assertions, signed with an Ed25519
    delivery key under a test CA's certificate) into JPEG, PNG and WebP images of a few
    sizes (noise, so they do not compress away), in memory. Prints the best of a few
    runs per file and the bytes the manifest adds.
(b) Runs the builder's own `assemble` (read each file, embed, store the copy, write and
    sign the manifest, store it) over a bundle of images on the local object store,
    once with provenance and once without, and prints files per second and the ratio.
    The database is left out, as in bench/delivery.py: the lines are handed to the
    build as the database would, and the key history is a single key.

Usage: python bench/c2pa_embedding.py [--files 200] [--runs 3]
"""

import argparse
import asyncio
import hashlib
import io
import os
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from PIL import Image
from pydantic import SecretStr

from assent.protocol import generate_seed
from services.delivery.builder.assemble import BuildTools, Leased, assemble
from services.delivery.manifest import DeliveryKeys, ManifestSigner, Watermark
from services.delivery.provenance import CertificateAuthority, Provenance, Stamp
from storage import StorageSettings, create_object_store
from storage.keys import work_version_key

FORMATS = (("image/jpeg", "JPEG"), ("image/png", "PNG"), ("image/webp", "WEBP"))
SIDES = (64, 512, 1536)


def noise_image(side: int, fmt: str) -> bytes:
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, fmt)
    return out.getvalue()


def stamp(file_name: str) -> Stamp:
    return Stamp(
        licence_id=uuid.uuid4(),
        delivery_id=uuid.uuid4(),
        work_id=uuid.uuid4(),
        version_id=uuid.uuid4(),
        terms_id=hashlib.sha256(b"terms").hexdigest(),
        fingerprint=uuid.uuid4().hex,
        original_sha256=hashlib.sha256(file_name.encode()).hexdigest(),
        uses=("training", "fine_tuning"),
        file_name=file_name,
    )


def per_file(provenance: Provenance, signer: ManifestSigner, runs: int) -> None:
    embedder = provenance.embedder(signer)
    print("(a) embedding cost per file (best of runs)")
    print(f"{'format':<12}{'pixels':>12}{'file KiB':>10}{'ms':>9}{'added KiB':>11}")
    for media_type, fmt in FORMATS:
        for side in SIDES:
            data = noise_image(side, fmt)
            best, added = float("inf"), 0
            for _ in range(runs):
                started = time.perf_counter()
                embedded = embedder.embed_bytes(data, media_type, stamp(f"x.{fmt.lower()}"))
                best = min(best, time.perf_counter() - started)
                added = len(embedded) - len(data)
            print(
                f"{media_type:<12}{f'{side}x{side}':>12}{len(data) / 1024:>10.0f}"
                f"{best * 1000:>9.1f}{added / 1024:>11.1f}"
            )


@dataclass(frozen=True)
class Line:
    """A licence line as the builder reads it (a database row in the service)."""

    work_id: uuid.UUID
    version_id: uuid.UUID
    file_name: str
    size: int
    sha256: str
    media_type: str
    attribution: str
    terms_id: str
    order_key: str


class OneKey:
    """The key history of one key: what `DeliveryKeys` answers before any rotation."""

    def __init__(self, signer: ManifestSigner, watermark: Watermark) -> None:
        self.signer, self.watermark = signer, watermark

    async def signer_at(self, _issued_at: datetime) -> ManifestSigner:
        return self.signer


async def throughput(provenance: Provenance, signer: ManifestSigner, files: int, runs: int) -> None:
    watermark = Watermark(SecretStr("bench-" + "w" * 40))
    keys = cast(DeliveryKeys, OneKey(signer, watermark))
    with tempfile.TemporaryDirectory() as root:
        store = create_object_store(StorageSettings(backend="local", local_root=Path(root)))
        await store.ensure_bucket()
        lines = []
        for index in range(files):
            media_type, fmt = FORMATS[index % len(FORMATS)]
            data = noise_image(256, fmt)
            work_id, version_id = uuid.uuid4(), uuid.uuid4()
            await store.put(work_version_key(work_id, version_id), data, content_type=media_type)
            lines.append(
                Line(
                    work_id,
                    version_id,
                    f"work-{index}.{fmt.lower()}",
                    len(data),
                    hashlib.sha256(data).hexdigest(),
                    "image",
                    "Creator",
                    hashlib.sha256(b"terms").hexdigest(),
                    f"{index:064x}",
                )
            )

        async def build(with_provenance: bool) -> float:
            tools = BuildTools(
                store=store, keys=keys, provenance=provenance if with_provenance else None
            )
            leased = Leased(
                lease_id=uuid.uuid4(),
                delivery_id=uuid.uuid4(),
                licence_id=uuid.uuid4(),
                bundle_id=uuid.uuid4(),
                buyer_id=uuid.uuid4(),
                buyer_name="Bench Lab",
                uses=("training",),
            )

            async def keep(_leased: Leased) -> bool:
                return True

            async def after(_licence_id: uuid.UUID, _order_key: str) -> Sequence[Any]:
                return []

            started = time.perf_counter()
            built = await assemble(
                leased, cast(Sequence[Any], lines), lines=after, keep_lease=keep, tools=tools
            )
            elapsed = time.perf_counter() - started
            assert len(built.entries) == files
            assert len(built.copy_keys) == (files if with_provenance else 0)
            return elapsed

        best = {True: float("inf"), False: float("inf")}
        for _ in range(runs):
            for with_provenance in (False, True):
                best[with_provenance] = min(best[with_provenance], await build(with_provenance))
        plain, embedded = files / best[False], files / best[True]
        print(f"\n(b) delivery build of {files} images (256x256, JPEG/PNG/WebP), best of {runs}")
        print(f"{'without embedding':<22}{plain:>10.0f} files/s  ({best[False]:.2f} s)")
        print(f"{'with embedding':<22}{embedded:>10.0f} files/s  ({best[True]:.2f} s)")
        print(f"ratio (with / without): {embedded / plain:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # One chunk of the builder (100 lines) and more: the build reads a chunk at a time.
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    arguments = parser.parse_args()
    provenance = Provenance(CertificateAuthority())
    signer = ManifestSigner(SecretStr(generate_seed()))
    per_file(provenance, signer, arguments.runs)
    asyncio.run(throughput(provenance, signer, arguments.files, arguments.runs))


if __name__ == "__main__":
    main()
