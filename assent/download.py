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

Concurrency: worker threads share urllib3 connection pools (`_Http`), each carrying a file
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

import hashlib
import os
import threading
import time
import unicodedata
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import urllib3
from pydantic import BaseModel, Field, ValidationError
from rich.progress import Progress, TaskID

from assent.protocol import VerificationError
from assent.verify import KeysUnavailable, VerifiedManifest, verify_manifest
from assent.verify import parse_keys as parse_published_keys
from services.contracts.delivery import ManifestEntry
from services.contracts.signing import WELL_KNOWN_KEYS_PATH, Envelope, PublicKeyRead

DEFAULT_PARALLEL = 8
MANIFEST_FILE = "manifest.dsse.json"
PART_SUFFIX = ".part"
ATTEMPTS = 3
"""Tries per file; each asks the gateway for a fresh URL and resumes what was written."""
_CHUNK = 1024 * 1024
# Room for `.part` within the 255-byte name limit of common file systems.
_MAX_NAME_BYTES = 200
# Characters Windows refuses in names, besides controls; a dataset is often copied there.
_RESERVED = frozenset('<>:"/\\|?*')
_TIMEOUT = urllib3.Timeout(connect=10.0, read=60.0)

DELIVERY_QUERY = """query($id: ID!) { delivery(id: $id) { __typename
  ... on Delivery { id status manifest } ... on Error { message } } }"""


class DownloadError(Exception):
    """Nothing was downloaded: the delivery, its manifest or the keys could not be had."""


class ManifestRefused(DownloadError):
    """The manifest failed verification or would write outside its layout."""


class FileStatus(StrEnum):
    DOWNLOADED = "downloaded"
    RESUMED = "resumed"
    COMPLETE = "complete"
    """Already on disk with the right sha256; nothing fetched."""
    FAILED = "failed"


@dataclass(frozen=True)
class FileResult:
    entry: ManifestEntry
    path: Path
    status: FileStatus
    fetched: int
    """Bytes transferred by this run."""
    error: str | None = None


@dataclass(frozen=True)
class DownloadResult:
    manifest: VerifiedManifest
    directory: Path
    files: list[FileResult]

    @property
    def failed(self) -> list[FileResult]:
        return [result for result in self.files if result.status is FileStatus.FAILED]

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def fetched(self) -> int:
        return sum(result.fetched for result in self.files)

    def count(self, status: FileStatus) -> int:
        return sum(1 for result in self.files if result.status is status)


def safe_file_name(name: str) -> str:
    """One path segment for an untrusted file name: the last segment of any path in it,
    without controls, reserved characters, or leading and trailing dots and spaces (no
    `..`, no hidden files), at most `_MAX_NAME_BYTES` bytes with its extension kept."""
    last = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(
        "_" if char in _RESERVED or unicodedata.category(char)[0] == "C" else char
        for char in unicodedata.normalize("NFC", last)
    ).strip(". ")
    if not cleaned:
        return "file"
    stem, dot, extension = cleaned.rpartition(".")
    if not dot or len(extension.encode()) > 16:
        stem, extension = cleaned, ""
    budget = _MAX_NAME_BYTES - len(extension.encode()) - len(dot)
    stem = stem.encode()[:budget].decode(errors="ignore").rstrip(". ")
    return f"{stem}{dot}{extension}" if stem else "file"


@dataclass(frozen=True)
class _Target:
    entry: ManifestEntry
    path: Path

    @property
    def part(self) -> Path:
        return self.path.with_name(self.path.name + PART_SUFFIX)


def plan_targets(directory: Path, manifest: VerifiedManifest) -> list[_Target]:
    targets = [
        _Target(entry, directory / str(entry.work_id) / safe_file_name(entry.file_name))
        for entry in manifest.entries
    ]
    # Case-folded, as on macOS and Windows; a `.part` counts, as it shares the directory.
    claimed: dict[str, int] = {}
    for number, target in enumerate(targets, start=1):
        for path in (target.path, target.part):
            previous = claimed.setdefault(str(path).casefold(), number)
            if previous != number:
                raise ManifestRefused(
                    f"entries {previous} and {number} would both be written to {path}"
                )
    return targets


