"""The manifest key rotates: manifests built before a rotation still verify, those built
after are signed by the new key, one signed by the retired key after its interval fails,
and each key reaches the audit log as `key.rotated` through the outbox."""

import asyncio
import base64
import json
from datetime import timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from assent.protocol import VerificationError, pae, verify_manifest
from services.contracts.delivery import IN_TOTO_PAYLOAD_TYPE
from services.contracts.events import Topic
from services.contracts.signing import Envelope, EnvelopeSignature, KeyRotated, PublicKeyRead
from services.delivery.app import record_configured_key
from services.delivery.builder import DeliveryBuilder
from services.delivery.manifest import ManifestSigner
from services.kit.keyring import ROTATION_DELAY
from tests.services.catalogue.helpers import Actor, Api
from tests.services.delivery.helpers import DeliveryApi, outbox_payloads
from tests.services.delivery.test_build import issued, listed_works


async def test_manifests_verify_with_the_key_of_their_time_across_a_rotation(
    app: FastAPI,
    delivery: DeliveryApi,
    builder: DeliveryBuilder,
    catalogue: Api,
    session: AsyncSession,
    ines: Actor,
    lab: Actor,
    admin: Actor,
) -> None:
    await record_configured_key(app)
    [first] = await delivery.keys(lab)
    _, before = await issued(delivery, builder, lab, await listed_works(catalogue, ines, 2))

    assert (await delivery.call(lab, "POST", "/v1/keys/rotate")).status_code == 403
    rotated = [
        PublicKeyRead.model_validate(key)
        for key in await delivery.ok(admin, "POST", "/v1/keys/rotate")
    ]
    old, new = rotated
    assert old.key_id == first.key_id
    assert old.valid_until is not None
    assert new.valid_from == old.valid_until
    await asyncio.sleep(ROTATION_DELAY.total_seconds())
    _, after = await issued(delivery, builder, lab, await listed_works(catalogue, ines, 1))

    old_envelope = await delivery.envelope(lab, before["id"])
    assert verify_manifest(old_envelope, rotated).key == old
    assert verify_manifest(await delivery.envelope(lab, after["id"]), rotated).key == new
    assert after["key_id"] == new.key_id

    # The retired key re-signs the old manifest dated after its interval: refused.
    statement = json.loads(base64.b64decode(old_envelope.payload))
    late = old.valid_until + timedelta(minutes=1)
    statement["predicate"]["header"]["issued_at"] = late.isoformat()
    payload = json.dumps(statement).encode()
    retired = ManifestSigner(app.state.keyring.signer(0))
    forged = Envelope(
        payload_type=IN_TOTO_PAYLOAD_TYPE,
        payload=base64.b64encode(payload).decode(),
        signatures=[
            EnvelopeSignature(
                keyid=old.key_id,
                sig=retired.sign_message(memoryview(pae(IN_TOTO_PAYLOAD_TYPE, payload))),
            )
        ],
    )
    with pytest.raises(VerificationError) as refusal:
        verify_manifest(forged, rotated)
    assert "after the key's interval ended" in str(refusal.value)
    assert old.valid_until.isoformat() in str(refusal.value)

    logged = [
        KeyRotated.model_validate(p) for p in await outbox_payloads(session, Topic.KEY_ROTATED)
    ]
    assert [(r.key_id, r.retired_key_id, r.valid_from) for r in logged] == [
        (old.key_id, None, None),
        (new.key_id, old.key_id, new.valid_from),
    ]
