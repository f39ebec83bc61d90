import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI, Request
from starlette.types import Message

from services.kit.logging import REQUEST_ID_HEADER, RequestContextMiddleware, configure_logging

API_KEY = "assent_Ab3dEf9h_" + "Zx8Qw2Er4Ty6Ui8Op0As2Df4Gh6Jk8Lz1Xc3Vb5Nm"
BEARER_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhY2NvdW50OjQyIn0.c2lnbmF0dXJl"
AMZ_SIGNATURE = "9f3a7c1e5b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a1c3e5b7d9f2a4c6e8b0d1f3a"
AMZ_CREDENTIAL = "AKIAKITTESTCREDENTIAL/20260301/us-east-1/s3/aws4_request"
PRESIGNED_URL = (
    "https://objects.example.org/assent/works/7/data.tar"
    "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    f"&X-Amz-Credential={AMZ_CREDENTIAL}"
    "&X-Amz-Expires=900"
    f"&X-Amz-Signature={AMZ_SIGNATURE}"
)
FIELD_SECRET = "plain-value-under-a-sensitive-name"
SECRETS = [API_KEY, BEARER_TOKEN, AMZ_SIGNATURE, AMZ_CREDENTIAL, FIELD_SECRET]

log = structlog.get_logger()


class Logs:
    """What `configure_logging` writes to stderr, as parsed JSON lines."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys

    def configure(self, level: str = "INFO") -> None:
        # In the test's own phase: pytest swaps the captured stderr between phases.
        configure_logging("kit-test", level)
        self._capsys.readouterr()

    def read(self) -> tuple[str, list[dict[str, Any]]]:
        err = self._capsys.readouterr().err
        return err, [json.loads(line) for line in err.splitlines() if line.startswith("{")]


@pytest.fixture
def logs(capsys: pytest.CaptureFixture[str]) -> Iterator[Logs]:
    """Logs configured by the test; the root logger is restored afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield Logs(capsys)
    root.handlers[:] = handlers
    root.setLevel(level)


def _assert_no_secret(output: str) -> None:
    for secret in SECRETS:
        assert secret not in output


def test_secrets_never_reach_a_log_line(logs: Logs) -> None:
    logs.configure()

    log.info(
        "licence.download.issued",
        note=f"buyer authenticated with {API_KEY} from the CLI",
        header=f"Bearer {BEARER_TOKEN}",
        url=PRESIGNED_URL,
        api_key=FIELD_SECRET,
        work_id=7,
    )

    output, lines = logs.read()

    _assert_no_secret(output)
    (line,) = lines
    assert line["event"] == "licence.download.issued"
    assert line["service"] == "kit-test"
    assert line["level"] == "info"
    assert line["timestamp"]
    assert line["work_id"] == 7
    assert line["api_key"] == "[redacted]"
    assert line["note"] == "buyer authenticated with assent_Ab3dEf9h_[redacted] from the CLI"
    assert line["header"] == "Bearer [redacted]"
    assert line["url"].startswith("https://objects.example.org/assent/works/7/data.tar?")
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in line["url"]
    assert "X-Amz-Expires=900" in line["url"]
    assert "X-Amz-Signature=[redacted]" in line["url"]


@pytest.mark.parametrize(
    "name",
    [
        "api_key",
        "apiKey",
        "x-api-key",
        "Authorization",
        "password",
        "token",
        "client_secret",
        "cookie",
    ],
)
def test_values_under_sensitive_names_are_dropped(logs: Logs, name: str) -> None:
    logs.configure()

    log.info("account.updated", **{name: FIELD_SECRET})

    output, (line,) = logs.read()

    assert FIELD_SECRET not in output
    assert line[name] == "[redacted]"


def test_secrets_nested_in_structures_are_masked(logs: Logs) -> None:
    logs.configure()

    log.info(
        "upstream.request",
        headers={"Authorization": f"Bearer {BEARER_TOKEN}", "accept": "application/json"},
        urls=[PRESIGNED_URL, "https://example.org/public"],
        context={"request": {"x-api-key": FIELD_SECRET, "comment": f"used {API_KEY}"}},
    )

    output, (line,) = logs.read()

    _assert_no_secret(output)
    assert line["headers"] == {"Authorization": "[redacted]", "accept": "application/json"}
    assert line["urls"][1] == "https://example.org/public"
    assert line["context"]["request"]["comment"] == "used assent_Ab3dEf9h_[redacted]"


def test_standard_library_log_lines_are_masked_too(logs: Logs) -> None:
    logs.configure()

    logging.getLogger("uvicorn.error").warning("Invalid HTTP request for %s", PRESIGNED_URL)

    output, (line,) = logs.read()
    _assert_no_secret(output)
    assert line["event"].startswith("Invalid HTTP request for https://objects.example.org/")
    assert line["level"] == "warning"
    assert line["service"] == "kit-test"


def test_http_client_request_lines_are_not_logged(logs: Logs) -> None:
    logs.configure()

    logging.getLogger("httpx").info('HTTP Request: GET %s "HTTP/1.1 200 OK"', PRESIGNED_URL)

    output, lines = logs.read()
    assert lines == []
    assert "objects.example.org" not in output


