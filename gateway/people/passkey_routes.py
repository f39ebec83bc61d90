"""Passkeys over HTTP, for the portal, under /auth/passkeys.

Registering, listing and removing take the session cookie and its CSRF token, never an
API key: a program's key must not be able to add a way into its account. Signing in
takes no account at all (see passkeys.py), and is rate limited per address.

Between the options and the answer, the challenge's id rides in a cookie of its own
(HttpOnly, SameSite=Strict, only sent to these routes, five minutes long), so the answer
is checked against the challenge this browser was given.
"""

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.accounts.service import Principal
from gateway.people.models import ChallengePurpose, Passkey
from gateway.people.passkeys import CHALLENGE_LIFE, Passkeys
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
from services.kit.db import short_session
from services.kit.errors import InvalidRequest, ServiceUnavailable, Unauthenticated

PREFIX = "/passkeys"
CHALLENGE_COOKIE = "assent_passkey_challenge"
T = TypeVar("T")


class PasskeyOptions(BaseModel):
    """`publicKey` options for the browser, with bytes as base64url strings."""

    options: dict[str, Any]


class RegisterIn(BaseModel):
    name: str = Field(max_length=100)
    credential: dict[str, Any]


class SignInIn(BaseModel):
    credential: dict[str, Any]


class PasskeyRead(BaseModel):
    id: str
    name: str
    transports: list[str]
    created_at: datetime
    last_used_at: datetime | None


def _passkey_read(passkey: Passkey) -> PasskeyRead:
    return PasskeyRead(
        id=str(passkey.id),
        name=passkey.name,
        transports=[name for name in passkey.transports.split(",") if name],
        created_at=passkey.created_at,
        last_used_at=passkey.last_used_at,
    )


def passkey_router(
    people: People,
    passkeys: Passkeys,
    sessionmaker: Callable[[], async_sessionmaker[AsyncSession]],
    limiter: RateLimiter,
    *,
    session_seconds: int,
    on_signed_in: Callable[[uuid.UUID], Awaitable[None]],
) -> APIRouter:
    """`on_signed_in` runs after each passkey sign-in, as after a password's: a passkey
    belongs to an account that proved its address, so invitations to it become its own."""
    router = APIRouter(prefix=PREFIX)
    cookie_path = f"/auth{PREFIX}"

    async def _in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        if not people.secrets.configured:
            raise ServiceUnavailable(
                "sign-in with a passkey is not configured here: use an API key",
                service="gateway",
            )
        return await in_transaction(sessionmaker(), work)

    async def _person(request: Request) -> Principal:
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie or not people.secrets.configured:
            raise Unauthenticated("sign in with your email and password to manage passkeys")
        async with short_session(sessionmaker(), service="gateway") as session:
            return await people.principal(session, cookie, request.headers.get(CSRF_HEADER))

    def _hand_out(request: Request, response: Response, challenge_id: uuid.UUID) -> None:
        response.set_cookie(
            CHALLENGE_COOKIE,
            challenge_id.hex,
            max_age=int(CHALLENGE_LIFE.total_seconds()),
            httponly=True,
            secure=request.url.scheme == "https",
            samesite="strict",
            path=cookie_path,
        )

    async def _take(
        request: Request,
        response: Response,
        purpose: ChallengePurpose,
        web_session_id: uuid.UUID | None = None,
    ) -> bytes:
        """The challenge this browser was given, once: it is spent whatever the answer."""
        response.delete_cookie(CHALLENGE_COOKIE, path=cookie_path)
        try:
            challenge_id: uuid.UUID | None = uuid.UUID(hex=request.cookies[CHALLENGE_COOKIE])
        except (KeyError, ValueError):
            challenge_id = None
        challenge = await _in_transaction(
            lambda session: passkeys.take_challenge(session, challenge_id, purpose, web_session_id)
        )
        if challenge is None:
            raise InvalidRequest(
                "this passkey request is too old or was answered already: try again"
            )
        return challenge

    @router.post("/registration-options")
    async def registration_options(request: Request, response: Response) -> PasskeyOptions:
        """Options to make a passkey for the signed-in person's account."""
        person = await _person(request)
        challenge_id, options = await _in_transaction(
            lambda session: passkeys.registration_options(session, person)
        )
        _hand_out(request, response, challenge_id)
        return PasskeyOptions(options=options)

    @router.post("", status_code=status.HTTP_201_CREATED)
    async def register(body: RegisterIn, request: Request, response: Response) -> PasskeyRead:
        """The browser's new passkey, named by the person, added to their account."""
        person = await _person(request)
        challenge = await _take(request, response, ChallengePurpose.REGISTER, person.key_id)
        passkey = await _in_transaction(
            lambda session: passkeys.register(
                session, person, challenge=challenge, credential=body.credential, name=body.name
            )
        )
        return _passkey_read(passkey)

    @router.get("")
    async def listed(request: Request) -> list[PasskeyRead]:
        """The signed-in person's passkeys, oldest first."""
        person = await _person(request)
        async with short_session(sessionmaker(), service="gateway") as session:
            owned = await passkeys.owned(session, person.account_id)
        return [_passkey_read(passkey) for passkey in owned]

    @router.delete("/{passkey_id}", status_code=status.HTTP_204_NO_CONTENT)
    async def remove(passkey_id: uuid.UUID, request: Request) -> None:
        """One of the person's passkeys removed: it no longer signs anyone in."""
        person = await _person(request)
        await _in_transaction(lambda session: passkeys.remove(session, person, passkey_id))

    @router.post("/sign-in-options")
    async def sign_in_options(request: Request, response: Response) -> PasskeyOptions:
        """Options to sign in with any passkey this browser holds for the marketplace."""
        limiter.take(f"people-address:{request.client.host if request.client else 'unknown'}")
        challenge_id, options = await _in_transaction(passkeys.sign_in_options)
        _hand_out(request, response, challenge_id)
        return PasskeyOptions(options=options)

    @router.post("/sign-in")
    async def sign_in(body: SignInIn, request: Request, response: Response) -> SessionRead:
        """A session, as signing in with a password makes, from the passkey's answer."""
        limiter.take(f"people-address:{request.client.host if request.client else 'unknown'}")
        challenge = await _take(request, response, ChallengePurpose.SIGN_IN)
        signed = await _in_transaction(
            lambda session: passkeys.sign_in(
                session, challenge=challenge, credential=body.credential
            )
        )
        set_session_cookie(request, response, signed, seconds=session_seconds)
        await on_signed_in(signed.account.id)
        return session_read(signed.account, signed.csrf)

    return router
