"""Licence chains: the right entries for a work and for a licence, each proven against a
signed checkpoint, and shown only to those the log's own evidence entitles."""

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit.chain.subjects import SubjectKind, subjects_of
from services.audit.sequencer import Sequencer
from services.contracts.audit import ChainStep, ChainSubjectKind
from services.contracts.catalogue import ConsentKind
from services.contracts.events import EventEnvelope
from services.contracts.roles import Role
from tests.services.audit.helpers import (
    AuditApi,
    consent,
    delivery,
    download,
    grant,
    offer,
    payment,
    refund,
    registered,
    tree_size,
    verified_checkpoint,
    verify_chain,
    verify_extends,
    withdrawal,
)
from tests.services.catalogue.helpers import Actor


@dataclass(frozen=True)
class Market:
    """Ines's works one and two, Otto's work three; the lab licensed one and two, the
    rival licensed one and was refunded; work one was then withdrawn."""

    one: uuid.UUID
    two: uuid.UUID
    three: uuid.UUID
    lab_licence: uuid.UUID
    rival_licence: uuid.UUID
    events: dict[str, Any]

    def ids(self, *names: str) -> list[uuid.UUID]:
        return [uuid.UUID(self.events[name]["id"]) for name in names]


@pytest.fixture
async def market(
    audit: AuditApi, sequencer: Sequencer, ines: Actor, otto: Actor, lab: Actor, rival: Actor
) -> Market:
    one, two, three = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    lab_licence, rival_licence = uuid.uuid4(), uuid.uuid4()
    events = {
        "lab registered": registered(lab),
        "consent one": consent(one, ines),
        "consent two": consent(two, ines),
        "consent three": consent(three, otto),
        "offer one": offer(one),
        "offer two": offer(two),
        "lab top-up": payment(None, lab),
        "lab grant": grant(lab_licence, lab, [one, two]),
        "lab payment": payment(lab_licence, lab),
        "lab delivery": delivery(lab_licence, lab),
        "lab downloads one": download(lab_licence, lab, one),
        "lab downloads two": download(lab_licence, lab, two),
        "rival grant": grant(rival_licence, rival, [one]),
        "rival payment": payment(rival_licence, rival),
        "rival delivery": delivery(rival_licence, rival),
        "rival downloads one": download(rival_licence, rival, one),
        "rival refund": refund(rival_licence, rival),
        "consent one revised": consent(one, ines, ConsentKind.REVISED),
        "one withdrawn": withdrawal(one, ines),
    }
    await audit.post(*events.values())
    await sequencer.run_once()
    return Market(one, two, three, lab_licence, rival_licence, events)


WHOLE_CHAIN_OF_ONE = [
    # The buyers' account entries: the chain names its parties (a party with none, the
    # rival, is named by no entry).
    "lab registered",
    "consent one",
    "offer one",
    "lab grant",
    "lab payment",
    "lab delivery",
    "lab downloads one",
    # The licence's download of its other work: a licence's chain is whole or it fails.
    "lab downloads two",
    "rival grant",
    "rival payment",
    "rival delivery",
    "rival downloads one",
    "rival refund",
    "consent one revised",
    "one withdrawn",
]
LAB_LICENCE_CHAIN = [
    "lab registered",
    "consent one",
    "consent two",
    "offer one",
    "offer two",
    "lab grant",
    "lab payment",
    "lab delivery",
    "lab downloads one",
    "lab downloads two",
    # The rest of its works' chains, withheld from a reader who may not see them: the
    # works' chains are proven whole, with no gap where another sale was.
    "rival grant",
    "rival downloads one",
    "consent one revised",
    "one withdrawn",
]