class _GraphQLError(BaseModel):
    message: str


class _DeliveryNode(BaseModel):
    typename: str = Field(alias="__typename")
    status: str | None = None
    manifest: Any = None
    message: str | None = None


class _DeliveryData(BaseModel):
    delivery: _DeliveryNode


class _DeliveryResponse(BaseModel):
    data: _DeliveryData | None = None
    errors: list[_GraphQLError] | None = None


class _Retry(Exception):
    """A failure another attempt may cure: the network, a 5xx, an expired URL."""


class _Refused(Exception):
    """A failure no retry cures, such as the gateway's refusal."""


class _WrongBytes(_Refused):
    """The store sends bytes unlike the manifest's: what was kept of them is discarded."""


class _Stopped(Exception):
    """The download was interrupted; the `.part` file stays to be resumed."""


def _hasher_of(path: Path, length: int) -> "hashlib._Hash":
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while length > 0 and (chunk := source.read(min(_CHUNK, length))):
            digest.update(chunk)
            length -= len(chunk)
    return digest


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


def _describe(response: urllib3.BaseHTTPResponse) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "error" in body:
        detail = body.get("detail")
        return f"{response.status} {body['error']}" + (f": {detail}" if detail else "")
    return f"{response.status} {response.reason}"


class _Http:
    """Connection pools for the gateway and the object store, shared by the worker threads.

    Certificates are trusted as httpx trusts them (certifi, or SSL_CERT_FILE or SSL_CERT_DIR),
    and a request goes through the proxy that HTTP_PROXY or HTTPS_PROXY names for its scheme
    unless NO_PROXY exempts its host, as with httpx and boto3.
    """

    def __init__(self, size: int) -> None:
        options: dict[str, Any] = {
            "maxsize": size,
            "ssl_context": httpx.create_ssl_context(),
            "timeout": _TIMEOUT,
            "retries": False,
        }
        self._direct = urllib3.PoolManager(**options)
        self._proxies = {
            scheme: urllib3.ProxyManager(url if "://" in url else f"http://{url}", **options)
            for scheme, url in urllib.request.getproxies().items()
            if scheme in ("http", "https") and url
        }

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        json: object = None,
        stream: bool = False,
    ) -> urllib3.BaseHTTPResponse:
        """One request, redirects not followed. A streamed body must be read to its end or
        the response closed, or its connection would hand its rest to the next request."""
        manager = self._direct
        if self._proxies:
            parsed = urllib3.util.parse_url(url)
            proxy = self._proxies.get(parsed.scheme or "")
            if proxy is not None and not urllib.request.proxy_bypass(parsed.netloc or ""):
                manager = proxy
        return manager.request(
            method,
            url,
            headers=headers,
            json=json,
            redirect=False,
            preload_content=not stream,
            # The bytes as stored are what the manifest hashes.
            decode_content=False,
        )

    def clear(self) -> None:
        for manager in (self._direct, *self._proxies.values()):
            manager.clear()


@dataclass
class _Partial:
    """A file being written: what its `.part` holds, hashed so far."""

    target: _Target
    written: int
    digest: "hashlib._Hash" = field(default_factory=hashlib.sha256)
    fetched: int = 0


