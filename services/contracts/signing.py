"""Signed documents (DSSE envelopes) and the public keys that verify them.

Each signing key has a validity interval: a document whose signing time lies outside its
key's interval does not verify. Keys rotate; every key, and every rotation, is an entry
of the audit log (`key.rotated`), so an old document is checked against the key that was
valid when it was signed.
"""

import uuid
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

WELL_KNOWN_KEYS_PATH = "/.well-known/assent-keys.json"
"""Where the gateway publishes every signing key of the marketplace."""

WELL_KNOWN_JWKS_PATH = "/.well-known/jwks.json"
"""The same keys as a JSON Web Key Set (RFC 7517, OKP keys of RFC 8037)."""

# What each published key signs; a verifier accepts a document only under its own purpose.
MANIFEST_KEY_PURPOSE = "delivery-manifest"
CERTIFICATE_KEY_PURPOSE = "licence-certificate"
CHECKPOINT_KEY_PURPOSE = "audit-checkpoint"


class EnvelopeSignature(BaseModel):
    model_config = ConfigDict(frozen=True)

    keyid: str
    sig: str = Field(description="base64 Ed25519 signature over the DSSE PAE")


class Envelope(BaseModel):
    """A DSSE envelope, in DSSE's own JSON field names (`payloadType`)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, serialize_by_alias=True)

    payload_type: str = Field(alias="payloadType")
    payload: str = Field(description="base64 of the signed bytes")
    signatures: list[EnvelopeSignature] = Field(min_length=1)


SIGNING_SERVICES: dict[str, str] = {
    "licensing": CERTIFICATE_KEY_PURPOSE,
    "delivery": MANIFEST_KEY_PURPOSE,
    "audit": CHECKPOINT_KEY_PURPOSE,
}
"""The service that holds each purpose's key, and so rotates it."""


def key_subject_id(purpose: str) -> uuid.UUID:
    """The audit log's chain subject (kind `key`) of every key of one purpose."""
    return uuid.uuid5(uuid.NAMESPACE_URL, "assent-key:" + purpose)


class PublicKeyRead(BaseModel):
    model_config = ConfigDict(frozen=True)

    key_id: str
    algorithm: str = "ed25519"
    purpose: str = Field(description="licence-certificate, delivery-manifest or audit-checkpoint")
    public_key: str = Field(description="base64 of the raw 32-byte Ed25519 public key")
    valid_from: AwareDatetime | None = Field(
        default=None, description="when the key began to sign; null: the purpose's first key"
    )
    valid_until: AwareDatetime | None = Field(
        default=None,
        description="when the next key took over (exclusive); null: the key signs today",
    )


class PublishedKeys(BaseModel):
    keys: list[PublicKeyRead]


class KeyRotated(BaseModel):
    """The payload of `key.rotated`: a key of `purpose` signs from `valid_from` on (null
    for the purpose's first key, which signed since the start), and the key it replaces,
    if any, stops signing then."""

    purpose: str
    key_id: str
    public_key: str = Field(description="base64 of the raw 32-byte Ed25519 public key")
    valid_from: AwareDatetime | None
    retired_key_id: str | None = None


class JsonWebKey(BaseModel):
    """One key of the JWKS: an Ed25519 OKP key (RFC 8037), with its purpose and interval
    as extra members (RFC 7517 lets a JWK carry members it does not define)."""

    model_config = ConfigDict(frozen=True)

    kty: str = "OKP"
    crv: str = "Ed25519"
    x: str = Field(description="base64url (no padding) of the raw public key")
    kid: str
    alg: str = "EdDSA"
    use: str = "sig"
    purpose: str
    valid_from: datetime | None = None
    valid_until: datetime | None = None


class JsonWebKeySet(BaseModel):
    keys: list[JsonWebKey]
