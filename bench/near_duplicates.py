"""Near-duplicate detection: how well it finds copies, how rarely it errs, how fast it
looks up, on PostgreSQL with 1,000,000 image fingerprints stored.

1. Draws 10,000 distinct pictures (gradients, shapes, lines, words, blur and noise) and
   fingerprints them; 1,000 of them are copied five ways: resized to half, JPEG at
   quality 70, cropped by 10% (5% off each side), 15% brighter, 15% darker.
2. False matches: each distinct picture is looked up among the other 9,999 (the engine's
   own bands and scores, in memory); a picture with any match is a false match.
3. Creates a scratch database, migrates the catalogue, and loads with COPY the 10,000
   real fingerprints and 990,000 more derived from them (each bit flipped with
   probability 0.3: far from any picture, but with the real hashes' skew in the bands).
4. Detection: each copy is looked up in the store (`likeness_service.find_near`).
5. Lookup latency: the same service call against a linear scan of the same 1,000,000
   signatures held in memory (numpy, every one compared), taking turns, with the two
   answers checked equal.
6. Texts: 10,000 distinct texts and 1,000 lightly edited copies (one word in thirty
   replaced, a sentence dropped, case and spacing changed), the same two measures.

Usage: python bench/near_duplicates.py [--images 10000] [--stored 1000000] [--runs 300]
       (PostgreSQL: ASSENT_BENCH_POSTGRES_URL, default the local server, trust auth)
"""

import argparse
import asyncio
import io
import os
import random
import statistics
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime

import asyncpg
import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

from services.catalogue.likeness import (
    Fingerprint,
    FingerprintKind,
    likeness_service,
    near_score,
    signature_bands,
)
from services.catalogue.likeness.image import NEAR_DISTANCE
from services.contracts.catalogue import MediaType
from services.kit.db import create_engine, create_sessionmaker
from services.kit.migrations import upgrade
from services.stack import SERVICES

ADMIN_DSN = os.environ.get(
    "ASSENT_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
MIGRATIONS = next(component for component in SERVICES if component.name == "catalogue").migrations
WORDS = [a + b + c for a in "bdfgklmnprstvz" for b in "aeiou" for c in ("", "n", "r", "st", "l")]
BATCH = 50_000
COPIES = ("resize 50%", "JPEG q70", "crop 10%", "brightness +15%", "brightness -15%")


def picture(seed: int) -> Image.Image:
    rng = random.Random(seed)
    width, height = 384, 288
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    if rng.random() < 0.6:
        angle = rng.uniform(0, 2 * np.pi)
        ramp = np.cos(angle) * x / width + np.sin(angle) * y / height
    else:
        ramp = np.hypot(x - rng.uniform(0, width), y - rng.uniform(0, height))
    ramp = (ramp - ramp.min()) / (np.ptp(ramp) or 1)
    start, end = (np.array([rng.randrange(256) for _ in range(3)]) for _ in range(2))
    pixels = start * (1 - ramp[..., None]) + end * ramp[..., None]
    image = Image.fromarray(pixels.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(4, 12)):
        colour = tuple(rng.randrange(256) for _ in range(3))
        x0, y0 = rng.uniform(-0.2 * width, width), rng.uniform(-0.2 * height, height)
        box = (x0, y0, x0 + rng.uniform(0.1, 0.6) * width, y0 + rng.uniform(0.1, 0.6) * height)
        points = [(rng.uniform(0, width), rng.uniform(0, height)) for _ in range(rng.randint(3, 6))]
        shape = rng.random()
        if shape < 0.35:
            draw.ellipse(box, fill=colour)
        elif shape < 0.6:
            draw.rectangle(box, fill=colour)
        elif shape < 0.85:
            draw.polygon(points, fill=colour)
        else:
            draw.line(points, fill=colour, width=rng.randint(3, 14))
    font = ImageFont.load_default(size=rng.randint(18, 40))
    words = " ".join(rng.sample(WORDS, 2))
    position = (rng.uniform(0, width / 2), rng.uniform(0, 0.8 * height))
    draw.text(position, words, fill=tuple(rng.randrange(256) for _ in range(3)), font=font)
    image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.5)))
    noise = np.random.default_rng(seed).normal(0, rng.uniform(2, 10), (height, width, 3))
    return Image.fromarray(np.clip(np.asarray(image, np.float32) + noise, 0, 255).astype(np.uint8))


