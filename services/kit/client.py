"""Calls from one process to a service: signed, traced, and typed when the service is down.

Calls between processes go through aiohttp, not httpx (which the SDK, the CLI and the
tests use): at 16 concurrent calls httpx spent about 1.2 ms of CPU per request on this
machine and aiohttp 0.14 ms, and a purchase makes several such calls (gateway to
licensing, the outboxes' relays, delivery to the catalogue). `HttpxTransport` carries
the same calls over any httpx client, such as one that calls an app in this process.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import httpx
import orjson

from services.contracts.roles import Role
from services.kit.errors import ServiceUnavailable
from services.kit.internal_token import TokenSigner
from services.kit.logging import REQUEST_ID_HEADER, current_request_id
from services.kit.tracing import TRACEPARENT, current_traceparent

REQUEST_SECONDS = 10.0
CONNECT_SECONDS = 2.0
# Under uvicorn's 5 s keep-alive: a request sent on a connection the service is closing at
# that moment would fail as ServiceUnavailable.
KEEPALIVE_SECONDS = 4.0

QueryValue = str | int | float | bool | None
QueryParams = Mapping[str, QueryValue | Sequence[QueryValue]] | Sequence[tuple[str, QueryValue]]


class TransportFailed(Exception):
    """No answer came: the connection was refused, cut or timed out."""


@dataclass(frozen=True, slots=True)
class ServiceResponse:
    status_code: int
    content: bytes
    headers: Mapping[str, str]

    def json(self) -> Any:
        return orjson.loads(self.content)

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")


class Transport(Protocol):
    async def send(
        self,
        method: str,
        url: str,
        *,
        content: bytes | None,
        headers: Mapping[str, str],
        params: Sequence[tuple[str, str]] = (),
    ) -> ServiceResponse: ...

    async def aclose(self) -> None: ...


class AiohttpTransport:
    """One pooled session per process, shared by every service client and the relay.

    The session is made on first use, inside the running event loop, as aiohttp asks.
    `trace_configs` are aiohttp's hooks, which tracing uses to span and propagate calls."""

    def __init__(self, trace_configs: Sequence[aiohttp.TraceConfig] = ()) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._trace_configs = list(trace_configs)

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=200, keepalive_timeout=KEEPALIVE_SECONDS),
                timeout=aiohttp.ClientTimeout(total=REQUEST_SECONDS, connect=CONNECT_SECONDS),
                # Answers are read whole; nothing here needs cookies.
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                trace_configs=self._trace_configs or None,
            )
        return self._session

    async def send(
        self,
        method: str,
        url: str,
        *,
        content: bytes | None,
        headers: Mapping[str, str],
        params: Sequence[tuple[str, str]] = (),
    ) -> ServiceResponse:
        try:
            async with self._open().request(
                method, url, data=content, headers=headers, params=params or None
            ) as response:
                body = await response.read()
                return ServiceResponse(response.status, body, response.headers)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransportFailed(f"{type(exc).__name__}: {exc}") from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class HttpxTransport:
    """The same calls over an httpx client: one with an ASGI transport reaches an app in
    this process."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def send(
        self,
        method: str,
        url: str,
        *,
        content: bytes | None,
        headers: Mapping[str, str],
        params: Sequence[tuple[str, str]] = (),
    ) -> ServiceResponse:
        try:
            response = await self.client.request(
                method, url, content=content, headers=headers, params=list(params) or None
            )
        except httpx.TransportError as exc:
            raise TransportFailed(f"{type(exc).__name__}: {exc}") from exc
        return ServiceResponse(response.status_code, response.content, response.headers)

    async def aclose(self) -> None:
        await self.client.aclose()


def new_transport(trace_configs: Sequence[aiohttp.TraceConfig] = ()) -> Transport:
    return AiohttpTransport(trace_configs)


def _query_value(value: QueryValue) -> str:
    # As httpx writes them, which the services' parsers were written against.
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def query_pairs(params: QueryParams | None) -> list[tuple[str, str]]:
    """Parameters as (name, value) pairs; a list value repeats its name (`id=a&id=b`)."""
    if params is None:
        return []
    if not isinstance(params, Mapping):
        return [(name, _query_value(value)) for name, value in params]
    pairs: list[tuple[str, str]] = []
    for name, value in params.items():
        if isinstance(value, (str, int, float, bool)) or value is None:
            pairs.append((name, _query_value(value)))
        else:
            pairs.extend((name, _query_value(item)) for item in value)
    return pairs


class ServiceClient:
    def __init__(self, name: str, base_url: str, *, signer: TokenSigner, http: Transport) -> None:
        self.name = name
        self._base_url = base_url.rstrip("/")
        self._signer = signer
        self._http = http

    async def request(
        self,
        method: str,
        path: str,
        *,
        subject: str,
        roles: frozenset[Role],
        name: str | None = None,
        content: bytes | None = None,
        params: QueryParams | None = None,
    ) -> ServiceResponse:
        token = self._signer.sign(subject=subject, roles=roles, audience=self.name, name=name)
        headers = {"authorization": f"Bearer {token}"}
        if content is not None:
            headers["content-type"] = "application/json"
        if request_id := current_request_id():
            headers[REQUEST_ID_HEADER] = request_id
        # Whether this request is traced or not, the service called is told so.
        if traceparent := current_traceparent():
            headers[TRACEPARENT] = traceparent
        try:
            response = await self._http.send(
                method,
                self._base_url + path,
                content=content,
                headers=headers,
                params=query_pairs(params),
            )
        except TransportFailed as exc:
            raise ServiceUnavailable(
                f"the {self.name} service did not answer", service=self.name
            ) from exc
        if response.status_code in (502, 503, 504):
            raise ServiceUnavailable(f"the {self.name} service is unavailable", service=self.name)
        return response
