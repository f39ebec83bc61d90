"""The batch reads behind the gateway's DataLoaders: many deliveries' manifests, or the
first page of each one's files, in one call, in the order asked, each caller seeing
only their own."""

import os
import uuid

from services.delivery.builder import DeliveryBuilder
from tests.services.catalogue.helpers import Actor, Api
from tests.services.delivery.helpers import DeliveryApi
from tests.services.delivery.test_downloads import bought


async def test_manifests_and_first_files_come_for_many_deliveries_in_one_call(
    delivery: DeliveryApi,
    builder: DeliveryBuilder,
    catalogue: Api,
    ines: Actor,
    lab: Actor,
    rival: Actor,
) -> None:
    contents = [os.urandom(1_000 + index) for index in range(3)]
    _, first, first_entries = await bought(delivery, builder, catalogue, ines, lab, contents)
    _, second, second_entries = await bought(delivery, builder, catalogue, ines, lab, contents[:1])
    _, theirs, _ = await bought(delivery, builder, catalogue, ines, rival, contents[:1])
    asked = [second["id"], theirs["id"], str(uuid.uuid4()), first["id"]]

    manifests = await delivery.ok(lab, "GET", "/v1/manifests", params={"delivery_id": asked})
    assert [m["delivery_id"] for m in manifests] == [second["id"], first["id"]]
    for read in manifests:
        assert read["envelope"] == (await delivery.envelope(lab, read["delivery_id"])).model_dump(
            mode="json", by_alias=True
        )

    pages = await delivery.ok(lab, "GET", "/v1/files", params={"delivery_id": asked, "first": 2})
    assert [(p["delivery_id"], p["items"]) for p in pages] == [
        (second["id"], second_entries),
        (first["id"], first_entries[:2]),
    ]
    assert pages[0]["next_cursor"] is None
    # The next page of one delivery is its own call, from the cursor the batch gave.
    rest = await delivery.files(lab, first["id"], first=2, after=pages[1]["next_cursor"])
    assert rest["items"] == first_entries[2:]
