"""Downloads: the entitlement is checked on every link, refusals are typed and logged,
and a link fetches the licensed bytes straight from S3, resumably."""

import hashlib
import os
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.catalogue import Use
from services.contracts.events import Topic
from services.delivery.builder import DeliveryBuilder
from services.delivery.models import Download
from services.kit.db import utcnow
from tests.services.catalogue.helpers import Actor, Api
from tests.services.delivery.helpers import (
    DeliveryApi,
    licence_granted,
    licence_line,
    outbox_payloads,
    refunded,
)

USES = (Use.TRAINING,)


async def bought(
    delivery: DeliveryApi,
    builder: DeliveryBuilder,
    catalogue: Api,
    creator: Actor,
    buyer: Actor,
    contents: list[bytes],
    *,
    ends_at: list[datetime | None] | None = None,
) -> tuple[Any, dict[str, Any], list[dict[str, Any]]]:
    """Works with these bytes, listed, sold to `buyer` and delivered: the grant, the
    delivery and its entries in manifest order."""
    works = [
        await catalogue.listed_work(creator, data, *USES, file_name=f"file-{index}.bin")
        for index, data in enumerate(contents)
    ]
    ends = ends_at or [None] * len(works)
    granted = licence_granted(
        buyer, [licence_line(work, ends_at=end) for work, end in zip(works, ends, strict=True)]
    )
    await delivery.grant(granted)
    await builder.build_pending()
    read = await delivery.delivery_of(buyer, granted.licence_id)
    entries = (await delivery.files(buyer, read["id"]))["items"]
    return granted, read, entries


def refusals(
    caplog: pytest.LogCaptureFixture, event: str = "delivery.download.refused"
) -> list[str]:
    """The reasons logged for each refusal (the kit's logging hands records its dicts)."""
    return [
        record.msg["reason"]
        for record in caplog.records
        if isinstance(record.msg, dict) and record.msg.get("event") == event
    ]


