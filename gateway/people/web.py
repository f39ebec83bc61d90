"""What people's sign-in routes share, whichever way a person proves who they are: the
session cookie (HttpOnly, Secure over HTTPS, SameSite=Lax), the CSRF header that must
come with it, the answer that hands the page its CSRF token, and one transaction per
request."""

from collections.abc import Awaitable, Callable
from typing import TypeVar

from fastapi import Request, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.accounts.models import Account
from gateway.people.service import SignedIn
from services.contracts.roles import Role
from services.kit.db import short_session

SESSION_COOKIE = "assent_session"
CSRF_HEADER = "x-csrf-token"
T = TypeVar("T")


class SessionRead(BaseModel):
    account_id: str
    name: str
    email: str
    roles: list[Role]
    csrf_token: str


def session_read(account: Account, csrf: str) -> SessionRead:
    return SessionRead(
        account_id=str(account.id),
        name=account.name,
        email=account.email,
        roles=sorted(account.role_set),
        csrf_token=csrf,
    )


def set_session_cookie(
    request: Request, response: Response, signed: SignedIn, *, seconds: int
) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        signed.token,
        max_age=seconds,
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="lax",
        path="/",
    )


async def in_transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
    work: Callable[[AsyncSession], Awaitable[T]],
) -> T:
    async with short_session(sessionmaker, service="gateway") as session:
        done = await work(session)
        await session.commit()
        return done