def test_exception_tracebacks_are_masked(logs: Logs) -> None:
    logs.configure()

    try:
        raise RuntimeError(f"upload to {PRESIGNED_URL} failed for {API_KEY}")
    except RuntimeError:
        log.exception("upload.failed", work_id=7)

    output, (line,) = logs.read()

    _assert_no_secret(output)
    assert line["event"] == "upload.failed"
    assert "RuntimeError: upload to https://objects.example.org/" in line["exception"]


def test_level_filters_lines(logs: Logs) -> None:
    logs.configure("warning")

    log.info("quiet.event")
    log.warning("loud.event")

    _output, lines = logs.read()
    assert [line["event"] for line in lines] == ["loud.event"]


def _app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(RequestContextMiddleware)

    @app.get("/works")
    async def works() -> dict[str, str]:
        log.info("work.listed")
        return {"status": "ok"}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError(f"lost the upload for {API_KEY}")

    @app.put("/upload")
    async def upload(request: Request) -> dict[str, int]:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return {"size": size}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        yield client


def _by_event(lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {line["event"]: line for line in lines}


async def test_incoming_request_id_is_echoed_and_logged(
    logs: Logs, client: httpx.AsyncClient
) -> None:
    logs.configure()

    response = await client.get("/works", headers={REQUEST_ID_HEADER: "gw-7f3a.b_C-42"})

    _output, lines = logs.read()
    assert response.headers[REQUEST_ID_HEADER] == "gw-7f3a.b_C-42"
    by_event = _by_event(lines)
    assert by_event["work.listed"]["request_id"] == "gw-7f3a.b_C-42"
    completed = by_event["request.completed"]
    assert completed["request_id"] == "gw-7f3a.b_C-42"
    assert completed["method"] == "GET"
    assert completed["path"] == "/works"
    assert completed["status"] == 200
    assert completed["duration_ms"] >= 0


async def test_missing_request_id_is_generated(logs: Logs, client: httpx.AsyncClient) -> None:
    logs.configure()

    first = await client.get("/works")
    second = await client.get("/works")

    _output, lines = logs.read()
    first_id = first.headers[REQUEST_ID_HEADER]
    assert re.fullmatch(r"[0-9a-f]{32}", first_id)
    assert second.headers[REQUEST_ID_HEADER] != first_id
    logged = [line["request_id"] for line in lines if line["event"] == "work.listed"]
    assert logged == [first_id, second.headers[REQUEST_ID_HEADER]]


@pytest.mark.parametrize(
    "incoming",
    ["has spaces", "x" * 65, "quote\"and'brackets<>", "semi;colon", "ünïcode"],
)
async def test_malformed_request_id_is_replaced(
    logs: Logs, client: httpx.AsyncClient, incoming: str
) -> None:
    logs.configure()

    response = await client.get("/works", headers=[(REQUEST_ID_HEADER.encode(), incoming.encode())])

    output, lines = logs.read()
    request_id = response.headers[REQUEST_ID_HEADER]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert _by_event(lines)["work.listed"]["request_id"] == request_id
    assert incoming not in output


async def test_request_log_omits_the_query_string(logs: Logs, client: httpx.AsyncClient) -> None:
    logs.configure()

    await client.get(f"/works?X-Amz-Signature={AMZ_SIGNATURE}&page=2")

    output, lines = logs.read()
    assert AMZ_SIGNATURE not in output
    assert _by_event(lines)["request.completed"]["path"] == "/works"


async def test_health_probes_are_not_logged(logs: Logs, client: httpx.AsyncClient) -> None:
    logs.configure()

    response = await client.get("/healthz")

    _output, lines = logs.read()
    assert response.status_code == 200
    assert REQUEST_ID_HEADER in response.headers
    assert [line for line in lines if line["event"].startswith("request.")] == []


async def test_failed_request_is_logged_with_its_request_id(
    logs: Logs, client: httpx.AsyncClient
) -> None:
    logs.configure()

    response = await client.get("/boom", headers={REQUEST_ID_HEADER: "gw-failing-1"})

    output, lines = logs.read()
    assert response.status_code == 500
    assert API_KEY not in output
    failed = _by_event(lines)["request.failed"]
    assert failed["request_id"] == "gw-failing-1"
    assert failed["path"] == "/boom"
    assert failed["level"] == "error"
    assert "RuntimeError: lost the upload for assent_Ab3dEf9h_[redacted]" in failed["exception"]


async def test_a_client_dropping_its_upload_is_logged_at_info_without_a_traceback(
    logs: Logs,
) -> None:
    logs.configure()
    messages: list[Message] = [
        {"type": "http.request", "body": b"first part of the bytes", "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "path": "/upload",
        "raw_path": b"/upload",
        "query_string": b"",
        "headers": [(b"content-length", b"1000000")],
        "client": ("127.0.0.1", 5000),
        "server": ("service", 80),
        "scheme": "http",
    }
    await _app()(scope, receive, send)

    output, lines = logs.read()
    dropped = _by_event(lines)["request.client_disconnected"]
    assert dropped["level"] == "info"
    assert dropped["path"] == "/upload"
    assert "request.failed" not in _by_event(lines)
    assert "Traceback" not in output
    assert sent == []
