"""What streaming asks of the gateway: the published keys, a delivery's signed manifest
and shard set, a licence's current state, and a fresh link to each object's bytes.

urllib3 rather than httpx, as for downloads (assent/download/__init__.py says why): one
pool shared by the loader's threads, large reads straight from the socket.
"""

import time
import urllib.parse
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar

import urllib3
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from assent.errors import NotFound, ServiceUnavailable, Unauthenticated
from assent.models import LineStatus, UseName
from assent.streaming._errors import LinkRefused, StreamError
from assent.verify import KeysUnavailable, parse_keys
from services.contracts.licensing import LicenceStatus
from services.contracts.shards import ShardObject, ShardSetStatus
from services.contracts.signing import WELL_KNOWN_KEYS_PATH, Envelope, PublicKeyRead
from services.contracts.status_list import StatusListRead

LINK_EXPIRES_HEADER = "assent-link-expires"
ATTEMPTS = 4
"""Tries of a request the gateway may answer next time (a transport error, 5xx, 429)."""
_TIMEOUT = urllib3.Timeout(connect=10.0, read=60.0)

DELIVERY_QUERY = """query StreamDelivery($id: ID!) { delivery(id: $id) { __typename
  ... on Delivery { id status manifest
    shards { status shards { name size sha256 records } index { name size sha256 records }
      manifest } }
  ... on Error { message } } }"""
LICENCE_QUERY = """query StreamLicence($id: ID!) { licence(id: $id) { __typename
  ... on Licence { id status uses startsAt endsAt refundedAt expired
    lines { workId status expired startsAt endsAt excludedReason terms { uses } } }
  ... on Error { message } } }"""


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class LineTerms(_Model):
    uses: list[UseName]


class LicenceLineState(_Model):
    work_id: str
    status: LineStatus
    expired: bool
    starts_at: datetime
    ends_at: datetime
    excluded_reason: str | None = None
    terms: LineTerms


class LicenceState(_Model):
    """A licence as the gateway shows it now: what the loader decides each record by."""

    id: str
    status: Annotated[LicenceStatus, BeforeValidator(_lower)]
    uses: list[UseName]
    starts_at: datetime
    ends_at: datetime
    refunded_at: datetime | None = None
    expired: bool
    lines: list[LicenceLineState]


class _ShardSetNode(_Model):
    status: ShardSetStatus
    shards: list[ShardObject]
    index: ShardObject | None = None
    manifest: Envelope | None = None


class DeliveryNode(_Model):
    typename: str = Field(alias="__typename")
    status: str | None = None
    manifest: Envelope | None = None
    shards: dict[str, Any] | None = None
    message: str | None = None

    def shard_set(self) -> _ShardSetNode | None:
        if self.shards is None:
            return None
        shown = {**self.shards, "status": str(self.shards.get("status", "")).lower()}
        return _ShardSetNode.model_validate(shown)


@dataclass(frozen=True)
class Link:
    url: str
    expires_at: datetime | None
    """From the gateway's `assent-link-expires`; None when it names no end."""


Node = TypeVar("Node", bound=BaseModel)


