"""An admin revokes a licence without a refund: nothing of it may be used from then on,
the money stays where the sale put it, and delivery and the log hear of it once."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tests.services.catalogue.helpers import Actor, outbox_topics
from tests.services.licensing.helpers import Api, make_quote, quote_line, top_up


async def _bought(api: Api, session: AsyncSession, lab: Actor) -> dict[str, Any]:
    quote_id = await make_quote(session, lab.id, [quote_line(1000, [(uuid.uuid4(), 10_000)])])
    await top_up(session, lab.id, 1000)
    return await api.bought(lab, str(quote_id))


async def test_a_revoked_licence_keeps_its_money_and_is_announced_once(
    api: Api, session: AsyncSession, lab: Actor, admin: Actor
) -> None:
    licence = await _bought(api, session, lab)
    path = f"/v1/licences/{licence['id']}/revoke"

    revoked = await api.ok(admin, "POST", path, json={"reason": "shared with a third party"})
    again = await api.ok(admin, "POST", path, json={"reason": "a second time"})

    assert (revoked["status"], again["status"]) == ("revoked", "revoked")
    assert revoked["revoked_at"] == again["revoked_at"] is not None
    assert revoked["refunded_minor"] == 0
    assert await api.balance(lab, lab) == 0
    assert (await outbox_topics(session)).count("licence.revoked") == 1


async def test_only_an_admin_revokes_and_a_refunded_licence_is_already_ended(
    api: Api, session: AsyncSession, lab: Actor, admin: Actor
) -> None:
    licence = await _bought(api, session, lab)
    path = f"/v1/licences/{licence['id']}"
    assert (await api.refused(lab, "POST", f"{path}/revoke", json={"reason": "x"}))[0] == 403
    assert (await api.refused(admin, "POST", f"{path}/revoke", json={"reason": ""}))[0] == 422

    await api.ok(admin, "POST", f"{path}/refund", json={"reason": "duplicate order"})

    refused = await api.refused(admin, "POST", f"{path}/revoke", json={"reason": "late"})
    assert refused == (409, "LicenceNotUsable")
    assert "licence.revoked" not in await outbox_topics(session)


async def test_a_revoked_licence_can_still_be_refunded(
    api: Api, session: AsyncSession, lab: Actor, admin: Actor
) -> None:
    licence = await _bought(api, session, lab)
    path = f"/v1/licences/{licence['id']}"
    await api.ok(admin, "POST", f"{path}/revoke", json={"reason": "breach"})

    refunded = await api.ok(admin, "POST", f"{path}/refund", json={"reason": "settled"})

    assert (refunded["status"], refunded["refunded_minor"]) == ("refunded", 1000)
    assert await api.balance(lab, lab) == 1000
