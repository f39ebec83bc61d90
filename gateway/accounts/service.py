"""Accounts, roles and API keys. They live in the gateway's own database: the gateway
authenticates every request, so the lookup stays local and costs no service call."""

import re
import uuid
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.accounts.keys import (
    BOOTSTRAP_KEY_NAME,
    NewKey,
    generate_key,
    hash_key,
    key_from_secret,
)
from gateway.accounts.models import Account, AccountRole, ApiKey
from gateway.accounts.repository import AccountRepository, ApiKeyRepository
from services.contracts.events import (
    AccountIdentityVerified,
    AccountRegistered,
    AccountRoleGranted,
    IdentityKind,
    Topic,
)
from services.contracts.roles import SELF_SERVICE_ROLES, Role
from services.kit.db import utcnow
from services.kit.errors import FieldError, Forbidden, InvalidRequest, NotFound, Unauthenticated
from services.kit.outbox import emit
from services.kit.repository import Page

_EMAIL_SHAPE = re.compile(r"^[^@\s\x00]{1,64}@[^@\s\x00]+\.[^@\s\x00]+$")
# PostgreSQL cannot store a NUL in text: refused as invalid, never sent to the database.
_NUL_IN_TEXT = FieldError("name", "contains a NUL character", "nul_character")
BOOTSTRAP_ADMIN_EMAIL = "admin@assent.local"
INVALID_KEY = "the API key is not valid or has been revoked"

