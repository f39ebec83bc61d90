import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from assent.protocol import Signer
from gateway.accounts.keys import generate_key
from gateway.app import create_app as create_gateway
from gateway.config import Settings
from services.contracts.signing import CHECKPOINT_KEY_PURPOSE, PublicKeyRead
from services.kit.migrations import upgrade
from services.stack import GATEWAY
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
from tests.fixtures.database import fresh_database
from tests.fixtures.internal_keys import key_settings

UNREACHABLE = "http://127.0.0.1:9"
CREATE_KEY = """mutation { createApiKey(name: "sdk test") {
  ... on ApiKeyCreated { apiKey { secret } } } }"""


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
        object_server.store,
        published(manifest_signer, licence_signer),
        stale_store=an_hour_ago,
        manifest_signer=manifest_signer,
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


@pytest.fixture(scope="module")
def lonely_gateway(postgres_server: str) -> Iterator[tuple[str, str]]:
    """A gateway of its own database, allowing a burst of three requests per key and one
    a second after, whose services never answer; yields its URL and an admin key."""
    with contextmanager(fresh_database)(postgres_server, "sdk") as database_url:
        assert GATEWAY.migrations is not None
        upgrade(GATEWAY.migrations, database_url, "gateway")
        admin_key = generate_key().secret
        settings = Settings(
            database_url=database_url,
            database_schema="gateway",
            ASSENT_ADMIN_KEY=admin_key,
            **key_settings("gateway"),
            ASSENT_CATALOGUE_URL=UNREACHABLE,
            ASSENT_LICENSING_URL=UNREACHABLE,
            ASSENT_DELIVERY_URL=UNREACHABLE,
            ASSENT_AUDIT_URL=UNREACHABLE,
            rate_limit_per_second=1,
            rate_limit_burst=3,
        )
        with serve(create_gateway(settings), bound_socket()) as url:
            yield url, admin_key


def new_key(gateway: tuple[str, str]) -> str:
    """Another key of the admin, with a full bucket of its own."""
    url, admin_key = gateway
    for _ in range(10):
        response = httpx.post(
            url + "/graphql",
            json={"query": CREATE_KEY},
            headers={"authorization": f"Bearer {admin_key}"},
        )
        if response.status_code == 429:
            time.sleep(float(response.headers["retry-after"]))
            continue
        secret: str = response.json()["data"]["createApiKey"]["apiKey"]["secret"]
        return secret
    raise AssertionError("the admin key stayed rate limited")
