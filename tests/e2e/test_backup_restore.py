"""An operator backs up a marketplace with sales and restores it into a new PostgreSQL
database and a new bucket, with `assent backup` and `assent restore` as they would run
them, every component in its own process. On the restored platform the ledger is sound,
every licence downloads with each file matching its signed manifest, and the audit log
verifies against a checkpoint an auditor kept before the backup and stays consistent with
it after one more sale."""

import asyncio
import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from assent.protocol import verify_envelope
from services.contracts.delivery import IN_TOTO_PAYLOAD_TYPE
from services.contracts.signing import WELL_KNOWN_KEYS_PATH, Envelope, PublishedKeys
from tests.e2e.marketplace import (
    LICENCES,
    REGISTER_AUDITOR,
    assert_ledger_sound,
    buy,
    cli,
    delivered,
    funded_buyer,
    listed_work,
    proven_chain,
    quote_for,
    register,
    run_cli,
)
from tests.fixtures.database import fresh_database
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.stack import RunningStack, launch_stack
from tests.fixtures.storage import S3Server, unique_bucket

pytestmark = pytest.mark.stack

T = TypeVar("T")
SOLD = {"CONSENT", "OFFER", "LICENCE", "PAYMENT", "DELIVERY"}


def store_settings(s3_server: S3Server, bucket: str) -> dict[str, str]:
    """The platform's settings an operator's shell holds for the CLI, as the stack has them."""
    return {
        "ASSENT_STORAGE_BACKEND": "s3",
        "ASSENT_STORAGE_S3_ENDPOINT_URL": s3_server.endpoint_url,
        "ASSENT_STORAGE_S3_ACCESS_KEY_ID": s3_server.access_key_id,
        "ASSENT_STORAGE_S3_SECRET_ACCESS_KEY": s3_server.secret_access_key,
        "ASSENT_STORAGE_S3_REGION": s3_server.region,
        "ASSENT_STORAGE_BUCKET": bucket,
    }


def operator_env(database_url: str, s3_server: S3Server, bucket: str) -> dict[str, str]:
    return {
        **os.environ,
        "ASSENT_DATABASE_URL": database_url,
        **store_settings(s3_server, bucket),
    }


@contextlib.asynccontextmanager
async def graphql(url: str) -> AsyncIterator[GraphQLClient]:
    client = GraphQLClient(url)
    try:
        yield client
    finally:
        await client.http.aclose()


def database(server: str, purpose: str) -> AbstractContextManager[str]:
    return contextlib.contextmanager(fresh_database)(server, purpose)


async def entered(
    cleanup: contextlib.ExitStack[bool | None], manager: AbstractContextManager[T]
) -> T:
    # Databases and stacks start and stop with blocking calls that run event loops of
    # their own, so off the test's loop.
    return await asyncio.to_thread(lambda: cleanup.enter_context(manager))


@dataclass
class Sold:
    """What the marketplace held at the backup, and what its users kept."""

    backup: Path
    kept_before: Path
    keys: Path
    works: list[str] = field(default_factory=list)
    auditor: str = ""
    # Each lab's key: its licence and how many files it holds.
    sales: dict[str, tuple[str, int]] = field(default_factory=dict)


@contextlib.contextmanager
def stack_on(url: str, s3_server: S3Server, root: Path, bucket: str) -> Iterator[RunningStack]:
    yield from launch_stack(url, s3_server, root, bucket=bucket)


