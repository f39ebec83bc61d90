"""Download throughput: `assent download` against a plain parallel boto3 download of the
same objects from the same S3 endpoint (issue 5, part b; target: a ratio of at least 0.8).

1. Starts a moto S3 server process on loopback and uploads N random objects of SIZE bytes
   (not timed).
2. Starts a gateway stand-in in its own process (this script with `--serve-gateway`), since
   this bench measures the client, not the gateway: it publishes a signing key, answers
   the `delivery` query with a signed manifest of those objects, and answers each file's
   download path with a 307 to an S3 URL presigned at that moment, as the gateway does. It
   checks no entitlement and records no download, so the real gateway's per-file cost
   (one authenticated request to the delivery service) is not part of the figure.
3. Alternates rounds of
   - boto3: one client shared by a ThreadPoolExecutor of P threads, `get_object` streamed
     to one file per object in 1 MiB chunks, nothing verified;
   - assent: `assent.download.download` with `parallel=P` (no progress bar): the keys,
     the manifest query and its verification, then per file the gateway redirect, the
     object GET, sha256 while writing, and the rename;
   each into a fresh directory on the same disk (its files emptied after the round, see
   `timed_round`), the side that goes first swapping every round so that neither always
   runs on the same side of a drift in the machine's load; prints per round MiB/s, the
   ratio and each side's client CPU seconds, then the medians and the spread of the ratios.

The machine is shared and has 2 cores, and moto, the stand-in and the client all compete
for them, so single rounds swing widely; judge by the median of 5 rounds or more. The CPU
columns count this process only (moto and the stand-in are not in them) and vary less
than the throughput with the load of the machine.

Usage: python bench/download.py [--files 1000] [--size 1048576] [--parallel 8] [--rounds 5]
"""

import argparse
import hashlib
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import httpx
from botocore.config import Config
from pydantic import SecretStr

from assent.download import download
from assent.protocol import Signer, canonical_json, generate_seed
from services.contracts.catalogue import MediaType
from services.contracts.delivery import (
    IN_TOTO_PAYLOAD_TYPE,
    IN_TOTO_STATEMENT_TYPE,
    MANIFEST_PREDICATE_TYPE,
    ManifestEntry,
    ManifestHeader,
)
from services.contracts.signing import WELL_KNOWN_KEYS_PATH, PublishedKeys
from storage.keys import work_version_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MiB = 1024 * 1024
BUCKET = "assent-bench"
REGION = "us-east-1"
API_KEY = "assent_benchbench_0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_answers(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with code {process.returncode}")
        try:
            httpx.get(url, timeout=1.0)
        except httpx.TransportError:
            time.sleep(0.05)
        else:
            return
    raise TimeoutError(f"{url} did not answer within 30 s")


def s3_client(endpoint: str, parallel: int) -> "S3Client":
    config = Config(max_pool_connections=parallel, retries={"mode": "standard"})
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        # moto accepts any credentials; these only have to be present.
        aws_access_key_id="bench",
        aws_secret_access_key="bench",  # noqa: S106
        config=config,
    )


def upload(client: "S3Client", files: int, size: int, parallel: int) -> list[ManifestEntry]:
    """N objects, and the manifest entries a delivery of them would carry."""
    client.create_bucket(Bucket=BUCKET)
    delivery_id = uuid.UUID(int=0)

    def one(index: int) -> ManifestEntry:
        data = os.urandom(size)
        work_id, version_id = uuid.uuid4(), uuid.uuid4()
        client.put_object(Bucket=BUCKET, Key=work_version_key(work_id, version_id), Body=data)
        fingerprint = secrets.token_hex(16)
        return ManifestEntry(
            work_id=work_id,
            version_id=version_id,
            file_name=f"file-{index:05d}.bin",
            size=size,
            sha256=hashlib.sha256(data).hexdigest(),
            media_type=MediaType.OTHER,
            attribution="Bench Creator",
            terms_id="0" * 64,
            fingerprint=fingerprint,
            path=f"/downloads/{delivery_id}/{fingerprint}",
        )

    with ThreadPoolExecutor(parallel) as pool:
        return list(pool.map(one, range(files)))