class _Client:
    """The gateway and object-store side of a download, shared by the worker threads."""

    def __init__(
        self,
        http: _Http,
        gateway_url: str,
        api_key: str,
        progress: Progress | None,
        parallel: int,
    ) -> None:
        self._http = http
        self._transfers = threading.Semaphore(parallel)
        self._gateway = gateway_url.rstrip("/")
        # Sent to the gateway only: never a client default, so a redirect cannot carry it.
        self._auth = {"Authorization": f"Bearer {api_key}"}
        self._progress = progress
        self._task: TaskID | None = None
        self._lock = threading.Lock()
        self._done = 0
        self._total_files = 0
        self.stopping = threading.Event()

    # -- the manifest ---------------------------------------------------------------------

    def published_keys(self) -> list[PublicKeyRead]:
        url = self._gateway + WELL_KNOWN_KEYS_PATH
        try:
            response = self._http.request("GET", url)
        except urllib3.exceptions.HTTPError as exc:
            raise DownloadError(f"cannot fetch the published keys from {url}: {exc}") from exc
        if response.status != 200:
            raise DownloadError(f"{url} answered {_describe(response)}")
        try:
            return parse_published_keys(response.data, source=url)
        except KeysUnavailable as exc:
            raise DownloadError(str(exc)) from exc

    def envelope(self, delivery_id: UUID, *, wait: float) -> Envelope:
        """The delivery's signed manifest, waiting up to `wait` seconds while it is built."""
        deadline = time.monotonic() + wait
        delay = 0.5
        while True:
            node = self._delivery(delivery_id)
            if node.typename != "Delivery":
                raise DownloadError(f"delivery {delivery_id}: {node.typename}: {node.message}")
            if node.manifest is not None:
                try:
                    if isinstance(node.manifest, str):
                        return Envelope.model_validate_json(node.manifest)
                    return Envelope.model_validate(node.manifest)
                except ValidationError as exc:
                    raise ManifestRefused(f"the manifest is not a DSSE envelope: {exc}") from exc
            status = (node.status or "").upper()
            if status != "BUILDING":
                raise DownloadError(f"delivery {delivery_id} has no manifest (status {status})")
            if time.monotonic() + delay > deadline:
                raise DownloadError(
                    f"delivery {delivery_id} is still being built after {wait:.0f} s; "
                    "run the download again shortly"
                )
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _delivery(self, delivery_id: UUID) -> _DeliveryNode:
        body = {"query": DELIVERY_QUERY, "variables": {"id": str(delivery_id)}}
        try:
            response = self._http.request(
                "POST", self._gateway + "/graphql", json=body, headers=self._auth
            )
        except urllib3.exceptions.HTTPError as exc:
            raise DownloadError(f"cannot reach the gateway at {self._gateway}: {exc}") from exc
        if response.status != 200:
            raise DownloadError(f"the delivery query was answered {_describe(response)}")
        try:
            parsed = _DeliveryResponse.model_validate_json(response.data)
        except ValidationError as exc:
            raise DownloadError(f"the gateway's answer is not a delivery: {exc}") from exc
        if parsed.errors or parsed.data is None:
            messages = "; ".join(error.message for error in parsed.errors or [])
            raise DownloadError(f"the delivery query failed: {messages or 'no data'}")
        return parsed.data.delivery

    # -- files ----------------------------------------------------------------------------

    def start(self, targets: Sequence[_Target]) -> None:
        self._total_files = len(targets)
        if self._progress is not None:
            total = sum(target.entry.size for target in targets)
            self._task = self._progress.add_task(self._files_text(), total=total)

    def _files_text(self) -> str:
        return f"{self._done}/{self._total_files} files"

    def _advance(self, size: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, size)

    def _finished(self, result: FileResult) -> FileResult:
        with self._lock:
            self._done += 1
            if self._progress is not None and self._task is not None:
                self._progress.update(self._task, description=self._files_text())
        return result

    def file(self, target: _Target) -> FileResult:
        try:
            if self._complete_on_disk(target):
                self._advance(target.entry.size)
                return self._finished(FileResult(target.entry, target.path, FileStatus.COMPLETE, 0))
            return self._finished(self._fetch(target))
        except OSError as exc:
            return self._finished(
                FileResult(target.entry, target.path, FileStatus.FAILED, 0, f"cannot write: {exc}")
            )

    def _complete_on_disk(self, target: _Target) -> bool:
        """Whether the file is already right; a wrong one is removed to be fetched again."""
        size = _size(target.path)
        if size is None:
            return False
        if size == target.entry.size and _hasher_of(target.path, size).hexdigest() == (
            target.entry.sha256
        ):
            return True
        target.path.unlink()
        return False

    def _fetch(self, target: _Target) -> FileResult:
        entry = target.entry
        kept = _size(target.part) or 0
        if kept > entry.size:
            target.part.unlink()
            kept = 0
        partial = _Partial(target, kept)
        if kept:
            partial.digest = _hasher_of(target.part, kept)
            self._advance(kept)
        resumed = kept > 0
        attempt = 0
        while True:
            try:
                # A kept part may already be whole; an empty file still asks the gateway,
                # which records the download.
                if partial.written < entry.size or entry.size == 0:
                    self._transfer(partial)
            except _Retry as exc:
                attempt += 1
                if attempt >= ATTEMPTS:
                    return self._failed(partial, f"{exc} (after {ATTEMPTS} attempts)")
                time.sleep(0.5 * attempt)
                continue
            except _Refused as exc:
                if isinstance(exc, _WrongBytes):
                    target.part.unlink(missing_ok=True)
                return self._failed(partial, str(exc))
            digest = partial.digest.hexdigest()
            if digest == entry.sha256:
                os.replace(target.part, target.path)
                status = FileStatus.RESUMED if resumed else FileStatus.DOWNLOADED
                return FileResult(entry, target.path, status, partial.fetched)
            if resumed:
                resumed = False
                self._restart(partial)
                continue
            target.part.unlink(missing_ok=True)
            return self._failed(
                partial,
                f"sha256 mismatch: the bytes hash to {digest}, the signed manifest says "
                f"{entry.sha256}",
            )

    def _failed(self, partial: _Partial, reason: str) -> FileResult:
        target = partial.target
        return FileResult(target.entry, target.path, FileStatus.FAILED, partial.fetched, reason)

    def _restart(self, partial: _Partial) -> None:
        partial.target.part.unlink(missing_ok=True)
        self._advance(-partial.written)
        partial.written = 0
        partial.digest = hashlib.sha256()

    def _locate(self, path: str) -> str:
        """The signed URL the gateway redirects to, once it has checked the entitlement."""
        url = self._gateway + path
        try:
            response = self._http.request("GET", url, headers=self._auth)
        except urllib3.exceptions.HTTPError as exc:
            raise _Retry(f"gateway: {exc!r}") from exc
        location = response.get_redirect_location()
        if location:
            signed = urllib.parse.urljoin(url, location)
            scheme = urllib.parse.urlsplit(signed).scheme
            if scheme not in ("http", "https"):
                raise _Refused(f"the gateway redirected to a {scheme!r} URL")
            return signed
        if response.status >= 500 or response.status == 429:
            raise _Retry(f"gateway: {_describe(response)}")
        if 200 <= response.status < 300:
            raise _Refused(f"the gateway answered {response.status}, not a redirect")
        raise _Refused(f"gateway: {_describe(response)}")

    def _transfer(self, partial: _Partial) -> None:
        entry = partial.target.entry
        url = self._locate(entry.path)
        headers = {"Range": f"bytes={partial.written}-"} if partial.written else {}
        with self._transfers:
            try:
                response = self._http.request("GET", url, headers=headers, stream=True)
            except urllib3.exceptions.HTTPError as exc:
                raise _Retry(f"object store: {exc!r}") from exc
            try:
                self._check_response(partial, response)
                self._receive(partial, response)
            except urllib3.exceptions.HTTPError as exc:
                raise _Retry(f"object store: {exc!r}") from exc
            finally:
                # Read to its end, the body has already given its connection back; cut
                # short, the connection is closed rather than reused with bytes left on it.
                if not response.closed:
                    response.close()
                response.release_conn()
        if partial.written < entry.size:
            raise _Retry(f"the object store sent {partial.written} of {entry.size} bytes")

    def _check_response(self, partial: _Partial, response: urllib3.BaseHTTPResponse) -> None:
        size = partial.target.entry.size
        status = response.status
        if status == 206 and partial.written:
            expected = f"bytes {partial.written}-{size - 1}/{size}"
            if response.headers.get("content-range") != expected:
                raise _WrongBytes(
                    f"object store: Content-Range is {response.headers.get('content-range')!r}, "
                    f"expected {expected!r} from the signed manifest's size"
                )
            return
        if status == 200:
            if partial.written:
                # The store ignored the Range header: take the whole body instead.
                self._restart(partial)
            length = response.headers.get("content-length")
            if length is not None and int(length) != size:
                raise _WrongBytes(
                    f"the object store holds {length} bytes, the signed manifest says {size}"
                )
            return
        if status == 416:
            self._restart(partial)
            raise _Retry("the object store refused the range; starting over")
        # An expired or otherwise refused URL: the next attempt gets a fresh one.
        if status >= 500 or status in (403, 429):
            raise _Retry(f"object store: {status} {response.reason}")
        raise _Refused(f"object store: {status} {response.reason}")

    def _receive(self, partial: _Partial, response: urllib3.BaseHTTPResponse) -> None:
        """Append the body to the `.part` file, hashing it on the way. `written` counts
        what was handed to the file and the digest, so a transfer cut off resumes there."""
        size = partial.target.entry.size
        part = partial.target.part
        part.parent.mkdir(parents=True, exist_ok=True)
        with part.open("ab" if partial.written else "wb") as sink:
            # Large reads: each is one pass of Python per MiB, filled by few system calls.
            while chunk := response.read(_CHUNK):
                if self.stopping.is_set():
                    raise _Stopped
                if partial.written + len(chunk) > size:
                    raise _WrongBytes(f"the object store sent more than {size} bytes")
                sink.write(chunk)
                partial.digest.update(chunk)
                partial.written += len(chunk)
                partial.fetched += len(chunk)
                self._advance(len(chunk))