async def test_a_work_chain_holds_its_consents_offers_licences_and_own_downloads(
    audit: AuditApi, market: Market, auditor: Actor
) -> None:
    chain = await audit.work_chain(auditor, market.one)

    assert (chain.subject_kind, chain.subject_id) == (ChainSubjectKind.WORK, market.one)
    assert [entry.event_id for entry in chain.entries] == market.ids(*WHOLE_CHAIN_OF_ONE)
    assert [entry.step for entry in chain.entries] == [
        ChainStep.ACCOUNT,
        ChainStep.CONSENT,
        ChainStep.OFFER,
        ChainStep.LICENCE,
        ChainStep.PAYMENT,
        ChainStep.DELIVERY,
        ChainStep.DOWNLOAD,
        ChainStep.DOWNLOAD,
        ChainStep.LICENCE,
        ChainStep.PAYMENT,
        ChainStep.DELIVERY,
        ChainStep.DOWNLOAD,
        ChainStep.REFUND,
        ChainStep.CONSENT,
        ChainStep.WITHDRAWAL,
    ]
    indices = [entry.index for entry in chain.entries]
    assert indices == sorted(indices)
    assert chain.pending_entries == 0
    assert chain.consistency is None
    verify_chain(chain, await audit.keys(auditor))


async def test_a_licence_chain_holds_its_sale_and_the_consents_of_its_works(
    audit: AuditApi, market: Market, auditor: Actor
) -> None:
    chain = await audit.licence_chain(auditor, market.lab_licence)

    assert (chain.subject_kind, chain.subject_id) == (ChainSubjectKind.LICENCE, market.lab_licence)
    assert [entry.event_id for entry in chain.entries] == market.ids(*LAB_LICENCE_CHAIN)
    verify_chain(chain, await audit.keys(auditor))


async def test_a_chain_against_an_earlier_checkpoint_counts_what_came_after(
    audit: AuditApi,
    sequencer: Sequencer,
    session: AsyncSession,
    market: Market,
    auditor: Actor,
    lab: Actor,
) -> None:
    keys = await audit.keys(auditor)
    earlier = await tree_size(session)
    await audit.post(download(market.lab_licence, lab, market.one))
    await audit.post(download(market.lab_licence, lab, market.two))
    await sequencer.run_once()

    latest = await audit.work_chain(auditor, market.one, consistent_with=earlier)
    then = await audit.work_chain(auditor, market.one, tree_size=earlier)

    assert len(latest.entries) == len(WHOLE_CHAIN_OF_ONE) + 2
    assert then.checkpoint.checkpoint.tree_size == earlier
    assert [entry.event_id for entry in then.entries] == market.ids(*WHOLE_CHAIN_OF_ONE)
    assert then.pending_entries == 2
    verify_chain(then, keys)
    verify_chain(latest, keys)
    assert latest.consistency is not None
    old = await audit.checkpoint(auditor, tree_size=earlier)
    verify_extends(
        verified_checkpoint(old.checkpoint, keys),
        verified_checkpoint(latest.checkpoint, keys),
        latest.consistency.hashes,
    )


@pytest.mark.parametrize(
    ("reader", "expected"),
    [
        ("auditor", WHOLE_CHAIN_OF_ONE),
        ("admin", WHOLE_CHAIN_OF_ONE),
        # The creator is not shown the sales, so not told who the buyers are either.
        ("ines", WHOLE_CHAIN_OF_ONE[1:]),
        (
            "lab",
            [
                "lab registered",
                "consent one",
                "offer one",
                "lab grant",
                "lab payment",
                "lab delivery",
                "lab downloads one",
                "lab downloads two",
                # The rival's sale of the work, withheld: the work's chain has no gap.
                "rival grant",
                "rival downloads one",
                "consent one revised",
                "one withdrawn",
            ],
        ),
        (
            "rival",
            [
                "consent one",
                "offer one",
                "lab grant",
                "lab downloads one",
                "rival grant",
                "rival payment",
                "rival delivery",
                "rival downloads one",
                "rival refund",
                "consent one revised",
                "one withdrawn",
            ],
        ),
    ],
)
async def test_who_reads_a_work_chain_and_what_they_see(
    audit: AuditApi,
    market: Market,
    request: pytest.FixtureRequest,
    reader: str,
    expected: list[str],
) -> None:
    actor: Actor = request.getfixturevalue(reader)

    chain = await audit.work_chain(actor, market.one)

    assert [entry.event_id for entry in chain.entries] == market.ids(*expected)


