"""The short-lived token the gateway (or a service) signs for each call to a service.

HS256 with one secret shared by the platform's processes: every call carries the caller's
subject and roles, is bound to one audience (the receiving service) and expires within a
minute, so a captured token cannot be used against another service or replayed later.

Signing and verifying cost tens of µs of CPU each, a visible share of a search through
the gateway. So a signer reuses its token for the same caller and service for the first
part of the token's life, and a verifier remembers the tokens it verified until they
expire. The jti names a token, not a call: nothing checks that it is unique.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, TypeVar

import jwt
from fastapi import Depends, Request

from services.contracts.roles import Role
from services.kit.errors import Forbidden, Unauthenticated

TOKEN_LIFETIME = timedelta(seconds=60)
# How long after issuing it a signer sends a token again: one it sends has 40 s or more to
# live, far beyond a call's timeout.
TOKEN_REUSE = timedelta(seconds=20)
CLOCK_LEEWAY = timedelta(seconds=5)
# Tokens a signer or a verifier remembers; the oldest goes first. A minute of tokens of
# the platform's busy callers fits, and memory stays bounded whatever the traffic.
REMEMBERED_TOKENS = 4096
MIN_SECRET_BYTES = 32
_ALGORITHM = "HS256"
_K = TypeVar("_K")
_V = TypeVar("_V")


@dataclass(frozen=True)
class Caller:
    subject: str
    roles: frozenset[Role]
    issuer: str
    # The account's display name, so a service can record who acted without a lookup.
    name: str | None = None

    def has(self, *roles: Role) -> bool:
        return any(role in self.roles for role in roles)

    @property
    def account_id(self) -> uuid.UUID | None:
        """The caller's account, or None for a caller that is not an account (a service,
        an anonymous visitor)."""
        try:
            return uuid.UUID(self.subject)
        except ValueError:
            return None

    @property
    def oversees(self) -> bool:
        """An admin or an auditor, who may read every account's records."""
        return self.has(Role.ADMIN, Role.AUDITOR)

    @property
    def sees_everything(self) -> bool:
        """An overseer, or another service of the platform reading on its behalf."""
        return self.oversees or self.has(Role.SERVICE)


def _check_secret(secret: str) -> bytes:
    key = secret.encode()
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(
            f"the internal token secret must be at least {MIN_SECRET_BYTES} bytes "
            "(ASSENT_INTERNAL_TOKEN_SECRET)"
        )
    return key


def _remember(memory: dict[_K, _V], key: _K, value: _V) -> None:
    memory.pop(key, None)
    if len(memory) >= REMEMBERED_TOKENS:
        del memory[next(iter(memory))]
    memory[key] = value


class TokenSigner:
    def __init__(self, secret: str, *, issuer: str) -> None:
        self._key = _check_secret(secret)
        self.issuer = issuer
        # Every claim but the times and the jti -> the token, when it was issued and until
        # when it is reused.
        self._signed: dict[
            tuple[str, str, frozenset[Role], str | None], tuple[str, datetime, datetime]
        ] = {}

    def sign(
        self, *, subject: str, roles: frozenset[Role], audience: str, name: str | None = None
    ) -> str:
        now = datetime.now(UTC)
        key = (audience, subject, roles, name)
        signed = self._signed.get(key)
        # Not when the clock went back: the token would be issued in the future.
        if signed is not None and signed[1] <= now < signed[2]:
            return signed[0]
        claims: dict[str, object] = {
            "iss": self.issuer,
            "sub": subject,
            "aud": audience,
            "roles": sorted(roles),
            "iat": now,
            "exp": now + TOKEN_LIFETIME,
            "jti": uuid.uuid4().hex,
        }
        if name is not None:
            claims["name"] = name
        token = jwt.encode(claims, self._key, algorithm=_ALGORITHM)
        _remember(self._signed, key, (token, now, now + TOKEN_REUSE))
        return token


class TokenVerifier:
    def __init__(self, secret: str, *, audience: str) -> None:
        self._key = _check_secret(secret)
        self.audience = audience
        # Keyed by the whole token, signature included: only the very token that was
        # verified finds its caller, and only until its `exp`. Past that it is decoded
        # again, as the first time (accepted within the clock leeway, then refused).
        self._verified: dict[str, tuple[Caller, float]] = {}

    def verify(self, token: str) -> Caller:
        verified = self._verified.get(token)
        if verified is not None and verified[1] > datetime.now(UTC).timestamp():
            return verified[0]
        caller, expires = self._decode(token)
        _remember(self._verified, token, (caller, expires))
        return caller

    def _decode(self, token: str) -> tuple[Caller, float]:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[_ALGORITHM],
                audience=self.audience,
                leeway=CLOCK_LEEWAY,
                options={"require": ["exp", "iat", "aud", "sub", "iss"]},
            )
            roles = frozenset(Role(role) for role in claims.get("roles", []))
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("the internal token has expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise Unauthenticated("the internal token is for another service") from exc
        except (jwt.InvalidTokenError, ValueError) as exc:
            raise Unauthenticated("the internal token is not valid") from exc
        # Every signer issues tokens for a minute; one that lives longer was not made by
        # ours, and a captured one would stay usable for as long as it claims.
        lifetime = timedelta(seconds=float(claims["exp"]) - float(claims["iat"]))
        if lifetime > TOKEN_LIFETIME + CLOCK_LEEWAY:
            raise Unauthenticated("the internal token lives longer than a signer issues them")
        name = claims.get("name")
        caller = Caller(
            subject=str(claims["sub"]),
            roles=roles,
            issuer=str(claims["iss"]),
            name=name if isinstance(name, str) else None,
        )
        return caller, float(claims["exp"])


async def current_caller(request: Request) -> Caller:
    """FastAPI dependency: the verified caller of this request, or 401.

    Async although it never awaits: FastAPI runs a plain function on a worker thread,
    a hop every request of every service would pay for a few microseconds of work."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("an internal token is required")
    verifier: TokenVerifier = request.app.state.token_verifier
    return verifier.verify(token)


CurrentCaller = Annotated[Caller, Depends(current_caller)]


def require_role(caller: Caller, *roles: Role) -> None:
    if not caller.has(*roles):
        raise Forbidden(f"this needs one of the roles: {', '.join(sorted(roles))}")
