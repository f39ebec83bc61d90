"""A delivery's signed status list: one bit per record of its manifest, set once the
record may no longer be used, verified with the published manifest key."""

import os
from datetime import timedelta
from typing import Any

import pytest

from assent.protocol import StatusList, VerificationError, verify_status_list
from services.contracts.events import Topic
from services.contracts.licensing import LicenceRevoked
from services.contracts.signing import Envelope
from services.delivery.builder import DeliveryBuilder
from services.kit.db import utcnow
from tests.services.catalogue.helpers import Actor, Api
from tests.services.delivery.helpers import DeliveryApi, refunded
from tests.services.delivery.test_downloads import bought


async def _verified(delivery: DeliveryApi, actor: Actor, delivery_id: str) -> StatusList:
    read = await delivery.ok(actor, "GET", f"/v1/deliveries/{delivery_id}/status")
    return verify_status_list(Envelope.model_validate(read["envelope"]), await delivery.keys(actor))


def _positions(entries: list[dict[str, Any]]) -> dict[int, int]:
    """Each file's size by its position in the manifest."""
    return {index: entry["size"] for index, entry in enumerate(entries)}


async def test_an_ended_line_is_marked_and_its_neighbour_is_not(
    delivery: DeliveryApi, builder: DeliveryBuilder, catalogue: Api, ines: Actor, lab: Actor
) -> None:
    ended = utcnow() - timedelta(seconds=1)
    soon = utcnow() + timedelta(minutes=2)
    _, read, entries = await bought(
        delivery,
        builder,
        catalogue,
        ines,
        lab,
        [os.urandom(1_000), os.urandom(1_001)],
        ends_at=[ended, soon],
    )

    status = await _verified(delivery, lab, read["id"])

    sizes = _positions(entries)
    assert [sizes[index] for index in status.revoked_indices()] == [1_000]
    # Never valid past the next end of one of its records.
    assert status.credential.valid_until <= soon


async def test_a_refund_or_a_revocation_marks_every_record(
    delivery: DeliveryApi,
    builder: DeliveryBuilder,
    catalogue: Api,
    ines: Actor,
    lab: Actor,
    admin: Actor,
) -> None:
    files = [os.urandom(900), os.urandom(901)]
    first, first_read, _ = await bought(delivery, builder, catalogue, ines, lab, files)
    second, second_read, _ = await bought(delivery, builder, catalogue, ines, lab, files)
    assert (await _verified(delivery, lab, first_read["id"])).revoked_indices() == []

    await delivery.event(Topic.LICENCE_REFUNDED, refunded(first))
    revoked = LicenceRevoked(
        licence_id=second.licence_id,
        buyer_id=lab.id,
        revoked_by=admin.id,
        reason="breach of terms",
        revoked_at=utcnow(),
    )
    await delivery.event(Topic.LICENCE_REVOKED, revoked)

    for read in (first_read, second_read):
        assert (await _verified(delivery, lab, read["id"])).revoked_indices() == [0, 1]
    link = f"/v1/deliveries/{second_read['id']}/files"
    [entry, _] = (await delivery.ok(lab, "GET", link))["items"]
    assert await delivery.refused(lab, "POST", f"{link}/{entry['fingerprint']}/link") == (
        410,
        "LicenceRevoked",
    )


async def test_another_buyer_cannot_read_it_and_an_altered_list_fails(
    delivery: DeliveryApi,
    builder: DeliveryBuilder,
    catalogue: Api,
    ines: Actor,
    lab: Actor,
    rival: Actor,
    auditor: Actor,
) -> None:
    _, read, _ = await bought(delivery, builder, catalogue, ines, lab, [os.urandom(800)])
    path = f"/v1/deliveries/{read['id']}/status"

    assert await delivery.refused(rival, "GET", path) == (404, "NotFound")
    assert (await _verified(delivery, auditor, read["id"])).revoked_indices() == []
    envelope = Envelope.model_validate((await delivery.ok(lab, "GET", path))["envelope"])
    forged = envelope.model_copy(update={"payload": envelope.payload.replace("A", "B", 1)})
    keys = await delivery.keys(lab)
    with pytest.raises(VerificationError):
        verify_status_list(forged, keys)
