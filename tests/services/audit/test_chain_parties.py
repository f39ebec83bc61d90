"""A chain carries the account entries of its parties, so that it names people offline:
each account its shown entries name, with its registered name and verified identity, and
no account it does not name."""

import uuid
from typing import Any

import pytest

from assent.protocol import check_chain
from services.audit.sequencer import Sequencer
from services.contracts.audit import ChainRead
from services.contracts.events import AccountIdentityVerified, IdentityKind, Topic
from services.kit.db import utcnow
from tests.services.audit.helpers import (
    AuditApi,
    consent,
    envelope_of,
    grant,
    offer,
    payment,
    refund,
    registered,
)
from tests.services.catalogue.helpers import Actor


def verified(account: Actor, organisation: str, by: Actor) -> Any:
    return envelope_of(
        Topic.ACCOUNT_IDENTITY_VERIFIED,
        AccountIdentityVerified(
            account_id=account.id,
            kind=IdentityKind.ORGANISATION,
            value=organisation,
            verified_by=by.id,
            verified_at=utcnow(),
        ),
    )


@pytest.fixture
async def logged(
    audit: AuditApi,
    sequencer: Sequencer,
    ines: Actor,
    otto: Actor,
    lab: Actor,
    rival: Actor,
    admin: Actor,
) -> dict[str, Any]:
    """Ines's work, sold to the lab and to the rival (refunded); Otto, registered and
    verified too, is no party to it."""
    work, lab_licence, rival_licence = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    events = {
        "ines registered": registered(ines),
        "lab registered": registered(lab),
        "rival registered": registered(rival),
        "otto registered": registered(otto),
        "otto verified": verified(otto, "Otto Works Ltd", admin),
        "lab verified": verified(lab, "Northwind Labs GmbH", admin),
        "ines verified": verified(ines, "Ines Studio", admin),
        "consent": consent(work, ines),
        "offer": offer(work),
        "lab grant": grant(lab_licence, lab, [work]),
        "lab payment": payment(lab_licence, lab),
        "rival grant": grant(rival_licence, rival, [work]),
        "rival refund": refund(rival_licence, rival),
    }
    await audit.post(*events.values())
    await sequencer.run_once()
    return {"work": work, "events": events}


def account_entries(chain: ChainRead, logged: dict[str, Any]) -> list[str]:
    names = {uuid.UUID(event["id"]): name for name, event in logged["events"].items()}
    return [
        names[entry.event_id]
        for entry in chain.entries
        if entry.topic.startswith("account.") and entry.entry is not None
    ]


async def test_an_auditor_reads_every_party_by_the_entries_about_them(
    audit: AuditApi, logged: dict[str, Any], auditor: Actor
) -> None:
    chain = await audit.work_chain(auditor, logged["work"])

    assert account_entries(chain, logged) == [
        "ines registered",
        "lab registered",
        "rival registered",
        "lab verified",
        "ines verified",
    ]
    check = check_chain(chain.model_dump(mode="json"), await audit.keys(auditor))
    assert check.ok, check.problems


@pytest.mark.parametrize(
    ("reader", "expected"),
    [
        # The creator is not shown who bought: the buyers' sales are withheld, and so
        # are their names.
        ("ines", ["ines registered", "ines verified"]),
        # A buyer is shown the creator it licensed from, not the other buyer.
        ("lab", ["ines registered", "lab registered", "lab verified", "ines verified"]),
    ],
)
async def test_a_party_reads_only_the_parties_of_what_it_is_shown(
    audit: AuditApi,
    logged: dict[str, Any],
    request: pytest.FixtureRequest,
    reader: str,
    expected: list[str],
) -> None:
    actor: Actor = request.getfixturevalue(reader)

    chain = await audit.work_chain(actor, logged["work"])

    assert account_entries(chain, logged) == expected
    check = check_chain(chain.model_dump(mode="json"), await audit.keys(actor))
    assert check.ok, check.problems
