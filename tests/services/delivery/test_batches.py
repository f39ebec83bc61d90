"""Many sales at once: grants relayed in one batch, deliveries built together (with no
call to the catalogue: what licensing granted is delivered), a failure postponing only
its own delivery, and manifests signed in memory that are byte for byte those signed
through files."""

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assent.protocol import Signer, generate_seed, verify_envelope
from services.contracts.delivery import IN_TOTO_PAYLOAD_TYPE
from services.contracts.events import Topic
from services.contracts.signing import Envelope
from services.delivery import manifest
from services.delivery.builder import DeliveryBuilder
from services.delivery.manifest import ManifestLine, ManifestSigner, ManifestWriter, Watermark
from services.delivery.models import Delivery
from storage import ObjectStore
from storage.object_store import StorageUnavailable
from tests.services.catalogue.helpers import Actor, Api
from tests.services.delivery.helpers import (
    LICENSING,
    DeliveryApi,
    envelope_of,
    licence_granted,
    licence_line,
    outbox_payloads,
)
from tests.services.delivery.test_build import USES, listed_works


def catalogue_reads(app: FastAPI) -> list[str]:
    """Every request the delivery app makes to the catalogue from now on."""
    seen: list[str] = []

    async def record(request: httpx.Request) -> None:
        seen.append(request.url.path)

    http: httpx.AsyncClient = app.state.http.client
    http.event_hooks = {**http.event_hooks, "request": [*http.event_hooks["request"], record]}
    return seen


async def test_grants_relayed_together_are_built_together_without_asking_the_catalogue(
    app: FastAPI,
    delivery: DeliveryApi,
    builder: DeliveryBuilder,
    catalogue: Api,
    ines: Actor,
    lab: Actor,
    session: AsyncSession,
) -> None:
    works = await listed_works(catalogue, ines, 5)
    grants = [
        licence_granted(lab, [licence_line(work) for work in works[:2]], uses=USES),
        licence_granted(lab, [licence_line(works[2])], uses=USES),
        licence_granted(lab, [licence_line(work) for work in works[3:]], uses=USES),
    ]
    # As licensing's relay sends them: one request, in order, the first grant twice
    # (a redelivery inside the same batch makes no second delivery).
    envelopes = [envelope_of(Topic.LICENCE_GRANTED, granted) for granted in grants]
    envelopes.append(envelope_of(Topic.LICENCE_GRANTED, grants[0]))
    receipts = await delivery.ok(
        LICENSING, "POST", "/internal/events/batch", json={"events": envelopes}
    )
    assert [receipt["duplicate"] for receipt in receipts["receipts"]] == [False] * 4
    # Withdrawn after the sale, before the build: sold before, so delivered.
    await catalogue.ok(ines, "POST", f"/v1/works/{works[4]['id']}/withdraw")

    reads = catalogue_reads(app)
    built = await builder.build_pending()

    assert len(built) == 3
    assert reads == []
    read = [await delivery.delivery_of(lab, granted.licence_id) for granted in grants]
    assert [(r["status"], r["entry_count"], r["excluded"]) for r in read] == [
        ("issued", 2, []),
        ("issued", 1, []),
        ("issued", 2, []),
    ]
    for granted, delivered in zip(grants, read, strict=True):
        statement = await delivery.statement(lab, delivered["id"])
        assert statement["predicate"]["header"]["licence_id"] == str(granted.licence_id)
    issued = await outbox_payloads(session, Topic.DELIVERY_ISSUED)
    assert sorted(event["delivery_id"] for event in issued) == sorted(r["id"] for r in read)


async def test_a_build_that_fails_in_a_batch_postpones_only_its_own_delivery(
    app: FastAPI,
    delivery: DeliveryApi,
    builder: DeliveryBuilder,
    catalogue: Api,
    ines: Actor,
    lab: Actor,
    session: AsyncSession,
    object_store: ObjectStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    works = await listed_works(catalogue, ines, 3)
    grants = [licence_granted(lab, [licence_line(work)], uses=USES) for work in works]
    for granted in grants:
        await delivery.grant(granted)
    unlucky = await delivery.delivery_of(lab, grants[1].licence_id)
    put = object_store.put

    async def put_refusing_one(key: str, data: Any, **options: Any) -> Any:
        if key.startswith(f"deliveries/{unlucky['id']}/"):
            raise StorageUnavailable("the store refused this one object")
        return await put(key, data, **options)

    monkeypatch.setattr(object_store, "put", put_refusing_one)
    await builder.build_pending()

    statuses = [
        (await delivery.delivery_of(lab, granted.licence_id))["status"] for granted in grants
    ]
    assert statuses == ["issued", "building", "issued"]
    postponed = await session.scalar(
        select(Delivery).where(Delivery.id == uuid.UUID(unlucky["id"])),
        execution_options={"populate_existing": True},
    )
    assert postponed is not None
    assert postponed.attempts == 1
    assert "refused this one object" in (postponed.last_error or "")
    issued = await outbox_payloads(session, Topic.DELIVERY_ISSUED)
    assert unlucky["id"] not in [event["delivery_id"] for event in issued]
    assert len(issued) == 2


def _lines(count: int) -> list[ManifestLine]:
    return [
        ManifestLine(
            work_id=uuid.UUID(int=number + 1),
            version_id=uuid.UUID(int=number + 10_000),
            file_name=f"scan-{number}.tiff",
            size=1_000 + number,
            sha256=f"{number:064x}",
            media_type="IMAGE",
            attribution="Ines Duarte",
            terms_id=f"{number % 3:064x}",
        )
        for number in range(count)
    ]


@pytest.mark.parametrize("count", [1, 40])
def test_a_manifest_signed_in_memory_is_the_one_signed_through_files(
    count: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = SecretStr(generate_seed())
    signer = ManifestSigner(seed)
    watermark = Watermark(SecretStr("w" * 40))
    issued_at = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)
    ids = {name: uuid.uuid4() for name in ("delivery", "licence", "bundle", "buyer")}

    def signed(in_memory: bool) -> bytes:
        monkeypatch.setattr(manifest, "IN_MEMORY_BYTES", 256 * 1024 if in_memory else 0)
        with ManifestWriter(
            delivery_id=ids["delivery"],
            licence_id=ids["licence"],
            bundle_id=ids["bundle"],
            buyer_id=ids["buyer"],
            buyer_name="Northwind Lab",
            watermark=watermark,
        ) as writer:
            for line in _lines(count):
                writer.add(line)
            assert writer.in_memory is in_memory
            result = writer.sign(signer, issued_at=issued_at)
            body = result.envelope.read()
            assert len(body) == result.size
            return body

    in_memory, through_files = signed(True), signed(False)
    assert in_memory == through_files
    keys = [Signer(seed, purpose=signer.published().purpose).published()]
    payload, _key = verify_envelope(
        Envelope.model_validate_json(in_memory), keys, payload_type=IN_TOTO_PAYLOAD_TYPE
    )
    assert payload.count(b'"work_id"') == count
