"""Signed documents (DSSE envelopes) and the public keys that verify them."""

from pydantic import BaseModel, ConfigDict, Field

WELL_KNOWN_KEYS_PATH = "/.well-known/assent-keys.json"
"""Where the gateway publishes every signing key of the marketplace."""

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


class PublicKeyRead(BaseModel):
    model_config = ConfigDict(frozen=True)

    key_id: str
    algorithm: str = "ed25519"
    purpose: str = Field(description="licence-certificate, delivery-manifest or audit-checkpoint")
    public_key: str = Field(description="base64 of the raw 32-byte Ed25519 public key")


class PublishedKeys(BaseModel):
    keys: list[PublicKeyRead]
