"""An auditor proves a sold work's licence chain from the tamper-evident log, offline;
every component in its own process on PostgreSQL and a real S3 endpoint."""

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from tests.e2e.marketplace import (
    REGISTER_AUDITOR,
    buy,
    chain_of,
    cli,
    delivered,
    funded_buyer,
    listed_work,
    proven_chain,
    quote_for,
    register,
    run_cli,
)
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.stack import RunningStack

pytestmark = pytest.mark.stack

FILES = """query($id: ID!) { delivery(id: $id) { ... on Delivery {
  files { items { workId downloadUrl } } } } }"""

# What the chain of a sold and downloaded work holds, in the auditor's words.
SOLD_AND_DOWNLOADED = {"CONSENT", "OFFER", "LICENCE", "PAYMENT", "DELIVERY", "DOWNLOAD"}


@asynccontextmanager
async def audit_database(running_stack: RunningStack) -> AsyncIterator[AsyncConnection]:
    """The audit log's own tables, as an insider with database access would reach them."""
    engine = create_async_engine(running_stack.database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("SET search_path TO audit"))
            yield connection
    finally:
        await engine.dispose()


async def test_an_auditor_exports_and_verifies_the_chain_of_a_sold_work(
    gateway: GraphQLClient, running_stack: RunningStack, tmp_path: Path
) -> None:
    admin = running_stack.admin_key
    gateway_url = running_stack.stack.gateway_url
    auditor = (
        await gateway.execute(
            REGISTER_AUDITOR,
            {
                "input": {
                    "name": "Ruth Auditor",
                    "email": f"ruth-{uuid.uuid4().hex[:6]}@example.org",
                    "role": "AUDITOR",
                }
            },
            key=admin,
        )
    )["register"]["apiKey"]["secret"]
    env = {**os.environ, "ASSENT_API_KEY": auditor, "ASSENT_GATEWAY_URL": gateway_url}

    # The auditor keeps a checkpoint before the sale, to hold the log to it afterwards.
    kept = tmp_path / "kept-checkpoint.json"
    for _ in range(50):
        saved = await run_cli(cli("audit", "checkpoint", "--to", str(kept)), env=env)
        if saved.returncode == 0:
            break
        await asyncio.sleep(0.2)
    assert saved.returncode == 0, saved.stdout + saved.stderr

    _, creator = await register(gateway, "CREATOR", "Maren Holt")
    work = await listed_work(gateway, creator, price=2_000, title="Tidal flats, charcoal")
    other_work = await listed_work(gateway, creator, price=500, title="Gull study")
    _, lab = await funded_buyer(gateway, admin, "Audited Lab", 10_000)
    _, stranger = await funded_buyer(gateway, admin, "Stranger Lab", 10_000)
    licence = await buy(gateway, lab, (await quote_for(gateway, lab, [work, other_work]))["id"])
    licence = await delivered(gateway, lab, licence["id"])
    files = (await gateway.execute(FILES, {"id": licence["delivery"]["id"]}, key=lab))["delivery"]
    url = next(f["downloadUrl"] for f in files["files"]["items"] if f["workId"] == work)
    async with httpx.AsyncClient() as http:
        link = await http.get(url, headers={"authorization": f"Bearer {lab}"})
    assert link.status_code == 307

    chain = await proven_chain(gateway, auditor, SOLD_AND_DOWNLOADED, work=work)
    topics = [entry["topic"] for entry in chain["entries"]]
    # One download of this work, none of the other work bought in the same licence.
    assert topics.count("file.downloaded") == 1
    assert [entry["index"] for entry in chain["entries"]] == sorted(
        entry["index"] for entry in chain["entries"]
    )

    # Who else sees it: the creator of the work and the buyer of the licence do; a
    # stranger lab does not.
    assert (await chain_of(gateway, creator, work=work))["__typename"] == "LicenceChain"
    assert (await chain_of(gateway, lab, licence=licence["id"]))["__typename"] == "LicenceChain"
    refused = await chain_of(gateway, stranger, licence=licence["id"])
    assert refused["__typename"] in {"Forbidden", "NotFound"}

    # Exported, then verified offline with only the published keys and the kept checkpoint.
    exported = await run_cli(
        cli("audit", "export", "--work", work, "--to", str(tmp_path), "--checkpoint", str(kept)),
        env=env,
    )
    assert exported.returncode == 0, exported.stdout + exported.stderr
    document = tmp_path / f"chain-work-{work}.json"
    report = (tmp_path / f"chain-work-{work}.html").read_text()
    assert "<svg" in report
    assert "Audited Lab" in report
    keys = tmp_path / "keys.json"
    async with httpx.AsyncClient() as http:
        keys.write_bytes((await http.get(gateway_url + "/.well-known/assent-keys.json")).content)
    offline = cli("verify", str(document), "--keys", str(keys), "--checkpoint", str(kept))
    verified = await run_cli(offline)
    assert verified.returncode == 0, verified.stdout + verified.stderr

    # An insider edits the logged payment in the database: the next export no longer
    # verifies, and the verifier names the entry.
    payment = next(entry for entry in chain["entries"] if entry["step"] == "PAYMENT")
    async with audit_database(running_stack) as db:
        stored = (
            await db.execute(
                text("SELECT entry FROM log_entry WHERE leaf_index = :index"),
                {"index": payment["index"]},
            )
        ).scalar_one()
        logged = json.loads(stored)
        for posting in logged["payload"]["transaction"]["postings"]:
            if posting["account_kind"] == "platform_revenue":
                posting["amount_minor"] -= 100
        await db.execute(
            text("UPDATE log_entry SET entry = :entry WHERE leaf_index = :index"),
            {"entry": json.dumps(logged).encode(), "index": payment["index"]},
        )
    try:
        tampered_dir = tmp_path / "after-edit"
        again = await run_cli(
            cli("audit", "export", "--work", work, "--to", str(tampered_dir)), env=env
        )
        assert again.returncode == 1, again.stdout + again.stderr
        caught = await run_cli(
            cli("verify", str(tampered_dir / f"chain-work-{work}.json"), "--keys", str(keys))
        )
        assert caught.returncode == 1, caught.stdout + caught.stderr
        assert "INVALID" in caught.stdout
        assert str(payment["index"]) in caught.stdout
    finally:
        async with audit_database(running_stack) as db:
            await db.execute(
                text("UPDATE log_entry SET entry = :entry WHERE leaf_index = :index"),
                {"entry": stored, "index": payment["index"]},
            )
