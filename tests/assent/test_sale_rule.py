"""`assent verify`'s rule "no sale after withdrawal", by log order: a licence.granted line
sells no use its work's newest sale scope before it had closed, and a line sold before a
withdrawal may be delivered after it."""

import uuid

import pytest

from assent.protocol import Signer, check_chain
from services.contracts.audit import ChainSubjectKind
from services.contracts.catalogue import ConsentKind, Use, WorkWithdrawn
from services.contracts.events import Topic
from services.contracts.licensing import LicenceGranted, LicenceLineStatus, SaleScopeRecorded
from services.contracts.signing import PublicKeyRead
from tests.assent.chain_events import at, consent, delivery, grant
from tests.assent.chains import Log, Logged
from tests.assent.documents import published


@pytest.fixture
def keys(checkpoint_signer: Signer) -> list[PublicKeyRead]:
    return published(checkpoint_signer).keys


def scope(log: Log, work: uuid.UUID, uses: list[Use], cause: Logged, minute: int) -> Logged:
    recorded = SaleScopeRecorded(
        work_id=work,
        open_uses=uses,
        cause_event_id=cause.event_id,
        cause_topic=cause.topic,
        recorded_at=at(minute),
    )
    return log.append(Topic.SALE_SCOPE_RECORDED, recorded, minute=minute)


def withdrawn_work(log: Log, work: uuid.UUID, creator: uuid.UUID, minute: int) -> Logged:
    withdrawal = WorkWithdrawn(work_id=work, withdrawn_by=creator, withdrawn_at=at(minute))
    return log.append(Topic.WORK_WITHDRAWN, withdrawal, minute=minute)


def chain_problems(
    signer: Signer, keys: list[PublicKeyRead], log: Log, work: uuid.UUID, entries: list[Logged]
) -> tuple[list[str], dict[str, str]]:
    document = log.chain(signer, ChainSubjectKind.WORK, work, entries).model_dump(mode="json")
    check = check_chain(document, keys)
    return [problem.message for problem in check.problems], dict(check.facts)


def test_a_line_sold_before_a_withdrawal_is_delivered_after_it(
    checkpoint_signer: Signer, keys: list[PublicKeyRead]
) -> None:
    log, work, creator, buyer, licence = Log(), *(uuid.uuid4() for _ in range(4))
    given = log.append(Topic.CONSENT_GIVEN, consent(work, creator, ConsentKind.GIVEN, 1), minute=1)
    entries = [given, scope(log, work, [Use.TRAINING], given, 2)]
    entries.append(log.append(Topic.LICENCE_GRANTED, grant(licence, buyer, [work], 3), minute=3))
    withdrawal = withdrawn_work(log, work, creator, 4)
    entries += [withdrawal, scope(log, work, [], withdrawal, 5)]
    # Built and issued after the withdrawal, without leaving the work out.
    issued = delivery(uuid.uuid4(), licence, buyer, 9)
    entries.append(log.append(Topic.DELIVERY_ISSUED, issued, minute=9))

    problems, facts = chain_problems(checkpoint_signer, keys, log, work, entries)

    assert problems == []
    assert facts["withdrawal rule"] == (
        "no sale after withdrawal: 1 withdrawn work, 1 sale checked by log order"
    )


@pytest.mark.parametrize(
    ("open_uses", "reopened", "violation"),
    [
        ([], False, True),
        ([Use.EVALUATION], False, True),
        ([Use.TRAINING, Use.EVALUATION], False, False),
        ([], True, False),
    ],
)
def test_no_sale_after_the_sale_scope_that_closed_its_use(
    checkpoint_signer: Signer,
    keys: list[PublicKeyRead],
    open_uses: list[Use],
    reopened: bool,
    violation: bool,
) -> None:
    log, work, creator, buyer, licence = Log(), *(uuid.uuid4() for _ in range(4))
    given = log.append(Topic.CONSENT_GIVEN, consent(work, creator, ConsentKind.GIVEN, 1), minute=1)
    entries = [given, scope(log, work, [Use.TRAINING], given, 2)]
    revised = log.append(
        Topic.CONSENT_WITHDRAWN, consent(work, creator, ConsentKind.WITHDRAWN, 3), minute=3
    )
    closing = scope(log, work, open_uses, revised, 4)
    entries += [revised, closing]
    if reopened:
        again = log.append(
            Topic.CONSENT_GIVEN, consent(work, creator, ConsentKind.GIVEN, 5), minute=5
        )
        entries += [again, scope(log, work, [Use.TRAINING], again, 6)]
    # Sold (for training) after the scope in log order, whatever time its event carries.
    sold = log.append(Topic.LICENCE_GRANTED, grant(licence, buyer, [work], 0), minute=0)
    entries.append(sold)

    problems, _ = chain_problems(checkpoint_signer, keys, log, work, entries)

    if not violation:
        assert problems == []
        return
    assert problems == [
        f"no sale after withdrawal: entry {len(entries)} (log index {sold.index}, event "
        f"{sold.event_id}): licence {licence} sells work {work} for training, which the "
        f"sale scope in entry 4 (log index {closing.index}, event {closing.event_id}) "
        "(after consent.withdrawn) had closed"
    ]


