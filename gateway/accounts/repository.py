import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import joinedload, selectinload

from gateway.accounts.keys import BOOTSTRAP_KEY_NAME
from gateway.accounts.models import Account, AccountRole, ApiKey
from services.contracts.roles import Role
from services.kit.repository import Page, Repository


class AccountRepository(Repository[Account]):
    model = Account

    async def get_with_roles(self, account_id: uuid.UUID) -> Account | None:
        statement = (
            select(Account).where(Account.id == account_id).options(selectinload(Account.roles))
        )
        return (await self.session.scalars(statement)).one_or_none()

    async def get_by_email(self, email: str) -> Account | None:
        statement = select(Account).where(Account.email == email)
        return (await self.session.scalars(statement)).one_or_none()

    async def any_with_role(self, role: Role) -> bool:
        statement = select(AccountRole.account_id).where(AccountRole.role == role).limit(1)
        return (await self.session.scalars(statement)).first() is not None


class ApiKeyRepository(Repository[ApiKey]):
    model = ApiKey

    async def get_with_account(self, secret_hash: str) -> tuple[ApiKey, Account] | None:
        """The key and its account with roles, in one round trip (every request does this)."""
        statement = (
            select(ApiKey, Account)
            .join(Account, Account.id == ApiKey.account_id)
            .where(ApiKey.secret_hash == secret_hash)
            .options(joinedload(Account.roles))
        )
        row = (await self.session.execute(statement)).unique().one_or_none()
        return None if row is None else (row[0], row[1])

    async def stamp_last_used(self, key_id: uuid.UUID, at: datetime) -> None:
        await self.session.execute(
            update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=at)
        )

    async def get_by_hash(self, secret_hash: str) -> ApiKey | None:
        statement = select(ApiKey).where(ApiKey.secret_hash == secret_hash)
        return (await self.session.scalars(statement)).one_or_none()

    async def bootstrap_keys(self, account_id: uuid.UUID, *, other_than: str) -> list[ApiKey]:
        statement = select(ApiKey).where(
            ApiKey.account_id == account_id,
            ApiKey.name == BOOTSTRAP_KEY_NAME,
            ApiKey.secret_hash != other_than,
            ApiKey.revoked_at.is_(None),
        )
        return await self.list(statement)

    async def get_owned(self, key_id: uuid.UUID, account_id: uuid.UUID) -> ApiKey | None:
        statement = select(ApiKey).where(ApiKey.id == key_id, ApiKey.account_id == account_id)
        return (await self.session.scalars(statement)).one_or_none()

    async def page_for_account(
        self, account_id: uuid.UUID, *, after: str | None, limit: int
    ) -> Page[ApiKey]:
        return await self.paginate(
            select(ApiKey).where(ApiKey.account_id == account_id),
            order_by=[ApiKey.created_at, ApiKey.id],
            after=after,
            limit=limit,
        )
