import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from assent.protocol import Signer
from services.contracts.signing import CHECKPOINT_KEY_PURPOSE, PublicKeyRead
from storage import StorageSettings
from storage.local import LocalObjectStore
from storage.local_server import create_app
from tests.assent.documents import (
    CERTIFICATE_PURPOSE,
    MANIFEST_PURPOSE,
    new_signer,
    published,
)
from tests.assent.stand_in import (
    AuditGatewayStandIn,
    GatewayStandIn,
    Recorder,
    bound_socket,
    serve,
    url_of,
)


@dataclass(frozen=True)
class ObjectServer:
    url: str
    settings: StorageSettings
    store: LocalObjectStore
    recorder: Recorder


@pytest.fixture(scope="session")
def manifest_signer() -> Signer:
    return new_signer(MANIFEST_PURPOSE)


@pytest.fixture(scope="session")
def licence_signer() -> Signer:
    return new_signer(CERTIFICATE_PURPOSE)


@pytest.fixture(scope="session")
def checkpoint_signer() -> Signer:
    return new_signer(CHECKPOINT_KEY_PURPOSE)


@pytest.fixture
def chain_keys(
    checkpoint_signer: Signer, manifest_signer: Signer, licence_signer: Signer
) -> list[PublicKeyRead]:
    """The published keys a licence chain's documents verify with."""
    return published(checkpoint_signer, manifest_signer, licence_signer).keys


@pytest.fixture
def chain_keys_file(tmp_path: Path, chain_keys: list[PublicKeyRead]) -> Path:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keys": [key.model_dump() for key in chain_keys]}))
    return path


@pytest.fixture(scope="session")
def object_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectServer]:
    """The project's local object server with real signed URLs, recording each request."""
    sock = bound_socket()
    settings = StorageSettings(
        backend="local",
        local_root=tmp_path_factory.mktemp("download-objects"),
        public_url=url_of(sock),
        signing_secret=SecretStr(secrets.token_hex(32)),
        bucket="assent-download-test",
    )
    recorder = Recorder(create_app(settings))
    with serve(recorder, sock) as url:
        yield ObjectServer(url, settings, LocalObjectStore(settings), recorder)


@pytest.fixture(scope="session")
def gateway_server(
    object_server: ObjectServer, manifest_signer: Signer, licence_signer: Signer
) -> Iterator[GatewayStandIn]:
    an_hour_ago = LocalObjectStore(object_server.settings, clock=lambda: time.time() - 3600)
    stand_in = GatewayStandIn(
        object_server.store, published(manifest_signer, licence_signer), stale_store=an_hour_ago
    )
    with serve(stand_in.app(), bound_socket()) as url:
        stand_in.url = url
        yield stand_in


@pytest.fixture
def gateway(gateway_server: GatewayStandIn, object_server: ObjectServer) -> GatewayStandIn:
    """The gateway stand-in, with what both servers saw so far forgotten."""
    gateway_server.downloads.clear()
    gateway_server.queries.clear()
    gateway_server.expire_next.clear()
    object_server.recorder.seen.clear()
    return gateway_server


@pytest.fixture(scope="session")
def audit_gateway_server(
    checkpoint_signer: Signer, manifest_signer: Signer, licence_signer: Signer
) -> Iterator[AuditGatewayStandIn]:
    stand_in = AuditGatewayStandIn(published(checkpoint_signer, manifest_signer, licence_signer))
    with serve(stand_in.app(), bound_socket()) as url:
        stand_in.url = url
        yield stand_in


@pytest.fixture
def audit_gateway(audit_gateway_server: AuditGatewayStandIn) -> AuditGatewayStandIn:
    """The audit gateway stand-in, with no chains or checkpoint and no queries seen."""
    audit_gateway_server.reset()
    return audit_gateway_server
