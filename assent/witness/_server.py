"""The witness over HTTP, on the standard library's threading server.

The witness runs from the lab client install (`pip install .`), whose base dependencies
hold an HTTP client (httpx) but no server: uvicorn and Starlette come with the `server`
extra. A witness answers a handful of small POSTs per checkpoint interval, which
`http.server` serves well enough, with keep-alive (HTTP/1.1) as tlog-witness recommends.
"""

import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

from ._witness import Answer, Witness

# A checkpoint with 16 signatures and 63 proof lines is under 8 KiB.
MAX_BODY_BYTES = 64 * 1024
_CHECKPOINT_PATH = re.compile(r"/([0-9a-f]{64})/checkpoint")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "assent-witness"
    witness: ClassVar[Witness]

    def _answer(self, answer: Answer) -> None:
        body = answer.body.encode()
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        if self.path.rstrip("/") != "/add-checkpoint":
            self._answer(Answer(404, "POST /add-checkpoint is this witness's one write\n"))
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.close_connection = True
            self._answer(Answer(411, "a Content-Length is required\n"))
            return
        if not 0 <= length <= MAX_BODY_BYTES:
            self.close_connection = True
            self._answer(Answer(413, f"a request is at most {MAX_BODY_BYTES} bytes\n"))
            return
        self._answer(self.witness.add_checkpoint(self.rfile.read(length)))

    def do_GET(self) -> None:
        found = _CHECKPOINT_PATH.fullmatch(self.path)
        if found is None:
            self._answer(Answer(404, "GET /<sha256 of the origin, hex>/checkpoint\n"))
            return
        self._answer(self.witness.checkpoint(found.group(1)))

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"assent witness: {self.address_string()} {format % args}\n")


def make_server(witness: Witness, host: str, port: int) -> ThreadingHTTPServer:
    """A server bound to (host, port), not yet serving; port 0 picks a free one."""
    handler = type("WitnessHandler", (_Handler,), {"witness": witness})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server