def encoded(image: Image.Image, file_format: str = "PNG", quality: int = 95) -> bytes:
    buffer = io.BytesIO()
    if file_format == "PNG":
        # Lossless either way; the least compression keeps drawing 10,000 pictures quick.
        image.save(buffer, file_format, compress_level=1)
    else:
        image.save(buffer, file_format, quality=quality)
    return buffer.getvalue()


def copied(image: Image.Image) -> list[bytes]:
    width, height = image.size
    margin_x, margin_y = width // 20, height // 20
    return [
        encoded(image.resize((width // 2, height // 2), Image.Resampling.LANCZOS)),
        encoded(image, "JPEG", quality=70),
        encoded(image.crop((margin_x, margin_y, width - margin_x, height - margin_y))),
        encoded(ImageEnhance.Brightness(image).enhance(1.15)),
        encoded(ImageEnhance.Brightness(image).enhance(0.85)),
    ]


def fingerprint(content: bytes, media_type: MediaType) -> Fingerprint:
    found = likeness_service.fingerprint(content, media_type)
    assert found is not None
    return found


def picture_and_copies(job: tuple[int, bool]) -> tuple[Fingerprint, list[Fingerprint]]:
    seed, with_copies = job
    image = picture(seed)
    copies = copied(image) if with_copies else []
    return fingerprint(encoded(image), MediaType.IMAGE), [
        fingerprint(copy, MediaType.IMAGE) for copy in copies
    ]


def text(rng: random.Random) -> list[str]:
    sentences = []
    for _ in range(rng.randint(10, 25)):
        words = rng.choices(WORDS, weights=[1 / (i + 1) for i in range(len(WORDS))], k=12)
        sentences.append(" ".join(words).capitalize() + ".")
    return sentences


def edited(sentences: list[str], rng: random.Random) -> str:
    kept = list(sentences)
    del kept[rng.randrange(len(kept))]
    words = "  ".join(kept).split(" ")
    for index in rng.sample(range(len(words)), len(words) // 30):
        words[index] = rng.choice(WORDS)
    return " ".join(words).upper()


def false_matches(fingerprints: list[Fingerprint]) -> tuple[int, int]:
    """Pictures (or texts) with a match among the others, and pairs matched, in memory."""
    by_band: dict[tuple[int, int], list[int]] = defaultdict(list)
    for index, stored in enumerate(fingerprints):
        for band in stored.bands:
            by_band[band].append(index)
    pairs = 0
    with_a_match = 0
    for index, query in enumerate(fingerprints):
        candidates = {other for band in query.bands for other in by_band[band]} - {index}
        near = [
            other
            for other in candidates
            if near_score(query.kind, query.signature, fingerprints[other].signature) is not None
        ]
        pairs += len(near)
        with_a_match += bool(near)
    return with_a_match, pairs // 2


def derived_signatures(real: list[bytes], count: int, seed: int) -> Iterable[np.ndarray]:
    """`count` signatures, each a real one with every bit flipped with probability 0.3."""
    rng = np.random.default_rng(seed)
    sources = np.frombuffer(b"".join(real), dtype=np.uint8).reshape(len(real), -1)
    for start in range(0, count, BATCH):
        size = min(BATCH, count - start)
        flips = np.packbits(rng.random((size, sources.shape[1] * 8)) < 0.3, axis=1)
        yield sources[rng.integers(0, len(real), size)] ^ flips


async def load(dsn: str, signatures: Iterable[tuple[FingerprintKind, bytes]]) -> list[uuid.UUID]:
    """COPY the fingerprints and their bands; returns the work id of each, in order. The
    works themselves are not created (foreign keys are not checked during the load)."""
    connection = await asyncpg.connect(dsn, server_settings={"search_path": "catalogue"})
    creator = uuid.uuid4()
    now = datetime.now(UTC)
    ids: list[uuid.UUID] = []
    try:
        await connection.execute("SET session_replication_role = replica")
        # One index build after the load is much faster than 16 M ordered inserts.
        await connection.execute("ALTER TABLE fingerprint_band DROP CONSTRAINT pk_fingerprint_band")
        rows: list[tuple[object, ...]] = []
        bands: list[tuple[object, ...]] = []
        for kind, signature in signatures:
            fingerprint_id = uuid.uuid4()
            ids.append(uuid.uuid4())
            rows.append((fingerprint_id, ids[-1], creator, kind.value, signature, now))
            bands.extend(
                (kind.value, band, value, fingerprint_id, signature)
                for band, value in signature_bands(kind, signature)
            )
            if len(rows) == BATCH:
                await copy(connection, rows, bands)
                print(f"  loaded {len(ids):,} fingerprints", flush=True)
        await copy(connection, rows, bands)
        await connection.execute(
            "ALTER TABLE fingerprint_band ADD CONSTRAINT pk_fingerprint_band"
            " PRIMARY KEY (kind, band, value, fingerprint_id) INCLUDE (signature)"
        )
        await connection.execute("VACUUM ANALYZE fingerprint")
        await connection.execute("VACUUM ANALYZE fingerprint_band")
    finally:
        await connection.close()
    return ids


async def copy(
    connection: asyncpg.Connection, rows: list[tuple[object, ...]], bands: list[tuple[object, ...]]
) -> None:
    await connection.copy_records_to_table(
        "fingerprint",
        records=rows,
        columns=["id", "work_id", "creator_id", "kind", "signature", "created_at"],
    )
    await connection.copy_records_to_table(
        "fingerprint_band",
        records=bands,
        columns=["kind", "band", "value", "fingerprint_id", "signature"],
    )
    rows.clear()
    bands.clear()


def linear_scan(stored: np.ndarray, query: Fingerprint) -> np.ndarray:
    """Indexes of every stored image signature near `query`, each one compared."""
    views = np.frombuffer(query.signature, dtype=">u8").astype(np.uint64)
    distances = [
        np.bitwise_count(stored[:, 2 * mine] ^ views[2 * theirs])
        + np.bitwise_count(stored[:, 2 * mine + 1] ^ views[2 * theirs + 1])
        for mine in (0, 1)
        for theirs in (0, 1)
    ]
    return np.flatnonzero(np.minimum.reduce(distances) <= NEAR_DISTANCE)


def percentile(values: list[float], fraction: float) -> float:
    return statistics.quantiles(values, n=100)[int(fraction * 100) - 1] * 1000


async def measure(
    database_url: str,
    work_ids: list[uuid.UUID],
    copies: list[list[Fingerprint]],
    strangers: list[Fingerprint],
    stored: np.ndarray,
    edited_texts: list[Fingerprint],
    runs: int,
) -> None:
    engine = create_engine(database_url, schema="catalogue", pool_size=1)
    sessionmaker = create_sessionmaker(engine)

    async def near(query: Fingerprint) -> set[uuid.UUID]:
        async with sessionmaker() as session:
            matches = await likeness_service.find_near(session, query, excluding_creator=None)
        return {match.work_id for match in matches}

    print(f"\nimages: detection of copies through the store ({len(stored):,} stored)")
    for kind_index, name in enumerate(COPIES):
        found = others = 0
        for original, its_copies in enumerate(copies):
            matched = await near(its_copies[kind_index])
            found += work_ids[original] in matched
            others += bool(matched - {work_ids[original]})
        print(f"  {name:18} {found / len(copies):7.2%} found   {others} with another match")
    strays = sum([bool(await near(stranger)) for stranger in strangers])
    print(f"  {len(strangers)} new distinct pictures matched anything: {strays}")

    text_start = len(stored)
    found = others = 0
    for original, copy in enumerate(edited_texts):
        matched = await near(copy)
        found += work_ids[text_start + original] in matched
        others += bool(matched - {work_ids[text_start + original]})
    print(
        f"\ntexts: lightly edited copies found {found / len(edited_texts):.2%}, "
        f"{others} with another match"
    )

    queries = [copy for its_copies in copies for copy in its_copies] + strangers
    rng = random.Random(7)
    sampled = [rng.choice(queries) for _ in range(runs)]
    index_times: list[float] = []
    scan_times: list[float] = []
    for query in sampled[:20]:
        await near(query)
    scanned = indexed = 0
    for query in sampled:
        started = time.perf_counter()
        by_index = await near(query)
        index_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        by_scan = {work_ids[i] for i in linear_scan(stored, query)}
        scan_times.append(time.perf_counter() - started)
        # Beyond 7 differing bits the bands find a match almost always, not always.
        assert by_index <= by_scan, ("the index found what the scan did not", by_index, by_scan)
        scanned += len(by_scan)
        indexed += len(by_index)
    i50, i95 = percentile(index_times, 0.5), percentile(index_times, 0.95)
    s50, s95 = percentile(scan_times, 0.5), percentile(scan_times, 0.95)
    print(f"\nimage lookup among {len(stored):,} (ms; {runs} lookups)")
    print(f"  bands in PostgreSQL   p50 {i50:7.2f}   p95 {i95:7.2f}")
    print(f"  linear scan (numpy)   p50 {s50:7.2f}   p95 {s95:7.2f}   scan/index {s95 / i95:.2f}")
    print(f"  the index found {indexed} of the {scanned} matches the scan found")
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--copied", type=int, default=1_000)
    parser.add_argument("--stored", type=int, default=1_000_000)
    parser.add_argument("--texts", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    started = time.perf_counter()
    jobs = [(seed, seed < args.copied) for seed in range(args.images + 100)]
    with ProcessPoolExecutor(args.workers) as pool:
        drawn = list(pool.map(picture_and_copies, jobs, chunksize=50))
    images = [image for image, _ in drawn[: args.images]]
    copies = [its_copies for _, its_copies in drawn[: args.copied]]
    strangers = [image for image, _ in drawn[args.images :]]
    print(
        f"drew and fingerprinted {len(drawn):,} pictures and "
        f"{len(COPIES) * args.copied:,} copies in {time.perf_counter() - started:.0f} s"
    )
    with_a_match, pairs = false_matches(images)
    print(
        f"images: false matches among {args.images:,} distinct: {with_a_match} pictures "
        f"({with_a_match / args.images:.3%}), {pairs} pairs"
    )

    rng = random.Random(11)
    sentences = [text(rng) for _ in range(args.texts)]
    texts = [fingerprint(" ".join(s).encode(), MediaType.TEXT) for s in sentences]
    edited_texts = [
        fingerprint(edited(s, rng).encode(), MediaType.TEXT) for s in sentences[: args.copied]
    ]
    with_a_match, pairs = false_matches(texts)
    print(
        f"texts: false matches among {args.texts:,} distinct: {with_a_match} texts "
        f"({with_a_match / args.texts:.3%}), {pairs} pairs"
    )

    real = [image.signature for image in images]
    derived = np.concatenate(list(derived_signatures(real, args.stored - len(real), seed=5)))
    stored = np.concatenate(
        [np.frombuffer(b"".join(real), dtype=np.uint8).reshape(len(real), -1), derived]
    )
    signatures = [(FingerprintKind.IMAGE, row.tobytes()) for row in stored] + [
        (FingerprintKind.TEXT, t.signature) for t in texts
    ]
    name = f"assent_bench_{uuid.uuid4().hex[:8]}"
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    dsn = f"{ADMIN_DSN.rsplit('/', 1)[0]}/{name}"
    database_url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        assert MIGRATIONS is not None
        upgrade(MIGRATIONS, database_url, "catalogue")
        print(f"loading {len(signatures):,} fingerprints into {name}…", flush=True)
        started = time.perf_counter()
        work_ids = asyncio.run(load(dsn, signatures))
        print(f"loaded in {time.perf_counter() - started:.0f} s", flush=True)
        as_words = stored.view(">u8").astype(np.uint64)
        asyncio.run(
            measure(
                database_url,
                work_ids,
                copies,
                strangers,
                as_words,
                edited_texts,
                args.runs,
            )
        )
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def admin(statement: str) -> None:
    connection = await asyncpg.connect(ADMIN_DSN)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


if __name__ == "__main__":
    main()
