"""Ed25519 signatures over DSSE envelopes, and canonical JSON to sign.

Licence certificates, delivery manifests and audit checkpoints are all signed the same
way, so one offline verifier (`assent verify`) checks them all with the published keys.
DSSE (the envelope in-toto uses) signs the pre-authentication encoding of a payload type
and the payload bytes, so a signature can never be replayed under another payload type.

A key signs only within its interval: `[valid_from, valid_until)`, either end open. The
intervals come from the audit log's `key.rotated` entries (`key_history`): each entry
starts a key, and the next entry of the same purpose ends the key before it.
"""

import base64
import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import SecretStr

from services.contracts.signing import Envelope, EnvelopeSignature, KeyRotated, PublicKeyRead

from ._errors import VerificationError


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JCS): the same document always gives the same bytes, in any language.

    Raises ValueError for what JCS cannot write (NaN, integers beyond 2**53)."""
    return rfc8785.dumps(value)


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode()


def b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise VerificationError("not valid base64") from exc


def key_id(public_key: Ed25519PublicKey) -> str:
    """The first 16 hex digits of the sha256 of the raw public key."""
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def generate_seed() -> str:
    """A new private key as the base64 text the settings take."""
    return b64encode(Ed25519PrivateKey.generate().private_bytes_raw())


class Signer:
    def __init__(self, seed: SecretStr, *, purpose: str) -> None:
        raw = b64decode(seed.get_secret_value()) if seed.get_secret_value() else b""
        if len(raw) != 32:
            raise ValueError(f"the {purpose} signing key must be 32 bytes of base64 (Ed25519 seed)")
        self._private = Ed25519PrivateKey.from_private_bytes(raw)
        self.public_key = self._private.public_key()
        self.key_id = key_id(self.public_key)
        self.purpose = purpose

    def sign(self, payload_type: str, payload: bytes) -> Envelope:
        signature = self._private.sign(pae(payload_type, payload))
        return Envelope(
            payload_type=payload_type,
            payload=b64encode(payload),
            signatures=[EnvelopeSignature(keyid=self.key_id, sig=b64encode(signature))],
        )

    def sign_message(self, message: bytes | memoryview) -> bytes:
        """A bare Ed25519 signature: a C2SP signed note (`_note.py`) is signed over its text
        as it is, with no DSSE encoding around it."""
        return self._private.sign(message)

    @property
    def public_key_b64(self) -> str:
        return b64encode(self.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw))

    def published(
        self, *, valid_from: datetime | None = None, valid_until: datetime | None = None
    ) -> PublicKeyRead:
        return PublicKeyRead(
            key_id=self.key_id,
            purpose=self.purpose,
            public_key=self.public_key_b64,
            valid_from=valid_from,
            valid_until=valid_until,
        )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def interval_text(key: PublicKeyRead) -> str:
    """The key's interval in words, as a failure names it."""
    start = key.valid_from.isoformat() if key.valid_from else "its purpose's first signature"
    end = key.valid_until.isoformat() if key.valid_until else "now (still current)"
    return f"from {start} until {end}"


def outside_interval(key: PublicKeyRead, signed_at: datetime) -> str | None:
    """Why a document signed at `signed_at` falls outside the key's interval, or None."""
    moment = _aware(signed_at)
    if key.valid_from is not None and moment < key.valid_from:
        return (
            f"key {key.key_id} signed it at {moment.isoformat()}, before the key's interval "
            f"({interval_text(key)})"
        )
    if key.valid_until is not None and moment >= key.valid_until:
        return (
            f"key {key.key_id} signed it at {moment.isoformat()}, after the key's interval "
            f"ended ({interval_text(key)}): the key was retired then"
        )
    return None


def key_history(rotations: Iterable[KeyRotated]) -> list[PublicKeyRead]:
    """The keys `key.rotated` entries name, in log order, each with its interval: a key
    signs from its entry's `valid_from` until the next entry of its purpose begins.

    A key named twice keeps its first entry (a replayed event adds nothing)."""
    keys: list[PublicKeyRead] = []
    latest: dict[str, int] = {}
    seen: set[str] = set()
    for rotated in rotations:
        if rotated.key_id in seen:
            continue
        seen.add(rotated.key_id)
        before = latest.get(rotated.purpose)
        if before is not None:
            keys[before] = keys[before].model_copy(update={"valid_until": rotated.valid_from})
        latest[rotated.purpose] = len(keys)
        keys.append(
            PublicKeyRead(
                key_id=rotated.key_id,
                purpose=rotated.purpose,
                public_key=rotated.public_key,
                valid_from=rotated.valid_from,
            )
        )
    return keys


def public_key_from(published: PublicKeyRead) -> Ed25519PublicKey:
    raw = b64decode(published.public_key)
    if len(raw) != 32:
        raise VerificationError(f"public key {published.key_id} is not 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def verify_envelope(
    envelope: Envelope, keys: list[PublicKeyRead], *, payload_type: str
) -> tuple[bytes, PublicKeyRead]:
    """The payload, once one signature verifies with a key of the given set; else raises."""
    if envelope.payload_type != payload_type:
        raise VerificationError(
            f"payload type is {envelope.payload_type!r}, expected {payload_type!r}"
        )
    payload = b64decode(envelope.payload)
    by_id = {key.key_id: key for key in keys}
    message = pae(envelope.payload_type, payload)
    for signature in envelope.signatures:
        key = by_id.get(signature.keyid)
        if key is None:
            continue
        try:
            public_key_from(key).verify(b64decode(signature.sig), message)
        except InvalidSignature:
            continue
        return payload, key
    raise VerificationError("no signature verifies with the published keys")
