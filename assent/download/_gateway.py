"""The gateway's side of a download: its published keys, the delivery's signed manifest,
and each file's signed URL."""

import time
import urllib.parse
from typing import Any
from uuid import UUID

import urllib3
from pydantic import BaseModel, Field, ValidationError

from assent.download._http import Http, Refused, Retry, describe
from assent.download._results import DownloadError, ManifestRefused
from assent.verify import KeysUnavailable
from assent.verify import parse_keys as parse_published_keys
from services.contracts.signing import WELL_KNOWN_KEYS_PATH, Envelope, PublicKeyRead

DELIVERY_QUERY = """query($id: ID!) { delivery(id: $id) { __typename
  ... on Delivery { id status manifest } ... on Error { message } } }"""


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


class Gateway:
    """One gateway and the lab's API key, shared by the worker threads."""

    def __init__(self, http: Http, gateway_url: str, api_key: str) -> None:
        self._http = http
        self._url = gateway_url.rstrip("/")
        # Sent to the gateway only: never a client default, so a redirect cannot carry it.
        self._auth = {"Authorization": f"Bearer {api_key}"}

    def published_keys(self) -> list[PublicKeyRead]:
        url = self._url + WELL_KNOWN_KEYS_PATH
        try:
            response = self._http.request("GET", url)
        except urllib3.exceptions.HTTPError as exc:
            raise DownloadError(f"cannot fetch the published keys from {url}: {exc}") from exc
        if response.status != 200:
            raise DownloadError(f"{url} answered {describe(response)}")
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
                "POST", self._url + "/graphql", json=body, headers=self._auth
            )
        except urllib3.exceptions.HTTPError as exc:
            raise DownloadError(f"cannot reach the gateway at {self._url}: {exc}") from exc
        if response.status != 200:
            raise DownloadError(f"the delivery query was answered {describe(response)}")
        try:
            parsed = _DeliveryResponse.model_validate_json(response.data)
        except ValidationError as exc:
            raise DownloadError(f"the gateway's answer is not a delivery: {exc}") from exc
        if parsed.errors or parsed.data is None:
            messages = "; ".join(error.message for error in parsed.errors or [])
            raise DownloadError(f"the delivery query failed: {messages or 'no data'}")
        return parsed.data.delivery

    def locate(self, path: str) -> str:
        """The signed URL the gateway redirects to, once it has checked the entitlement."""
        url = self._url + path
        try:
            response = self._http.request("GET", url, headers=self._auth)
        except urllib3.exceptions.HTTPError as exc:
            raise Retry(f"gateway: {exc!r}") from exc
        location = response.get_redirect_location()
        if location:
            signed = urllib.parse.urljoin(url, location)
            scheme = urllib.parse.urlsplit(signed).scheme
            if scheme not in ("http", "https"):
                raise Refused(f"the gateway redirected to a {scheme!r} URL")
            return signed
        if response.status >= 500 or response.status == 429:
            raise Retry(f"gateway: {describe(response)}")
        if 200 <= response.status < 300:
            raise Refused(f"the gateway answered {response.status}, not a redirect")
        raise Refused(f"gateway: {describe(response)}")
