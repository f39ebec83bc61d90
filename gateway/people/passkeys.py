"""Passkeys (WebAuthn) as a second way in: a signed-in person registers one, and anyone
signs in with one; py_webauthn generates the options and verifies the answers.

Sign-in asks for a discoverable credential (a resident key) and names no account: the
browser offers the passkeys it holds for this site, and the answer names its account
through the user handle. So no address is typed, and no answer tells whether an address
has an account, as with passwords. User verification (a PIN or a fingerprint) is
required, so a passkey alone stands where a password does.

Each challenge is a row taken (deleted) by the first answer to it, however that answer
fares, and lives five minutes; a registration's challenge belongs to the session that
asked for it. A sign count that does not grow, when the authenticator keeps one, is
refused as the specification allows: it is the sign of a copied authenticator.

The relying party is the portal's host (`portal_url`). An IP address cannot be a relying
party's id, so a portal on a loopback address (the embedded default) has its passkeys on
`localhost`, the same machine; the portal sends a person there to use them.
"""

import ipaddress
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import structlog
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    options_to_json_dict,
    parse_authentication_credential_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from gateway.accounts.service import Principal
from gateway.people.models import ChallengePurpose, Passkey, PasskeyChallenge
from gateway.people.service import People, SignedIn
from services.kit.db import utcnow
from services.kit.errors import (
    Conflict,
    FieldError,
    InvalidRequest,
    NotFound,
    ServiceUnavailable,
    Unauthenticated,
)

log = structlog.get_logger()

CHALLENGE_LIFE = timedelta(minutes=5)
TIMEOUT_MS = int(CHALLENGE_LIFE.total_seconds() * 1000)
NOT_VERIFIED = "this passkey could not be verified"


