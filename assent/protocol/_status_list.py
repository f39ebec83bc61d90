"""A delivery's status list: its bitstring written and read as the W3C Bitstring Status
List specifies (GZIP, multibase base64url, bit 0 the left-most), and the signed list
checked offline.

Where it differs from the specification, and why: it is secured by the same DSSE
envelope and Ed25519 delivery key as the manifest it speaks of, not by a Data Integrity
proof or a JOSE/COSE envelope, so every reader that checks a manifest checks a status
list with the same published keys and no new machinery; and its `id` is a URN naming the
delivery, since the one service that signs it does not know the address it is read at.
"""

import base64
import gzip
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from services.contracts.signing import MANIFEST_KEY_PURPOSE, Envelope, PublicKeyRead
from services.contracts.status_list import (
    MIN_STATUS_BITS,
    STATUS_LIST_TYPE,
    StatusListCredential,
)

from ._documents import check_interval, first_error, signed_payload
from ._errors import VerificationError

KIND = "status list"
MULTIBASE_BASE64URL = "u"


def status_list_id(delivery_id: uuid.UUID) -> str:
    return f"urn:assent:status-list:{delivery_id}"


def encode_bits(set_bits: Collection[int], length: int) -> str:
    """The `encodedList` of a bitstring of at least the specification's length with the
    given positions set."""
    size = max(length, MIN_STATUS_BITS)
    bits = bytearray((size + 7) // 8)
    for index in set_bits:
        if not 0 <= index < size:
            raise ValueError(f"bit {index} is outside a list of {size}")
        bits[index // 8] |= 0x80 >> (index % 8)
    compressed = gzip.compress(bytes(bits), mtime=0)
    return MULTIBASE_BASE64URL + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode()


def decode_bits(encoded: str) -> bytes:
    if not encoded.startswith(MULTIBASE_BASE64URL):
        raise VerificationError("encodedList is not multibase base64url", kind=KIND)
    text = encoded[1:]
    try:
        return gzip.decompress(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, OSError, EOFError) as exc:
        raise VerificationError(f"encodedList does not decode: {exc}", kind=KIND) from exc


@dataclass(frozen=True)
class StatusList:
    """A verified list: which records of the delivery may no longer be used."""

    credential: StatusListCredential
    bits: bytes
    key: PublicKeyRead
    """The published key whose signature verified."""

    @property
    def delivery_id(self) -> uuid.UUID:
        return self.credential.credential_subject.delivery_id

    def revoked(self, index: int) -> bool:
        if not 0 <= index < len(self.bits) * 8:
            raise IndexError(f"record {index} is outside the list")
        return bool(self.bits[index // 8] & (0x80 >> (index % 8)))

    def revoked_indices(self) -> list[int]:
        count = self.credential.credential_subject.entry_count
        return [index for index in range(count) if self.revoked(index)]

    def stale(self, now: datetime) -> bool:
        return now >= self.credential.valid_until


def verify_status_list(envelope: Envelope, keys: Sequence[PublicKeyRead]) -> StatusList:
    """The list once its signature, its key's interval and its bitstring check out."""
    payload, key = signed_payload(
        envelope, keys, payload_type=STATUS_LIST_TYPE, purpose=MANIFEST_KEY_PURPOSE, kind=KIND
    )
    try:
        credential = StatusListCredential.model_validate_json(payload)
    except ValidationError as exc:
        raise VerificationError(f"credential: {first_error(exc)}", kind=KIND) from exc
    check_interval(key, credential.valid_from, kind=KIND)
    subject = credential.credential_subject
    if credential.id != status_list_id(subject.delivery_id):
        raise VerificationError("the credential's id does not name its delivery", kind=KIND)
    bits = decode_bits(subject.encoded_list)
    if len(bits) * 8 < max(MIN_STATUS_BITS, subject.entry_count):
        raise VerificationError("the bitstring is shorter than the list it claims", kind=KIND)
    return StatusList(credential=credential, bits=bits, key=key)
