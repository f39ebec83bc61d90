from collections.abc import Sequence

from sqlalchemy import select

from services.catalogue.statements.models import StatementText
from services.catalogue.statements.published import PublishedStatement
from services.kit.db import dialect_insert, utcnow
from services.kit.repository import Repository


class StatementTextRepository(Repository[StatementText]):
    model = StatementText

    async def store(self, statement: PublishedStatement) -> str:
        """The statement's words under their sha256, stored by whichever consent names
        them first."""
        await self.session.execute(
            dialect_insert(self.session)(StatementText)
            .values(sha256=statement.sha256, text=statement.text, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=[StatementText.sha256])
        )
        return statement.sha256

    async def texts(self, sha256s: Sequence[str]) -> list[StatementText]:
        found = await self.session.scalars(
            select(StatementText).where(StatementText.sha256.in_(sha256s))
        )
        return list(found)
