"""The short-lived token a process of the platform signs for each call to a service.

Each component (gateway, catalogue, licensing, delivery, audit) signs with its own
Ed25519 key (an EdDSA JWT) and names itself in `iss`; a receiver holds only the public
keys of the issuers it accepts and picks the key by `iss`, so a token from an issuer it
does not know is refused before any other check. Every token is bound to one audience
(the receiving service) and expires within a minute, so a captured token cannot be used
against another service or replayed later.

Who may call what:

- On a user's behalf (a subject and the user's roles, admin included): the gateway only.
  Every endpoint's `CurrentCaller` accepts no other issuer.
- Service to service: a named service acts only as itself. Its token's subject is
  `service:<issuer>` and its only role is `service`; one claiming a user, a user's role or
  an admin is refused whatever route it reaches. So a delivery process that is taken over
  signs as delivery and nothing more.
  - Events: the outbox relay of the topic's publisher (`PUBLISHERS` in the events
    contract); each event of a batch is checked against the service that posted it.
    The gateway publishes account events and, acting for admins already, is not
    narrowed to its topics.
  - Reads: the services an app names when it is built (`readers`, e.g. the catalogue lets
    licensing read works), on the endpoints that take `ReadingCaller`.

Signing costs ~40 µs and verifying ~100-150 µs of CPU (Ed25519 verifies at 6-12k/s), a
visible share of a search through the gateway. So a signer reuses its token for the same
caller and service for the first part of the token's life, and a verifier remembers the
tokens it verified until they expire. The jti names a token, not a call: nothing checks
that it is unique. PyJWT does the JWT; what is written here is the issuer policy.
"""

import base64
import binascii
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, TypeVar

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)
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
# The issuer of every call made on a user's behalf.
GATEWAY = "gateway"
_ALGORITHM = "EdDSA"
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


def service_subject(issuer: str) -> str:
    """The only subject a service's own token may carry."""
    return f"service:{issuer}"


def _pem_or_raw(text: str) -> tuple[bool, bytes]:
    text = text.strip()
    if text.startswith("-----BEGIN"):
        return True, text.encode()
    try:
        return False, base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ValueError("neither PEM nor base64") from exc


def load_private_key(text: str, *, setting: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from PEM (PKCS#8) or the base64 of its 32-byte seed."""
    if not text.strip():
        raise ValueError(f"{setting} is not set: this process signs its calls with it")
    try:
        pem, data = _pem_or_raw(text)
        key = (
            load_pem_private_key(data, password=None)
            if pem
            else Ed25519PrivateKey.from_private_bytes(data)
        )
    except ValueError as exc:
        raise ValueError(f"{setting} is not an Ed25519 private key (PEM or base64)") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{setting} is not an Ed25519 private key (PEM or base64)")
    return key


def load_public_key(text: str, *, issuer: str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM or the base64 of its 32 raw bytes."""
    try:
        pem, data = _pem_or_raw(text)
        key = load_pem_public_key(data) if pem else Ed25519PublicKey.from_public_bytes(data)
    except ValueError as exc:
        raise ValueError(f"the internal public key of {issuer} is not an Ed25519 key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"the internal public key of {issuer} is not an Ed25519 key")
    return key


def public_key_text(private_key: Ed25519PrivateKey) -> str:
    """The base64 of the raw public key, as `ASSENT_INTERNAL_PUBLIC_KEYS` lists it."""
    raw = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def public_keys_for(
    published: Mapping[str, str], issuers: frozenset[str]
) -> dict[str, Ed25519PublicKey]:
    """The keys of the issuers a receiver accepts, and of no other; a missing one stops
    the process at startup rather than refusing every call of that issuer later."""
    missing = sorted(issuers - published.keys())
    if missing:
        raise ValueError(
            f"ASSENT_INTERNAL_PUBLIC_KEYS has no key for {', '.join(missing)}, "
            "whose calls this process accepts"
        )
    return {issuer: load_public_key(published[issuer], issuer=issuer) for issuer in issuers}


def _remember(memory: dict[_K, _V], key: _K, value: _V) -> None:
    memory.pop(key, None)
    if len(memory) >= REMEMBERED_TOKENS:
        del memory[next(iter(memory))]
    memory[key] = value


class TokenSigner:
    def __init__(self, private_key: Ed25519PrivateKey, *, issuer: str) -> None:
        self._key = private_key
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

    def sign_as_service(self, *, audience: str) -> str:
        """A token for this process acting as itself, the only kind a service's own key
        is accepted for."""
        return self.sign(
            subject=service_subject(self.issuer), roles=frozenset({Role.SERVICE}), audience=audience
        )


class TokenVerifier:
    def __init__(
        self,
        public_keys: Mapping[str, Ed25519PublicKey],
        *,
        audience: str,
        readers: frozenset[str] = frozenset(),
    ) -> None:
        """`public_keys`: the issuers this service accepts at all; `readers`: the services
        among them that may call its `ReadingCaller` endpoints."""
        self._keys = dict(public_keys)
        self.audience = audience
        self.readers = readers
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
            named = jwt.decode(token, options={"verify_signature": False}).get("iss")
            issuer = named if isinstance(named, str) else ""
            key = self._keys.get(issuer)
            if key is None:
                raise Unauthenticated("the internal token's issuer is not one this service accepts")
            claims = jwt.decode(
                token,
                key,
                algorithms=[_ALGORITHM],
                audience=self.audience,
                issuer=issuer,
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
        if issuer != GATEWAY and (
            roles != {Role.SERVICE} or claims["sub"] != service_subject(issuer)
        ):
            raise Forbidden(f"a token from {issuer} may act only as {issuer}, never for a user")
        name = claims.get("name")
        caller = Caller(
            subject=str(claims["sub"]),
            roles=roles,
            issuer=issuer,
            name=name if isinstance(name, str) else None,
        )
        return caller, float(claims["exp"])


def _verified(request: Request) -> Caller:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("an internal token is required")
    verifier: TokenVerifier = request.app.state.token_verifier
    return verifier.verify(token)


async def current_caller(request: Request) -> Caller:
    """FastAPI dependency: the verified caller of a call made on a user's behalf, which
    only the gateway makes; 401 without a valid token, 403 from another issuer.

    Async although it never awaits: FastAPI runs a plain function on a worker thread,
    a hop every request of every service would pay for a few microseconds of work."""
    caller = _verified(request)
    if caller.issuer != GATEWAY:
        raise Forbidden(f"only the gateway calls this, on a user's behalf, not {caller.issuer}")
    return caller


async def reading_caller(request: Request) -> Caller:
    """FastAPI dependency: the gateway, or a service this one lets read (`readers`)."""
    caller = _verified(request)
    verifier: TokenVerifier = request.app.state.token_verifier
    if caller.issuer != GATEWAY and caller.issuer not in verifier.readers:
        raise Forbidden(f"{caller.issuer} may not read from {verifier.audience}")
    return caller


async def publishing_caller(request: Request) -> Caller:
    """FastAPI dependency for the event intake: any issuer this service accepts; each
    event is then checked against the topics that issuer publishes."""
    return _verified(request)


CurrentCaller = Annotated[Caller, Depends(current_caller)]
ReadingCaller = Annotated[Caller, Depends(reading_caller)]
PublishingCaller = Annotated[Caller, Depends(publishing_caller)]


def require_role(caller: Caller, *roles: Role) -> None:
    if not caller.has(*roles):
        raise Forbidden(f"this needs one of the roles: {', '.join(sorted(roles))}")
