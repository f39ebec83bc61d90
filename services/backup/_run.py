"""`assent backup` and `assent restore`: every component's database, then the bucket.

The order is the consistency argument. Databases are dumped first (those sharing a
PostgreSQL database from one snapshot), the bucket copied after: objects are written
before the rows that name them commit (an upload before its completion, a manifest and
a buyer's files before the delivery is issued, a checkpoint before it is served) and are
never rewritten, so every object a dumped row names is already in the bucket when it is
copied. The reverse order would miss the objects of rows committed in between. The audit
log is append-only, so its dump holds every entry of any checkpoint signed before the
backup began: a checkpoint kept then is a prefix of the restored log.
"""

import asyncio
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from pydantic import ValidationError

from services.backup import _objects, _postgres, _sqlite
from services.backup._manifest import (
    MANIFEST,
    BackupManifest,
    DatabaseEntry,
    database_path,
    file_digest,
    object_path,
)
from services.backup.errors import BackupError
from services.kit.db import is_sqlite
from services.kit.migrations import alembic_config
from services.stack import DATABASE_COMPONENTS
from storage import StorageError, StorageSettings, create_object_store

_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


@dataclass(frozen=True)
class Placement:
    """Where one component's database is, as the stack's environment says."""

    component: str
    url: str
    schema: str | None
    migrations: Path

    @property
    def engine(self) -> str:
        return "sqlite" if is_sqlite(self.url) else "postgresql"


def placements(env: Mapping[str, str]) -> list[Placement]:
    found = []
    for component in DATABASE_COMPONENTS:
        assert component.migrations is not None
        url = env[component.env_prefix + "DATABASE_URL"]
        schema = None if is_sqlite(url) else env.get(component.env_prefix + "DATABASE_SCHEMA")
        if schema and not _SCHEMA_NAME.fullmatch(schema):
            raise BackupError(f"{component.name}'s schema {schema!r} is not a plain name")
        found.append(Placement(component.name, url, schema or None, component.migrations))
    return found


def storage_settings(env: Mapping[str, str]) -> StorageSettings:
    prefix = "ASSENT_STORAGE_"
    values = {k.removeprefix(prefix).lower(): v for k, v in env.items() if k.startswith(prefix)}
    try:
        return StorageSettings.model_validate(values)
    except ValidationError as error:
        raise BackupError(f"the object store's settings are not valid: {error}") from error


def backup(env: Mapping[str, str], target: Path) -> BackupManifest:
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target} is not empty: back up into a new directory")
    (target / "databases").mkdir(parents=True, exist_ok=True)
    with _failures_explained():
        manifest = asyncio.run(_take(env, target))
    (target / MANIFEST).write_text(manifest.model_dump_json(indent=2))
    return manifest


async def _take(env: Mapping[str, str], target: Path) -> BackupManifest:
    databases = await _dump_databases(placements(env), target)
    store = create_object_store(storage_settings(env))
    try:
        objects = await _objects.copy_out(store, target)
    finally:
        await store.close()
    return BackupManifest(created_at=datetime.now(UTC), databases=databases, objects=objects)


async def _dump_databases(found: list[Placement], target: Path) -> list[DatabaseEntry]:
    revisions: dict[str, str | None] = {}
    by_server: dict[str, list[Placement]] = defaultdict(list)
    for placement in found:
        file = database_path(target, placement.component, placement.engine)
        if placement.engine == "sqlite":
            database = _sqlite.file_of(placement.url)
            revisions[placement.component] = await asyncio.to_thread(
                _sqlite.copy_out, database, file
            )
        else:
            by_server[_postgres.Server.of(placement.url).dsn].append(placement)
    for group in by_server.values():
        server = _postgres.Server.of(group[0].url)
        async with _postgres.snapshot(server) as (connection, snapshot_id):
            for placement in group:
                file = database_path(target, placement.component, placement.engine)
                revisions[placement.component] = await _postgres.revision(
                    connection, placement.schema
                )
                await _postgres.dump(server, placement.schema, snapshot_id, file)
    entries = []
    for placement in found:
        file = database_path(target, placement.component, placement.engine)
        size, sha256 = await asyncio.to_thread(file_digest, file)
        entries.append(
            DatabaseEntry(
                component=placement.component,
                engine="sqlite" if placement.engine == "sqlite" else "postgresql",
                schema_name=placement.schema,
                revision=revisions[placement.component],
                size=size,
                sha256=sha256,
            )
        )
    return entries


