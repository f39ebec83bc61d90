"""Training receipts: a lab's signed run is checked against its own licences and each
work's models cap, countersigned so it verifies offline, and logged; a run past a cap is
refused, and the refusal is logged too."""

import uuid
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from assent.protocol import (
    VerificationError,
    b64encode,
    key_id,
    sign_statement,
    verify_training_receipt,
)
from services.contracts.catalogue import Use
from services.contracts.licensing import (
    TrainingLicenceUse,
    TrainingRunRead,
    TrainingStatement,
)
from services.contracts.signing import PublicKeyRead
from services.kit.db import utcnow
from services.licensing.training.models import TrainingRecord, TrainingRun
from tests.services.catalogue.helpers import Actor, outbox_topics
from tests.services.licensing.helpers import Api, make_quote, quote_line, top_up


def _raw(key: Ed25519PrivateKey) -> str:
    return b64encode(key.public_key().public_bytes_raw())


async def _registered(api: Api, lab: Actor) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    await api.ok(lab, "POST", "/v1/training/keys", json={"public_key": _raw(key)})
    return key


async def _licence(
    api: Api, session: AsyncSession, lab: Actor, *, max_models: int | None = None, works: int = 2
) -> dict[str, Any]:
    creator = uuid.uuid4()
    quote_id = await make_quote(
        session,
        lab.id,
        [quote_line(100, [(creator, 10_000)], max_models=max_models) for _ in range(works)],
    )
    await top_up(session, lab.id, 100 * works)
    return await api.bought(lab, str(quote_id), key=str(quote_id))