def write_delivery(directory: Path, entries: list[ManifestEntry]) -> None:
    """The stand-in's inputs: published keys, the signed manifest, each path's object key."""
    signer = Signer(SecretStr(generate_seed()), purpose="delivery-manifest")
    header = ManifestHeader(
        delivery_id=uuid.UUID(int=0),
        licence_id=uuid.uuid4(),
        bundle_id=uuid.uuid4(),
        buyer_id=uuid.uuid4(),
        buyer_name="Bench Lab",
        issued_at=datetime.now(UTC),
        terms_ids=["0" * 64],
        key_id=signer.key_id,
        entry_count=len(entries),
    )
    statement = {
        "_type": IN_TOTO_STATEMENT_TYPE,
        "subject": [{"name": e.path, "digest": {"sha256": e.sha256}} for e in entries],
        "predicateType": MANIFEST_PREDICATE_TYPE,
        "predicate": {
            "header": header.model_dump(mode="json"),
            "entries": [entry.model_dump(mode="json") for entry in entries],
        },
    }
    envelope = signer.sign(IN_TOTO_PAYLOAD_TYPE, canonical_json(statement))
    (directory / "keys.json").write_text(PublishedKeys(keys=[signer.published()]).model_dump_json())
    (directory / "manifest.json").write_text(envelope.model_dump_json())
    objects = {entry.path: work_version_key(entry.work_id, entry.version_id) for entry in entries}
    (directory / "objects.json").write_text(json.dumps(objects))


