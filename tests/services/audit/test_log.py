"""The log as an auditor checks it: every event once, in order, under signed checkpoints
whose roots are those of the stored entries, published to the object store."""

import json
import uuid
from datetime import timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from assent.protocol import (
    HEADS_TOPIC,
    canonical_json,
    root_of,
    verify_envelope,
    verify_inclusion,
)
from services.audit.app import create_app, sequencer_runtime
from services.audit.models import LogEntry, PendingEntry, SignedCheckpoint
from services.audit.sequencer import Sequencer
from services.contracts.audit import (
    CHECKPOINT_PAYLOAD_TYPE,
    ConsistencyProof,
    InclusionProof,
)
from services.contracts.events import AccountRegistered, Topic
from services.contracts.signing import CHECKPOINT_KEY_PURPOSE, Envelope
from storage import ObjectStore
from storage.keys import checkpoint_key
from storage.object_store import StorageUnavailable
from tests.services.audit.conftest import audit_settings
from tests.services.audit.helpers import (
    AuditApi,
    consent,
    envelope_of,
    logged_leaf,
    offer,
    tree_size,
    verified_checkpoint,
    verify_extends,
)
from tests.services.catalogue.helpers import Actor


async def _logged(session: AsyncSession, start: int = 0) -> list[LogEntry]:
    statement = select(LogEntry).where(LogEntry.leaf_index >= start).order_by(LogEntry.leaf_index)
    return list((await session.scalars(statement)).all())


async def test_an_event_delivered_twice_is_logged_once(
    audit: AuditApi, sequencer: Sequencer, session: AsyncSession, ines: Actor
) -> None:
    event = consent(uuid.uuid4(), ines)

    assert await audit.post(event, event) == [False, True]
    done = await sequencer.run_once()

    assert done.sequenced == 1
    rows = await session.scalars(
        select(LogEntry).where(LogEntry.event_id == uuid.UUID(event["id"]))
    )
    assert len(rows.all()) == 1
    assert await audit.post(event) == [True]
    assert (await sequencer.run_once()).sequenced == 0


async def test_entries_take_contiguous_places_in_arrival_order_under_a_signed_root(
    audit: AuditApi,
    sequencer: Sequencer,
    session: AsyncSession,
    object_store: ObjectStore,
    auditor: Actor,
    ines: Actor,
) -> None:
    base = await tree_size(session)
    events = [consent(uuid.uuid4(), ines) for _ in range(5)]
    await audit.post(*events)
    # Stored as pending only: nothing has a place in the log until the sequencer runs.
    assert await tree_size(session) == base

    done = await sequencer.run_once()

    # The five entries, then the heads leaf that ends the checkpoint.
    assert (done.sequenced, done.signed, done.published) == (5, [base + 6], [base + 6])
    logged = await _logged(session)
    assert [entry.leaf_index for entry in logged] == list(range(base + 6))
    assert [str(entry.event_id) for entry in logged[base:-1]] == [event["id"] for event in events]
    # The logged bytes are the canonical JSON of the envelope exactly as it was sent.
    assert [entry.entry for entry in logged[base:-1]] == [canonical_json(event) for event in events]
    assert logged[-1].topic == HEADS_TOPIC
    assert (await session.scalars(select(PendingEntry))).all() == []

    keys = await audit.keys(auditor)
    assert [key.purpose for key in keys] == [CHECKPOINT_KEY_PURPOSE]
    read = await audit.checkpoint(auditor)
    checkpoint = verified_checkpoint(read.checkpoint, keys)
    assert checkpoint.tree_size == base + 6
    assert checkpoint.root_hash == root_of([logged_leaf(entry) for entry in logged]).hex()
    assert read.consistency is None

    assert read.checkpoint.object_key == checkpoint_key(base + 6)
    published = Envelope.model_validate_json(await object_store.get(read.checkpoint.object_key))
    assert published == read.checkpoint.envelope
    payload, _key = verify_envelope(published, keys, payload_type=CHECKPOINT_PAYLOAD_TYPE)
    assert json.loads(payload)["root_hash"] == checkpoint.root_hash


