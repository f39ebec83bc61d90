"""No secret reaches a log: after a purchase and a download on the whole stack, every
process's log is searched for the API keys used, the stack's own secrets and signing
keys, and the signatures of the presigned URLs handed out. And no process holds a
secret it does not use: each one's environment is read as the system shows it."""

import asyncio
import hashlib
import os
import re
import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from services.stack import INTERNAL_PUBLIC_KEYS, internal_signing_key
from tests.e2e.embedded import EmbeddedStack
from tests.e2e.marketplace import (
    COMPLETE,
    TRAINING,
    buy,
    create_work,
    delivered,
    funded_buyer,
    list_for_sale,
    quote_for,
    register,
    upload_single,
)
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.stack import RunningStack

pytestmark = pytest.mark.stack

FILES = """query($id: ID!) { delivery(id: $id) { ... on Delivery {
  files { items { sha256 downloadUrl } } } } }"""
REVOKE_SELF = """mutation($id: ID!) { revokeApiKey(id: $id) { __typename } }"""
NEW_KEY = """mutation { createApiKey(name: "short-lived") {
  ... on ApiKeyCreated { apiKey { secret key { id } } } } }"""
ME = "{ me { __typename } }"

SECRET_SETTING = re.compile(r"SECRET|SIGNING_KEY|ADMIN_KEY")
# A secret this short is a placeholder (moto's "testing"), indistinguishable from words.
SHORTEST_SECRET = 16
UNREDACTED_SIGNATURE = re.compile(
    r"(?i)(?:x-amz-signature|x-amz-credential|signature|sig)=(?!\[redacted\])[^&\s\"']+"
)
BEARER_TOKEN = re.compile(r"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+")


def _signature(url: str) -> str:
    query = parse_qs(urlsplit(url).query)
    [signature] = query.get("X-Amz-Signature") or query["sig"]
    return signature


async def _logged(running_stack: RunningStack, gateway: GraphQLClient) -> str:
    """Every log once the gateway has written the line of a last, marked request: the
    processes write a line at a time, so nothing earlier is still in flight."""
    marker = f"secrets-scan-{uuid.uuid4().hex}"
    await gateway.http.post(gateway.url, json={"query": ME}, headers={"x-request-id": marker})
    for _ in range(100):
        if marker in (running_stack.log_dir / "gateway.log").read_text(errors="replace"):
            return running_stack.logs()
        await asyncio.sleep(0.05)
    raise AssertionError("the gateway did not log the marked request")


async def test_no_secret_reaches_any_log(
    gateway: GraphQLClient, running_stack: RunningStack
) -> None:
    admin = running_stack.admin_key
    _, creator = await register(gateway, "CREATOR", "Log Scan Creator")
    content = os.urandom(40_000)
    created = await create_work(gateway, creator, content, title="Log scan study")
    upload_url = created["upload"]["put"]["url"]
    await upload_single(created, content)
    work_id = created["work"]["id"]
    await gateway.execute(COMPLETE, {"id": work_id}, key=creator)
    await list_for_sale(gateway, creator, work_id, price=900, uses=TRAINING)
    _, buyer = await funded_buyer(gateway, admin, "Log Scan Lab", 10_000)
    licence = await buy(gateway, buyer, (await quote_for(gateway, buyer, [work_id]))["id"])
    licence = await delivered(gateway, buyer, licence["id"])
    files = (await gateway.execute(FILES, {"id": licence["delivery"]["id"]}, key=buyer))[
        "delivery"
    ]["files"]["items"]
    async with httpx.AsyncClient() as http:
        redirect = await http.get(
            files[0]["downloadUrl"], headers={"authorization": f"Bearer {buyer}"}
        )
        download_url = redirect.headers["location"]
        body = (await http.get(download_url)).content
    assert hashlib.sha256(body).hexdigest() == files[0]["sha256"]
    # Keys that fail: a revoked one, a made-up one, and one sent in the other header.
    issued = (await gateway.execute(NEW_KEY, key=buyer))["createApiKey"]["apiKey"]
    await gateway.execute(REVOKE_SELF, {"id": issued["key"]["id"]}, key=buyer)
    made_up = f"assent_{uuid.uuid4().hex[:8]}_{uuid.uuid4().hex}"
    for key in (issued["secret"], made_up):
        refused = (await gateway.post(ME, key=key)).json()["data"]["me"]
        assert refused["__typename"] == "Unauthenticated"
    await gateway.http.post(gateway.url, json={"query": ME}, headers={"x-api-key": made_up})

    logs = await _logged(running_stack, gateway)

    settings = {
        name: value
        for name, value in running_stack.stack.env.items()
        if SECRET_SETTING.search(name) and len(value) >= SHORTEST_SECRET
    }
    assert {
        "ASSENT_ADMIN_KEY",
        *(internal_signing_key(name) for name in COMPONENTS),
        "ASSENT_LICENSING_SIGNING_KEY",
        "ASSENT_DELIVERY_SIGNING_KEY",
        "ASSENT_DELIVERY_WATERMARK_SECRET",
        "ASSENT_AUDIT_SIGNING_KEY",
    } <= set(settings)
    api_keys = {"creator": creator, "buyer": buyer, "revoked": issued["secret"], "made up": made_up}
    signatures = {"upload": _signature(upload_url), "download": _signature(download_url)}
    leaked = [
        f"{kind} {name}"
        for kind, secrets in (("setting", settings), ("key", api_keys), ("URL", signatures))
        for name, secret in secrets.items()
        if secret in logs
    ]
    assert leaked == []
    assert UNREDACTED_SIGNATURE.findall(logs) == []
    assert BEARER_TOKEN.findall(logs) == []