def serve_gateway(port: int) -> None:
    """The gateway stand-in's process: its inputs come from the environment."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, RedirectResponse, Response
    from starlette.routing import Route

    directory = Path(os.environ["ASSENT_BENCH_DELIVERY_DIR"])
    keys = json.loads((directory / "keys.json").read_text())
    manifest = json.loads((directory / "manifest.json").read_text())
    objects: dict[str, str] = json.loads((directory / "objects.json").read_text())
    client = s3_client(os.environ["ASSENT_BENCH_S3_ENDPOINT"], 16)

    async def published_keys(_request: Request) -> Response:
        return JSONResponse(keys)

    async def graphql(request: Request) -> Response:
        delivery_id = (await request.json())["variables"]["id"]
        node = {"__typename": "Delivery", "id": delivery_id, "status": "ISSUED"}
        return JSONResponse({"data": {"delivery": {**node, "manifest": manifest}}})

    async def file(request: Request) -> Response:
        key = objects[request.url.path]
        url = client.generate_presigned_url(
            "get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=300
        )
        return RedirectResponse(url, status_code=307)

    routes = [
        Route(WELL_KNOWN_KEYS_PATH, published_keys),
        Route("/graphql", graphql, methods=["POST"]),
        Route("/downloads/{delivery}/{fingerprint}", file),
    ]
    uvicorn.run(
        Starlette(routes=routes), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )


def boto3_round(client: "S3Client", keys: list[str], directory: Path, parallel: int) -> None:
    def one(key: str) -> None:
        body = client.get_object(Bucket=BUCKET, Key=key)["Body"]
        with (directory / key.replace("/", "_")).open("wb") as sink:
            for chunk in body.iter_chunks(MiB):
                sink.write(chunk)

    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(one, keys))


def assent_round(gateway_url: str, files: int, directory: Path, parallel: int) -> None:
    result = download(
        uuid.UUID(int=0), directory, gateway_url=gateway_url, api_key=API_KEY, parallel=parallel
    )
    if not result.ok or len(result.files) != files:
        raise RuntimeError(f"the download failed: {result.failed[:3]}")


@dataclass(frozen=True)
class Round:
    mib_per_s: float
    cpu: float
    """Seconds of this process's CPU (the client's), all threads."""


def timed_round(run: Callable[[Path], None], scratch: Path, total_bytes: int) -> Round:
    directory = Path(tempfile.mkdtemp(dir=scratch))
    cpu, started = time.process_time(), time.perf_counter()
    run(directory)
    measured = Round(total_bytes / MiB / (time.perf_counter() - started), time.process_time() - cpu)
    # Emptied, not deleted, until the bench ends. Deleted, each round's files made every
    # later round slower, the more so for the side creating more inodes (assent: a
    # directory per work): on a file system without a journal, as on this machine, ext4
    # passes over each inode deleted in the last minutes before it reuses one, which took
    # creating a file from tens of microseconds of CPU to about 1 ms within a few rounds.
    # Kept whole, each round wrote to memory never touched before, which costs more on
    # this virtual machine than reusing what the previous round freed.
    for parent, _, names in os.walk(directory):
        for name in names:
            os.truncate(os.path.join(parent, name), 0)
    return measured


def row(label: str, plain: Round, ours: Round, ratio: float) -> str:
    return (
        f"{label:>6} {plain.mib_per_s:>12.1f} {ours.mib_per_s:>13.1f} {ratio:>6.2f}"
        f" {plain.cpu:>12.2f} {ours.cpu:>13.2f}"
    )


def measure(args: argparse.Namespace, scratch: Path) -> None:
    moto_port, gateway_port = free_port(), free_port()
    endpoint = f"http://127.0.0.1:{moto_port}"
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    gateway: subprocess.Popen[bytes] | None = None
    try:
        wait_until_answers(f"{endpoint}/moto-api/", moto)
        client = s3_client(endpoint, args.parallel)
        started = time.perf_counter()
        entries = upload(client, args.files, args.size, args.parallel)
        print(
            f"uploaded {args.files:,} objects of {args.size:,} bytes to moto in "
            f"{time.perf_counter() - started:.1f} s",
            flush=True,
        )
        write_delivery(scratch, entries)
        env = dict(
            os.environ, ASSENT_BENCH_DELIVERY_DIR=str(scratch), ASSENT_BENCH_S3_ENDPOINT=endpoint
        )
        gateway = subprocess.Popen(
            [sys.executable, __file__, "--serve-gateway", "--port", str(gateway_port)], env=env
        )
        gateway_url = f"http://127.0.0.1:{gateway_port}"
        wait_until_answers(gateway_url + WELL_KNOWN_KEYS_PATH, gateway)
        keys = [work_version_key(entry.work_id, entry.version_id) for entry in entries]
        total = args.files * args.size
        plain: list[Round] = []
        ours: list[Round] = []
        ratios: list[float] = []
        print(
            f"\n{'round':>6} {'boto3 MiB/s':>12} {'assent MiB/s':>13} {'ratio':>6}"
            f" {'boto3 CPU s':>12} {'assent CPU s':>13}"
        )
        for number in range(1, args.rounds + 1):
            sides = [
                (plain, lambda d: boto3_round(client, keys, d, args.parallel)),
                (ours, lambda d: assent_round(gateway_url, args.files, d, args.parallel)),
            ]
            for figures, run in sides if number % 2 else reversed(sides):
                figures.append(timed_round(run, scratch, total))
            ratios.append(ours[-1].mib_per_s / plain[-1].mib_per_s)
            print(row(str(number), plain[-1], ours[-1], ratios[-1]), flush=True)
        plain_median = Round(
            statistics.median(r.mib_per_s for r in plain), statistics.median(r.cpu for r in plain)
        )
        ours_median = Round(
            statistics.median(r.mib_per_s for r in ours), statistics.median(r.cpu for r in ours)
        )
        print(row("median", plain_median, ours_median, statistics.median(ratios)))
        # Each round's ratio pairs two runs a few seconds apart, so it cancels the drift of
        # a shared machine better than the ratio of the medians would.
        print(
            f"\nassent download / plain boto3 (P={args.parallel}), median of the rounds' "
            f"ratios: {statistics.median(ratios):.2f} (target >= 0.80); rounds "
            f"{min(ratios):.2f}-{max(ratios):.2f}"
        )
    finally:
        for process in (gateway, moto):
            if process is not None:
                process.terminate()
                process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=1_000)
    parser.add_argument("--size", type=int, default=MiB)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--serve-gateway", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_gateway:
        serve_gateway(args.port)
        return
    with tempfile.TemporaryDirectory(prefix="assent-bench-") as scratch:
        measure(args, Path(scratch))


if __name__ == "__main__":
    main()
