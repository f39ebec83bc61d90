"""People's sign-in over HTTP, for the portal: the session lives in an HttpOnly cookie
(Secure over HTTPS, SameSite=Lax), and every request made with it carries the session's
CSRF token in `X-CSRF-Token`, which only a page of the portal's own origin can read.

Every answer that could tell whether an address has an account is the same either way.
Sign-up, sign-in and reset requests are rate limited per address and per email.
"""

import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.accounts.service import Principal
from gateway.people.passkey_routes import passkey_router
from gateway.people.passkeys import Passkeys, RelyingParty
from gateway.people.service import People
from gateway.people.web import (
    CSRF_HEADER,
    SESSION_COOKIE,
    SessionRead,
    in_transaction,
    session_read,
    set_session_cookie,
)
from gateway.rate_limits import RateLimiter
from services.contracts.roles import SELF_SERVICE_ROLES, Role
from services.kit.db import short_session
from services.kit.errors import InvalidRequest, ServiceUnavailable, Unauthenticated

__all__ = ["CSRF_HEADER", "SESSION_COOKIE", "people_router"]
T = TypeVar("T")
MAILED = "If the address can be used, a mail with a link is on its way: open it to go on."


class SignUpIn(BaseModel):
    name: str = Field(max_length=200)
    email: str = Field(max_length=320)
    password: str = Field(max_length=1_000)
    role: Role = Role.CREATOR


class SignInIn(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1_000)


class EmailIn(BaseModel):
    email: str = Field(max_length=320)


class TokenIn(BaseModel):
    token: str = Field(max_length=200)


class ResetIn(TokenIn):
    password: str = Field(max_length=1_000)


class Said(BaseModel):
    message: str


def people_router(
    people: People,
    sessionmaker: Callable[[], async_sessionmaker[AsyncSession]],
    authenticate: Callable[[Request], Awaitable[Principal | None]],
    limiter: RateLimiter,
    *,
    session_seconds: int,
    portal_url: str,
    on_verified: Callable[[uuid.UUID], Awaitable[None]],
) -> APIRouter:
    """`on_verified`: run once an account has proved its address (verified, or signed in
    with it), outside the transaction: it claims the invitations made to the address."""
    router = APIRouter(prefix="/auth", tags=["people"])

    def _limit(request: Request, email: str) -> None:
        limiter.take(f"people-address:{request.client.host if request.client else 'unknown'}")
        limiter.take(f"people-email:{email.strip().lower()}")

    def _available() -> None:
        if not people.secrets.configured:
            raise ServiceUnavailable(
                "sign-in with a password is not configured here: use an API key",
                service="gateway",
            )

    async def _in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        return await in_transaction(sessionmaker(), work)

    @router.post("/sign-up", status_code=status.HTTP_202_ACCEPTED)
    async def sign_up(body: SignUpIn, request: Request) -> Said:
        """A new account for a creator or a lab; a mail verifies the address."""
        _available()
        _limit(request, body.email)
        if body.role not in SELF_SERVICE_ROLES:
            raise InvalidRequest("creators and labs sign up here; other roles are granted")
        await _in_transaction(
            lambda session: people.sign_up(
                session,
                name=body.name,
                email=body.email,
                password=body.password,
                role=body.role,
            )
        )
        return Said(message=MAILED)

    @router.post("/verify")
    async def verify(body: TokenIn) -> Said:
        _available()
        account_id = await _in_transaction(lambda session: people.verify(session, body.token))
        await on_verified(account_id)
        return Said(message="Your email address is confirmed: sign in.")

    @router.post("/sign-in")
    async def sign_in(body: SignInIn, request: Request, response: Response) -> SessionRead:
        _available()
        _limit(request, body.email)
        signed = await _in_transaction(
            lambda session: people.sign_in(session, email=body.email, password=body.password)
        )
        set_session_cookie(request, response, signed, seconds=session_seconds)
        await on_verified(signed.account.id)
        return session_read(signed.account, signed.csrf)

    @router.get("/session")
    async def current(request: Request) -> SessionRead:
        """The signed-in account and its CSRF token, for a page opened again."""
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            raise Unauthenticated("not signed in")
        async with short_session(sessionmaker(), service="gateway") as session:
            account, csrf = await people.current(session, token)
        return session_read(account, csrf)

    async def _end(request: Request, response: Response, *, everywhere: bool) -> None:
        principal = await authenticate(request)
        if principal is None or request.cookies.get(SESSION_COOKIE) is None:
            raise Unauthenticated("not signed in")
        await _in_transaction(
            lambda session: people.sign_out(session, principal, everywhere=everywhere)
        )
        response.delete_cookie(SESSION_COOKIE, path="/")

    @router.post("/sign-out", status_code=status.HTTP_204_NO_CONTENT)
    async def sign_out(request: Request, response: Response) -> None:
        await _end(request, response, everywhere=False)

    @router.post("/sign-out-everywhere", status_code=status.HTTP_204_NO_CONTENT)
    async def sign_out_everywhere(request: Request, response: Response) -> None:
        await _end(request, response, everywhere=True)

    @router.post("/reset-request", status_code=status.HTTP_202_ACCEPTED)
    async def reset_request(body: EmailIn, request: Request) -> Said:
        _available()
        _limit(request, body.email)
        await _in_transaction(lambda session: people.request_reset(session, body.email))
        return Said(message=MAILED)

    @router.post("/reset")
    async def reset(body: ResetIn) -> Said:
        _available()
        await _in_transaction(lambda session: people.reset(session, body.token, body.password))
        return Said(message="Your new password is set, and you are signed out everywhere.")

    router.include_router(
        passkey_router(
            people,
            Passkeys(people, RelyingParty.of_portal(portal_url)),
            sessionmaker,
            limiter,
            session_seconds=session_seconds,
            on_signed_in=on_verified,
        )
    )
    return router
