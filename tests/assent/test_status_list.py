"""A delivery's status list, as the W3C Bitstring Status List writes its bits, and checked
offline: the specification's own example reads, bits land where the specification puts
them, and a list altered or signed with another key is refused."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from assent.protocol import (
    Signer,
    VerificationError,
    canonical_json,
    decode_bits,
    encode_bits,
    status_list_id,
    verify_status_list,
)
from assent.verify import verify_document
from services.contracts.signing import Envelope, PublicKeyRead
from services.contracts.status_list import (
    MIN_STATUS_BITS,
    STATUS_LIST_TYPE,
    BitstringStatusList,
    StatusListCredential,
    StatusListRead,
)

# The example list of the specification (131,072 bits, none set), as it prints it.
SPEC_EXAMPLE = "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA"


def test_the_specifications_example_reads_as_an_empty_list_of_its_least_length() -> None:
    bits = decode_bits(SPEC_EXAMPLE)

    assert len(bits) * 8 == MIN_STATUS_BITS
    assert not any(bits)


def test_bit_zero_is_the_left_most_bit_and_short_lists_grow_to_the_least_length() -> None:
    bits = decode_bits(encode_bits({0, 9, 130_000}, 12))

    assert len(bits) * 8 == MIN_STATUS_BITS
    assert (bits[0], bits[1], bits[130_000 // 8]) == (0x80, 0x40, 0x80 >> (130_000 % 8))
    assert sum(bin(byte).count("1") for byte in bits) == 3


def _signed(signer: Signer, revoked: set[int]) -> tuple[Envelope, uuid.UUID]:
    delivery_id = uuid.uuid4()
    now = datetime.now(UTC)
    credential = StatusListCredential(
        id=status_list_id(delivery_id),
        issuer="urn:assent:delivery",
        valid_from=now,
        valid_until=now + timedelta(minutes=5),
        credential_subject=BitstringStatusList(
            id=status_list_id(delivery_id) + "#list",
            encoded_list=encode_bits(revoked, 4),
            delivery_id=delivery_id,
            licence_id=uuid.uuid4(),
            entry_count=4,
        ),
    )
    return signer.sign(STATUS_LIST_TYPE, canonical_json(credential.model_dump(mode="json"))), (
        delivery_id
    )


def test_a_signed_list_verifies_with_the_published_key_and_nothing_else(
    manifest_signer: Signer, licence_signer: Signer
) -> None:
    published: list[PublicKeyRead] = [manifest_signer.published(), licence_signer.published()]
    envelope, delivery_id = _signed(manifest_signer, {2})

    verified = verify_status_list(envelope, published)

    assert verified.delivery_id == delivery_id
    assert verified.revoked_indices() == [2]
    assert not verified.stale(datetime.now(UTC))
    # Signed with the licence key (published, but for certificates): refused.
    forged, _ = _signed(licence_signer, set())
    with pytest.raises(VerificationError, match="status list"):
        verify_status_list(forged, published)
    # Any bit flipped after signing breaks the signature.
    altered = envelope.model_copy(update={"payload": envelope.payload[:-4] + "AAA="})
    with pytest.raises(VerificationError):
        verify_status_list(altered, published)


def test_assent_verify_reads_a_saved_status_list(manifest_signer: Signer) -> None:
    envelope, delivery_id = _signed(manifest_signer, {1, 3})
    saved = json.loads(StatusListRead(envelope=envelope).model_dump_json())

    verdict = verify_document(saved, [manifest_signer.published()])

    assert verdict.kind == "status list"
    assert ("no longer usable", "1, 3") in verdict.facts
    assert ("delivery", str(delivery_id)) in verdict.facts