async def test_a_link_fetches_the_licensed_bytes_from_s3_and_a_range_resumes_it(
    delivery: DeliveryApi,
    builder: DeliveryBuilder,
    catalogue: Api,
    ines: Actor,
    lab: Actor,
    session: AsyncSession,
) -> None:
    data = os.urandom(200_000)
    granted, read, [entry] = await bought(delivery, builder, catalogue, ines, lab, [data])

    before = utcnow()
    link = await delivery.entitled_link(lab, read["id"], entry["fingerprint"])
    assert (link["size"], link["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
    expires_at = datetime.fromisoformat(link["expires_at"])
    assert before + timedelta(seconds=299) <= expires_at <= utcnow() + timedelta(seconds=301)
    async with httpx.AsyncClient() as http:
        whole = await http.get(link["url"])
        assert whole.status_code == 200
        assert hashlib.sha256(whole.content).hexdigest() == entry["sha256"]
        assert 'filename="file-0.bin"' in whole.headers["content-disposition"]
        part = await http.get(link["url"], headers={"range": "bytes=150000-"})
        assert part.status_code == 206
        assert part.content == data[150_000:]

    # The download is on record, and on its way to the audit log.
    assert await session.scalar(select(func.count()).select_from(Download)) == 1
    [event] = await outbox_payloads(session, Topic.FILE_DOWNLOADED)
    assert event["delivery_id"] == read["id"]
    assert event["licence_id"] == str(granted.licence_id)
    assert event["buyer_id"] == str(lab.id)
    assert (event["work_id"], event["version_id"]) == (entry["work_id"], entry["version_id"])


async def test_another_buyers_delivery_and_files_are_not_found(
    delivery: DeliveryApi,
    builder: DeliveryBuilder,
    catalogue: Api,
    ines: Actor,
    lab: Actor,
    rival: Actor,
    admin: Actor,
    auditor: Actor,
    session: AsyncSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    granted, read, [entry] = await bought(
        delivery, builder, catalogue, ines, lab, [os.urandom(1_000)]
    )
    base = f"/v1/deliveries/{read['id']}"
    link = f"{base}/files/{entry['fingerprint']}/link"
    for method, path in (("GET", base), ("GET", f"{base}/manifest"), ("GET", f"{base}/files")):
        assert await delivery.refused(rival, method, path) == (404, "NotFound")
    assert await delivery.refused(rival, "POST", link) == (404, "NotFound")
    batch = {"licence_id": str(granted.licence_id)}
    assert await delivery.ok(rival, "GET", "/v1/deliveries", params=batch) == []

    # Admins and auditors see every delivery, but only its buyer downloads from it.
    for overseer in (admin, auditor):
        assert (await delivery.ok(overseer, "GET", base))["id"] == read["id"]
        assert (await delivery.ok(overseer, "GET", f"{base}/manifest"))["delivery_id"] == read["id"]
        assert await delivery.refused(overseer, "POST", link) == (403, "Forbidden")
    assert await session.scalar(select(func.count()).select_from(Download)) == 0
    assert refusals(caplog) == ["not_the_buyer"] * 3
    assert refusals(caplog, "delivery.read.refused") == ["not_the_buyer"] * 3


async def test_a_refunded_licence_refuses_every_link_from_then_on(
    delivery: DeliveryApi,
    builder: DeliveryBuilder,
    catalogue: Api,
    ines: Actor,
    lab: Actor,
    caplog: pytest.LogCaptureFixture,
) -> None:
    granted, read, entries = await bought(
        delivery, builder, catalogue, ines, lab, [os.urandom(1_000), os.urandom(1_001)]
    )
    first = await delivery.entitled_link(lab, read["id"], entries[0]["fingerprint"])
    assert first["url"]

    receipt = await delivery.event(Topic.LICENCE_REFUNDED, refunded(granted))
    assert receipt["duplicate"] is False
    for entry in entries:
        path = f"/v1/deliveries/{read['id']}/files/{entry['fingerprint']}/link"
        # The link asked for again after the refund (a replay) is refused like any other.
        assert await delivery.refused(lab, "POST", path) == (410, "LicenceRevoked")
    # The delivery itself stays on record for the buyer and the auditors.
    assert (await delivery.delivery_of(lab, granted.licence_id))["status"] == "issued"
    assert refusals(caplog) == ["licence_refunded", "licence_refunded"]


async def test_an_expired_line_refuses_its_link_and_only_its_link(
    delivery: DeliveryApi, builder: DeliveryBuilder, catalogue: Api, ines: Actor, lab: Actor
) -> None:
    ended = utcnow() - timedelta(seconds=1)
    _, read, entries = await bought(
        delivery,
        builder,
        catalogue,
        ines,
        lab,
        [os.urandom(1_000), os.urandom(1_001)],
        ends_at=[ended, None],
    )
    by_size = {entry["size"]: entry for entry in entries}
    expired = f"/v1/deliveries/{read['id']}/files/{by_size[1_000]['fingerprint']}/link"
    assert await delivery.refused(lab, "POST", expired) == (410, "LicenceExpired")
    assert (await delivery.entitled_link(lab, read["id"], by_size[1_001]["fingerprint"]))[
        "size"
    ] == 1_001


async def test_a_delivery_still_being_built_is_not_ready(
    delivery: DeliveryApi, catalogue: Api, ines: Actor, lab: Actor
) -> None:
    work = await catalogue.listed_work(ines, os.urandom(1_000), *USES)
    granted = licence_granted(lab, [licence_line(work)])
    await delivery.grant(granted)
    read = await delivery.delivery_of(lab, granted.licence_id)
    base = f"/v1/deliveries/{read['id']}"
    assert await delivery.refused(lab, "GET", f"{base}/manifest") == (409, "DeliveryNotReady")
    assert await delivery.refused(lab, "GET", f"{base}/files") == (409, "DeliveryNotReady")
    link = f"{base}/files/{'a' * 32}/link"
    assert await delivery.refused(lab, "POST", link) == (409, "DeliveryNotReady")


async def test_a_fingerprint_of_another_delivery_or_none_at_all_is_not_found(
    delivery: DeliveryApi,
    builder: DeliveryBuilder,
    catalogue: Api,
    ines: Actor,
    lab: Actor,
    rival: Actor,
) -> None:
    data = [os.urandom(1_000)]
    _, ours, _ = await bought(delivery, builder, catalogue, ines, lab, data)
    _, _, [theirs] = await bought(delivery, builder, catalogue, ines, rival, data)
    base = f"/v1/deliveries/{ours['id']}/files"
    assert await delivery.refused(lab, "POST", f"{base}/{theirs['fingerprint']}/link") == (
        404,
        "NotFound",
    )
    assert await delivery.refused(lab, "POST", f"{base}/{'0' * 32}/link") == (404, "NotFound")
    assert await delivery.refused(lab, "POST", f"{base}/{'Z' * 32}/link") == (
        422,
        "ValidationFailed",
    )
    unknown = f"/v1/deliveries/{uuid.uuid4()}/files/{'0' * 32}/link"
    assert await delivery.refused(lab, "POST", unknown) == (404, "NotFound")


async def test_files_come_a_page_at_a_time_in_manifest_order_and_deliveries_in_batches(
    delivery: DeliveryApi,
    builder: DeliveryBuilder,
    catalogue: Api,
    ines: Actor,
    lab: Actor,
    rival: Actor,
) -> None:
    contents = [os.urandom(1_000 + index) for index in range(5)]
    ours, read, entries = await bought(delivery, builder, catalogue, ines, lab, contents)
    pages: list[dict[str, Any]] = []
    after = None
    while True:
        params = {"first": 2} | ({"after": after} if after else {})
        page = await delivery.files(lab, read["id"], **params)
        pages.extend(page["items"])
        if (after := page["next_cursor"]) is None:
            break
    assert pages == entries
    statement = await delivery.statement(lab, read["id"])
    assert pages == statement["predicate"]["entries"]
    assert await delivery.refused(lab, "GET", f"/v1/deliveries/{read['id']}/files?after=zz") == (
        400,
        "InvalidRequest",
    )

    # The gateway's DataLoader: deliveries by licence, in the order asked, only visible ones.
    theirs, _, _ = await bought(delivery, builder, catalogue, ines, rival, contents[:1])
    asked = [str(theirs.licence_id), str(uuid.uuid4()), str(ours.licence_id)]
    found = await delivery.ok(lab, "GET", "/v1/deliveries", params={"licence_id": asked})
    assert [item["licence_id"] for item in found] == [str(ours.licence_id)]
