"""The platform's statements: which one a consent may name, and their stored words."""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.statements.published import CURRENT, PUBLISHED, PublishedStatement
from services.catalogue.statements.repository import StatementTextRepository
from services.contracts.catalogue import (
    StatementChoice,
    StatementRead,
    StatementScope,
    StatementTextRead,
)
from services.kit.errors import FieldError, InvalidRequest


def _refused(field: str, message: str, code: str) -> InvalidRequest:
    return InvalidRequest(message, fields=[FieldError(field, message, code)])


def _unknown(choice: StatementChoice, current: PublishedStatement) -> InvalidRequest:
    if any(published.id == choice.statement_id for published in PUBLISHED.values()):
        return _refused(
            "statement_version",
            f"statement {choice.statement_id!r} has no version {choice.statement_version!r}: "
            f"the current one is {current.version!r}",
            "unknown_statement_version",
        )
    return _refused(
        "statement_id",
        f"no statement {choice.statement_id!r}: use {current.id!r}",
        "unknown_statement",
    )


class StatementService:
    def published(self) -> list[StatementRead]:
        return [
            StatementRead(
                id=statement.id,
                version=statement.version,
                scope=statement.scope,
                current=CURRENT[statement.scope] is statement,
                published_on=statement.published_on,
                sha256=statement.sha256,
                text=statement.text,
            )
            for statement in PUBLISHED.values()
        ]

    def chosen(self, scope: StatementScope, choice: StatementChoice) -> PublishedStatement:
        """The statement the caller names, if it is the one the platform asks for now in
        this scope; any other words are refused, so a record never holds words the
        platform did not publish."""
        current = CURRENT[scope]
        statement = PUBLISHED.get((choice.statement_id, choice.statement_version))
        if statement is None:
            raise _unknown(choice, current)
        if statement.scope is not scope:
            raise _refused(
                "statement_id",
                f"statement {statement.id!r} is for {statement.scope}, not {scope}: "
                f"use {current.id!r}",
                "wrong_statement_scope",
            )
        if statement is not current:
            raise _refused(
                "statement_version",
                f"version {statement.version!r} of {statement.id!r} has been superseded: "
                f"agree to version {current.version!r}",
                "statement_superseded",
            )
        return statement

    async def store_words(self, session: AsyncSession, statement: PublishedStatement) -> str:
        return await StatementTextRepository(session).store(statement)

    async def texts(self, session: AsyncSession, sha256s: Sequence[str]) -> list[StatementTextRead]:
        """Stored words by sha256, published or legacy; unknown hashes are left out."""
        found = await StatementTextRepository(session).texts(sha256s)
        return [StatementTextRead(sha256=row.sha256, text=row.text) for row in found]


statement_service = StatementService()
