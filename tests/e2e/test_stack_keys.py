"""An admin rotates a signing key with the CLI: the published keys (and the JWKS) show
the old and the new key with their intervals at once, and every key, first or rotated,
is an entry of the audit log; every component in its own process."""

import asyncio
import json

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from services.contracts.signing import (
    MANIFEST_KEY_PURPOSE,
    WELL_KNOWN_JWKS_PATH,
    WELL_KNOWN_KEYS_PATH,
    KeyRotated,
    PublishedKeys,
)
from tests.e2e.marketplace import cli, register, run_cli
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.stack import RunningStack

pytestmark = pytest.mark.stack


async def _logged_rotations(running_stack: RunningStack) -> list[KeyRotated]:
    engine = create_async_engine(running_stack.database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT entry FROM audit.log_entry WHERE topic = 'key.rotated' "
                    "ORDER BY leaf_index"
                )
            )
            return [KeyRotated.model_validate(json.loads(row[0])["payload"]) for row in rows]
    finally:
        await engine.dispose()


async def test_an_admin_rotates_the_manifest_key_and_the_log_and_published_keys_show_it(
    gateway: GraphQLClient, running_stack: RunningStack
) -> None:
    gateway_url = running_stack.stack.gateway_url
    async with httpx.AsyncClient(base_url=gateway_url) as http:
        before = PublishedKeys.model_validate_json((await http.get(WELL_KNOWN_KEYS_PATH)).content)
    manifest_keys = [key for key in before.keys if key.purpose == MANIFEST_KEY_PURPOSE]
    current = manifest_keys[-1]

    _, lab = await register(gateway, "BUYER", "Keys Lab")
    refused = await run_cli(
        cli("keys", "rotate", "delivery", "--gateway", gateway_url, "--key", lab)
    )
    assert refused.returncode == 1, refused.stdout
    assert "403" in refused.stderr

    done = await run_cli(
        cli(
            "keys", "rotate", "delivery", "--gateway", gateway_url, "--key", running_stack.admin_key
        )
    )
    assert done.returncode == 0, done.stderr
    assert "rotated the delivery signing key" in done.stdout

    async with httpx.AsyncClient(base_url=gateway_url) as http:
        after = PublishedKeys.model_validate_json((await http.get(WELL_KNOWN_KEYS_PATH)).content)
        jwks = (await http.get(WELL_KNOWN_JWKS_PATH)).json()
    rotated = [key for key in after.keys if key.purpose == MANIFEST_KEY_PURPOSE]
    old, new = rotated[-2:]
    assert old.key_id == current.key_id
    assert old.valid_until is not None
    assert new.valid_from == old.valid_until
    assert new.valid_until is None
    assert [key["kid"] for key in jwks["keys"]] == [key.key_id for key in after.keys]
    assert {key["kty"] for key in jwks["keys"]} == {"OKP"}

    # The first key of each service, and the rotation, reach the log.
    for _ in range(100):
        logged = await _logged_rotations(running_stack)
        if any(entry.key_id == new.key_id for entry in logged):
            break
        await asyncio.sleep(0.2)
    assert {entry.purpose for entry in logged if entry.retired_key_id is None} == {
        "licence-certificate",
        "delivery-manifest",
        "audit-checkpoint",
    }
    [rotation] = [entry for entry in logged if entry.key_id == new.key_id]
    assert rotation.retired_key_id == old.key_id
