"""Consents given in free words before the platform's statements keep those words: the
migration stores each text once under the hash the consent already recorded."""

import asyncio
import hashlib
import uuid
from collections.abc import Iterator

import asyncpg
import pytest

from services.kit.migrations import upgrade
from services.stack import SERVICES
from tests.fixtures.database import fresh_database

MIGRATIONS = next(c for c in SERVICES if c.name == "catalogue").migrations
FREE_WORDS = 'I opt in to my work "Harbour" being licensed through Assent.\nFor training only.'


@pytest.fixture
def scratch_postgres(postgres_server: str) -> Iterator[str]:
    yield from fresh_database(postgres_server, "catalogue_statement_migration")


async def _give_free_consents(connection: asyncpg.Connection) -> uuid.UUID:
    creator, work = uuid.uuid4(), uuid.uuid4()
    await connection.execute(
        "INSERT INTO creator (id, name, created_at) VALUES ($1, 'Ines', now())", creator
    )
    await connection.execute(
        """INSERT INTO work (id, owner_id, title, description, media_type, tags, language,
               status, review_status, created_at, listed, offer_uses)
           VALUES ($1, $2, 'Harbour', '', 'image', '[]', 'pt', 'ready', 'clear', now(),
               false, 0)""",
        work,
        creator,
    )
    # The same words twice (a revision under the same text), then other words.
    for sequence, words, version in (
        (1, FREE_WORDS, "portal-2026-12"),
        (2, FREE_WORDS, "portal-2026-12"),
        (3, "ok", "v1"),
    ):
        await connection.execute(
            """INSERT INTO consent (id, work_id, sequence, kind, uses, statement_text,
                   statement_version, statement_sha256, given_by, given_at)
               VALUES ($1, $2, $3, 'given', '["training"]', $4, $5, $6, $7, now())""",
            uuid.uuid4(),
            work,
            sequence,
            words,
            version,
            hashlib.sha256(words.encode()).hexdigest(),
            creator,
        )
    return work


async def test_free_words_become_legacy_statements_stored_once(scratch_postgres: str) -> None:
    assert MIGRATIONS is not None
    await asyncio.to_thread(upgrade, MIGRATIONS, scratch_postgres, "catalogue", "0005_invitations")
    connection = await asyncpg.connect(scratch_postgres.replace("+asyncpg", ""))
    try:
        await connection.execute("SET search_path TO catalogue")
        work = await _give_free_consents(connection)
        await asyncio.to_thread(upgrade, MIGRATIONS, scratch_postgres, "catalogue")
        consents = await connection.fetch(
            """SELECT c.statement_id, c.statement_version, c.statement_sha256, c.attestation,
                   t.text
               FROM consent c JOIN statement_text t ON t.sha256 = c.statement_sha256
               WHERE c.work_id = $1 ORDER BY c.sequence""",
            work,
        )
        stored = await connection.fetchval("SELECT count(*) FROM statement_text")
    finally:
        await connection.close()

    assert [(row["statement_id"], row["statement_version"], row["text"]) for row in consents] == [
        ("legacy", "portal-2026-12", FREE_WORDS),
        ("legacy", "portal-2026-12", FREE_WORDS),
        ("legacy", "v1", "ok"),
    ]
    assert all(
        row["statement_sha256"] == hashlib.sha256(row["text"].encode()).hexdigest()
        for row in consents
    )
    assert [row["attestation"] for row in consents] == [None, None, None]
    assert stored == 2
