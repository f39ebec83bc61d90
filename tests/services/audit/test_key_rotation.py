"""The checkpoint key rotates: its first key and each rotation are entries of the log
itself, checkpoints signed before a rotation still verify, one signed by the retired key
after its interval does not, and every chain export carries the keys, proven."""

import asyncio
import uuid
from datetime import timedelta

import pytest
from fastapi import FastAPI

from assent.protocol import (
    LoggedEvent,
    VerificationError,
    canonical_json,
    key_problems,
    verify_checkpoint,
)
from services.audit.app import record_configured_key
from services.audit.sequencer import Sequencer
from services.contracts.audit import CHECKPOINT_PAYLOAD_TYPE, ChainStep
from services.contracts.events import Topic
from services.contracts.signing import CHECKPOINT_KEY_PURPOSE, KeyRotated, PublicKeyRead
from services.kit.keyring import ROTATION_DELAY
from tests.services.audit.helpers import AuditApi, consent
from tests.services.catalogue.helpers import Actor


async def test_rotating_the_checkpoint_key_is_logged_and_each_key_verifies_its_interval(
    app: FastAPI,
    audit: AuditApi,
    sequencer: Sequencer,
    admin: Actor,
    auditor: Actor,
    ines: Actor,
) -> None:
    work = uuid.uuid4()
    await record_configured_key(app)
    await audit.post(consent(work, ines))
    await sequencer.run_once()
    before = (await audit.checkpoint(auditor)).checkpoint
    [first] = await audit.keys(auditor)

    assert (await audit.call(auditor, "POST", "/v1/keys/rotate")).status_code == 403
    rotated = [
        PublicKeyRead.model_validate(key)
        for key in await audit.ok(admin, "POST", "/v1/keys/rotate")
    ]
    old, new = rotated
    assert old.key_id == first.key_id
    assert old.valid_until is not None
    assert new.valid_from == old.valid_until
    assert await audit.keys(auditor) == rotated

    await asyncio.sleep(ROTATION_DELAY.total_seconds())
    await audit.post(consent(work, ines))
    await sequencer.run_once()
    after = (await audit.checkpoint(auditor)).checkpoint

    # Before the rotation: the old key; after it: the new one; both verify.
    assert verify_checkpoint(before.envelope, rotated, shown=before.checkpoint)[1] == old
    assert verify_checkpoint(after.envelope, rotated, shown=after.checkpoint)[1] == new

    # The retired key signing after its interval: refused, naming the interval.
    late = after.checkpoint.model_copy(update={"issued_at": old.valid_until + timedelta(1)})
    forged = app.state.keyring.signer(0).sign(
        CHECKPOINT_PAYLOAD_TYPE, canonical_json(late.model_dump(mode="json"))
    )
    with pytest.raises(VerificationError) as refusal:
        verify_checkpoint(forged, rotated)
    assert (
        f"after the key's interval ended (from its purpose's first signature until "
        f"{old.valid_until.isoformat()})" in str(refusal.value)
    )

    # The log holds both keys' entries, and a chain export carries them, proven.
    chain = await audit.work_chain(auditor, work)
    key_entries = [entry for entry in chain.entries if entry.step == ChainStep.KEY]
    logged = [
        KeyRotated.model_validate(LoggedEvent.model_validate_json(entry.entry or "").payload)
        for entry in key_entries
    ]
    assert [(r.key_id, r.retired_key_id) for r in logged] == [
        (old.key_id, None),
        (new.key_id, old.key_id),
    ]
    assert all(entry.topic == Topic.KEY_ROTATED for entry in key_entries)
    assert [key.purpose for key in chain.keys] == [CHECKPOINT_KEY_PURPOSE] * 2
    assert chain.keys == rotated
    assert key_problems(chain.keys, logged) == []
    # An export whose carried keys were swapped for others fails.
    assert key_problems(chain.keys[:1], logged) == [
        f"keys: key {new.key_id} ({CHECKPOINT_KEY_PURPOSE}) is logged but not carried"
    ]