def read_manifest(source: Path) -> BackupManifest:
    try:
        return BackupManifest.model_validate_json((source / MANIFEST).read_bytes())
    except FileNotFoundError:
        raise BackupError(f"{source} holds no {MANIFEST}: is it a backup?") from None
    except ValidationError as error:
        raise BackupError(f"{source / MANIFEST} is not a backup manifest: {error}") from None


def check_files(source: Path, manifest: BackupManifest) -> None:
    """Every file the manifest lists, with its size and sha256, before anything is written."""
    files = [
        (f"database {d.component}", database_path(source, d.component, d.engine), d.size, d.sha256)
        for d in manifest.databases
    ]
    files += [
        (f"object {o.key!r}", object_path(source, o.key), o.size, o.sha256)
        for o in manifest.objects
    ]
    for what, path, size, sha256 in files:
        if not path.is_file():
            raise BackupError(f"the backup's {what} is missing ({path})")
        if file_digest(path) != (size, sha256):
            raise BackupError(f"the backup's {what} does not match its manifest ({path})")


def _check_plan(
    manifest: BackupManifest, found: list[Placement]
) -> list[tuple[DatabaseEntry, Placement]]:
    by_name = {entry.component: entry for entry in manifest.databases}
    plan = []
    for placement in found:
        entry = by_name.get(placement.component)
        if entry is None:
            raise BackupError(f"the backup holds no database of {placement.component}")
        if entry.engine != placement.engine:
            raise BackupError(
                f"{placement.component} was backed up from {entry.engine} and would be "
                f"restored into {placement.engine}: restore into the same kind of database"
            )
        if entry.schema_name != placement.schema:
            raise BackupError(
                f"{placement.component} was backed up from schema {entry.schema_name!r}; "
                f"the target is configured with {placement.schema!r}"
            )
        scripts = ScriptDirectory.from_config(alembic_config(placement.migrations, "", None))
        try:
            known = entry.revision is None or scripts.get_revision(entry.revision) is not None
        except CommandError:
            known = False
        if not known:
            raise BackupError(
                f"{placement.component} is at revision {entry.revision}, which this version "
                "does not know: restore with the version that made the backup, or a newer one"
            )
        plan.append((entry, placement))
    return plan


def restore(env: Mapping[str, str], source: Path, *, replace: bool) -> BackupManifest:
    """Write the backup into the configured databases and bucket; the caller migrates."""
    with _failures_explained():
        return asyncio.run(_put_back(env, source, replace=replace))


@contextmanager
def _failures_explained() -> Iterator[None]:
    try:
        yield
    except StorageError as error:
        raise BackupError(f"the object store failed: {error}") from error
    except (asyncpg.PostgresError, OSError) as error:
        raise BackupError(f"the database failed: {error}") from error


async def _put_back(env: Mapping[str, str], source: Path, *, replace: bool) -> BackupManifest:
    manifest = await asyncio.to_thread(read_manifest, source)
    plan = _check_plan(manifest, placements(env))
    await asyncio.to_thread(check_files, source, manifest)
    store = create_object_store(storage_settings(env))
    try:
        await store.ensure_bucket()
        if not replace:
            await _refuse_non_empty(plan, await _objects.is_empty(store))
        for entry, placement in plan:
            if placement.engine == "sqlite":
                await asyncio.to_thread(
                    _sqlite.copy_in,
                    database_path(source, entry.component, entry.engine),
                    _sqlite.file_of(placement.url),
                )
            else:
                server = _postgres.Server.of(placement.url)
                await _postgres.restore(
                    server, placement.schema, database_path(source, entry.component, entry.engine)
                )
        await _objects.copy_in(store, source, manifest.objects)
    finally:
        await store.close()
    return manifest


async def _refuse_non_empty(
    plan: list[tuple[DatabaseEntry, Placement]], bucket_empty: bool
) -> None:
    holding = []
    for _, placement in plan:
        if placement.engine == "sqlite":
            tables = await asyncio.to_thread(_sqlite.table_count, _sqlite.file_of(placement.url))
        else:
            tables = await _postgres.table_count(
                _postgres.Server.of(placement.url), placement.schema
            )
        if tables:
            holding.append(f"{placement.component}'s database")
    if not bucket_empty:
        holding.append("the bucket")
    if holding:
        raise BackupError(
            f"the target is not empty ({', '.join(holding)}): restore into new ones, or give "
            "--replace to overwrite them"
        )
