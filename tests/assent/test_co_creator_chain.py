"""The chain of a co-created work: the invitations and each co-creator's consent are
about the work, so the chain verifies; an invitation to another work is named."""

import uuid

import pytest

from assent.protocol import Signer, check_chain
from services.contracts.audit import ChainSubjectKind
from services.contracts.catalogue import ConsentKind, InvitationEvent, InvitationStatus
from services.contracts.events import Topic
from services.contracts.signing import CHECKPOINT_KEY_PURPOSE
from tests.assent.chain_events import at, consent
from tests.assent.chains import Log, Logged
from tests.assent.documents import new_signer, published


@pytest.fixture(scope="module")
def signer() -> Signer:
    return new_signer(CHECKPOINT_KEY_PURPOSE)


def invitation(
    log: Log,
    topic: Topic,
    work_id: uuid.UUID,
    *,
    owner: uuid.UUID,
    co_creator: uuid.UUID,
    minute: int,
) -> Logged:
    status = {
        Topic.INVITATION_SENT: InvitationStatus.PENDING,
        Topic.INVITATION_ACCEPTED: InvitationStatus.ACCEPTED,
    }[topic]
    event = InvitationEvent(
        invitation_id=uuid.uuid4(),
        work_id=work_id,
        creator_id=co_creator,
        invited_by=owner,
        basis_points=3_000,
        status=status,
        occurred_at=at(minute),
    )
    return log.append(topic, event, minute=minute)


def test_a_co_created_works_chain_verifies_with_its_invitations(signer: Signer) -> None:
    log = Log()
    work_id, owner, co_creator = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    people = {"owner": owner, "co_creator": co_creator}
    entries = [
        invitation(log, Topic.INVITATION_SENT, work_id, **people, minute=1),
        log.append(Topic.CONSENT_GIVEN, consent(work_id, owner, ConsentKind.GIVEN, 2), minute=2),
        invitation(log, Topic.INVITATION_ACCEPTED, work_id, **people, minute=3),
        log.append(
            Topic.CONSENT_GIVEN, consent(work_id, co_creator, ConsentKind.GIVEN, 4), minute=4
        ),
    ]
    chain = log.chain(signer, ChainSubjectKind.WORK, work_id, entries)

    check = check_chain(chain.model_dump(mode="json"), published(signer).keys)

    assert check.ok, check.problems


def test_an_invitation_to_another_work_is_named(signer: Signer) -> None:
    log = Log()
    work_id, other_work, owner = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    given = log.append(Topic.CONSENT_GIVEN, consent(work_id, owner, ConsentKind.GIVEN, 1), minute=1)
    stray = invitation(
        log, Topic.INVITATION_SENT, other_work, owner=owner, co_creator=uuid.uuid4(), minute=2
    )
    chain = log.chain(signer, ChainSubjectKind.WORK, work_id, [given, stray])

    check = check_chain(chain.model_dump(mode="json"), published(signer).keys)

    assert [problem.message for problem in check.problems] == [
        f"entry 2 (log index {stray.index}, event {stray.event_id}): not about work "
        f"{work_id}: it concerns work {other_work}"
    ]
