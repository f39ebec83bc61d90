"""The HTML evidence report shows text that creators and buyers wrote as text, never markup."""

import uuid
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from assent.protocol import ChainCheck, Signer, check_chain, leaf_hash
from assent.report import render
from services.contracts.audit import ChainSubjectKind
from services.contracts.catalogue import ConsentKind, Use, statement_sha256
from services.contracts.events import AccountRegistered, Topic
from services.contracts.licensing import LicenceRefunded, SaleScopeRecorded
from services.contracts.signing import CHECKPOINT_KEY_PURPOSE
from tests.assent.chain_events import at, consent, grant
from tests.assent.chains import Log, sale
from tests.assent.documents import new_signer, published

SCRIPT = "<script>alert('owned')</script>"
HOSTILE_NAME = f'Mallory "{SCRIPT}" & Sons'
HOSTILE_STATEMENT = f'v1"><img src=x onerror=alert(1)>{SCRIPT}'
HOSTILE_WORDS = f"I agree</blockquote>{SCRIPT}"
HOSTILE_REASON = f"</td></tr></table>{SCRIPT}"
HOSTILE_SOURCE = f"http://gateway/?q={SCRIPT}"
HOSTILE_JSON_NAME = f"</code></pre>{SCRIPT}.json"
ALLOWED_TAGS = {
    *("html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "code", "pre", "div"),
    *("strong", "dl", "dt", "dd", "ul", "li", "table", "thead", "tbody", "tr", "th", "td"),
    *("span", "br", "svg", "rect", "text", "polyline", "g", "blockquote", "small"),
}


class Page(HTMLParser):
    """What a browser would make of the page: its elements and its visible text."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.text: list[str] = []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture(scope="module")
def signer() -> Signer:
    return new_signer(CHECKPOINT_KEY_PURPOSE)


def hostile_chain(signer: Signer) -> ChainCheck:
    log = Log()
    work, creator, buyer, licence = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    registered = AccountRegistered(account_id=creator, name=HOSTILE_NAME, roles=["creator"])
    consented = consent(work, creator, ConsentKind.GIVEN, 2).model_copy(
        update={
            "statement_version": HOSTILE_STATEMENT,
            "statement_text": HOSTILE_WORDS,
            "statement_sha256": statement_sha256(HOSTILE_WORDS),
        }
    )
    sold = grant(licence, buyer, [work], 10)
    sold = sold.model_copy(
        update={
            "buyer_name": HOSTILE_NAME,
            "lines": [sold.lines[0].model_copy(update={"title": SCRIPT})],
        }
    )
    refunded = LicenceRefunded(
        licence_id=licence,
        buyer_id=buyer,
        refunded_by=creator,
        reason=HOSTILE_REASON,
        refunded_at=at(20),
        amount_minor=12_000,
        currency="EUR",
    )
    entries = [
        log.append(Topic.ACCOUNT_REGISTERED, registered, minute=0),
        log.append(Topic.CONSENT_GIVEN, consented, minute=2),
        log.append(Topic.LICENCE_GRANTED, sold, minute=10),
        log.append(Topic.LICENCE_REFUNDED, refunded, minute=20),
    ]
    chain = log.chain(signer, ChainSubjectKind.WORK, work, entries)
    return check_chain(chain.model_dump(mode="json"), published(signer).keys)


def test_hostile_names_and_consent_text_are_shown_as_text(signer: Signer) -> None:
    check = hostile_chain(signer)

    page = render(
        check,
        exported_at=datetime.now(UTC),
        source=HOSTILE_SOURCE,
        json_name=HOSTILE_JSON_NAME,
    )

    assert "<script" not in page
    parsed = Page(page)
    assert parsed.tags <= ALLOWED_TAGS
    assert not {name for name in parsed.attributes if name.startswith("on")}
    shown = "".join(parsed.text)
    for hostile in (HOSTILE_NAME, HOSTILE_STATEMENT, HOSTILE_WORDS, HOSTILE_REASON, HOSTILE_SOURCE):
        assert hostile in shown
    assert f"assent verify {HOSTILE_JSON_NAME} --keys KEYS.json" in shown
    assert f"reason: {HOSTILE_REASON}" in shown
    assert f"{SCRIPT} (work " in shown


@pytest.mark.parametrize("verified", [True, False], ids=["verified", "not-verified"])
def test_the_report_tells_the_chain_in_words(signer: Signer, verified: bool) -> None:
    sold = sale()
    checked_with = signer if verified else new_signer(CHECKPOINT_KEY_PURPOSE)
    check = check_chain(sold.document(checked_with), published(signer).keys)

    page = render(check, exported_at=datetime.now(UTC), source="here", json_name="chain.json")

    shown = " ".join(" ".join(Page(page).text).split())
    verdict = "Verified." if verified else "Not verified."
    assert verdict in shown
    assert f"Licence chain of work {sold.work_id}" in shown
    assert f"{len(sold.work_chain)} entries of the Assent audit log" in shown
    assert "Ada <Creator> (" in shown
    assert "consented to the use of work" in shown
    assert "royalty to Ada <Creator>" in shown
    assert "platform fee:" in shown
    assert "left out" not in shown
    assert "assent verify chain.json --keys KEYS.json" in shown
    for logged in sold.work_chain:
        assert str(logged.event_id) in shown


def test_a_withheld_entry_and_a_sale_scope_are_told_in_words(signer: Signer) -> None:
    sold = sale()
    scope = sold.log.append(
        Topic.SALE_SCOPE_RECORDED,
        SaleScopeRecorded(
            work_id=sold.work_id,
            open_uses=[Use.TRAINING],
            cause_event_id=sold.work_chain[0].event_id,
            cause_topic=Topic.CONSENT_REVISED,
            recorded_at=at(90),
        ),
        minute=90,
    )
    chain = sold.log.chain(signer, ChainSubjectKind.WORK, sold.work_id, [*sold.work_chain, scope])
    payment = next(e for e in chain.entries if e.topic == Topic.LEDGER_RECORDED)
    assert payment.entry is not None
    hidden = payment.model_copy(
        update={"entry": None, "leaf_hash": leaf_hash(payment.entry.encode()).hex()}
    )
    chain.entries[chain.entries.index(payment)] = hidden
    check = check_chain(chain.model_dump(mode="json"), published(signer).keys)

    page = render(check, exported_at=datetime.now(UTC), source="here", json_name="chain.json")

    assert check.ok, check.problems
    shown = " ".join(" ".join(Page(page).text).split())
    assert "withheld (another party's), proven by its leaf hash" in shown
    assert f"leaf hash {hidden.leaf_hash}" in shown
    assert "could not be read" not in shown
    assert (
        f"Sale scope of work {sold.work_id} recorded: licensing may sell it from then on "
        "for training only"
    ) in shown
    assert f"after {Topic.CONSENT_REVISED}" in shown
