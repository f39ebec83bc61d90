"""Deliveries on the gateway stand-in for streaming: their files, a licence in the shape
the gateway's GraphQL shows it now, and the storage options that reach them."""

import io
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assent.protocol import Signer, verify_manifest
from assent.streaming import LINK_EXPIRES_HEADER, AssentFileSystem
from services.contracts.delivery import ManifestEntry
from tests.assent.deliveries import publish
from tests.assent.stand_in import API_KEY, GatewayStandIn, bound_socket, serve


def options(gateway_url: str) -> dict[str, Any]:
    return {"gateway_url": gateway_url, "api_key": API_KEY}


def filesystem(gateway_url: str) -> AssentFileSystem:
    # A fresh instance, not fsspec's cached one: each test sees its own deliveries.
    return AssentFileSystem(gateway_url, API_KEY, skip_instance_cache=True)


def parquet_table() -> bytes:
    table = pa.table({"tide": ["high", "low", "high"], "minutes": [372, 750, 1121]})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def url_of(delivery_id: uuid.UUID, entry: ManifestEntry) -> str:
    return f"assent://{delivery_id}/{entry.work_id}/{entry.file_name}"


def license_delivery(
    gateway: GatewayStandIn,
    signer: Signer,
    files: Sequence[tuple[str, bytes]],
    *,
    uses: Sequence[str] = ("TRAINING",),
    served: dict[str, bytes] | None = None,
) -> tuple[uuid.UUID, list[ManifestEntry], dict[str, Any]]:
    """A delivery of `files` and its licence, active for `uses`; the licence is the
    stand-in's own dict, for a test to refund or expire."""
    delivery_id, entries = publish(gateway, signer, files, served=served)
    envelope = gateway.deliveries[str(delivery_id)].envelope
    assert envelope is not None
    header = verify_manifest(envelope, gateway.keys.keys).header
    now = datetime.now(UTC)
    licence: dict[str, Any] = {
        "id": str(header.licence_id),
        "status": "ACTIVE",
        "uses": list(uses),
        "startsAt": (now - timedelta(days=1)).isoformat(),
        "endsAt": (now + timedelta(days=30)).isoformat(),
        "refundedAt": None,
        "expired": False,
        "lines": [
            {
                "workId": str(entry.work_id),
                "status": "ACTIVE",
                "expired": False,
                "startsAt": (now - timedelta(days=1)).isoformat(),
                "endsAt": (now + timedelta(days=30)).isoformat(),
                "excludedReason": None,
                "terms": {"uses": ["TRAINING", "EVALUATION"]},
            }
            for entry in entries
        ],
    }
    gateway.licences[licence["id"]] = licence
    return delivery_id, entries, licence


class ExpiringLinks:
    """The gateway's redirects, each saying its link has already ended: a reader that
    heeds `assent-link-expires` asks for a fresh one before every request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 307:
                ended = datetime.now(UTC) - timedelta(minutes=1)
                MutableHeaders(scope=message)[LINK_EXPIRES_HEADER] = ended.isoformat()
            await send(message)

        await self.app(scope, receive, stamped)


@contextmanager
def expiring_gateway(gateway: GatewayStandIn) -> Iterator[str]:
    with serve(ExpiringLinks(gateway.app()), bound_socket()) as url:
        yield url
