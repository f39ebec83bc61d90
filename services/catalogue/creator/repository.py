import uuid
from collections.abc import Sequence

from sqlalchemy import select

from services.catalogue.models import Creator
from services.kit.db import dialect_insert, utcnow
from services.kit.repository import Repository


class CreatorRepository(Repository[Creator]):
    model = Creator

    async def upsert(self, creator_id: uuid.UUID, name: str | None) -> None:
        """Insert, or rename when the name changed; a missing name never erases one."""
        statement = dialect_insert(self.session)(Creator).values(
            id=creator_id, name=name or "Unnamed creator", created_at=utcnow()
        )
        if name is None:
            statement = statement.on_conflict_do_nothing(index_elements=[Creator.id])
        else:
            # Only a changed name writes, so repeating the upsert on every call is cheap.
            statement = statement.on_conflict_do_update(
                index_elements=[Creator.id],
                set_={"name": statement.excluded.name},
                where=Creator.name != statement.excluded.name,
            )
        await self.session.execute(statement)

    async def get_many(self, ids: Sequence[uuid.UUID]) -> list[Creator]:
        return await self.list(select(Creator).where(Creator.id.in_(ids)))
