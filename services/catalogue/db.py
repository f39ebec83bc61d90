"""The catalogue's one dialect-dependent statement."""

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def dialect_insert(session: AsyncSession) -> Any:
    """`INSERT … ON CONFLICT` as the session's database spells it."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
