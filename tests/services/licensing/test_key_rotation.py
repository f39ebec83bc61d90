"""The certificate key rotates: an admin rotates it, a new configured seed is a rotation
at start, every key is logged as `key.rotated`, and each key verifies only what it signed
inside its interval."""

import asyncio
import uuid
from datetime import timedelta

import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assent.protocol import VerificationError, canonical_json, generate_seed, verify_certificate
from services.contracts.events import Topic
from services.contracts.licensing import LICENCE_CERTIFICATE_TYPE, CertificateRead
from services.contracts.signing import CERTIFICATE_KEY_PURPOSE, KeyRotated, PublicKeyRead
from services.kit.keyring import ROTATION_DELAY, Keyring, emit_rotation
from services.kit.outbox import OutboxDelivery
from services.licensing.app import record_configured_key
from tests.services.catalogue.helpers import Actor
from tests.services.licensing.helpers import Api, make_quote, quote_line, top_up


async def _licence(api: Api, session: AsyncSession, buyer: Actor) -> str:
    quote_id = await make_quote(session, buyer.id, [quote_line(100, [(uuid.uuid4(), 10_000)])])
    await top_up(session, buyer.id, 100)
    return str((await api.bought(buyer, str(quote_id), str(quote_id)))["id"])


async def _keys(api: Api, actor: Actor) -> list[PublicKeyRead]:
    return [PublicKeyRead.model_validate(key) for key in await api.ok(actor, "GET", "/v1/keys")]


async def _certificate(api: Api, buyer: Actor, licence_id: str) -> CertificateRead:
    path = f"/v1/licences/{licence_id}/certificate"
    return CertificateRead.model_validate(await api.ok(buyer, "GET", path))


async def _rotations(session: AsyncSession) -> list[KeyRotated]:
    rows = await session.scalars(
        select(OutboxDelivery.payload)
        .where(OutboxDelivery.topic == Topic.KEY_ROTATED, OutboxDelivery.destination == "audit")
        .order_by(OutboxDelivery.id)
    )
    return [KeyRotated.model_validate(payload) for payload in rows]


async def test_an_admin_rotates_the_key_and_each_key_verifies_only_its_interval(
    app: FastAPI, api: Api, session: AsyncSession, lab: Actor, admin: Actor
) -> None:
    licence_id = await _licence(api, session, lab)
    await record_configured_key(app)
    before = await _certificate(api, lab, licence_id)
    [first] = await _keys(api, lab)
    assert (first.valid_from, first.valid_until) == (None, None)

    refused = await api.call(lab, "POST", "/v1/keys/rotate")
    assert refused.status_code == 403
    rotated = [
        PublicKeyRead.model_validate(k) for k in await api.ok(admin, "POST", "/v1/keys/rotate")
    ]

    old, new = rotated
    assert old.key_id == first.key_id
    assert new.key_id != first.key_id
    assert old.valid_until is not None
    assert old.valid_until == new.valid_from
    assert new.valid_until is None
    assert new.purpose == CERTIFICATE_KEY_PURPOSE
    assert await _keys(api, lab) == rotated
    # Signed before the rotation: still verifies with the whole history.
    _, key = verify_certificate(before.envelope, rotated, shown=before.certificate)
    assert key.key_id == first.key_id

    # The retired key signing after its interval ended: refused, and the interval named.
    retired = app.state.keyring.signer(0)
    late = before.certificate.model_copy(
        update={"issued_at": old.valid_until + timedelta(seconds=5)}
    )
    forged = retired.sign(LICENCE_CERTIFICATE_TYPE, canonical_json(late.model_dump(mode="json")))
    with pytest.raises(VerificationError) as refusal:
        verify_certificate(forged, rotated)
    message = str(refusal.value)
    assert f"key {old.key_id}" in message
    assert "after the key's interval ended" in message
    assert old.valid_until.isoformat() in message

    # Once the rotation is in force, certificates are signed by the new key.
    await asyncio.sleep(ROTATION_DELAY.total_seconds())
    after = await _certificate(api, lab, licence_id)
    _, key = verify_certificate(after.envelope, rotated, shown=after.certificate)
    assert key.key_id == new.key_id

    # The first key and the rotation, through the outbox to the audit log.
    assert await _rotations(session) == [
        KeyRotated(
            purpose=CERTIFICATE_KEY_PURPOSE,
            key_id=first.key_id,
            public_key=first.public_key,
            valid_from=None,
        ),
        KeyRotated(
            purpose=CERTIFICATE_KEY_PURPOSE,
            key_id=new.key_id,
            public_key=new.public_key,
            valid_from=new.valid_from,
            retired_key_id=first.key_id,
        ),
    ]


async def test_a_new_configured_seed_is_a_rotation_at_start_and_the_old_seed_cannot_return(
    app: FastAPI, api: Api, session: AsyncSession, lab: Actor
) -> None:
    licence_id = await _licence(api, session, lab)
    await record_configured_key(app)
    before = await _certificate(api, lab, licence_id)
    [first] = await _keys(api, lab)
    started_before = app.state.keyring

    # The service restarts with another seed.
    app.state.keyring = Keyring(
        SecretStr(generate_seed()),
        purpose=CERTIFICATE_KEY_PURPOSE,
        service="licensing",
        on_rotated=emit_rotation,
    )
    try:
        await record_configured_key(app)
        old, new = await _keys(api, lab)
        assert old.key_id == first.key_id
        assert old.valid_until == new.valid_from
        after = await _certificate(api, lab, licence_id)
        assert verify_certificate(after.envelope, [old, new])[1].key_id == new.key_id
        assert verify_certificate(before.envelope, [old, new])[1].key_id == first.key_id
        [*_, rotation] = await _rotations(session)
        assert (rotation.key_id, rotation.retired_key_id) == (new.key_id, first.key_id)

        # A process still configured with the replaced seed cannot sign any more.
        app.state.keyring = started_before
        refused = await api.call(lab, "GET", f"/v1/licences/{licence_id}/certificate")
        assert refused.status_code == 503
        assert "replaced" in refused.json()["detail"]
    finally:
        app.state.keyring = started_before
