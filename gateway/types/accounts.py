import uuid
from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.types import Info

from gateway.accounts.models import Account, ApiKey
from gateway.accounts.service import account_service
from gateway.context import Context
from gateway.types.errors import (
    Forbidden,
    NotFound,
    Refusals,
    ServiceUnavailable,
    ValidationFailed,
    failure,
)
from services.contracts.roles import Role
from services.kit import errors


@strawberry.enum
class AccountRole(Enum):
    CREATOR = Role.CREATOR.value
    BUYER = Role.BUYER.value
    AUDITOR = Role.AUDITOR.value
    ADMIN = Role.ADMIN.value


@strawberry.type(name="ApiKey")
class ApiKeyType:
    id: strawberry.ID
    name: str
    prefix: str = strawberry.field(description="The key's visible start, to tell keys apart.")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> "ApiKeyType":
        return cls(
            id=strawberry.ID(str(key.id)),
            name=key.name,
            prefix=key.prefix,
            created_at=key.created_at,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
        )


@strawberry.type
class ApiKeyPage:
    items: list[ApiKeyType]
    next_cursor: str | None


ApiKeyPageResult = Annotated[
    ApiKeyPage | ValidationFailed | Forbidden | ServiceUnavailable,
    strawberry.union("ApiKeyPageResult"),
]


@strawberry.type(name="Account")
class AccountType:
    id: strawberry.ID
    name: str
    email: str
    roles: list[AccountRole]
    created_at: datetime

    @classmethod
    def of(cls, account: Account) -> "AccountType":
        return cls(
            id=strawberry.ID(str(account.id)),
            name=account.name,
            email=account.email,
            roles=[AccountRole(role) for role in sorted(account.role_set) if role != Role.SERVICE],
            created_at=account.created_at,
        )

    @strawberry.field(
        description="This account's keys, oldest first; a key's secret is never shown again."
    )
    async def api_keys(
        self, info: Info[Context, None], first: int = 20, after: str | None = None
    ) -> ApiKeyPageResult:
        ctx = info.context
        try:
            async with ctx.db() as session:
                page = await account_service.list_keys(
                    session, ctx.principal, uuid.UUID(self.id), after=after, limit=first
                )
        except errors.AssentError as error:
            return failure(error, ValidationFailed, Forbidden, ServiceUnavailable)
        return ApiKeyPage(
            items=[ApiKeyType.of(key) for key in page.items], next_cursor=page.next_cursor
        )


@strawberry.type
class CreatedApiKey:
    key: ApiKeyType
    secret: str = strawberry.field(description="The key itself. Shown this once only.")


@strawberry.type
class Registered:
    account: AccountType
    api_key: CreatedApiKey


@strawberry.type
class ApiKeyCreated:
    api_key: CreatedApiKey


@strawberry.type
class ApiKeyRevoked:
    key: ApiKeyType


@strawberry.type
class RoleGranted:
    account: AccountType


@strawberry.type
class OrganisationVerified:
    """An admin confirmed the organisation an account acts for; the audit log keeps it,
    and chain exports name the account by it."""

    account: AccountType
    organisation: str
    verified_at: datetime


@strawberry.input
class RegisterInput:
    name: str
    email: str
    role: AccountRole = strawberry.field(
        description="creator or buyer; only an admin registers an auditor or an admin."
    )


MeResult = Annotated[AccountType | Refusals, strawberry.union("MeResult")]
RegisterResult = Annotated[
    Registered | ValidationFailed | Forbidden | ServiceUnavailable,
    strawberry.union("RegisterResult"),
]
CreateApiKeyResult = Annotated[
    ApiKeyCreated | ValidationFailed | Refusals, strawberry.union("CreateApiKeyResult")
]
RevokeApiKeyResult = Annotated[
    ApiKeyRevoked | NotFound | Refusals, strawberry.union("RevokeApiKeyResult")
]
VerifyOrganisationResult = Annotated[
    OrganisationVerified | ValidationFailed | NotFound | Forbidden | Refusals,
    strawberry.union("VerifyOrganisationResult"),
]
GrantRoleResult = Annotated[
    RoleGranted | NotFound | Forbidden | Refusals, strawberry.union("GrantRoleResult")
]
