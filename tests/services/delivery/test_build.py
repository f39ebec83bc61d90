"""A licence granted becomes a delivery of every line sold, whatever the catalogue shows
by then: signed, watermarked for its buyer, stored, and announced to licensing and the
audit log."""

import base64
import hashlib
import json
import os
import uuid
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from assent.protocol import Signer, generate_seed, verify_envelope
from assent.protocol import VerificationError as SignatureInvalid
from services.contracts.catalogue import Use
from services.contracts.delivery import (
    IN_TOTO_PAYLOAD_TYPE,
    IN_TOTO_STATEMENT_TYPE,
    MANIFEST_PREDICATE_TYPE,
    ManifestHeader,
)
from services.contracts.events import Topic
from services.contracts.signing import Envelope
from services.delivery.builder import DeliveryBuilder
from services.delivery.models import Delivery, Licence
from storage import ObjectStore
from storage.object_store import StorageUnavailable
from tests.services.catalogue.helpers import (
    WITHDRAWAL,
    Actor,
    Api,
    consent_payload,
    put_single,
    sha256,
)
from tests.services.delivery.helpers import (
    DeliveryApi,
    commitment,
    licence_granted,
    licence_line,
    outbox_payloads,
)

USES = (Use.TRAINING, Use.FINE_TUNING)


async def listed_works(catalogue: Api, creator: Actor, count: int) -> list[dict[str, Any]]:
    return [
        await catalogue.listed_work(
            creator, os.urandom(2_000 + index), *USES, file_name=f"study-{index}.png"
        )
        for index in range(count)
    ]


async def issued(
    delivery: DeliveryApi, builder: DeliveryBuilder, buyer: Actor, works: list[dict[str, Any]]
) -> tuple[uuid.UUID, dict[str, Any]]:
    """Grant `works` to `buyer`, build, and return the licence id and its delivery."""
    granted = licence_granted(buyer, [licence_line(work) for work in works], uses=USES)
    await delivery.grant(granted)
    await builder.build_pending()
    return granted.licence_id, await delivery.delivery_of(buyer, granted.licence_id)


async def test_a_grant_is_built_into_a_signed_manifest_of_the_licensed_files(
    delivery: DeliveryApi,
    builder: DeliveryBuilder,
    catalogue: Api,
    ines: Actor,
    lab: Actor,
    session: AsyncSession,
    object_store: ObjectStore,
) -> None:
    works = await listed_works(catalogue, ines, 3)
    granted = licence_granted(lab, [licence_line(work) for work in works], uses=USES)
    await delivery.grant(granted)
    building = await delivery.delivery_of(lab, granted.licence_id)
    assert building["status"] == "building"
    assert building["manifest_sha256"] is None

    assert await builder.build_pending() == [uuid.UUID(building["id"])]

    read = await delivery.delivery_of(lab, granted.licence_id)
    keys = await delivery.keys(lab)
    assert read["status"] == "issued"
    assert read["entry_count"] == 3
    assert read["excluded"] == []
    assert [read["key_id"]] == [key.key_id for key in keys]
    assert keys[0].purpose == "delivery-manifest"

    # The manifest verifies with nothing but the published key.
    statement = await delivery.statement(lab, read["id"])
    assert statement["_type"] == IN_TOTO_STATEMENT_TYPE
    assert statement["predicateType"] == MANIFEST_PREDICATE_TYPE
    header = ManifestHeader.model_validate(statement["predicate"]["header"])
    assert header.delivery_id == uuid.UUID(read["id"])
    assert header.licence_id == granted.licence_id
    assert header.buyer_name == "Northwind Lab"
    assert header.entry_count == 3
    assert header.key_id == keys[0].key_id
    assert header.terms_ids == sorted({work["offer"]["terms_id"] for work in works})

    # Its subjects are exactly the files: the licensed versions, with their digests.
    entries = statement["predicate"]["entries"]
    files = {
        (work["id"], work["current_version"]["id"], work["current_version"]["sha256"])
        for work in works
    }
    assert {(e["work_id"], e["version_id"], e["sha256"]) for e in entries} == files
    assert {(s["name"], s["digest"]["sha256"]) for s in statement["subject"]} == {
        (e["path"], e["sha256"]) for e in entries
    }
    for entry in entries:
        assert entry["path"] == f"/downloads/{read['id']}/{entry['fingerprint']}"
        assert entry["attribution"] == "Ines Creator"

    # The files page lists the same entries, in manifest order.
    page = await delivery.files(lab, read["id"])
    assert page == {"items": entries, "next_cursor": None}

    # What is stored is what the delivery records, and the event commits to the watermark.
    [event] = await outbox_payloads(session, Topic.DELIVERY_ISSUED)
    assert event["delivery_id"] == read["id"]
    assert event["status"] == "issued"
    assert event["manifest_key"].startswith(f"deliveries/{read['id']}/")
    stored = await object_store.get(event["manifest_key"])
    assert hashlib.sha256(stored).hexdigest() == read["manifest_sha256"]
    assert event["manifest_sha256"] == read["manifest_sha256"]
    assert event["excluded"] == []
    fingerprints = [entry["fingerprint"] for entry in entries]
    assert event["watermark_commitment"] == commitment(str(granted.licence_id), fingerprints)


