"""Streaming throughput: the licence-enforcing loader (`assent.streaming.LicensedLoader`)
against plain boto3 reading the same objects from the same S3 endpoint, and against
reading them from local files, side by side in one run (issue 21 §3; target: the loader
at 0.9 times boto3 or better).

1. Starts a moto S3 server on loopback and uploads N random objects of SIZE bytes, and
   writes the same bytes to local files (not timed).
2. Starts a gateway stand-in in its own process (this script with `--serve-gateway`), as
   bench/download.py does, since this bench measures the client: it publishes a signing
   key, answers the `delivery` query with a signed manifest of those objects and the
   `licence` query with an active licence for training, and answers each file's download
   path with a 307 to an S3 URL presigned at that moment, naming when it ends
   (`assent-link-expires`) as the gateway does. It checks no entitlement.
3. Alternates rounds, the order rotating each round so that none always runs first:
   - boto3: one client shared by P threads, `get_object` read into memory, nothing verified;
   - loader: one pass of `LicensedLoader` with `parallel=P`: the manifest query and its
     verification, the licence query, then per file a link from the gateway, one ranged
     GET, sha256 as it reads, records yielded in manifest order (P transfers at once,
     while as many more files ask the gateway for their links);
   - local: P threads reading each file whole from the page cache, nothing verified;
   and prints per round MiB/s and the loader's ratios to boto3 and to local files, then
   the medians of the rounds' ratios.

The machine is shared and has 2 cores that moto, the stand-in and the client all use, so
single rounds swing; judge by the median of several rounds.

Usage: python bench/streaming.py [--files 500] [--size 1048576] [--parallel 8] [--rounds 5]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from download import (
    API_KEY,
    BUCKET,
    MiB,
    free_port,
    s3_client,
    upload,
    wait_until_answers,
    write_delivery,
)

from assent.streaming import LINK_EXPIRES_HEADER, AssentFileSystem, LicensedLoader
from services.contracts.signing import WELL_KNOWN_KEYS_PATH
from storage.keys import work_version_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

DELIVERY_ID = str(uuid.UUID(int=0))
LINK_SECONDS = 300


def licence_lines(work_ids: list[str]) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    return [
        {
            "workId": work_id,
            "status": "ACTIVE",
            "expired": False,
            "startsAt": (now - timedelta(days=1)).isoformat(),
            "endsAt": (now + timedelta(days=365)).isoformat(),
            "excludedReason": None,
            "terms": {"uses": ["TRAINING"]},
        }
        for work_id in work_ids
    ]


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
    lines = json.loads((directory / "lines.json").read_text())
    client = s3_client(os.environ["ASSENT_BENCH_S3_ENDPOINT"], 16)

    async def published_keys(_request: Request) -> Response:
        return JSONResponse(keys)

    async def graphql(request: Request) -> Response:
        body = await request.json()
        ident = body["variables"]["id"]
        if "licence(id:" in body["query"]:
            licence = {
                "__typename": "Licence",
                "id": ident,
                "status": "ACTIVE",
                "uses": ["TRAINING"],
                "startsAt": lines[0]["startsAt"],
                "endsAt": lines[0]["endsAt"],
                "refundedAt": None,
                "expired": False,
                "lines": lines,
            }
            return JSONResponse({"data": {"licence": licence}})
        node = {"__typename": "Delivery", "id": ident, "status": "ISSUED", "shards": None}
        return JSONResponse({"data": {"delivery": {**node, "manifest": manifest}}})

    async def file(request: Request) -> Response:
        url = client.generate_presigned_url(
            "get_object",
            Params={"Bucket": BUCKET, "Key": objects[request.url.path]},
            ExpiresIn=LINK_SECONDS,
        )
        ends = datetime.now(UTC) + timedelta(seconds=LINK_SECONDS)
        return RedirectResponse(
            url, status_code=307, headers={LINK_EXPIRES_HEADER: ends.isoformat()}
        )

    routes = [
        Route(WELL_KNOWN_KEYS_PATH, published_keys),
        Route("/graphql", graphql, methods=["POST"]),
        Route("/downloads/{delivery}/{fingerprint}", file),
    ]
    uvicorn.run(
        Starlette(routes=routes), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )


def boto3_round(client: "S3Client", keys: list[str], parallel: int) -> int:
    def one(key: str) -> int:
        return len(client.get_object(Bucket=BUCKET, Key=key)["Body"].read())

    with ThreadPoolExecutor(parallel) as pool:
        return sum(pool.map(one, keys))


def loader_round(gateway_url: str, parallel: int) -> int:
    # A filesystem of its own each round, as a new training job would start.
    filesystem = AssentFileSystem(gateway_url, API_KEY, skip_instance_cache=True)
    loader = LicensedLoader([DELIVERY_ID], "training", filesystem=filesystem, parallel=parallel)
    read = sum(len(record.data) for record in loader)
    if loader.report.skipped:
        raise RuntimeError(f"the loader skipped records: {loader.report.summary()}")
    return read


def local_round(paths: list[Path], parallel: int) -> int:
    with ThreadPoolExecutor(parallel) as pool:
        return sum(pool.map(lambda path: len(path.read_bytes()), paths))


def mib_per_s(run: Callable[[], int], total: int) -> float:
    started = time.perf_counter()
    read = run()
    elapsed = time.perf_counter() - started
    if read != total:
        raise RuntimeError(f"read {read} bytes, expected {total}")
    return total / MiB / elapsed


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
        entries = upload(client, args.files, args.size, args.parallel)
        write_delivery(scratch, entries)
        lines = licence_lines([str(entry.work_id) for entry in entries])
        (scratch / "lines.json").write_text(json.dumps(lines))
        keys = [work_version_key(entry.work_id, entry.version_id) for entry in entries]
        local = scratch / "local"
        local.mkdir()
        paths = []
        for key in keys:
            path = local / key.replace("/", "_")
            path.write_bytes(client.get_object(Bucket=BUCKET, Key=key)["Body"].read())
            paths.append(path)
        env = dict(
            os.environ, ASSENT_BENCH_DELIVERY_DIR=str(scratch), ASSENT_BENCH_S3_ENDPOINT=endpoint
        )
        gateway = subprocess.Popen(
            [sys.executable, __file__, "--serve-gateway", "--port", str(gateway_port)], env=env
        )
        gateway_url = f"http://127.0.0.1:{gateway_port}"
        wait_until_answers(gateway_url + WELL_KNOWN_KEYS_PATH, gateway)
        total = args.files * args.size
        print(
            f"{args.files:,} objects of {args.size:,} bytes, {args.parallel} in parallel\n\n"
            f"{'round':>6} {'boto3 MiB/s':>12} {'loader MiB/s':>13} {'local MiB/s':>12}"
            f" {'loader/boto3':>13} {'loader/local':>13}"
        )
        sides: list[tuple[str, Callable[[], int]]] = [
            ("boto3", lambda: boto3_round(client, keys, args.parallel)),
            ("loader", lambda: loader_round(gateway_url, args.parallel)),
            ("local", lambda: local_round(paths, args.parallel)),
        ]
        to_boto3: list[float] = []
        to_local: list[float] = []
        for number in range(args.rounds):
            shift = number % len(sides)
            figures = {name: mib_per_s(run, total) for name, run in sides[shift:] + sides[:shift]}
            to_boto3.append(figures["loader"] / figures["boto3"])
            to_local.append(figures["loader"] / figures["local"])
            print(
                f"{number + 1:>6} {figures['boto3']:>12.1f} {figures['loader']:>13.1f}"
                f" {figures['local']:>12.1f} {to_boto3[-1]:>13.2f} {to_local[-1]:>13.2f}",
                flush=True,
            )
        print(
            f"\nloader / boto3, median of the rounds' ratios: {statistics.median(to_boto3):.2f}"
            f" (target >= 0.90; rounds {min(to_boto3):.2f}-{max(to_boto3):.2f})\n"
            f"loader / local files: {statistics.median(to_local):.2f}"
        )
    finally:
        for process in (gateway, moto):
            if process is not None:
                process.terminate()
                process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=500)
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
