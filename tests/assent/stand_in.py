"""Real HTTP servers for the download and audit clients: the project's local object server,
and stand-ins for the gateway's delivery and audit surfaces.

Both run under uvicorn in a thread of the test process, so a test can see what each
received (the Range header of a resumed file, a download that should never happen).
"""

import base64
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from assent.protocol import Signer, canonical_json, encode_bits, status_list_id
from services.contracts.audit import ChainRead, ChainSubjectKind, CheckpointRead, ConsistencyProof
from services.contracts.delivery import ManifestEntry
from services.contracts.signing import WELL_KNOWN_KEYS_PATH, Envelope, PublishedKeys
from services.contracts.status_list import (
    STATUS_LIST_TYPE,
    BitstringStatusList,
    StatusListCredential,
    StatusListRead,
)
from storage.local import LocalObjectStore
from tests.assent.documents import entry_for

API_KEY = "assent_testtest_0123456789abcdef"


def bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()
    return f"http://{host}:{port}"


@contextmanager
def serve(app: ASGIApp, sock: socket.socket) -> Iterator[str]:
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield url_of(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def signed_status_list(manifest: Envelope, revoked: set[int], signer: Signer) -> StatusListRead:
    """The list the delivery service would sign for this manifest, with `revoked` set."""
    payload = json.loads(base64.b64decode(manifest.payload))
    header = payload["predicate"]["header"]
    delivery_id = uuid.UUID(header["delivery_id"])
    count = len(payload["predicate"]["entries"])
    now = datetime.now(UTC)
    credential = StatusListCredential(
        id=status_list_id(delivery_id),
        issuer="urn:assent:delivery",
        valid_from=now,
        valid_until=now + timedelta(minutes=5),
        credential_subject=BitstringStatusList(
            id=status_list_id(delivery_id) + "#list",
            encoded_list=encode_bits(revoked, count),
            delivery_id=delivery_id,
            licence_id=uuid.UUID(header["licence_id"]),
            entry_count=count,
        ),
    )
    body = canonical_json(credential.model_dump(mode="json"))
    return StatusListRead(envelope=signer.sign(STATUS_LIST_TYPE, body))


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    range: str | None
    authorization: str | None


@dataclass
class Recorder:
    """Wraps an ASGI app and keeps what each HTTP request asked for."""

    app: ASGIApp
    seen: list[Seen] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = Headers(scope=scope)
            self.seen.append(
                Seen(
                    scope["method"],
                    scope["path"],
                    headers.get("range"),
                    headers.get("authorization"),
                )
            )
        await self.app(scope, receive, send)


@dataclass
class StandInDelivery:
    envelope: Envelope | None
    building_polls: int = 0
    refusal: tuple[int, str] | None = None
    # The records (by manifest position) its signed status list marks no longer usable.
    revoked: set[int] = field(default_factory=set)
    # A status list signed with this key instead of the delivery's published one.
    status_signer: Signer | None = None


class GatewayStandIn:
    """The gateway surface the client is written against: published keys, the
    `delivery` query and entitlement-checked redirects to signed URLs."""

    def __init__(
        self,
        store: LocalObjectStore,
        keys: PublishedKeys,
        *,
        stale_store: LocalObjectStore,
        manifest_signer: Signer,
    ) -> None:
        self.store = store
        self.manifest_signer = manifest_signer
        # Signs with the same secret an hour in the past: its links have expired.
        self.stale_store = stale_store
        self.expire_next: set[str] = set()
        self.keys = keys
        self.deliveries: dict[str, StandInDelivery] = {}
        self.licences: dict[str, dict[str, Any]] = {}
        self.objects: dict[str, str] = {}
        self.downloads: list[str] = []
        self.queries: list[dict[str, Any]] = []
        self.url = ""

    async def store_files(
        self,
        delivery_id: uuid.UUID,
        files: Sequence[tuple[str, bytes]],
        *,
        served: dict[str, bytes] | None = None,
        work_id: uuid.UUID | None = None,
    ) -> list[ManifestEntry]:
        """Entries for the files, whose objects hold `served[name]` where given (to make
        the store disagree with the manifest) and the file's own bytes otherwise."""
        entries = []
        for name, data in files:
            entry = entry_for(delivery_id, name, data, work_id=work_id)
            key = f"tests/download/{uuid.uuid4().hex}"
            await self.store.put(key, (served or {}).get(name, data))
            self.objects[entry.path] = key
            entries.append(entry)
        return entries

    def issue(self, delivery_id: uuid.UUID, envelope: Envelope | None, **options: Any) -> None:
        self.deliveries[str(delivery_id)] = StandInDelivery(envelope, **options)

    def licence(self, request: Request, licence_id: str) -> dict[str, Any]:
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return {"__typename": "Unauthenticated", "message": "give an API key"}
        found = self.licences.get(licence_id)
        if found is None:
            return {"__typename": "NotFound", "message": f"no licence {licence_id}"}
        return {"__typename": "Licence", **found}

    def app(self) -> FastAPI:
        app = FastAPI()

        def authorised(request: Request) -> bool:
            return request.headers.get("authorization") == f"Bearer {API_KEY}"

        @app.get(WELL_KNOWN_KEYS_PATH)
        async def keys() -> PublishedKeys:
            return self.keys

        @app.post("/graphql")
        async def graphql(request: Request) -> dict[str, Any]:
            body = await request.json()
            self.queries.append(body)
            if "licence(id:" in body["query"]:
                return {"data": {"licence": self.licence(request, body["variables"]["id"])}}
            delivery_id = body["variables"]["id"]
            delivery = self.deliveries.get(delivery_id)
            node: dict[str, Any]
            if not authorised(request):
                node = {"__typename": "Unauthenticated", "message": "give an API key"}
            elif delivery is None:
                node = {"__typename": "NotFound", "message": f"no delivery {delivery_id}"}
            elif delivery.building_polls > 0:
                delivery.building_polls -= 1
                node = {"__typename": "Delivery", "id": delivery_id, "status": "BUILDING"}
                node["manifest"] = None
            else:
                envelope = delivery.envelope
                node = {"__typename": "Delivery", "id": delivery_id, "status": "ISSUED"}
                node["manifest"] = envelope.model_dump() if envelope else None
            return {"data": {"delivery": node}}

        @app.get("/status/{delivery_id}")
        async def status_list(delivery_id: str, request: Request) -> Response:
            if not authorised(request):
                return JSONResponse({"error": "Unauthenticated", "detail": "no key"}, 401)
            delivery = self.deliveries.get(delivery_id)
            if delivery is None or delivery.envelope is None:
                return JSONResponse({"error": "NotFound", "detail": delivery_id}, 404)
            signer = delivery.status_signer or self.manifest_signer
            signed = signed_status_list(delivery.envelope, delivery.revoked, signer)
            return Response(signed.model_dump_json(), media_type="application/json")

        @app.get("/downloads/{delivery_id}/{fingerprint}")
        async def file(delivery_id: str, fingerprint: str, request: Request) -> Response:
            path = request.url.path
            self.downloads.append(path)
            if not authorised(request):
                return JSONResponse({"error": "Unauthenticated", "detail": "no key"}, 401)
            delivery = self.deliveries.get(delivery_id)
            if delivery is not None and delivery.refusal is not None:
                status, name = delivery.refusal
                return JSONResponse({"error": name, "detail": "the licence was refunded"}, status)
            key = self.objects.get(path)
            if delivery is None or key is None:
                return JSONResponse({"error": "NotFound", "detail": path}, 404)
            store = self.store
            if path in self.expire_next:
                self.expire_next.discard(path)
                store = self.stale_store
            url = await store.presign_get(key, expires_in=timedelta(minutes=5))
            return RedirectResponse(url, status_code=307)

        return app


ChainSource = Callable[[int | None], ChainRead]
"""The chain the log would prove, given the `consistentWith` asked for."""
CheckpointSource = Callable[[int | None], tuple[CheckpointRead, ConsistencyProof | None]]


class AuditGatewayStandIn:
    """The gateway surface `assent audit` is written against: published keys, and the
    `licenceChain` and `auditCheckpoint` queries answering from what a test sets."""

    def __init__(self, keys: PublishedKeys) -> None:
        self.keys = keys
        self.chains: dict[str, ChainSource] = {}
        self.checkpoint: CheckpointSource | None = None
        self.queries: list[dict[str, Any]] = []
        self.url = ""

    def reset(self) -> None:
        self.chains.clear()
        self.checkpoint = None
        self.queries.clear()

    def _licence_chain(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        subject = variables["id"]
        source = self.chains.get(subject)
        if source is None:
            return {"__typename": "NotFound", "message": f"no chain of {subject}"}
        chain = source(variables.get("consistentWith"))
        argument = "workId" if chain.subject_kind is ChainSubjectKind.WORK else "licenceId"
        if f"{argument}: $id" not in query:
            return {"__typename": "NotFound", "message": f"no chain of {subject} by that name"}
        return {"__typename": "LicenceChain", "document": chain.model_dump_json(indent=2)}

    def _audit_checkpoint(self, variables: dict[str, Any]) -> dict[str, Any]:
        if self.checkpoint is None:
            return {"__typename": "NotFound", "message": "the log is empty"}
        read, proof = self.checkpoint(variables.get("consistentWith"))
        node: dict[str, Any] = {
            "__typename": "AuditCheckpoint",
            "document": read.model_dump_json(indent=2),
            "consistencyProof": None,
        }
        if proof is not None:
            node["consistencyProof"] = {
                "fromSize": proof.from_size,
                "toSize": proof.to_size,
                "hashes": proof.hashes,
            }
        return node

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get(WELL_KNOWN_KEYS_PATH)
        async def keys() -> PublishedKeys:
            return self.keys

        @app.post("/graphql")
        async def graphql(request: Request) -> dict[str, Any]:
            body = await request.json()
            self.queries.append(body)
            query, variables = body["query"], body.get("variables") or {}
            field = "licenceChain" if "licenceChain" in query else "auditCheckpoint"
            if request.headers.get("authorization") != f"Bearer {API_KEY}":
                node = {"__typename": "Unauthenticated", "message": "give an API key"}
            elif field == "licenceChain":
                node = self._licence_chain(query, variables)
            else:
                node = self._audit_checkpoint(variables)
            return {"data": {field: node}}

        return app