async def downloaded_and_matching(gateway_url: str, lab: str, licence_id: str, to: Path) -> int:
    """Downloads the licence's delivery with the CLI; each file's sha256 is the one the
    signed manifest lists, the signature checked with the published keys."""
    async with graphql(gateway_url + "/graphql") as gateway:
        delivery = (await delivered(gateway, lab, licence_id))["delivery"]
    finished = await run_cli(
        cli("download", delivery["id"], "--to", str(to), "--gateway", gateway_url, "--quiet"),
        env={**os.environ, "ASSENT_API_KEY": lab},
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    async with httpx.AsyncClient() as http:
        published = PublishedKeys.model_validate_json(
            (await http.get(gateway_url + WELL_KNOWN_KEYS_PATH)).content
        )
    envelope = Envelope.model_validate_json((to / "manifest.dsse.json").read_bytes())
    payload, _ = verify_envelope(envelope, published.keys, payload_type=IN_TOTO_PAYLOAD_TYPE)
    listed = {s["digest"]["sha256"] for s in json.loads(payload)["subject"]}
    assert await asyncio.to_thread(work_file_digests, to) == listed
    return len(listed)


def work_file_digests(bundle: Path) -> set[str]:
    # The works' files land in DIR/<work id>/; the bundle's own documents sit beside them.
    return {
        hashlib.sha256(path.read_bytes()).hexdigest()
        for path in bundle.glob("*/*")
        if path.is_file() and _is_uuid(path.parent.name)
    }


def _is_uuid(name: str) -> bool:
    try:
        uuid.UUID(name)
    except ValueError:
        return False
    return True


async def licence_ids(gateway: GraphQLClient, lab: str) -> list[str]:
    found = (await gateway.execute(LICENCES, key=lab))["licences"]["items"]
    return [item["id"] for item in found]


async def test_a_backup_restored_into_a_new_database_and_bucket_is_the_same_marketplace(
    postgres_server: str, s3_server: S3Server, tmp_path: Path
) -> None:
    sold = Sold(tmp_path / "backup", tmp_path / "kept-before-backup.json", tmp_path / "keys.json")
    old_bucket, new_bucket = unique_bucket(), unique_bucket()
    cleanup = contextlib.ExitStack()
    try:
        old_url = await entered(cleanup, database(postgres_server, "backup"))
        new_url = await entered(cleanup, database(postgres_server, "restored"))
        old_stack = cleanup.enter_context(contextlib.ExitStack())
        old = await entered(old_stack, stack_on(old_url, s3_server, tmp_path / "old", old_bucket))
        await sell_and_keep(old, sold, tmp_path)
        # Backed up while the platform runs, as an operator's nightly job would.
        taken = await run_cli(
            cli("backup", str(sold.backup), "--data-dir", str(tmp_path / "old" / "data")),
            env=operator_env(old_url, s3_server, old_bucket),
        )
        assert taken.returncode == 0, taken.stdout + taken.stderr
        assert "signing secrets are NOT in this backup" in taken.stdout
        await asyncio.to_thread(old_stack.close)

        manifest = json.loads(await asyncio.to_thread((sold.backup / "manifest.json").read_text))
        components = [d["component"] for d in manifest["databases"]]
        assert components == ["gateway", "catalogue", "licensing", "delivery", "audit"]
        assert all(d["revision"] and d["engine"] == "postgresql" for d in manifest["databases"])
        assert len(manifest["objects"]) >= len(sold.works)

        # The operator kept the secrets apart: the data directory's secrets.json.
        new_data = tmp_path / "new" / "data"
        new_data.mkdir(parents=True)
        shutil.copy(tmp_path / "old" / "data" / "secrets.json", new_data / "secrets.json")
        env = operator_env(new_url, s3_server, new_bucket)

        # A backup damaged in one object is refused before anything is written ...
        damaged = tmp_path / "damaged"
        shutil.copytree(sold.backup, damaged)
        victim = damaged / "objects" / manifest["objects"][0]["key"]
        victim.write_bytes(b"\0" + victim.read_bytes()[1:])
        refused = await run_cli(cli("restore", str(damaged), "--data-dir", str(new_data)), env=env)
        assert refused.returncode == 1
        assert "does not match its manifest" in refused.stderr
        # ... so the sound one then restores into the same, still empty, database and bucket.
        restore = cli("restore", str(sold.backup), "--data-dir", str(new_data))
        restored = await run_cli(restore, env=env)
        assert restored.returncode == 0, restored.stdout + restored.stderr
        # A second restore over restored data is refused: the target is not empty.
        again = await run_cli(restore, env=env)
        assert again.returncode == 1
        assert "not empty" in again.stderr

        new = await entered(cleanup, stack_on(new_url, s3_server, tmp_path / "new", new_bucket))
        await check_restored(new, sold, tmp_path)
    finally:
        await asyncio.to_thread(cleanup.close)


async def sell_and_keep(old: RunningStack, sold: Sold, tmp_path: Path) -> None:
    """Sales, each delivered, downloaded and in the log; then the auditor keeps the
    signed checkpoint and the published keys."""
    gateway_url = old.stack.gateway_url
    admin = old.admin_key
    async with graphql(old.graphql_url) as gateway:
        _, creator = await register(gateway, "CREATOR", "Ines Haugen")
        sold.works = [
            await listed_work(gateway, creator, price=price, title=f"Moor light {price}")
            for price in (1_200, 700, 450)
        ]
        email = f"tove-{uuid.uuid4().hex[:6]}@example.org"
        registered = await gateway.execute(
            REGISTER_AUDITOR,
            {"input": {"name": "Tove Auditor", "email": email, "role": "AUDITOR"}},
            key=admin,
        )
        sold.auditor = registered["register"]["apiKey"]["secret"]
        for name, bought in (("Fell Lab", sold.works[:2]), ("Tarn Lab", sold.works[1:])):
            _, lab = await funded_buyer(gateway, admin, name, 10_000)
            licence = await buy(gateway, lab, (await quote_for(gateway, lab, bought))["id"])
            await delivered(gateway, lab, licence["id"])
            await proven_chain(gateway, sold.auditor, SOLD, licence=licence["id"])
            sold.sales[lab] = (licence["id"], len(bought))
        await assert_ledger_sound(gateway, admin)
    for lab, (licence_id, count) in sold.sales.items():
        target = tmp_path / "before" / licence_id
        assert await downloaded_and_matching(gateway_url, lab, licence_id, target) == count

    env = {**os.environ, "ASSENT_API_KEY": sold.auditor, "ASSENT_GATEWAY_URL": gateway_url}
    saved = await run_cli(cli("audit", "checkpoint", "--to", str(sold.kept_before)), env=env)
    assert saved.returncode == 0, saved.stdout + saved.stderr
    async with httpx.AsyncClient() as http:
        published = (await http.get(gateway_url + WELL_KNOWN_KEYS_PATH)).content
    await asyncio.to_thread(sold.keys.write_bytes, published)


async def check_restored(new: RunningStack, sold: Sold, tmp_path: Path) -> None:
    gateway_url = new.stack.gateway_url
    async with graphql(new.graphql_url) as gateway:
        await assert_ledger_sound(gateway, new.admin_key)
        for lab, (licence_id, _) in sold.sales.items():
            # The labs' API keys and licences came back with the data.
            assert await licence_ids(gateway, lab) == [licence_id]
    for lab, (licence_id, count) in sold.sales.items():
        target = tmp_path / "after" / licence_id
        assert await downloaded_and_matching(gateway_url, lab, licence_id, target) == count

    # One more sale on the restored platform reaches the log.
    async with graphql(new.graphql_url) as gateway:
        _, lab = await funded_buyer(gateway, new.admin_key, "Beck Lab", 10_000)
        licence: dict[str, Any] = await buy(
            gateway, lab, (await quote_for(gateway, lab, sold.works))["id"]
        )
        await delivered(gateway, lab, licence["id"])
        await proven_chain(gateway, sold.auditor, SOLD, licence=licence["id"])
        await assert_ledger_sound(gateway, new.admin_key)
    assert await downloaded_and_matching(gateway_url, lab, licence["id"], tmp_path / "last") == 3

    # The restored log's checkpoint verifies with the keys published before the backup
    # and is proven consistent with the checkpoint kept then ...
    env = {**os.environ, "ASSENT_API_KEY": sold.auditor, "ASSENT_GATEWAY_URL": gateway_url}
    kept = tmp_path / "kept.json"
    shutil.copy(sold.kept_before, kept)
    keys = str(sold.keys)
    moved_on = await run_cli(cli("audit", "checkpoint", "--to", str(kept), "--keys", keys), env=env)
    assert moved_on.returncode == 0, moved_on.stdout + moved_on.stderr
    assert "consistent with the checkpoint it replaces" in moved_on.stdout
    # ... and the new sale's chain, exported, verifies offline against the kept one.
    export = tmp_path / "export"
    exported = await run_cli(
        cli(
            "audit",
            "export",
            "--licence",
            licence["id"],
            "--to",
            str(export),
            "--checkpoint",
            str(sold.kept_before),
            "--keys",
            keys,
        ),
        env=env,
    )
    assert exported.returncode == 0, exported.stdout + exported.stderr
    document = export / f"chain-licence-{licence['id']}.json"
    offline = cli("verify", str(document), "--keys", keys, "--checkpoint", str(sold.kept_before))
    verified = await run_cli(offline)
    assert verified.returncode == 0, verified.stdout + verified.stderr


async def test_an_embedded_data_directory_is_restored_only_with_its_secrets(
    tmp_path: Path,
) -> None:
    """The embedded default: SQLite files and the local object directory under the data
    directory, backed up and restored with the same commands."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSENT_")}
    old, new, backup = tmp_path / "var", tmp_path / "restored", tmp_path / "backup"
    migrated = await run_cli(cli("migrate", "--data-dir", str(old)), env=env)
    assert migrated.returncode == 0, migrated.stderr
    # A creator's file, larger than the chunks a backup streams in.
    content = os.urandom(3 * 1024 * 1024 + 17)
    work = old / "objects" / "assent" / "works" / str(uuid.uuid4()) / "versions" / "1"
    work.parent.mkdir(parents=True)
    work.write_bytes(content)

    taken = await run_cli(cli("backup", str(backup), "--data-dir", str(old)), env=env)
    assert taken.returncode == 0, taken.stdout + taken.stderr
    manifest = json.loads((backup / "manifest.json").read_text())
    assert {d["engine"] for d in manifest["databases"]} == {"sqlite"}
    [entry] = manifest["objects"]
    assert entry["sha256"] == hashlib.sha256(content).hexdigest()

    # Without the data directory's secrets.json, the restore refuses and writes nothing.
    restore = cli("restore", str(backup), "--data-dir", str(new))
    refused = await run_cli(restore, env=env)
    assert refused.returncode == 2
    assert "ASSENT_AUDIT_SIGNING_KEY" in refused.stderr
    assert not new.exists()

    new.mkdir()
    shutil.copy(old / "secrets.json", new / "secrets.json")
    restored = await run_cli(restore, env=env)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert (new / work.relative_to(old)).read_bytes() == content
    for database in manifest["databases"]:
        with contextlib.closing(sqlite3.connect(new / f"{database['component']}.db")) as db:
            [revision] = db.execute("SELECT version_num FROM alembic_version").fetchone()
        assert revision == database["revision"]
    again = await run_cli(restore, env=env)
    assert again.returncode == 1
    assert "not empty" in again.stderr
