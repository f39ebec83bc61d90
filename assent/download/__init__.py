"""The lab's download client: every file of a delivery, in parallel, resumable, verified.

1. The published keys come from the gateway's well-known endpoint (or the caller pins
   its own), then the delivery's manifest from GraphQL. The manifest is verified
   (`assent.verify.verify_manifest`) before anything is fetched, and refused whole if the
   signature, the statement or the file layout below fails: nothing is downloaded then.
2. The envelope is saved as `DIR/manifest.dsse.json`, for `assent verify` and auditors.
3. Each file is asked of the gateway (which checks the entitlement and redirects to a
   short-lived signed URL) and fetched from the object store without the API key. Bytes
   stream to `NAME.part` and are hashed as they arrive; only a file whose size and sha256
   match the signed manifest is renamed to `NAME`.

Layout: `DIR/<work id>/<file name>`. Entries are signed by the marketplace, but their file
names are written by creators, so a name is reduced to one safe path segment
(`safe_file_name`) and can never choose a directory; the work id is a UUID. A manifest in
which two entries would land on the same file is refused.

Concurrency: worker threads share urllib3 connection pools (`_http.Http`), each carrying a file
through its redirect, transfer, hashing and rename; at most `parallel` files stream from
the object store at once while as many more ask the gateway for their links. Threads
rather than asyncio because, measured on this project's 2-core machine (bench/download.py),
httpx's async stack spent nearly twice the CPU per file of its sync one; sockets, disk
writes and sha256 all release the GIL, so threads overlap them as boto3's do.

urllib3 (boto3's own HTTP library) rather than httpx, because on such a machine the
client's CPU is taken from the object store and the gateway: httpx reads a body 64 KiB at
a time through h11's buffer, copying each piece several times, and spends about twice
urllib3's CPU on each redirect; urllib3 reads 1 MiB at a time straight from the socket.
In bench/download.py's medians, the client's CPU for 1,000 files of 1 MiB fell from
4.7-5.5 s to 2.6-3.5 s, as little as boto3's own download (2.8-3.6 s) though it also
hashes every byte (about 0.5 s).

Resuming: a run fetches only what is missing or wrong. A complete file is kept if its
sha256 matches; a `.part` file is continued with an HTTP Range request from its current
size, its kept bytes hashed first. A resumed file that does not verify is fetched whole
once more, since the fault may lie in the bytes kept from before. Files are not fsynced:
every run verifies every file again, so a file torn by a crash is caught and re-fetched.
"""

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from uuid import UUID

from rich.progress import Progress

from assent.download._files import ATTEMPTS, FileFetcher
from assent.download._gateway import DELIVERY_QUERY, Gateway
from assent.download._http import Http
from assent.download._layout import (
    MANIFEST_FILE,
    PART_SUFFIX,
    Target,
    plan_targets,
    safe_file_name,
    write_manifest,
)
from assent.download._progress import DownloadProgress
from assent.download._results import (
    DownloadError,
    DownloadResult,
    FileResult,
    FileStatus,
    ManifestRefused,
)
from assent.protocol import VerificationError
from assent.verify import verify_manifest
from services.contracts.signing import PublicKeyRead

__all__ = [
    "ATTEMPTS",
    "DEFAULT_PARALLEL",
    "DELIVERY_QUERY",
    "MANIFEST_FILE",
    "PART_SUFFIX",
    "DownloadError",
    "DownloadResult",
    "FileResult",
    "FileStatus",
    "ManifestRefused",
    "download",
    "plan_targets",
    "safe_file_name",
]

DEFAULT_PARALLEL = 8


def download(
    delivery_id: UUID,
    directory: Path,
    *,
    gateway_url: str,
    api_key: str,
    parallel: int = DEFAULT_PARALLEL,
    keys: Sequence[PublicKeyRead] | None = None,
    wait: float = 60.0,
    progress: Progress | None = None,
) -> DownloadResult:
    """Download and verify every file of a delivery into `directory`.

    `keys` pins the keys the manifest must verify with; by default they are the ones the
    gateway publishes. Raises DownloadError (ManifestRefused for a manifest that fails
    verification) before any file is fetched; per-file failures are in the result. Blocks:
    from async code, run it with `asyncio.to_thread`.
    """
    if parallel < 1:
        raise ValueError("parallel must be at least 1")
    # Per host, a connection for each worker at most: each has one request in flight.
    http = Http(_workers(parallel))
    try:
        gateway = Gateway(http, gateway_url, api_key)
        trusted = list(keys) if keys is not None else gateway.published_keys()
        envelope = gateway.envelope(delivery_id, wait=wait)
        try:
            manifest = verify_manifest(envelope, trusted)
        except VerificationError as exc:
            raise ManifestRefused(f"refusing the manifest: {exc}") from exc
        if manifest.header.delivery_id != delivery_id:
            raise ManifestRefused(
                f"refusing the manifest: it is for delivery {manifest.header.delivery_id}, "
                f"not {delivery_id}"
            )
        targets = plan_targets(directory, manifest)
        write_manifest(directory, envelope)
        shown = DownloadProgress(progress)
        shown.start(targets)
        fetcher = FileFetcher(http, gateway, shown, parallel)
        return DownloadResult(manifest, directory, _run(fetcher, targets, parallel), trusted)
    finally:
        http.clear()


def _workers(parallel: int) -> int:
    # Twice as many files in flight as transfers: while `parallel` files stream from the
    # object store, as many more ask the gateway for their links, so its round trip never
    # leaves a transfer slot idle.
    return 2 * parallel


def _run(fetcher: FileFetcher, targets: list[Target], parallel: int) -> list[FileResult]:
    results: list[FileResult | None] = [None] * len(targets)
    pending = iter(enumerate(targets))
    taking = threading.Lock()

    def worker() -> None:
        while not fetcher.stopping.is_set():
            with taking:
                item = next(pending, None)
            if item is None:
                return
            index, target = item
            results[index] = fetcher.file(target)

    count = min(_workers(parallel), len(targets))
    with ThreadPoolExecutor(count or 1, thread_name_prefix="assent-download") as pool:
        workers = [pool.submit(worker) for _ in range(count)]
        try:
            for future in workers:
                future.result()
        except BaseException:
            # Ctrl-C: the workers stop at their next chunk, leaving `.part` files to resume.
            fetcher.stopping.set()
            raise
    return [result for result in results if result is not None]
