"""The short-lived token the gateway (or a service) signs for each call to a service.

HS256 with one secret shared by the platform's processes: every call carries the caller's
subject and roles, is bound to one audience (the receiving service) and expires within a
minute, so a captured token cannot be used against another service or replayed later.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

import jwt
from fastapi import Depends, Request

from services.contracts.roles import Role
from services.kit.errors import Forbidden, Unauthenticated

TOKEN_LIFETIME = timedelta(seconds=60)
CLOCK_LEEWAY = timedelta(seconds=5)
MIN_SECRET_BYTES = 32
_ALGORITHM = "HS256"


@dataclass(frozen=True)
class Caller:
    subject: str
    roles: frozenset[Role]
    issuer: str
    # The account's display name, so a service can record who acted without a lookup.
    name: str | None = None

    def has(self, *roles: Role) -> bool:
        return any(role in self.roles for role in roles)


def _check_secret(secret: str) -> bytes:
    key = secret.encode()
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(
            f"the internal token secret must be at least {MIN_SECRET_BYTES} bytes "
            "(ASSENT_INTERNAL_TOKEN_SECRET)"
        )
    return key


class TokenSigner:
    def __init__(self, secret: str, *, issuer: str) -> None:
        self._key = _check_secret(secret)
        self.issuer = issuer

    def sign(
        self, *, subject: str, roles: frozenset[Role], audience: str, name: str | None = None
    ) -> str:
        now = datetime.now(UTC)
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
        return jwt.encode(claims, self._key, algorithm=_ALGORITHM)


class TokenVerifier:
    def __init__(self, secret: str, *, audience: str) -> None:
        self._key = _check_secret(secret)
        self.audience = audience

    def verify(self, token: str) -> Caller:
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
        name = claims.get("name")
        return Caller(
            subject=str(claims["sub"]),
            roles=roles,
            issuer=str(claims["iss"]),
            name=name if isinstance(name, str) else None,
        )


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
