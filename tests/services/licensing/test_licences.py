"""Licences are seen only by their buyer, admins and auditors; certificates verify offline."""

import base64
import json
import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from assent.protocol import VerificationError as SignatureInvalid
from assent.protocol import canonical_json, verify_envelope
from services.contracts.licensing import LICENCE_CERTIFICATE_TYPE, CertificateRead
from services.contracts.signing import Envelope, EnvelopeSignature, PublicKeyRead
from tests.services.catalogue.helpers import Actor
from tests.services.licensing.helpers import Api, make_quote, quote_line, top_up


async def _licence(api: Api, session: AsyncSession, buyer: Actor, price: int = 100) -> str:
    quote_id = await make_quote(session, buyer.id, [quote_line(price, [(uuid.uuid4(), 10_000)])])
    await top_up(session, buyer.id, price)
    return str((await api.bought(buyer, str(quote_id), str(quote_id)))["id"])


async def test_a_licence_is_seen_by_its_buyer_admins_and_auditors_only(
    api: Api,
    session: AsyncSession,
    lab: Actor,
    rival: Actor,
    ines: Actor,
    admin: Actor,
    auditor: Actor,
) -> None:
    licence_id = await _licence(api, session, lab)

    for actor in (lab, admin, auditor):
        assert (await api.ok(actor, "GET", f"/v1/licences/{licence_id}"))["id"] == licence_id
    for actor in (rival, ines):
        for path in (f"/v1/licences/{licence_id}", f"/v1/licences/{licence_id}/certificate"):
            assert await api.refused(actor, "GET", path) == (404, "NotFound")
        batch = await api.ok(actor, "GET", "/v1/licences/batch", params={"id": licence_id})
        assert batch == []
    assert await api.refused(lab, "GET", f"/v1/licences/{uuid.uuid4()}") == (404, "NotFound")


async def test_licences_are_listed_newest_first_and_read_in_batches(
    api: Api, session: AsyncSession, lab: Actor, rival: Actor, auditor: Actor
) -> None:
    mine = [await _licence(api, session, lab) for _ in range(3)]
    theirs = await _licence(api, session, rival)

    first = await api.ok(lab, "GET", "/v1/licences", params={"first": 2})
    rest = await api.ok(
        lab, "GET", "/v1/licences", params={"first": 2, "after": first["next_cursor"]}
    )
    everyone = await api.ok(auditor, "GET", "/v1/licences")
    batch = await api.ok(
        lab, "GET", "/v1/licences/batch", params=[("id", mine[2]), ("id", theirs), ("id", mine[0])]
    )

    assert [item["id"] for item in first["items"] + rest["items"]] == mine[::-1]
    assert rest["next_cursor"] is None
    assert [item["id"] for item in everyone["items"]] == [theirs, *mine[::-1]]
    assert [item["id"] for item in batch] == [mine[2], mine[0]]


async def test_a_certificate_verifies_with_the_published_key_and_names_the_licence(
    api: Api, session: AsyncSession, lab: Actor
) -> None:
    licence_id = await _licence(api, session, lab)
    licence = await api.ok(lab, "GET", f"/v1/licences/{licence_id}")

    read = CertificateRead.model_validate(
        await api.ok(lab, "GET", f"/v1/licences/{licence_id}/certificate")
    )
    keys = [PublicKeyRead.model_validate(k) for k in await api.ok(lab, "GET", "/v1/keys")]

    payload, key = verify_envelope(read.envelope, keys, payload_type=LICENCE_CERTIFICATE_TYPE)
    assert key.purpose == "licence-certificate"
    assert payload == canonical_json(read.certificate.model_dump(mode="json"))
    document = json.loads(payload)
    assert (document["licence_id"], document["buyer_id"], document["status"]) == (
        licence_id,
        lab.subject,
        "active",
    )
    assert [line["sha256"] for line in document["lines"]] == [
        line["sha256"] for line in licence["lines"]
    ]


async def test_a_tampered_certificate_fails_verification(
    api: Api, session: AsyncSession, lab: Actor, rival: Actor
) -> None:
    licence_id = await _licence(api, session, lab)
    read = CertificateRead.model_validate(
        await api.ok(lab, "GET", f"/v1/licences/{licence_id}/certificate")
    )
    keys = [PublicKeyRead.model_validate(k) for k in await api.ok(lab, "GET", "/v1/keys")]
    forged = json.loads(base64.b64decode(read.envelope.payload))
    forged["buyer_id"] = rival.subject
    tampered = read.envelope.model_copy(
        update={"payload": base64.b64encode(canonical_json(forged)).decode()}
    )
    retyped = Envelope(
        payload_type="application/json",
        payload=read.envelope.payload,
        signatures=read.envelope.signatures,
    )
    unsigned = read.envelope.model_copy(
        update={
            "signatures": [
                EnvelopeSignature(keyid=keys[0].key_id, sig=base64.b64encode(b"x" * 64).decode())
            ]
        }
    )

    for envelope in (tampered, unsigned):
        with pytest.raises(SignatureInvalid):
            verify_envelope(envelope, keys, payload_type=LICENCE_CERTIFICATE_TYPE)
    with pytest.raises(SignatureInvalid):
        verify_envelope(retyped, keys, payload_type=LICENCE_CERTIFICATE_TYPE)


async def test_a_refunded_licences_certificate_says_so(
    api: Api, session: AsyncSession, lab: Actor, admin: Actor
) -> None:
    licence_id = await _licence(api, session, lab)
    await api.ok(admin, "POST", f"/v1/licences/{licence_id}/refund", json={"reason": "fraud"})

    read = await api.ok(lab, "GET", f"/v1/licences/{licence_id}/certificate")

    assert read["certificate"]["status"] == "refunded"
