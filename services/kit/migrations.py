"""Alembic, driven from code: each service keeps its own migrations folder and schema."""

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from services.kit.db import is_sqlite


def alembic_config(migrations_dir: Path, url: str, schema: str | None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.attributes["url"] = url
    config.attributes["schema"] = schema
    return config


def upgrade(migrations_dir: Path, url: str, schema: str | None, revision: str = "head") -> None:
    """Apply migrations. Blocking and runs its own event loop: call it from a thread
    (`asyncio.to_thread`) when a loop is already running."""
    command.upgrade(alembic_config(migrations_dir, url, schema), revision)


IncludeObject = Callable[[Any, str | None, str, bool, Any], bool]


def run_env(
    target_metadata: list[MetaData], *, include_object: IncludeObject | None = None
) -> None:
    """The body of every service's `migrations/env.py`.

    `include_object` hides from autogenerate what a service's migrations create by hand
    for one dialect only (full-text tables, generated columns), as Alembic's hook does.
    """
    url: str = context.config.attributes["url"]
    schema: str | None = context.config.attributes.get("schema")

    def migrate(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=is_sqlite(url),
            compare_type=True,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                if schema and not is_sqlite(url):
                    await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
                    await connection.execute(text(f'SET search_path TO "{schema}"'))
                    await connection.commit()
                await connection.run_sync(migrate)
                await connection.commit()
        finally:
            await engine.dispose()

    asyncio.run(run())