async def test_lines_granted_before_a_withdrawal_or_consent_change_are_all_delivered(
    delivery: DeliveryApi,
    builder: DeliveryBuilder,
    catalogue: Api,
    ines: Actor,
    lab: Actor,
    session: AsyncSession,
) -> None:
    works = await listed_works(catalogue, ines, 4)
    _, withdrawn, unconsented, narrowed = works
    granted = licence_granted(lab, [licence_line(work) for work in works], uses=USES)
    await delivery.grant(granted)

    # Between the sale and the build: one work withdrawn, one consent withdrawn, one
    # consent narrowed to training only (the licence is for fine-tuning too).
    await catalogue.ok(ines, "POST", f"/v1/works/{withdrawn['id']}/withdraw")
    await catalogue.ok(
        ines,
        "POST",
        f"/v1/works/{unconsented['id']}/consents/withdraw",
        json=WITHDRAWAL.model_dump(mode="json"),
    )
    await catalogue.ok(
        ines,
        "POST",
        f"/v1/works/{narrowed['id']}/consents",
        json=consent_payload(Use.TRAINING),
        status=201,
    )
    await builder.build_pending()

    # Licensing sold them before the changes committed: each is delivered on its terms.
    read = await delivery.delivery_of(lab, granted.licence_id)
    assert (read["status"], read["entry_count"], read["excluded"]) == ("issued", 4, [])
    statement = await delivery.statement(lab, read["id"])
    entries = statement["predicate"]["entries"]
    assert {(e["work_id"], e["version_id"], e["terms_id"]) for e in entries} == {
        (work["id"], work["current_version"]["id"], work["offer"]["terms_id"]) for work in works
    }
    # Licensing refunds what the event leaves out: here, nothing.
    [event] = await outbox_payloads(session, Topic.DELIVERY_ISSUED)
    assert (event["excluded"], event["entry_count"]) == ([], 4)


async def test_a_line_whose_file_is_missing_from_the_store_is_left_out_with_the_reason(
    delivery: DeliveryApi,
    builder: DeliveryBuilder,
    catalogue: Api,
    ines: Actor,
    lab: Actor,
    session: AsyncSession,
) -> None:
    [kept] = await listed_works(catalogue, ines, 1)
    lost = licence_line(kept).model_copy(update={"work_id": uuid.uuid4()})
    granted = licence_granted(lab, [licence_line(kept), lost], uses=USES)
    await delivery.grant(granted)
    await builder.build_pending()

    read = await delivery.delivery_of(lab, granted.licence_id)
    assert (read["status"], read["entry_count"]) == ("issued", 1)
    assert read["excluded"] == [
        {
            "work_id": str(lost.work_id),
            "reason": "not_found",
            "detail": "the file of the version sold is missing from the object store",
        }
    ]
    statement = await delivery.statement(lab, read["id"])
    assert [e["work_id"] for e in statement["predicate"]["entries"]] == [kept["id"]]
    [event] = await outbox_payloads(session, Topic.DELIVERY_ISSUED)
    assert event["excluded"] == read["excluded"]