@dataclass(frozen=True)
class RelyingParty:
    id: str
    origin: str
    name: str = "Assent"

    @classmethod
    def of_portal(cls, portal_url: str) -> "RelyingParty | None":
        """The relying party of the portal at this address; None where passkeys cannot
        work (a portal reached by a non-loopback IP address)."""
        parts = urlsplit(portal_url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return cls(id=host, origin=f"{parts.scheme}://{host}{port}")
        if address.is_loopback:
            return cls(id="localhost", origin=f"{parts.scheme}://localhost{port}")
        return None


def _transports(names: list[AuthenticatorTransport] | None) -> str:
    return ",".join(name.value for name in names or [])


def _descriptor(passkey: Passkey) -> PublicKeyCredentialDescriptor:
    known = {transport.value for transport in AuthenticatorTransport}
    return PublicKeyCredentialDescriptor(
        id=passkey.credential_id,
        transports=[
            AuthenticatorTransport(name) for name in passkey.transports.split(",") if name in known
        ],
    )


def _refused(exc: Exception) -> InvalidRequest:
    return InvalidRequest(
        f"{NOT_VERIFIED}: {exc}",
        fields=[FieldError("credential", str(exc), "invalid_passkey")],
    )


class Passkeys:
    def __init__(self, people: People, party: RelyingParty | None) -> None:
        self._people = people
        self._party = party

    @property
    def party(self) -> RelyingParty:
        if self._party is None:
            raise ServiceUnavailable(
                "passkeys need the portal at a domain name (or localhost), not an IP address",
                service="gateway",
            )
        return self._party

    async def _challenge(
        self,
        session: AsyncSession,
        purpose: ChallengePurpose,
        challenge: bytes,
        web_session_id: uuid.UUID | None,
    ) -> uuid.UUID:
        now = utcnow()
        await session.execute(delete(PasskeyChallenge).where(PasskeyChallenge.expires_at <= now))
        row = PasskeyChallenge(
            id=uuid.uuid4(),
            purpose=purpose,
            challenge=challenge,
            web_session_id=web_session_id,
            expires_at=now + CHALLENGE_LIFE,
        )
        session.add(row)
        await session.flush()
        return row.id

    async def take_challenge(
        self,
        session: AsyncSession,
        challenge_id: uuid.UUID | None,
        purpose: ChallengePurpose,
        web_session_id: uuid.UUID | None = None,
    ) -> bytes | None:
        """The challenge, once; None when it is unknown, used, expired, for another
        purpose or another session. Its row goes either way: commit before checking."""
        row = (
            await session.get(PasskeyChallenge, challenge_id, with_for_update=True)
            if challenge_id is not None
            else None
        )
        if row is None:
            return None
        await session.delete(row)
        await session.flush()
        if (
            row.purpose != purpose
            or row.expires_at <= utcnow()
            or row.web_session_id != web_session_id
        ):
            return None
        return row.challenge

    async def owned(self, session: AsyncSession, account_id: uuid.UUID) -> list[Passkey]:
        found = await session.scalars(
            select(Passkey).where(Passkey.account_id == account_id).order_by(Passkey.created_at)
        )
        return list(found)

    async def registration_options(
        self, session: AsyncSession, person: Principal
    ) -> tuple[uuid.UUID, dict[str, Any]]:
        """Options for the browser's `navigator.credentials.create`, and the challenge's id."""
        party = self.party
        account = person.account
        options = generate_registration_options(
            rp_id=party.id,
            rp_name=party.name,
            user_id=account.id.bytes,
            user_name=account.email,
            user_display_name=account.name,
            timeout=TIMEOUT_MS,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED,
                user_verification=UserVerificationRequirement.REQUIRED,
            ),
            # The authenticator refuses to make a second passkey for the same account.
            exclude_credentials=[
                _descriptor(passkey) for passkey in await self.owned(session, account.id)
            ],
        )
        challenge_id = await self._challenge(
            session, ChallengePurpose.REGISTER, options.challenge, person.key_id
        )
        return challenge_id, options_to_json_dict(options)

    async def register(
        self,
        session: AsyncSession,
        person: Principal,
        *,
        challenge: bytes,
        credential: dict[str, Any],
        name: str,
    ) -> Passkey:
        """A new passkey from the browser's answer to the registration options."""
        party = self.party
        if not name.strip():
            raise InvalidRequest(
                "name the passkey, e.g. after the device that holds it",
                fields=[FieldError("name", "give the passkey a name", "required")],
            )
        try:
            parsed = parse_registration_credential_json(credential)
            verified = verify_registration_response(
                credential=parsed,
                expected_challenge=challenge,
                expected_rp_id=party.id,
                expected_origin=party.origin,
                require_user_verification=True,
            )
        except WebAuthnException as exc:
            raise _refused(exc) from exc
        taken = await session.scalar(
            select(Passkey.id).where(Passkey.credential_id == verified.credential_id)
        )
        if taken is not None:
            raise Conflict("this passkey is registered already")
        passkey = Passkey(
            id=uuid.uuid4(),
            account_id=person.account_id,
            name=name.strip(),
            credential_id=verified.credential_id,
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            transports=_transports(parsed.response.transports),
            created_at=utcnow(),
        )
        session.add(passkey)
        await session.flush()
        log.info(
            "passkey.registered", passkey_id=str(passkey.id), account_id=str(passkey.account_id)
        )
        return passkey

    async def sign_in_options(self, session: AsyncSession) -> tuple[uuid.UUID, dict[str, Any]]:
        """Options for `navigator.credentials.get`, naming no credential (see above)."""
        options = generate_authentication_options(
            rp_id=self.party.id,
            timeout=TIMEOUT_MS,
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        challenge_id = await self._challenge(
            session, ChallengePurpose.SIGN_IN, options.challenge, None
        )
        return challenge_id, options_to_json_dict(options)

    async def sign_in(
        self, session: AsyncSession, *, challenge: bytes, credential: dict[str, Any]
    ) -> SignedIn:
        """A session, as a password's sign-in makes, for the passkey's account."""
        party = self.party
        try:
            parsed = parse_authentication_credential_json(credential)
        except WebAuthnException as exc:
            raise _refused(exc) from exc
        passkey = await session.scalar(
            select(Passkey).where(Passkey.credential_id == parsed.raw_id).with_for_update()
        )
        if passkey is None:
            raise Unauthenticated(
                "this passkey is not registered here (it may have been removed): sign in "
                "with your email and password"
            )
        handle = parsed.response.user_handle
        if handle is not None and handle != passkey.account_id.bytes:
            raise Unauthenticated(f"{NOT_VERIFIED}: it names another account")
        try:
            verified = verify_authentication_response(
                credential=parsed,
                expected_challenge=challenge,
                expected_rp_id=party.id,
                expected_origin=party.origin,
                credential_public_key=passkey.public_key,
                credential_current_sign_count=passkey.sign_count,
                require_user_verification=True,
            )
        except WebAuthnException as exc:
            log.warning("passkey.sign_in_refused", passkey_id=str(passkey.id), reason=str(exc))
            raise Unauthenticated(f"{NOT_VERIFIED}: {exc}") from exc
        passkey.sign_count = verified.new_sign_count
        passkey.last_used_at = utcnow()
        return await self._people.start_session(session, passkey.account_id)

    async def remove(
        self, session: AsyncSession, person: Principal, passkey_id: uuid.UUID
    ) -> Passkey:
        passkey = await session.get(Passkey, passkey_id, with_for_update=True)
        if passkey is None or passkey.account_id != person.account_id:
            raise NotFound("no such passkey of yours")
        await session.delete(passkey)
        await session.flush()
        log.info("passkey.removed", passkey_id=str(passkey.id), account_id=str(passkey.account_id))
        return passkey
