"""PostgreSQL: each component's schema dumped by pg_dump, restored by pg_restore.

PostgreSQL's own tools, not a copy written here: they know every object a schema holds
(tables, sequences, the full-text functions and triggers migrations create by hand).
Components that share one database are dumped from one exported snapshot
(`pg_export_snapshot`), so the per-schema files together are one instant of the
marketplace: an outbox event a sender marked delivered is in its receiver's dump too.
"""

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.engine import URL, make_url

from services.backup.errors import BackupError


@dataclass(frozen=True)
class Server:
    """Where one PostgreSQL database is, in the terms libpq and asyncpg take."""

    url: URL

    @classmethod
    def of(cls, sqlalchemy_url: str) -> "Server":
        return cls(make_url(sqlalchemy_url).set(drivername="postgresql"))

    @property
    def dsn(self) -> str:
        return self.url.render_as_string(hide_password=False)

    def tool_arguments(self) -> list[str]:
        # Host, port, user and database by option; the password by environment, never
        # on a command line where `ps` shows it.
        arguments = [f"--dbname={self.url.database}"]
        if self.url.host:
            arguments.append(f"--host={self.url.host}")
        if self.url.port:
            arguments.append(f"--port={self.url.port}")
        if self.url.username:
            arguments.append(f"--username={self.url.username}")
        return arguments

    def tool_environment(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.url.password:
            env["PGPASSWORD"] = str(self.url.password)
        return env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed: install PostgreSQL's client tools")
    return found


async def _run(command: Sequence[str], env: dict[str, str]) -> None:
    process = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _, errors = await process.communicate()
    if process.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {errors.decode(errors='replace')}")


@asynccontextmanager
async def snapshot(server: Server) -> AsyncIterator[tuple[asyncpg.Connection, str]]:
    """A read-only transaction held open, and the id of its snapshot for pg_dump."""
    connection = await asyncpg.connect(server.dsn)
    try:
        async with connection.transaction(isolation="repeatable_read", readonly=True):
            snapshot_id = await connection.fetchval("SELECT pg_export_snapshot()")
            yield connection, str(snapshot_id)
    finally:
        await connection.close()


async def revision(connection: asyncpg.Connection, schema: str | None) -> str | None:
    table = f'"{schema}".alembic_version' if schema else "alembic_version"
    try:
        found = await connection.fetchval(f"SELECT version_num FROM {table}")  # noqa: S608
    except asyncpg.UndefinedTableError:
        return None
    return None if found is None else str(found)


async def dump(server: Server, schema: str | None, snapshot_id: str, target: Path) -> None:
    command = [
        _tool("pg_dump"),
        "--format=custom",
        f"--snapshot={snapshot_id}",
        f"--file={target}",
        *([f"--schema={schema}"] if schema else []),
        *server.tool_arguments(),
    ]
    await _run(command, server.tool_environment())


async def table_count(server: Server, schema: str | None) -> int:
    connection = await asyncpg.connect(server.dsn)
    try:
        count = await connection.fetchval(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1",
            schema or "public",
        )
    finally:
        await connection.close()
    return int(count)


async def restore(server: Server, schema: str | None, source: Path) -> None:
    """Replace the schema (or the database's public schema) with the dump's."""
    connection = await asyncpg.connect(server.dsn)
    try:
        # The dump creates its schema; an empty one left by an earlier `migrate` or a
        # replaced one would make pg_restore stop at CREATE SCHEMA.
        name = schema or "public"
        await connection.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        if schema is None:
            await connection.execute("CREATE SCHEMA public")
    finally:
        await connection.close()
    command = [
        _tool("pg_restore"),
        "--exit-on-error",
        "--single-transaction",
        "--no-owner",
        "--no-privileges",
        *server.tool_arguments(),
        str(source),
    ]
    await _run(command, server.tool_environment())
