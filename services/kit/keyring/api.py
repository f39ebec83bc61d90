"""`GET /v1/keys` and `POST /v1/keys/rotate`, the same in every signing service.

Rotation is an admin's act, authorised as every admin operation is: the gateway signs
the caller's roles into the internal token, and the service checks the admin role."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.roles import Role
from services.contracts.signing import PublicKeyRead
from services.kit.db import get_session
from services.kit.errors import Forbidden, ServiceUnavailable, Unauthenticated, error_responses
from services.kit.internal_token import CurrentCaller, require_role
from services.kit.keyring._keyring import Keyring

Session = Annotated[AsyncSession, Depends(get_session, scope="function")]


def _keyring(request: Request) -> Keyring:
    keyring: Keyring = request.app.state.keyring
    return keyring


ServiceKeyring = Annotated[Keyring, Depends(_keyring)]


def keys_router() -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["keys"])

    @router.get("/keys", responses=error_responses(Unauthenticated))
    async def get_keys(
        _caller: CurrentCaller, session: Session, keyring: ServiceKeyring
    ) -> list[PublicKeyRead]:
        """The public keys this service signs with, past and current, with their intervals."""
        return await keyring.history(session)

    @router.post(
        "/keys/rotate", responses=error_responses(Unauthenticated, Forbidden, ServiceUnavailable)
    )
    async def rotate_key(
        caller: CurrentCaller, session: Session, keyring: ServiceKeyring
    ) -> list[PublicKeyRead]:
        """Retire the signing key for the next one (admins); the whole history after it."""
        require_role(caller, Role.ADMIN)
        await keyring.rotate(session)
        return await keyring.history(session)

    return router
