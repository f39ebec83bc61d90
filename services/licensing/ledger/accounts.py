"""The accounts licensing credits money to, as the gateway (their owner) announces them.

Licensing hears of an account through the outbox (`account.registered`,
`account.role_granted`), a moment after it exists. A call the gateway forwards may carry
what the gateway found itself (`TopUpIn.buyer_roles`), so an account registered a moment
ago is not refused for being unknown here yet.
"""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.catalogue import ACCOUNTS_ISSUER
from services.contracts.events import AccountRegistered, AccountRoleGranted
from services.contracts.licensing import TopUpIn
from services.contracts.roles import Role
from services.kit.db import utcnow
from services.kit.errors import FieldError, InvalidRequest
from services.kit.internal_token import Caller
from services.kit.repository import Repository
from services.licensing.models import Account


class AccountRepository(Repository[Account]):
    model = Account

    async def add_roles(self, account_id: uuid.UUID, name: str, roles: set[str]) -> None:
        """Create the account or add to its roles (events of one account arrive in order,
        one at a time, so no writer races this one)."""
        account = await self.session.scalar(
            select(Account).where(Account.id == account_id).with_for_update()
        )
        if account is None:
            self.session.add(
                Account(id=account_id, name=name, roles=sorted(roles), recorded_at=utcnow())
            )
        else:
            account.name = name
            account.roles = sorted({*account.roles, *roles})
        await self.session.flush()

    async def roles_of(self, account_id: uuid.UUID) -> set[str] | None:
        """The account's roles; None when licensing has not heard of it."""
        roles = await self.session.scalar(select(Account.roles).where(Account.id == account_id))
        return None if roles is None else set(roles)


class AccountService:
    async def record_registration(
        self, session: AsyncSession, registered: AccountRegistered
    ) -> None:
        await AccountRepository(session).add_roles(
            registered.account_id, registered.name, set(registered.roles)
        )

    async def record_role_grant(self, session: AsyncSession, granted: AccountRoleGranted) -> None:
        await AccountRepository(session).add_roles(granted.account_id, granted.name, {granted.role})

    async def require_buyer(self, session: AsyncSession, caller: Caller, top_up: TopUpIn) -> None:
        """Money is credited only to a buyer's account that exists: not to a mistyped id,
        and not to a creator, whose money comes from sales."""
        roles: set[str] | None
        if caller.issuer == ACCOUNTS_ISSUER and top_up.buyer_roles is not None:
            # The gateway looked the account up; an empty list is an account it lacks.
            roles = set(top_up.buyer_roles) or None
        else:
            roles = await AccountRepository(session).roles_of(top_up.buyer_id)
        if roles is None:
            raise InvalidRequest(
                "there is no such account",
                fields=[FieldError("buyer_id", "no such account", "unknown_account")],
            )
        if Role.BUYER not in roles:
            raise InvalidRequest(
                "only a buyer's account can be topped up",
                fields=[FieldError("buyer_id", "not a buyer's account", "not_a_buyer")],
            )


account_service = AccountService()
