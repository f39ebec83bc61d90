"""The directory of creators: who a work's shares and attribution name."""

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.creator.repository import CreatorRepository
from services.contracts.catalogue import ACCOUNTS_ISSUER, CreatorRead, WorkCreate
from services.contracts.events import AccountRegistered, AccountRoleGranted
from services.contracts.roles import Role
from services.kit.internal_token import Caller


class CreatorService:
    async def record_confirmed(
        self, session: AsyncSession, caller: Caller, work_in: WorkCreate
    ) -> None:
        """Co-creators the gateway, which owns the accounts, confirmed are creators: in the
        directory at once, though their `account.registered` may not have arrived yet."""
        if caller.issuer != ACCOUNTS_ISSUER:
            return
        named = {share.creator_id for share in work_in.shares}
        creators = CreatorRepository(session)
        for creator in work_in.confirmed_creators:
            if creator.id in named:
                await creators.upsert(creator.id, creator.name)

    async def record_registration(
        self, session: AsyncSession, registered: AccountRegistered
    ) -> None:
        if Role.CREATOR in registered.roles:
            await CreatorRepository(session).upsert(registered.account_id, registered.name)

    async def record_role_grant(self, session: AsyncSession, granted: AccountRoleGranted) -> None:
        """An account that becomes a creator later joins the directory then."""
        if granted.role == Role.CREATOR:
            await CreatorRepository(session).upsert(granted.account_id, granted.name)

    async def get_many(self, session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[CreatorRead]:
        """Creator names are public to every caller: they are the works' attribution."""
        unique = list(dict.fromkeys(ids))
        found = {c.id: c for c in await CreatorRepository(session).get_many(unique)}
        return [CreatorRead.model_validate(found[i]) for i in unique if i in found]


creator_service = CreatorService()