@pytest.mark.parametrize("reader", ["auditor", "admin", "lab"])
async def test_who_reads_a_licence_chain(
    audit: AuditApi, market: Market, request: pytest.FixtureRequest, reader: str
) -> None:
    actor: Actor = request.getfixturevalue(reader)

    chain = await audit.licence_chain(actor, market.lab_licence)

    assert [entry.event_id for entry in chain.entries] == market.ids(*LAB_LICENCE_CHAIN)


async def test_chains_that_are_not_the_callers_are_not_found(
    audit: AuditApi, market: Market, otto: Actor, ines: Actor, rival: Actor, auditor: Actor
) -> None:
    stranger = Actor(subject=str(uuid.uuid4()), roles=frozenset({Role.BUYER}), name="Stranger")
    service = Actor(subject="service:delivery", roles=frozenset({Role.SERVICE}), name=None)
    work = f"/v1/chains/works/{market.one}"
    lab_licence = f"/v1/chains/licences/{market.lab_licence}"

    # Another creator's work, a work the buyer holds no licence of, another buyer's licence:
    # answered as if they did not exist, as licensing answers another buyer's licence.
    assert await audit.refused(otto, "GET", work) == (404, "NotFound")
    assert await audit.refused(stranger, "GET", work) == (404, "NotFound")
    assert await audit.refused(service, "GET", work) == (404, "NotFound")
    assert await audit.refused(rival, "GET", lab_licence) == (404, "NotFound")
    assert await audit.refused(ines, "GET", lab_licence) == (404, "NotFound")
    assert await audit.refused(stranger, "GET", lab_licence) == (404, "NotFound")
    for path in (work, lab_licence):
        assert (await audit.http.get(path)).status_code == 401
    for path in (f"/v1/chains/works/{uuid.uuid4()}", f"/v1/chains/licences/{uuid.uuid4()}"):
        assert await audit.refused(auditor, "GET", path) == (404, "NotFound")


async def test_a_creator_reads_the_chain_of_a_work_they_consented_to(
    audit: AuditApi, market: Market, otto: Actor, ines: Actor
) -> None:
    chain = await audit.work_chain(otto, market.three)

    assert [entry.event_id for entry in chain.entries] == market.ids("consent three")
    assert await audit.refused(ines, "GET", f"/v1/chains/works/{market.three}") == (
        404,
        "NotFound",
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("consent one", {("work", "one"), ("creator", "ines")}),
        ("offer one", {("work", "one")}),
        ("one withdrawn", {("work", "one")}),
        ("lab grant", {("licence", "lab"), ("buyer", "lab"), ("work", "one"), ("work", "two")}),
        ("lab payment", {("licence", "lab")}),
        ("lab top-up", set()),
        ("lab delivery", {("licence", "lab")}),
        ("lab downloads two", {("licence", "lab"), ("work", "two")}),
        ("rival refund", {("licence", "rival")}),
        ("lab registered", {("account", "lab")}),
    ],
)
async def test_chain_subjects_are_read_from_each_event(
    market: Market, ines: Actor, lab: Actor, name: str, expected: set[tuple[str, str]]
) -> None:
    names = {
        market.one: "one",
        market.two: "two",
        market.lab_licence: "lab",
        market.rival_licence: "rival",
        ines.id: "ines",
        lab.id: "lab",
    }
    event = EventEnvelope.model_validate(market.events[name])

    subjects = {(kind.value, names[subject]) for kind, subject in subjects_of(event)}

    assert subjects == expected
    assert all(isinstance(kind, SubjectKind) for kind, _ in subjects_of(event))