class GatewayClient:
    """One gateway and the lab's API key, shared by every thread of a loader."""

    def __init__(self, gateway_url: str, api_key: str, *, connections: int) -> None:
        self.url = gateway_url.rstrip("/")
        # Sent to the gateway only, never a pool default: a redirect must not carry it.
        self._auth = {"Authorization": f"Bearer {api_key}"}
        self.pool = urllib3.PoolManager(maxsize=connections, timeout=_TIMEOUT, retries=False)

    def request(
        self, method: str, url: str, *, headers: dict[str, str] | None = None, **options: Any
    ) -> urllib3.BaseHTTPResponse:
        """A request to anyone (the object store too), sent again after a transport error
        or an answer that says to try later."""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                response = self.pool.request(
                    method, url, headers=headers, redirect=False, retries=False, **options
                )
            except urllib3.exceptions.HTTPError as exc:
                if attempt == ATTEMPTS:
                    raise ServiceUnavailable(f"{url}: {exc}", "gateway") from exc
            else:
                if response.status < 500 and response.status != 429:
                    return response
                if attempt == ATTEMPTS:
                    return response
                response.drain_conn()
            time.sleep(0.2 * attempt)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def published_keys(self) -> list[PublicKeyRead]:
        url = self.url + WELL_KNOWN_KEYS_PATH
        response = self.request("GET", url)
        if response.status != 200:
            raise ServiceUnavailable(f"{url} answered {response.status}", "gateway")
        try:
            return parse_keys(response.data, source=url)
        except KeysUnavailable as exc:
            raise ServiceUnavailable(str(exc), "gateway") from exc

    def status_list(self, delivery_id: str) -> Envelope:
        """The delivery's signed status list, as the gateway serves it (unverified)."""
        url = f"{self.url}/status/{delivery_id}"
        response = self.request("GET", url, headers=self._auth)
        if response.status == 401:
            raise Unauthenticated(_detail(response))
        if response.status == 404:
            raise NotFound(f"delivery {delivery_id}: {_detail(response)}")
        if response.status != 200:
            raise StreamError(f"the status list of {delivery_id}: {_detail(response)}")
        try:
            return StatusListRead.model_validate_json(response.data).envelope
        except ValidationError as exc:
            raise StreamError(f"the gateway's answer is not a status list: {exc}") from exc

    def delivery(self, delivery_id: str) -> DeliveryNode:
        node = self._ask(DELIVERY_QUERY, delivery_id, "delivery", DeliveryNode)
        if node.typename != "Delivery":
            raise _failure(node.typename, node.message or f"delivery {delivery_id}")
        return node

    def licence(self, licence_id: str) -> LicenceState:
        data = self._graphql(LICENCE_QUERY, licence_id)["licence"]
        if data.get("__typename") != "Licence":
            raise _failure(str(data.get("__typename")), str(data.get("message")))
        try:
            return LicenceState.model_validate(data)
        except ValidationError as exc:
            raise StreamError(f"the gateway's answer is not a licence: {exc}") from exc

    def link(self, path: str) -> Link:
        """A fresh URL of an object's bytes, once the gateway has checked the licence."""
        url = self.url + path
        response = self.request("GET", url, headers=self._auth)
        location = response.get_redirect_location()
        if location:
            signed = urllib.parse.urljoin(url, location)
            if urllib.parse.urlsplit(signed).scheme not in ("http", "https"):
                raise StreamError(f"the gateway redirected {path} to a URL that is not HTTP")
            expires = response.headers.get(LINK_EXPIRES_HEADER)
            return Link(signed, datetime.fromisoformat(expires) if expires else None)
        detail = _detail(response)
        if response.status == 401:
            raise Unauthenticated(detail)
        if response.status == 404:
            raise FileNotFoundError(f"{path}: {detail}")
        # 410: the licence was refunded; 403 or 409: not the caller's, or not deliverable.
        if response.status in (403, 409, 410):
            raise LinkRefused(f"{path}: {detail}")
        raise StreamError(f"the gateway answered {path} with {detail}")

    def _ask(self, query: str, ident: str, field: str, model: type[Node]) -> Node:
        try:
            return model.model_validate(self._graphql(query, ident)[field])
        except ValidationError as exc:
            raise StreamError(f"the gateway's answer is not a {field}: {exc}") from exc

    def _graphql(self, query: str, ident: str) -> dict[str, Any]:
        body = {"query": query, "variables": {"id": ident}}
        response = self.request("POST", self.url + "/graphql", json=body, headers=self._auth)
        if response.status == 401:
            raise Unauthenticated(_detail(response))
        if response.status != 200:
            raise ServiceUnavailable(f"the gateway answered {_detail(response)}", "gateway")
        answer = response.json()
        if answer.get("errors") or not answer.get("data"):
            messages = "; ".join(e.get("message", "") for e in answer.get("errors") or [])
            raise StreamError(f"the gateway refused the query: {messages or 'no data'}")
        data: dict[str, Any] = answer["data"]
        return data


def _detail(response: urllib3.BaseHTTPResponse) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "error" in body:
        return f"{response.status} {body['error']}: {body.get('detail', '')}"
    return f"{response.status} {response.reason}"


def _failure(typename: str, message: str) -> Exception:
    if typename == "NotFound":
        return NotFound(message)
    if typename == "Unauthenticated":
        return Unauthenticated(message)
    if typename == "Forbidden":
        return LinkRefused(message)
    return StreamError(f"{typename}: {message}")