async def test_a_delivery_whose_every_file_is_missing_is_empty_and_has_no_manifest(
    delivery: DeliveryApi,
    builder: DeliveryBuilder,
    catalogue: Api,
    ines: Actor,
    lab: Actor,
    session: AsyncSession,
) -> None:
    [work] = await listed_works(catalogue, ines, 1)
    lost = licence_line(work).model_copy(update={"version_id": uuid.uuid4()})
    granted = licence_granted(lab, [lost], uses=USES)
    await delivery.grant(granted)
    await builder.build_pending()

    read = await delivery.delivery_of(lab, granted.licence_id)
    assert read["status"] == "empty"
    assert read["manifest_sha256"] is None
    assert [item["reason"] for item in read["excluded"]] == ["not_found"]
    assert await delivery.refused(lab, "GET", f"/v1/deliveries/{read['id']}/manifest") == (
        409,
        "DeliveryEmpty",
    )
    assert await delivery.files(lab, read["id"]) == {"items": [], "next_cursor": None}
    [event] = await outbox_payloads(session, Topic.DELIVERY_ISSUED)
    assert (event["status"], event["manifest_key"], event["entry_count"]) == ("empty", None, 0)


async def test_the_version_sold_is_delivered_even_after_the_creator_replaces_the_file(
    delivery: DeliveryApi, builder: DeliveryBuilder, catalogue: Api, ines: Actor, lab: Actor
) -> None:
    sold = os.urandom(3_000)
    work = await catalogue.listed_work(ines, sold, *USES)
    granted = licence_granted(lab, [licence_line(work)], uses=USES)
    await delivery.grant(granted)
    newer = os.urandom(3_100)
    target = await catalogue.ok(
        ines,
        "POST",
        f"/v1/works/{work['id']}/versions",
        json={"file_name": "v2.png", "size": len(newer), "sha256": sha256(newer)},
    )
    await put_single(target, newer)
    assert (await catalogue.complete(ines, work["id"]))["completed"]
    await builder.build_pending()

    read = await delivery.delivery_of(lab, granted.licence_id)
    [entry] = (await delivery.files(lab, read["id"]))["items"]
    assert entry["version_id"] == work["current_version"]["id"] != target["version_id"]
    link = await delivery.entitled_link(lab, read["id"], entry["fingerprint"])
    async with httpx.AsyncClient() as http:
        assert (await http.get(link["url"])).content == sold


async def test_a_redelivered_grant_makes_no_second_delivery(
    delivery: DeliveryApi,
    builder: DeliveryBuilder,
    catalogue: Api,
    ines: Actor,
    lab: Actor,
    session: AsyncSession,
) -> None:
    [work] = await listed_works(catalogue, ines, 1)
    granted = licence_granted(lab, [licence_line(work)], uses=USES)
    event_id = uuid.uuid4()
    first = await delivery.event(Topic.LICENCE_GRANTED, granted, event_id=event_id)
    again = await delivery.event(Topic.LICENCE_GRANTED, granted, event_id=event_id)
    # The same licence in an event with another id (re-emitted upstream) is ignored too.
    reissued = await delivery.event(Topic.LICENCE_GRANTED, granted)
    assert (first["duplicate"], again["duplicate"], reissued["duplicate"]) == (False, True, False)
    await builder.build_pending()
    await builder.build_pending()

    count = select(func.count()).select_from(Delivery)
    assert await session.scalar(count.where(Delivery.licence_id == granted.licence_id)) == 1
    assert await session.scalar(select(func.count()).select_from(Licence)) == 1
    assert len(await outbox_payloads(session, Topic.DELIVERY_ISSUED)) == 1


