"""JSON logs with a request id that travels from the gateway to every service.

Secrets never reach a log line: values under sensitive names are dropped, and anything
shaped like an API key, a bearer token or a presigned-URL signature is masked wherever it
appears, so a careless `log.info(..., url=presigned)` cannot leak one.
"""

import logging
import re
import sys
import time
import uuid
from collections.abc import MutableMapping
from typing import Any

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_SHAPE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_SENSITIVE_NAMES = re.compile(
    r"authori[sz]ation|api[_-]?key|secret|password|token|signature|cookie", re.IGNORECASE
)
_SECRET_SHAPES = [
    (re.compile(r"(assent_[A-Za-z0-9]{8})_[A-Za-z0-9]+"), r"\1_[redacted]"),
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1[redacted]"),
    (
        re.compile(
            r"(?i)((?:x-amz-signature|x-amz-credential|x-amz-security-token|sig)=)[^&\s\"']+"
        ),
        r"\1[redacted]",
    ),
]

log = structlog.get_logger()


def redact_text(text: str) -> str:
    for pattern, replacement in _SECRET_SHAPES:
        text = pattern.sub(replacement, text)
    return text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {key: _redact_item(key, item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(item) for item in value]
    return value


def _redact_item(key: Any, value: Any) -> Any:
    if isinstance(key, str) and _SENSITIVE_NAMES.search(key):
        return "[redacted]"
    return _redact_value(value)


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        event_dict[key] = _redact_item(key, event_dict[key])
    return event_dict


def configure_logging(service: str, level: str = "INFO") -> None:
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_secrets,
    ]
    structlog.configure(
        # The level check first: a line below the level then costs no timestamp and no
        # redaction pass.
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            lambda _l, _m, event: {**event, "service": service},
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Our middleware logs each request without its query string (which may carry a
    # signature); uvicorn's access log would print it whole.
    logging.getLogger("uvicorn.access").disabled = True
    # httpx logs every request with its full URL at INFO: noise, and a presigned URL's
    # signature would be one careless level away from a log line.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def current_request_id() -> str | None:
    value = structlog.contextvars.get_contextvars().get("request_id")
    return value if isinstance(value, str) else None


class RequestContextMiddleware:
    """Binds the caller's request id (or a new one) to every log line of the request,
    echoes it in the response, and logs each request without its query string."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        request_id = incoming if _REQUEST_ID_SHAPE.match(incoming) else uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, request_id)
            await send(message)

        path = scope["path"]
        try:
            await self.app(scope, receive, send_with_request_id)
        except ClientDisconnect:
            # A client that drops its upload (a closed laptop, a cancelled part) is an
            # expected event, not a fault: nobody waits for an answer, so none is sent.
            log.info("request.client_disconnected", method=scope["method"], path=path)
            return
        except Exception:
            log.exception("request.failed", method=scope["method"], path=path)
            raise
        if path not in ("/healthz", "/readyz"):
            log.info(
                "request.completed",
                method=scope["method"],
                path=path,
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