def _write_manifest(directory: Path, envelope: Envelope) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / MANIFEST_FILE
    partial = path.with_name(path.name + PART_SUFFIX)
    partial.write_text(envelope.model_dump_json(indent=2) + "\n")
    os.replace(partial, path)
    return path


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
    http = _Http(_workers(parallel))
    try:
        client = _Client(http, gateway_url, api_key, progress, parallel)
        trusted = list(keys) if keys is not None else client.published_keys()
        envelope = client.envelope(delivery_id, wait=wait)
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
        _write_manifest(directory, envelope)
        client.start(targets)
        return DownloadResult(manifest, directory, _run(client, targets, parallel))
    finally:
        http.clear()


def _workers(parallel: int) -> int:
    # Twice as many files in flight as transfers: while `parallel` files stream from the
    # object store, as many more ask the gateway for their links, so its round trip never
    # leaves a transfer slot idle.
    return 2 * parallel


def _run(client: _Client, targets: list[_Target], parallel: int) -> list[FileResult]:
    results: list[FileResult | None] = [None] * len(targets)
    pending = iter(enumerate(targets))
    taking = threading.Lock()

    def worker() -> None:
        while not client.stopping.is_set():
            with taking:
                item = next(pending, None)
            if item is None:
                return
            index, target = item
            results[index] = client.file(target)

    count = min(_workers(parallel), len(targets))
    with ThreadPoolExecutor(count or 1, thread_name_prefix="assent-download") as pool:
        workers = [pool.submit(worker) for _ in range(count)]
        try:
            for future in workers:
                future.result()
        except BaseException:
            # Ctrl-C: the workers stop at their next chunk, leaving `.part` files to resume.
            client.stopping.set()
            raise
    return [result for result in results if result is not None]