async def test_a_build_that_cannot_reach_the_object_store_is_retried_later(
    delivery: DeliveryApi,
    builder: DeliveryBuilder,
    catalogue: Api,
    ines: Actor,
    lab: Actor,
    session: AsyncSession,
    object_store: ObjectStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    [work] = await listed_works(catalogue, ines, 1)
    granted = licence_granted(lab, [licence_line(work)], uses=USES)
    await delivery.grant(granted)

    async def unavailable(key: str) -> Any:
        raise StorageUnavailable(f"no answer for {key}")

    with monkeypatch.context() as patched:
        patched.setattr(object_store, "head", unavailable)
        [claimed] = await builder.build_pending()

    row = await session.get(Delivery, claimed, populate_existing=True)
    assert row is not None
    assert (row.status, row.attempts) == ("building", 1)
    assert "StorageUnavailable" in (row.last_error or "")
    assert await outbox_payloads(session, Topic.DELIVERY_ISSUED) == []
    # Not due yet: the retry waits for its backoff ...
    assert await builder.build_pending() == []
    # ... and once that has passed, the build goes through, the line not left out.
    await session.execute(
        update(Delivery).where(Delivery.id == claimed).values(next_attempt_at=row.created_at)
    )
    assert await builder.build_pending() == [claimed]
    read = await delivery.delivery_of(lab, granted.licence_id)
    assert (read["status"], read["entry_count"], read["excluded"]) == ("issued", 1, [])


async def test_a_tampered_manifest_fails_verification(
    delivery: DeliveryApi, builder: DeliveryBuilder, catalogue: Api, ines: Actor, lab: Actor
) -> None:
    works = await listed_works(catalogue, ines, 2)
    _, read = await issued(delivery, builder, lab, works)
    envelope = await delivery.envelope(lab, read["id"])
    keys = await delivery.keys(lab)
    payload = base64.b64decode(envelope.payload)
    statement = json.loads(payload)
    entry = statement["predicate"]["entries"][0]
    forged_sha = sha256(b"other bytes")
    entry["sha256"] = forged_sha
    statement["subject"][0]["digest"]["sha256"] = forged_sha
    forged_payload = json.dumps(statement).encode()

    # The payload changed under the marketplace's signature ...
    tampered = envelope.model_copy(update={"payload": base64.b64encode(forged_payload).decode()})
    with pytest.raises(SignatureInvalid):
        verify_envelope(tampered, keys, payload_type=IN_TOTO_PAYLOAD_TYPE)
    # ... or re-signed with another key under the marketplace's key id.
    impostor = Signer(SecretStr(generate_seed()), purpose="delivery-manifest")
    resigned = impostor.sign(IN_TOTO_PAYLOAD_TYPE, forged_payload)
    forged = Envelope(
        payload_type=IN_TOTO_PAYLOAD_TYPE,
        payload=resigned.payload,
        signatures=[resigned.signatures[0].model_copy(update={"keyid": keys[0].key_id})],
    )
    with pytest.raises(SignatureInvalid):
        verify_envelope(forged, keys, payload_type=IN_TOTO_PAYLOAD_TYPE)
    # The untouched envelope still verifies.
    verify_envelope(envelope, keys, payload_type=IN_TOTO_PAYLOAD_TYPE)


async def test_two_buyers_of_the_same_works_get_different_manifests(
    delivery: DeliveryApi,
    builder: DeliveryBuilder,
    catalogue: Api,
    ines: Actor,
    lab: Actor,
    rival: Actor,
) -> None:
    works = await listed_works(catalogue, ines, 8)
    _, ours = await issued(delivery, builder, lab, works)
    _, theirs = await issued(delivery, builder, rival, works)
    our_entries = (await delivery.statement(lab, ours["id"]))["predicate"]["entries"]
    their_entries = (await delivery.statement(rival, theirs["id"]))["predicate"]["entries"]

    # The same files ...
    assert {e["sha256"] for e in our_entries} == {e["sha256"] for e in their_entries}
    # ... under fingerprints that share nothing, in another order (8! orders).
    assert not {e["fingerprint"] for e in our_entries} & {e["fingerprint"] for e in their_entries}
    assert [e["work_id"] for e in our_entries] != [e["work_id"] for e in their_entries]
    assert ours["manifest_sha256"] != theirs["manifest_sha256"]
