"""A chain carries each consent's exact words: the report shows them verbatim with the
rights attestation, and words that are not the ones whose hash was recorded fail."""

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import BaseModel

from assent.protocol import Signer, check_chain
from assent.report import render
from services.contracts.audit import ChainSubjectKind
from services.contracts.catalogue import ConsentKind, Use
from services.contracts.events import Topic
from services.contracts.signing import CHECKPOINT_KEY_PURPOSE
from tests.assent.chain_events import CONSENT_WORDS, consent
from tests.assent.chains import Log, sale
from tests.assent.documents import new_signer, published
from tests.assent.test_report import Page


class _ConsentRecordedBeforeWords(BaseModel):
    """`consent.given` as the catalogue logged it before it carried the words."""

    consent_id: uuid.UUID
    work_id: uuid.UUID
    kind: ConsentKind
    uses: list[Use]
    statement_version: str
    statement_sha256: str
    given_by: uuid.UUID
    given_at: datetime


@pytest.fixture(scope="module")
def signer() -> Signer:
    return new_signer(CHECKPOINT_KEY_PURPOSE)


def test_the_report_shows_the_words_agreed_to_verbatim(signer: Signer) -> None:
    check = check_chain(sale().document(signer), published(signer).keys)

    page = render(check, exported_at=datetime.now(UTC), source="here", json_name="chain.json")

    assert check.ok, check.problems
    text = "".join(Page(page).text)
    assert CONSENT_WORDS in text
    assert "statement opt-in version 1" in text
    assert (
        "attests to owning or controlling the rights; the work depicts identifiable people, "
        "whose releases they hold"
    ) in text


def test_words_other_than_those_hashed_fail_verification(signer: Signer) -> None:
    log = Log()
    given = consent(uuid.uuid4(), uuid.uuid4(), ConsentKind.GIVEN, 2)
    altered = given.model_copy(update={"statement_text": CONSENT_WORDS + " Or anything else."})
    entry = log.append(Topic.CONSENT_GIVEN, altered, minute=2)
    chain = log.chain(signer, ChainSubjectKind.WORK, given.work_id, [entry])

    check = check_chain(chain.model_dump(mode="json"), published(signer).keys)

    assert not check.ok
    assert any(
        "statement_text does not hash to statement_sha256" in problem.message
        for problem in check.problems
    )


def test_a_consent_logged_before_words_were_carried_still_verifies(signer: Signer) -> None:
    log = Log()
    given = consent(uuid.uuid4(), uuid.uuid4(), ConsentKind.GIVEN, 2)
    before = _ConsentRecordedBeforeWords.model_validate(given.model_dump())
    entry = log.append(Topic.CONSENT_GIVEN, before, minute=2)
    chain = log.chain(signer, ChainSubjectKind.WORK, given.work_id, [entry])

    check = check_chain(chain.model_dump(mode="json"), published(signer).keys)
    page = render(check, exported_at=datetime.now(UTC), source="here", json_name="chain.json")

    assert check.ok, check.problems
    assert "the words are not in this entry" in "".join(Page(page).text)