def _signed(
    key: Ed25519PrivateKey,
    lab: Actor,
    licence: dict[str, Any],
    *,
    model: tuple[str, str] = ("Northwind-7B", "1.0"),
    works: list[str] | None = None,
    use: Use = Use.TRAINING,
    run_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    now = utcnow()
    statement = TrainingStatement(
        run_id=run_id or uuid.uuid4(),
        buyer_id=lab.id,
        model_name=model[0],
        model_version=model[1],
        declared_use=use,
        started_at=now - timedelta(days=2),
        ended_at=now - timedelta(days=1),
        licences=[
            TrainingLicenceUse(
                licence_id=licence["id"],
                work_ids=works or [line["work_id"] for line in licence["lines"]],
            )
        ],
    )
    key_id, signature = sign_statement(key, statement)
    return {
        "statement": statement.model_dump(mode="json"),
        "key_id": key_id,
        "signature": signature,
    }


async def _platform_keys(api: Api, lab: Actor) -> list[PublicKeyRead]:
    published = await api.ok(lab, "GET", "/v1/keys")
    return [PublicKeyRead.model_validate(key) for key in published]


async def _count(session: AsyncSession, model: type[Any]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_signed_run_is_countersigned_logged_and_verifies_offline(
    api: Api, session: AsyncSession, lab: Actor
) -> None:
    key = await _registered(api, lab)
    licence = await _licence(api, session, lab)
    body = _signed(key, lab, licence)

    recorded = TrainingRunRead.model_validate(
        await api.ok(lab, "POST", "/v1/training/runs", json=body)
    )

    assert (recorded.model_name, recorded.record_count) == ("Northwind-7B", 2)
    assert recorded.buyer_name == "Lab"
    verify_training_receipt(recorded, await _platform_keys(api, lab))
    assert (await outbox_topics(session))[-1] == "training.recorded"
    # The same run again is the same receipt, recorded once.
    again = await api.ok(lab, "POST", "/v1/training/runs", json=body)
    assert again["platform_signature"] == recorded.platform_signature
    assert await _count(session, TrainingRun) == 1
    listed = await api.ok(lab, "GET", "/v1/training/runs", params={"model": "Northwind-7B"})
    assert [run["id"] for run in listed] == [str(recorded.id)]
    # A receipt altered after the fact no longer verifies.
    forged = recorded.model_copy(update={"record_count": 1, "statement_sha256": "0" * 64})
    with pytest.raises(VerificationError, match="hash"):
        verify_training_receipt(forged, await _platform_keys(api, lab))


async def test_the_models_cap_refuses_a_new_model_and_logs_the_refusal(
    api: Api, session: AsyncSession, lab: Actor
) -> None:
    key = await _registered(api, lab)
    licence = await _licence(api, session, lab, max_models=1, works=1)
    await api.ok(lab, "POST", "/v1/training/runs", json=_signed(key, lab, licence))
    # The same model trained again on the work takes no second slot.
    await api.ok(lab, "POST", "/v1/training/runs", json=_signed(key, lab, licence))
    records_before = await _count(session, TrainingRecord)

    refused = await api.call(
        lab, "POST", "/v1/training/runs", json=_signed(key, lab, licence, model=("Other", "1"))
    )

    assert refused.status_code == 409, refused.text
    assert refused.json()["error"] == "ModelsCapReached"
    assert "at most 1 models" in refused.json()["detail"]
    assert await _count(session, TrainingRecord) == records_before
    assert (await outbox_topics(session))[-1] == "training.refused"
    # A new version of the same model is a new model to the cap.
    version = _signed(key, lab, licence, model=("Northwind-7B", "2.0"))
    assert (await api.refused(lab, "POST", "/v1/training/runs", json=version))[0] == 409


async def test_a_run_must_name_the_labs_own_usable_licences_and_records(
    api: Api, session: AsyncSession, lab: Actor, rival: Actor, admin: Actor
) -> None:
    key = await _registered(api, lab)
    rival_key = await _registered(api, rival)
    licence = await _licence(api, session, lab)
    theirs = await _licence(api, session, rival)
    outbox_before = len(await outbox_topics(session))

    not_ours = _signed(key, lab, theirs)
    stranger = _signed(key, lab, licence, works=[str(uuid.uuid4())])
    wrong_use = _signed(key, lab, licence, use=Use.RETRIEVAL)
    other_key = _signed(rival_key, lab, licence)
    tampered = _signed(key, lab, licence)
    tampered["statement"]["model_name"] = "Something else"
    assert await api.refused(lab, "POST", "/v1/training/runs", json=not_ours) == (404, "NotFound")
    assert (await api.refused(lab, "POST", "/v1/training/runs", json=stranger))[0] == 400
    assert (await api.refused(lab, "POST", "/v1/training/runs", json=wrong_use))[0] == 400
    for forged in (other_key, tampered):
        refused = await api.refused(lab, "POST", "/v1/training/runs", json=forged)
        assert refused == (403, "TrainingKeyRejected")
    await api.ok(lab, "POST", f"/v1/training/keys/{key_id(key.public_key())}/revoke")
    revoked = await api.refused(lab, "POST", "/v1/training/runs", json=_signed(key, lab, licence))
    assert revoked == (403, "TrainingKeyRejected")
    assert await _count(session, TrainingRun) == 0
    assert len(await outbox_topics(session)) == outbox_before

    fresh = await _registered(api, lab)
    await api.ok(admin, "POST", f"/v1/licences/{licence['id']}/revoke", json={"reason": "breach"})
    gone = await api.refused(lab, "POST", "/v1/training/runs", json=_signed(fresh, lab, licence))
    assert gone == (409, "LicenceNotUsable")


async def test_a_creator_sees_which_lab_trained_which_model_on_their_work(
    api: Api, session: AsyncSession, lab: Actor, ines: Actor, omar: Actor
) -> None:
    key = await _registered(api, lab)
    work_id = uuid.uuid4()
    quote_id = await make_quote(
        session, lab.id, [quote_line(100, [(ines.id, 10_000)], work_id=work_id)]
    )
    await top_up(session, lab.id, 100)
    licence = await api.bought(lab, str(quote_id))
    await api.ok(lab, "POST", "/v1/training/runs", json=_signed(key, lab, licence))

    params = {"work_id": str(work_id)}
    [seen] = await api.ok(ines, "GET", "/v1/training/by-work", params=params)
    assert (seen["lab_name"], seen["model_name"], seen["model_version"]) == (
        "Lab",
        "Northwind-7B",
        "1.0",
    )
    assert await api.ok(omar, "GET", "/v1/training/by-work", params=params) == []
