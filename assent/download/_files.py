"""One file of a delivery: kept if already right, else fetched, resumed and verified.

Bytes stream to `NAME.part` and are hashed as they arrive; only a file whose size and
sha256 match the signed manifest is renamed to `NAME`.
"""

import hashlib
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import urllib3

from assent.download._gateway import Gateway
from assent.download._http import Http, Refused, Retry
from assent.download._layout import Target
from assent.download._progress import DownloadProgress
from assent.download._results import FileResult, FileStatus

ATTEMPTS = 3
"""Tries per file; each asks the gateway for a fresh URL and resumes what was written."""
_CHUNK = 1024 * 1024


class _WrongBytes(Refused):
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


@dataclass
class _Partial:
    """A file being written: what its `.part` holds, hashed so far."""

    target: Target
    written: int
    digest: "hashlib._Hash" = field(default_factory=hashlib.sha256)
    fetched: int = 0


class FileFetcher:
    """Carries files through their redirect, transfer, hashing and rename; shared by the
    worker threads, at most `parallel` of which stream from the object store at once."""

    def __init__(
        self, http: Http, gateway: Gateway, progress: DownloadProgress, parallel: int
    ) -> None:
        self._http = http
        self._gateway = gateway
        self._progress = progress
        self._transfers = threading.Semaphore(parallel)
        self.stopping = threading.Event()

    def file(self, target: Target) -> FileResult:
        try:
            if self._complete_on_disk(target):
                self._progress.advance(target.entry.size)
                return self._progress.finished(
                    FileResult(target.entry, target.path, FileStatus.COMPLETE, 0)
                )
            return self._progress.finished(self._fetch(target))
        except OSError as exc:
            return self._progress.finished(
                FileResult(target.entry, target.path, FileStatus.FAILED, 0, f"cannot write: {exc}")
            )

    def _complete_on_disk(self, target: Target) -> bool:
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

    def _fetch(self, target: Target) -> FileResult:
        entry = target.entry
        kept = _size(target.part) or 0
        if kept > entry.size:
            target.part.unlink()
            kept = 0
        partial = _Partial(target, kept)
        if kept:
            partial.digest = _hasher_of(target.part, kept)
            self._progress.advance(kept)
        resumed = kept > 0
        attempt = 0
        while True:
            try:
                # A kept part may already be whole; an empty file still asks the gateway,
                # which records the download.
                if partial.written < entry.size or entry.size == 0:
                    self._transfer(partial)
            except Retry as exc:
                attempt += 1
                if attempt >= ATTEMPTS:
                    return self._failed(partial, f"{exc} (after {ATTEMPTS} attempts)")
                time.sleep(0.5 * attempt)
                continue
            except Refused as exc:
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
        self._progress.advance(-partial.written)
        partial.written = 0
        partial.digest = hashlib.sha256()

    def _transfer(self, partial: _Partial) -> None:
        entry = partial.target.entry
        url = self._gateway.locate(entry.path)
        headers = {"Range": f"bytes={partial.written}-"} if partial.written else {}
        with self._transfers:
            try:
                response = self._http.request("GET", url, headers=headers, stream=True)
            except urllib3.exceptions.HTTPError as exc:
                raise Retry(f"object store: {exc!r}") from exc
            try:
                self._check_response(partial, response)
                self._receive(partial, response)
            except urllib3.exceptions.HTTPError as exc:
                raise Retry(f"object store: {exc!r}") from exc
            finally:
                # Read to its end, the body has already given its connection back; cut
                # short, the connection is closed rather than reused with bytes left on it.
                if not response.closed:
                    response.close()
                response.release_conn()
        if partial.written < entry.size:
            raise Retry(f"the object store sent {partial.written} of {entry.size} bytes")

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
            raise Retry("the object store refused the range; starting over")
        # An expired or otherwise refused URL: the next attempt gets a fresh one.
        if status >= 500 or status in (403, 429):
            raise Retry(f"object store: {status} {response.reason}")
        raise Refused(f"object store: {status} {response.reason}")

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
                self._progress.advance(len(chunk))