async def test_every_entry_has_an_inclusion_proof_and_checkpoints_extend_each_other(
    audit: AuditApi, sequencer: Sequencer, session: AsyncSession, auditor: Actor, ines: Actor
) -> None:
    keys = await audit.keys(auditor)
    base = await tree_size(session)
    await audit.post(*(consent(uuid.uuid4(), ines) for _ in range(3)))
    await sequencer.run_once()
    first = verified_checkpoint((await audit.checkpoint(auditor)).checkpoint, keys)
    await audit.post(*(consent(uuid.uuid4(), ines) for _ in range(6)))
    await sequencer.run_once()

    read = await audit.checkpoint(auditor, consistent_with=first.tree_size)
    second = verified_checkpoint(read.checkpoint, keys)
    assert second.tree_size == first.tree_size + 6 + 1  # and its heads leaf
    assert read.consistency is not None
    verify_extends(first, second, read.consistency.hashes)
    between = ConsistencyProof.model_validate(
        await audit.ok(
            auditor,
            "GET",
            "/v1/proofs/consistency",
            params={"from_size": first.tree_size, "to_size": second.tree_size},
        )
    )
    assert between == read.consistency
    again = await audit.checkpoint(auditor, tree_size=first.tree_size)
    assert verified_checkpoint(again.checkpoint, keys) == first

    for entry in await _logged(session, base):
        for checkpoint in (first, second):
            if entry.leaf_index >= checkpoint.tree_size:
                continue
            proof = InclusionProof.model_validate(
                await audit.ok(
                    auditor,
                    "GET",
                    "/v1/proofs/inclusion",
                    params={"leaf_index": entry.leaf_index, "tree_size": checkpoint.tree_size},
                )
            )
            verify_inclusion(
                logged_leaf(entry),
                entry.leaf_index,
                checkpoint.tree_size,
                [bytes.fromhex(digest) for digest in proof.hashes],
                bytes.fromhex(checkpoint.root_hash),
            )


async def test_batches_are_sequenced_in_order_and_a_checkpoint_waits_for_its_interval(
    app: FastAPI, audit: AuditApi, sequencer: Sequencer, session: AsyncSession, ines: Actor
) -> None:
    await audit.post(consent(uuid.uuid4(), ines))
    await sequencer.run_once()
    base = await tree_size(session)
    small_batches = Sequencer(
        lambda: sequencer_runtime(app.state),
        batch_size=2,
        poll_seconds=1,
        checkpoint_interval=timedelta(0),
    )
    hourly = Sequencer(
        lambda: sequencer_runtime(app.state),
        batch_size=1_000,
        poll_seconds=1,
        checkpoint_interval=timedelta(hours=1),
    )

    events = [consent(uuid.uuid4(), ines) for _ in range(5)]
    await audit.post(*events)
    done = await small_batches.run_once()

    # One transaction per batch, each signing the head it reached with its heads leaf.
    assert done.sequenced == 5
    assert done.signed == [base + 3, base + 6, base + 8]
    logged = await _logged(session, base)
    assert [str(entry.event_id) for entry in logged if entry.topic != HEADS_TOPIC] == [
        event["id"] for event in events
    ]

    await audit.post(consent(uuid.uuid4(), ines))
    early = await hourly.run_once()
    assert (early.sequenced, early.signed) == (1, [])
    latest = await session.get(SignedCheckpoint, base + 8)
    assert latest is not None
    assert early.checkpoint_due_at == latest.issued_at + timedelta(hours=1)

    # Nothing new, nothing signed: one size never gets a second root.
    assert (await small_batches.run_once()).signed == [base + 10]
    assert (await small_batches.run_once()).signed == []


async def test_a_checkpoint_the_store_refused_is_published_on_a_later_pass(
    audit: AuditApi,
    sequencer: Sequencer,
    session: AsyncSession,
    object_store: ObjectStore,
    monkeypatch: pytest.MonkeyPatch,
    ines: Actor,
) -> None:
    async def store_down(*_args: object, **_kwargs: object) -> None:
        raise StorageUnavailable("the store is down")

    with monkeypatch.context() as patched:
        patched.setattr(object_store, "put", store_down)
        await audit.post(consent(uuid.uuid4(), ines))
        done = await sequencer.run_once()

    assert done.published == []
    (size,) = done.signed
    unpublished = await session.get(SignedCheckpoint, size, populate_existing=True)
    assert unpublished is not None
    assert unpublished.published_at is None

    assert (await sequencer.run_once()).published == [size]
    published = await session.get(SignedCheckpoint, size, populate_existing=True)
    assert published is not None
    assert published.published_at is not None
    assert Envelope.model_validate_json(await object_store.get(checkpoint_key(size))) == (
        Envelope.model_validate(published.envelope)
    )


