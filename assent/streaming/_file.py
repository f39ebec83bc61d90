"""One object of a delivery, read as a seekable binary file: its bytes fetched from the
object store through links the gateway gives, and verified against the signed sha256.

Links. The gateway is asked for a link when the file is opened, again before a request
once the link is within `REFRESH_BEFORE` of the end it names (`assent-link-expires`), and
again when the store answers 403 (a link expired or refused there).

Verification. The bytes are hashed in order as they are read; bytes read ahead of that
order (a Parquet footer, read first) are kept, up to `KEEP_AHEAD` bytes, until the hash
reaches them. When the last byte has been hashed the digest is compared, and a mismatch
raises `ChecksumMismatch` from that read. A file closed before all its bytes were read is
verified at close, fetching only what the reader skipped: every file read is verified.

Reads. A read starts one open-ended ranged GET and keeps it while the reader goes on in
order, so a sequential reader makes one request per file; a seek elsewhere drops it.
"""

import hashlib
import io
from datetime import UTC, datetime, timedelta

import urllib3

from assent.streaming._errors import ChecksumMismatch, StreamError
from assent.streaming._gateway import ATTEMPTS, GatewayClient, Link

REFRESH_BEFORE = timedelta(seconds=30)
KEEP_AHEAD = 16 * 1024 * 1024
_CHUNK = 1024 * 1024


class _Verifier:
    """The sha256 of a file's bytes, fed in any order, compared once all have arrived."""

    def __init__(self, name: str, size: int, sha256: str) -> None:
        self.name, self.size, self.sha256 = name, size, sha256
        self.hashed = 0
        self.verified = False
        self._digest = hashlib.sha256()
        self._ahead: dict[int, bytes] = {}
        self._kept = 0

    def feed(self, start: int, data: bytes | memoryview) -> None:
        end = start + len(data)
        if end <= self.hashed or self.verified:
            return
        if start <= self.hashed:
            self._digest.update(data[self.hashed - start :])
            self.hashed = end
            self._catch_up()
        elif self._kept + len(data) <= KEEP_AHEAD and start not in self._ahead:
            self._ahead[start] = bytes(data)
            self._kept += len(data)

    def gap(self) -> tuple[int, int] | None:
        """The next bytes not yet hashed and not kept: [start, end)."""
        if self.hashed >= self.size:
            return None
        later = [start for start in self._ahead if start > self.hashed]
        return self.hashed, min(later, default=self.size)

    def _catch_up(self) -> None:
        while True:
            reached = [start for start in self._ahead if start <= self.hashed]
            if not reached:
                break
            for start in reached:
                data = self._ahead.pop(start)
                self._kept -= len(data)
                if start + len(data) > self.hashed:
                    self._digest.update(data[self.hashed - start :])
                    self.hashed = start + len(data)
        if self.hashed >= self.size:
            self._finish()

    def _finish(self) -> None:
        digest = self._digest.hexdigest()
        if self.hashed != self.size or digest != self.sha256:
            raise ChecksumMismatch(
                f"{self.name}: the bytes read hash to {digest} ({self.hashed} bytes); the "
                f"signed manifest lists {self.sha256} ({self.size} bytes)"
            )
        self.verified = True


class StreamedFile(io.RawIOBase):
    """A delivery's object, read from the store; wrap in `io.BufferedReader` (as
    `AssentFileSystem.open` does) for small reads."""

    def __init__(
        self, gateway: GatewayClient, *, name: str, gateway_path: str, size: int, sha256: str
    ) -> None:
        super().__init__()
        self.name = name
        self.size = size
        self._gateway = gateway
        self._gateway_path = gateway_path
        self._verifier = _Verifier(name, size, sha256)
        self._position = 0
        self._read_any = False
        self._response: urllib3.BaseHTTPResponse | None = None
        self._response_at = 0
        self._link: Link | None = gateway.link(gateway_path)

    @property
    def verified(self) -> bool:
        return self._verifier.verified

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError(f"negative seek position {base + offset}")
        self._position = base + offset
        return self._position

    def readinto(self, buffer: "memoryview | bytearray") -> int:  # type: ignore[override]
        wanted = min(len(buffer), self.size - self._position)
        if wanted <= 0:
            return 0
        self._read_any = True
        view = memoryview(buffer).cast("B")
        got = 0
        while got < wanted:
            response = self._stream_at(self._position)
            count = response.readinto(view[got:wanted])
            if count == 0:
                self._drop_response()
                raise StreamError(
                    f"{self.name}: the object store ended at byte {self._position} of {self.size}"
                )
            self._verifier.feed(self._position, view[got : got + count])
            got += count
            self._position += count
            self._response_at = self._position
        return got

    def readall(self) -> bytes:
        # One buffer of the whole rest, filled by one request: no list of chunks to join.
        rest = bytearray(max(self.size - self._position, 0))
        view = memoryview(rest)
        filled = 0
        while filled < len(rest):
            filled += self.readinto(view[filled:])
        return bytes(rest)

    def close(self) -> None:
        if self.closed:
            return
        try:
            if self._read_any:
                self._complete()
        finally:
            self._drop_response()
            super().close()

    def _complete(self) -> None:
        """Hash what the reader skipped, so that a file read in part is verified too."""
        while (gap := self._verifier.gap()) is not None:
            start, end = gap
            self._drop_response()
            response = self._get(start, end)
            try:
                at = start
                while at < end and (chunk := response.read(min(_CHUNK, end - at))):
                    self._verifier.feed(at, chunk)
                    at += len(chunk)
            finally:
                response.release_conn()
            if at < end:
                raise StreamError(f"{self.name}: the object store ended at byte {at} of {end}")

    def _stream_at(self, position: int) -> urllib3.BaseHTTPResponse:
        if self._response is not None and self._response_at == position:
            return self._response
        self._drop_response()
        self._response = self._get(position, None)
        self._response_at = position
        return self._response

    def _drop_response(self) -> None:
        if self._response is not None:
            # Cut short, the connection is closed rather than reused with bytes left on it.
            self._response.close()
            self._response.release_conn()
            self._response = None

    def _fresh_link(self) -> Link:
        link = self._link
        if link is None or (
            link.expires_at is not None and datetime.now(UTC) >= link.expires_at - REFRESH_BEFORE
        ):
            link = self._link = self._gateway.link(self._gateway_path)
        return link

    def _get(self, start: int, end: int | None) -> urllib3.BaseHTTPResponse:
        """The object's bytes from `start` (to `end`, or its end), as a streamed body."""
        asked = f"bytes={start}-{'' if end is None else end - 1}"
        for _ in range(ATTEMPTS):
            link = self._fresh_link()
            response = self._gateway.request(
                "GET",
                link.url,
                headers={"Range": asked},
                preload_content=False,
                # The bytes as stored are what the manifest hashes.
                decode_content=False,
            )
            if response.status == 206:
                expected = f"bytes {start}-"
                if not str(response.headers.get("content-range", "")).startswith(expected):
                    response.close()
                    raise StreamError(
                        f"{self.name}: the store sent {response.headers.get('content-range')!r} "
                        f"for {asked}"
                    )
                return response
            if response.status == 200 and start == 0:
                return response
            response.close()
            response.release_conn()
            if response.status == 403:
                # Expired or refused at the store: the gateway decides whether another is due.
                self._link = None
                continue
            raise StreamError(f"{self.name}: the object store answered {response.status}")
        raise StreamError(f"{self.name}: the object store refused {ATTEMPTS} fresh links")
