"""Delivery: (a) building and signing a large manifest.

(a) Builds and signs manifests of 10,000 and 100,000 works with the builder's own code
    (`services.delivery.manifest.ManifestWriter`: watermark fingerprints, the in-toto
    statement written entry by entry, the DSSE signature, the envelope), fed the licence
    lines in keyed order as the builder reads them from the database, without the
    database, the catalogue or the object store. Beside it, a baseline that only
    serialises the same entries with orjson and hashes them with sha256. Prints the best
    wall time of a few runs, the peak memory traced while building (tracemalloc, in a
    separate run, since tracing slows allocation), and the ratio to the baseline.

Usage: python bench/delivery.py [--works 10000 100000] [--runs 3]
"""

import argparse
import functools
import hashlib
import os
import time
import tracemalloc
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import orjson
from pydantic import SecretStr

from assent.protocol import generate_seed, verify_envelope
from services.contracts.delivery import IN_TOTO_PAYLOAD_TYPE
from services.contracts.signing import Envelope
from services.delivery.manifest import ManifestLine, ManifestSigner, ManifestWriter, Watermark

MiB = 1024 * 1024
MEDIA = ("text", "image", "audio", "video", "other")


def licence_lines(count: int, watermark: Watermark, licence_id: uuid.UUID) -> list[ManifestLine]:
    """`count` lines sorted by their keyed order, as the index on (licence, order key)
    hands them to the builder. Made before anything is measured: in the service they
    are the database's, read a chunk at a time."""
    lines = [
        ManifestLine(
            work_id=uuid.uuid4(),
            version_id=uuid.uuid4(),
            file_name=f"work-{index:06d}.{MEDIA[index % 5]}",
            size=1_000_000 + index,
            sha256=hashlib.sha256(index.to_bytes(8, "big")).hexdigest(),
            media_type=MEDIA[index % 5],
            attribution=f"Creator {index % 2_000}",
            terms_id=hashlib.sha256(f"terms {index % 4}".encode()).hexdigest(),
        )
        for index in range(count)
    ]
    lines.sort(key=lambda line: watermark.order_key(str(licence_id), str(line.work_id)))
    return lines


def build_and_sign(
    lines: Sequence[ManifestLine],
    watermark: Watermark,
    signer: ManifestSigner,
    *,
    check: bool = False,
) -> int:
    """The builder's path for one delivery; returns the envelope's size.

    With `check`, the envelope is read back and verified with the published key (not
    while measuring: reading it whole is what the builder avoids)."""
    with ManifestWriter(
        delivery_id=uuid.uuid4(),
        licence_id=uuid.uuid4(),
        bundle_id=uuid.uuid4(),
        buyer_id=uuid.uuid4(),
        buyer_name="Bench Lab",
        watermark=watermark,
    ) as writer:
        for line in lines:
            writer.add(line)
        signed = writer.sign(signer, issued_at=datetime.now(UTC))
        if check:
            envelope = Envelope.model_validate_json(signed.envelope.read())
            verify_envelope(envelope, [signer.published()], payload_type=IN_TOTO_PAYLOAD_TYPE)
        return signed.size


def hash_and_serialise(lines: Sequence[ManifestLine]) -> int:
    """The floor: each entry serialised with orjson and fed to sha256, nothing else."""
    digest = hashlib.sha256()
    size = 0
    for line in lines:
        entry = orjson.dumps(
            {
                "work_id": str(line.work_id),
                "version_id": str(line.version_id),
                "file_name": line.file_name,
                "size": line.size,
                "sha256": line.sha256,
                "media_type": line.media_type,
                "attribution": line.attribution,
                "terms_id": line.terms_id,
            }
        )
        digest.update(entry)
        size += len(entry)
    digest.hexdigest()
    return size


def best_time(run: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def traced_peak(run: Callable[[], object]) -> float:
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1] / MiB
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--works", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    watermark = Watermark(SecretStr(os.urandom(32).hex()))
    signer = ManifestSigner(SecretStr(generate_seed()))

    columns = ("build+sign s", "peak MiB", "hash+ser s", "peak MiB", "ratio", "manifest MiB")
    print(f"{'works':>9} " + " ".join(f"{column:>13}" for column in columns), flush=True)
    for count in args.works:
        lines = licence_lines(count, watermark, uuid.uuid4())
        # What is timed is a manifest the published key verifies.
        size = build_and_sign(lines, watermark, signer, check=True)
        build = functools.partial(build_and_sign, lines, watermark, signer)
        floor = functools.partial(hash_and_serialise, lines)
        built, built_peak = best_time(build, args.runs), traced_peak(build)
        baseline, baseline_peak = best_time(floor, args.runs), traced_peak(floor)
        figures = (built, built_peak, baseline, baseline_peak, built / baseline, size / MiB)
        print(f"{count:>9,} " + " ".join(f"{figure:>13.2f}" for figure in figures), flush=True)


if __name__ == "__main__":
    main()