async def test_an_event_that_does_not_match_its_contract_is_logged_in_no_chain(
    audit: AuditApi, sequencer: Sequencer, session: AsyncSession, auditor: Actor, lab: Actor
) -> None:
    # Refusing it would stall every later event of its sender behind it.
    odd = envelope_of(
        Topic.CONSENT_GIVEN, AccountRegistered(account_id=lab.id, name="Lab", roles=["buyer"])
    )
    await audit.post(odd)
    await sequencer.run_once()

    logged = await session.scalar(select(LogEntry).where(LogEntry.event_id == uuid.UUID(odd["id"])))
    assert logged is not None
    assert logged.entry == canonical_json(odd)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/checkpoint", {"tree_size": "{size_plus_one}"}),
        ("/v1/checkpoint", {"tree_size": "0"}),
        ("/v1/checkpoint", {"tree_size": "-1"}),
        ("/v1/checkpoint", {"tree_size": str(10**30)}),
        ("/v1/checkpoint", {"tree_size": "{unsigned}"}),
        ("/v1/checkpoint", {"consistent_with": "{size_plus_one}"}),
        ("/v1/checkpoint", {"consistent_with": "-1"}),
        ("/v1/proofs/inclusion", {"leaf_index": "{size}"}),
        ("/v1/proofs/inclusion", {"leaf_index": "-1"}),
        ("/v1/proofs/inclusion", {"leaf_index": "0", "tree_size": "{size_plus_one}"}),
        ("/v1/proofs/inclusion", {"leaf_index": "0", "tree_size": "0"}),
        ("/v1/proofs/inclusion", {"leaf_index": "abc"}),
        ("/v1/proofs/inclusion", {}),
        ("/v1/proofs/consistency", {"from_size": "{size_plus_one}"}),
        ("/v1/proofs/consistency", {"from_size": "0", "to_size": "{size_plus_one}"}),
        ("/v1/proofs/consistency", {"from_size": "2", "to_size": "1"}),
        ("/v1/proofs/consistency", {"from_size": "-1"}),
        ("/v1/chains/works/{work}", {"tree_size": "{unsigned}"}),
        ("/v1/chains/works/{work}", {"consistent_with": "{size_plus_one}"}),
        ("/v1/chains/works/{work}", {"tree_size": str(-(10**30))}),
    ],
)
async def test_bad_sizes_are_refused_as_bad_requests(
    audit: AuditApi,
    sequencer: Sequencer,
    session: AsyncSession,
    auditor: Actor,
    ines: Actor,
    path: str,
    params: dict[str, str],
) -> None:
    work = uuid.uuid4()
    await audit.post(consent(work, ines), consent(work, ines), offer(work))
    await sequencer.run_once()
    size = await tree_size(session)
    values = {"size": size, "size_plus_one": size + 1, "unsigned": size - 1, "work": work}

    status, error = await audit.refused(
        auditor,
        "GET",
        path.format(**values),
        params={name: value.format(**values) for name, value in params.items()},
    )

    assert (status, error) in {(400, "InvalidRequest"), (422, "ValidationFailed")}


async def test_before_the_first_checkpoint_there_is_nothing_to_prove(
    audit: AuditApi, session: AsyncSession, auditor: Actor
) -> None:
    await session.execute(delete(SignedCheckpoint))

    assert await audit.refused(auditor, "GET", "/v1/checkpoint") == (404, "NoCheckpoint")
    assert await audit.refused(
        auditor, "GET", "/v1/proofs/inclusion", params={"leaf_index": 0}
    ) == (404, "NoCheckpoint")


async def test_proofs_and_keys_need_an_authenticated_caller(audit: AuditApi) -> None:
    for path in ("/v1/checkpoint", "/v1/keys", "/v1/proofs/consistency?from_size=0"):
        response = await audit.http.get(path)
        assert response.status_code == 401, path


def test_the_app_refuses_to_start_without_a_signing_key(migrated_postgres: str) -> None:
    with pytest.raises(ValueError, match="ASSENT_AUDIT_SIGNING_KEY"):
        create_app(audit_settings(migrated_postgres, signing_key=""))