log = structlog.get_logger()


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request."""

    account_id: uuid.UUID
    key_id: uuid.UUID
    roles: frozenset[Role]
    # Loaded with the key, so `me` costs no second read.
    account: Account
    # The key's last-used time is older than its resolution: `record_use` is due.
    last_use_stale: bool = False

    def has(self, *roles: Role) -> bool:
        return any(role in self.roles for role in roles)


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    secret: str


def _require_admin(principal: Principal | None) -> None:
    if principal is None or not principal.has(Role.ADMIN):
        raise Forbidden("only an admin may do this")


class AccountService:
    async def register(
        self,
        session: AsyncSession,
        caller: Principal | None,
        *,
        name: str,
        email: str,
        role: Role,
    ) -> tuple[Account, IssuedKey]:
        account = await self.create_account(session, caller, name=name, email=email, role=role)
        return account, await self._issue_key(session, account.id, name="default")

    async def create_account(
        self,
        session: AsyncSession,
        caller: Principal | None,
        *,
        name: str,
        email: str,
        role: Role,
    ) -> Account:
        """A new account, announced (`account.registered`); without a key, which people
        signing up with a password never need."""
        if role not in SELF_SERVICE_ROLES:
            _require_admin(caller)
        name = name.strip()
        email = email.strip().lower()
        problems = []
        if not 1 <= len(name) <= 200:
            problems.append(FieldError("name", "give a name of 1 to 200 characters", "length"))
        elif "\x00" in name:
            problems.append(_NUL_IN_TEXT)
        if len(email) > 320 or not _EMAIL_SHAPE.match(email):
            problems.append(FieldError("email", "give a valid email address", "invalid"))
        if problems:
            raise InvalidRequest("the registration is not valid", fields=problems)
        accounts = AccountRepository(session)
        if await accounts.get_by_email(email) is not None:
            raise _email_taken()
        account = Account(name=name, email=email)
        account.roles = [AccountRole(role=role, granted_by=caller.account_id if caller else None)]
        try:
            # A savepoint, so a registration racing this one for the same email ends in
            # a typed error rather than a broken transaction.
            async with session.begin_nested():
                session.add(account)
                await session.flush()
        except IntegrityError as exc:
            raise _email_taken() from exc
        emit(
            session,
            Topic.ACCOUNT_REGISTERED,
            AccountRegistered(account_id=account.id, name=account.name, roles=[role]),
        )
        return account

    async def create_key(
        self, session: AsyncSession, principal: Principal, *, name: str
    ) -> IssuedKey:
        name = name.strip()
        if not 1 <= len(name) <= 100:
            raise InvalidRequest(
                "the key name is not valid",
                fields=[FieldError("name", "give a name of 1 to 100 characters", "length")],
            )
        if "\x00" in name:
            raise InvalidRequest("the key name is not valid", fields=[_NUL_IN_TEXT])
        return await self._issue_key(session, principal.account_id, name=name)

    async def revoke_key(
        self, session: AsyncSession, principal: Principal, key_id: uuid.UUID
    ) -> ApiKey:
        key = await ApiKeyRepository(session).get_owned(key_id, principal.account_id)
        if key is None:
            raise NotFound("no such API key on this account")
        if key.revoked_at is None:
            key.revoked_at = utcnow()
            await session.flush()
        return key

    async def authenticate(
        self, session: AsyncSession, secret: str, *, last_used_resolution: timedelta
    ) -> Principal:
        """The key's caller; reads only. Its last use is recorded apart (`record_use`),
        so a database that cannot write still lets every valid key in."""
        found = await ApiKeyRepository(session).get_with_account(hash_key(secret))
        if found is None or found[0].revoked_at is not None:
            raise Unauthenticated(INVALID_KEY)
        key, account = found
        last_used = key.last_used_at
        return Principal(
            account_id=account.id,
            key_id=key.id,
            roles=account.role_set,
            account=account,
            last_use_stale=last_used is None or utcnow() - last_used >= last_used_resolution,
        )

    async def record_use(self, session: AsyncSession, key_id: uuid.UUID) -> None:
        await ApiKeyRepository(session).stamp_last_used(key_id, utcnow())

    async def list_keys(
        self,
        session: AsyncSession,
        principal: Principal | None,
        account_id: uuid.UUID,
        *,
        after: str | None,
        limit: int,
    ) -> Page[ApiKey]:
        if principal is None or (
            principal.account_id != account_id and not principal.has(Role.ADMIN)
        ):
            raise Forbidden("only the account itself or an admin lists its keys")
        return await ApiKeyRepository(session).page_for_account(
            account_id, after=after, limit=limit
        )

    async def get_account(self, session: AsyncSession, account_id: uuid.UUID) -> Account:
        account = await AccountRepository(session).get_with_roles(account_id)
        if account is None:
            raise NotFound("no such account")
        return account

    async def grant_role(
        self, session: AsyncSession, principal: Principal, account_id: uuid.UUID, role: Role
    ) -> Account:
        _require_admin(principal)
        account = await self.get_account(session, account_id)
        if role not in account.role_set:
            account.roles.append(AccountRole(role=role, granted_by=principal.account_id))
            await session.flush()
            emit(
                session,
                Topic.ACCOUNT_ROLE_GRANTED,
                AccountRoleGranted(
                    account_id=account.id,
                    name=account.name,
                    role=role,
                    granted_by=principal.account_id,
                ),
            )
        return account

    async def verify_organisation(
        self, session: AsyncSession, principal: Principal, account_id: uuid.UUID, *, name: str
    ) -> tuple[Account, AccountIdentityVerified]:
        """An admin confirms the organisation an account acts for, having checked its
        papers. The confirmation is kept in the audit log alone (account.identity_verified),
        not here: a chain export names its parties from the log, which is the evidence, and
        each confirmation is an admin's act worth logging even when it repeats one."""
        _require_admin(principal)
        name = name.strip()
        if not 1 <= len(name) <= 200:
            problem = FieldError("name", "give a name of 1 to 200 characters", "length")
            raise InvalidRequest("the organisation name is not valid", fields=[problem])
        if "\x00" in name:
            raise InvalidRequest("the organisation name is not valid", fields=[_NUL_IN_TEXT])
        account = await self.get_account(session, account_id)
        verified = AccountIdentityVerified(
            account_id=account.id,
            kind=IdentityKind.ORGANISATION,
            value=name,
            verified_by=principal.account_id,
            verified_at=utcnow(),
        )
        emit(session, Topic.ACCOUNT_IDENTITY_VERIFIED, verified)
        log.info("account.identity_verified", account_id=str(account.id), kind=verified.kind)
        return account, verified

    async def ensure_bootstrap_admin(
        self, session: AsyncSession, admin_key: str | None
    ) -> str | None:
        """Make sure an admin can sign in; returns a newly generated key to show once.

        With `ASSENT_ADMIN_KEY` set, that key is the bootstrap key: any earlier bootstrap
        key is revoked, so replacing a leaked key is a change of one variable.
        """
        accounts = AccountRepository(session)
        keys = ApiKeyRepository(session)
        if admin_key is None:
            if await accounts.any_with_role(Role.ADMIN):
                return None
            first_admin = await self._create_bootstrap_admin(session)
            issued = await self._issue_key(session, first_admin.id, name=BOOTSTRAP_KEY_NAME)
            return issued.secret
        wanted = key_from_secret(admin_key)
        existing = await keys.get_by_hash(wanted.secret_hash)
        if existing is not None and existing.revoked_at is not None:
            log.warning("admin.bootstrap_key_revoked", prefix=existing.prefix)
            return None
        admin = await accounts.get_by_email(BOOTSTRAP_ADMIN_EMAIL)
        if admin is None:
            admin = await self._create_bootstrap_admin(session)
        if existing is None:
            await self._store_key(session, admin.id, BOOTSTRAP_KEY_NAME, wanted)
        for stale in await keys.bootstrap_keys(admin.id, other_than=wanted.secret_hash):
            stale.revoked_at = utcnow()
            log.info("admin.bootstrap_key_replaced", prefix=stale.prefix)
        await session.flush()
        return None

    async def _create_bootstrap_admin(self, session: AsyncSession) -> Account:
        admin = Account(name="Administrator", email=BOOTSTRAP_ADMIN_EMAIL)
        admin.roles = [AccountRole(role=Role.ADMIN, granted_by=None)]
        session.add(admin)
        await session.flush()
        return admin

    async def _issue_key(
        self, session: AsyncSession, account_id: uuid.UUID, *, name: str
    ) -> IssuedKey:
        new_key = generate_key()
        key = await self._store_key(session, account_id, name, new_key)
        return IssuedKey(key=key, secret=new_key.secret)

    async def _store_key(
        self, session: AsyncSession, account_id: uuid.UUID, name: str, new_key: NewKey
    ) -> ApiKey:
        key = ApiKey(
            account_id=account_id, name=name, prefix=new_key.prefix, secret_hash=new_key.secret_hash
        )
        return await ApiKeyRepository(session).create(key)


def _email_taken() -> InvalidRequest:
    return InvalidRequest(
        "the registration is not valid",
        fields=[FieldError("email", "an account with this email exists", "taken")],
    )


account_service = AccountService()