def excluded_grant(
    licence: uuid.UUID, buyer: uuid.UUID, works: list[uuid.UUID], minute: int
) -> LicenceGranted:
    """A grant whose lines licensing left out, as it logs them: in the same event."""
    granted = grant(licence, buyer, works, minute)
    lines = [
        line.model_copy(
            update={"status": LicenceLineStatus.EXCLUDED, "excluded_reason": "withdrawn"}
        )
        for line in granted.lines
    ]
    return granted.model_copy(update={"lines": lines})


def test_a_line_left_out_after_the_scope_closed_is_no_sale(
    checkpoint_signer: Signer, keys: list[PublicKeyRead]
) -> None:
    # Quoted before the withdrawal, bought after it: licensing leaves the work out.
    log, work, creator, buyer = Log(), *(uuid.uuid4() for _ in range(3))
    given = log.append(Topic.CONSENT_GIVEN, consent(work, creator, ConsentKind.GIVEN, 1), minute=1)
    entries = [given, scope(log, work, [Use.TRAINING], given, 2)]
    withdrawal = withdrawn_work(log, work, creator, 3)
    closing = scope(log, work, [], withdrawal, 4)
    entries += [withdrawal, closing]
    left_out = excluded_grant(uuid.uuid4(), buyer, [work], 5)
    entries.append(log.append(Topic.LICENCE_GRANTED, left_out, minute=5))

    problems, facts = chain_problems(checkpoint_signer, keys, log, work, entries)

    assert problems == []
    assert facts["withdrawal rule"] == (
        "no sale after withdrawal: 1 withdrawn work, 0 sales checked by log order"
    )

    # A line sold for real after the same scope still breaks the rule.
    licence = uuid.uuid4()
    sold = log.append(Topic.LICENCE_GRANTED, grant(licence, buyer, [work], 6), minute=6)
    entries.append(sold)

    problems, _ = chain_problems(checkpoint_signer, keys, log, work, entries)

    assert problems == [
        f"no sale after withdrawal: entry {len(entries)} (log index {sold.index}, event "
        f"{sold.event_id}): licence {licence} sells work {work} for training, which the "
        f"sale scope in entry 4 (log index {closing.index}, event {closing.event_id}) "
        "(after work.withdrawn) had closed"
    ]


def test_a_line_left_out_needs_no_exclusion_in_a_delivery_after_a_withdrawal(
    checkpoint_signer: Signer, keys: list[PublicKeyRead]
) -> None:
    # A log from before sale scopes: the older rule, by the times the events carry.
    log, work, creator, buyer, licence = Log(), *(uuid.uuid4() for _ in range(4))
    given = log.append(Topic.CONSENT_GIVEN, consent(work, creator, ConsentKind.GIVEN, 1), minute=1)
    withdrawal = withdrawn_work(log, work, creator, 2)
    left_out = excluded_grant(licence, buyer, [work], 3)
    entries = [given, withdrawal, log.append(Topic.LICENCE_GRANTED, left_out, minute=3)]
    issued = delivery(uuid.uuid4(), licence, buyer, 4)
    entries.append(log.append(Topic.DELIVERY_ISSUED, issued, minute=4))

    problems, facts = chain_problems(checkpoint_signer, keys, log, work, entries)

    assert problems == []
    assert facts["withdrawal rule"] == (
        "no sale after withdrawal: 1 withdrawn work, 0 sales checked by log order"
    )