COMPONENTS = ("gateway", "catalogue", "licensing", "delivery", "audit")
# Who may hold what, as an operator would audit it: the gateway the admin key, each
# process its own internal token key and no other's, each service its own signing key,
# whatever stores objects the S3 credential.
HOLDERS = {
    "ASSENT_ADMIN_KEY": {"gateway"},
    **{internal_signing_key(name): {name} for name in COMPONENTS},
    "ASSENT_LICENSING_SIGNING_KEY": {"licensing"},
    "ASSENT_DELIVERY_SIGNING_KEY": {"delivery"},
    "ASSENT_DELIVERY_WATERMARK_SECRET": {"delivery"},
    "ASSENT_AUDIT_SIGNING_KEY": {"audit"},
    "ASSENT_STORAGE_S3_SECRET_ACCESS_KEY": {"catalogue", "delivery", "audit"},
}


def process_environment(pid: int) -> str:
    """A process's environment as the system holds it (what another user with access to
    the process, or a core dump, would see)."""
    with open(f"/proc/{pid}/environ", "rb") as environ:
        return environ.read().decode(errors="replace")


def test_each_process_holds_only_its_own_secrets(running_stack: RunningStack) -> None:
    env = running_stack.stack.env
    environments = {
        name: process_environment(process.pid)
        for name, process in running_stack.stack.processes.items()
    }
    assert set(environments) == {"gateway", "catalogue", "licensing", "delivery", "audit"}
    settings = {
        name: {entry.partition("=")[0] for entry in environ.split("\0") if entry}
        for name, environ in environments.items()
    }
    by_name = {
        setting: {name for name, names in settings.items() if setting in names}
        for setting in HOLDERS
    }
    assert by_name == HOLDERS
    # Nor under another name: a secret's value is nowhere else.
    by_value = {
        setting: {name for name, environ in environments.items() if env[setting] in environ}
        for setting in HOLDERS
        if len(env[setting]) >= SHORTEST_SECRET
    }
    assert by_value == {setting: HOLDERS[setting] for setting in by_value}
    assert "ASSENT_ADMIN_KEY" in by_value
    assert {internal_signing_key(name) for name in COMPONENTS} <= set(by_value)
    # Every process can check every issuer: the public keys are no secret.
    assert all(INTERNAL_PUBLIC_KEYS in names for names in settings.values())
    # A database URL may carry a password: each process sees its own database only.
    for name, names in settings.items():
        databases = {setting for setting in names if setting.endswith("DATABASE_URL")}
        assert databases == {f"ASSENT_{name.upper()}_DATABASE_URL"}, name


def test_on_the_embedded_default_the_object_server_holds_only_its_url_secret(
    embedded_stack: EmbeddedStack,
) -> None:
    pids = embedded_stack.running.components()
    assert set(pids) == {"gateway", "catalogue", "licensing", "delivery", "audit", "objects"}
    environments = {name: process_environment(pid) for name, pid in pids.items()}
    secrets = {
        name: {
            entry.partition("=")[0]
            for entry in environ.split("\0")
            if SECRET_SETTING.search(entry.partition("=")[0])
        }
        for name, environ in environments.items()
    }
    assert secrets["objects"] == {"ASSENT_STORAGE_SIGNING_SECRET"}
    # The admin key the gateway generated lives in its database, not in any environment.
    assert not any(embedded_stack.admin_key in environ for environ in environments.values())
    assert secrets["licensing"] == {
        "ASSENT_LICENSING_INTERNAL_SIGNING_KEY",
        "ASSENT_LICENSING_SIGNING_KEY",
    }
    assert secrets["delivery"] == {
        "ASSENT_DELIVERY_INTERNAL_SIGNING_KEY",
        "ASSENT_DELIVERY_SIGNING_KEY",
        "ASSENT_DELIVERY_WATERMARK_SECRET",
        "ASSENT_STORAGE_SIGNING_SECRET",
    }
