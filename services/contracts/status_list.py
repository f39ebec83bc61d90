"""A delivery's live status as a signed document, in the shape of a W3C Bitstring Status
List credential (https://www.w3.org/TR/vc-bitstring-status-list/): one bit per record of
the manifest, at the record's position in it, set once the record may no longer be used.
"""

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from services.contracts.signing import Envelope

STATUS_LIST_TYPE = "application/vnd.assent.status-list+json"
"""The DSSE payload type of a signed status list."""
MIN_STATUS_BITS = 131_072
"""The specification's least length (16 KiB), so a list says little of how many records
it covers; compressed, the unused bits cost a few hundred bytes."""
CREDENTIALS_CONTEXT = "https://www.w3.org/ns/credentials/v2"


class _Document(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, serialize_by_alias=True)


class BitstringStatusList(_Document):
    id: str
    type: Literal["BitstringStatusList"] = "BitstringStatusList"
    status_purpose: Literal["revocation"] = Field(default="revocation", alias="statusPurpose")
    encoded_list: str = Field(
        alias="encodedList",
        description="multibase base64url (no padding, `u` prefix) of the GZIP-compressed "
        "bitstring; bit 0 is the left-most bit of the first byte",
    )
    delivery_id: UUID = Field(alias="deliveryId")
    licence_id: UUID = Field(alias="licenceId")
    entry_count: int = Field(alias="entryCount", description="the manifest's records")


class StatusListCredential(_Document):
    context: list[str] = Field(default=[CREDENTIALS_CONTEXT], alias="@context")
    id: str
    type: list[str] = Field(default=["VerifiableCredential", "BitstringStatusListCredential"])
    issuer: str
    valid_from: datetime = Field(alias="validFrom")
    valid_until: datetime = Field(
        alias="validUntil", description="fetch it again after this; a list past it is stale"
    )
    credential_subject: BitstringStatusList = Field(alias="credentialSubject")


class StatusListRead(BaseModel):
    envelope: Envelope
