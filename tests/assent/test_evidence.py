"""Evidence that stands on its own: the report names each party by name and verified
identity and quotes the consent words, and `assent verify` checks an export with nothing
but the file, naming the keys it came with."""

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from assent.cli import main
from assent.protocol import Signer, check_chain
from assent.report import render
from services.contracts.signing import CHECKPOINT_KEY_PURPOSE, PublishedKeys
from tests.assent.chain_events import CONSENT_WORDS
from tests.assent.conftest import UNREACHABLE
from tests.assent.documents import new_signer, published
from tests.assent.evidence_chain import (
    BUYER_NAME,
    BUYER_ORGANISATION,
    CO_CREATOR_NAME,
    CREATOR_ORGANISATION,
    named_sale,
)
from tests.assent.test_report import Page


@pytest.fixture(scope="module")
def signer() -> Signer:
    return new_signer(CHECKPOINT_KEY_PURPOSE)


def shown_text(markup: str) -> str:
    return " ".join(" ".join(Page(markup).text).split())


def test_the_report_names_each_party_by_name_and_verified_identity(signer: Signer) -> None:
    named = named_sale(signer)
    check = check_chain(named.chain.model_dump(mode="json"), published(signer).keys)
    assert check.ok, check.problems

    page = render(check, exported_at=datetime.now(UTC), source="here", json_name="chain.json")

    shown = shown_text(page)
    parties = shown[shown.index("Parties") : shown.index("The words consented to")]
    assert f"Ada <Creator> creator organisation {CREATOR_ORGANISATION}, confirmed by an admin" in (
        parties
    )
    assert f"{BUYER_NAME} buyer organisation {BUYER_ORGANISATION}, confirmed by an admin" in (
        parties
    )
    assert f"{CO_CREATOR_NAME} creator not verified paid royalties" in parties
    for account in (named.sold.creator_id, named.sold.buyer_id, named.sold.co_creator_id):
        assert str(account) in parties
    # Who did what is said by name and identity, the account ids only in the table.
    assert f"royalty to Ada <Creator> (verified organisation: {CREATOR_ORGANISATION})" in shown
    assert f"granted to {BUYER_NAME} (verified organisation: {BUYER_ORGANISATION})" in shown
    assert f"royalty to {CO_CREATOR_NAME} (identity not verified)" in shown


def test_the_report_quotes_the_consent_words_verbatim(signer: Signer) -> None:
    named = named_sale(signer)
    check = check_chain(named.chain.model_dump(mode="json"), published(signer).keys)

    page = render(check, exported_at=datetime.now(UTC), source="here", json_name="chain.json")

    words = Page(page).text
    # Word for word, line breaks included, under the statement that names who agreed.
    assert CONSENT_WORDS in words
    shown = shown_text(page)
    statement = shown[shown.index("Statement opt-in, version 1") :]
    assert statement.index(
        f"agreed to by Ada <Creator> (verified organisation: {CREATOR_ORGANISATION})"
    ) < statement.index("I opt in to my work")


def test_a_consent_logged_before_its_words_says_so(signer: Signer) -> None:
    named = named_sale(signer)
    document = named.chain.model_dump(mode="json")
    sold = named.sold
    consent = next(e for e in sold.log.entries if e.topic == "consent.given")
    logged = json.loads(consent.entry)
    logged["payload"]["statement_text"] = None
    legacy = sold.log.rewritten(consent.index, json.dumps(logged))
    chain = legacy.chain(
        signer, named.chain.subject_kind, sold.work_id, legacy.entries_of(sold.work_chain)
    )
    document = chain.model_dump(mode="json")
    check = check_chain(document, published(signer).keys)
    assert check.ok, check.problems

    page = render(check, exported_at=datetime.now(UTC), source="here", json_name="chain.json")

    shown = shown_text(page)
    assert "The words are not in the chain: these consents were logged before the log kept" in (
        shown
    )
    assert CONSENT_WORDS not in Page(page).text


def test_the_report_lists_the_keys_the_export_carries(signer: Signer) -> None:
    carried = named_sale(signer)
    bare = named_sale(signer, carry_keys=False)
    keys = published(signer).keys

    with_keys = render(
        check_chain(carried.chain.model_dump(mode="json"), keys),
        exported_at=datetime.now(UTC),
        source="here",
        json_name="chain.json",
    )
    without = render(
        check_chain(bare.chain.model_dump(mode="json"), keys),
        exported_at=datetime.now(UTC),
        source="here",
        json_name="chain.json",
    )

    shown = shown_text(with_keys)
    assert f"{signer.key_id} {CHECKPOINT_KEY_PURPOSE} valid from the start until now" in shown
    assert "assent verify chain.json [--keys KEYS.json]" in shown
    assert "This export carries no keys" in shown_text(without)
    assert "assent verify chain.json --keys KEYS.json" in shown_text(without)


# -- assent verify, offline ----------------------------------------------------------------


def verify(
    tmp_path: Path, document: object, capsys: pytest.CaptureFixture[str], *flags: str
) -> tuple[int, str]:
    path = tmp_path / f"{uuid.uuid4().hex}.json"
    path.write_text(json.dumps(document))
    code = main(["verify", str(path), *flags])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No gateway answers: any attempt to fetch keys fails."""
    monkeypatch.setenv("ASSENT_GATEWAY_URL", UNREACHABLE)


@pytest.mark.usefixtures("offline")
def test_an_export_verifies_with_no_flags_and_no_network(
    tmp_path: Path, signer: Signer, capsys: pytest.CaptureFixture[str]
) -> None:
    named = named_sale(signer)

    code, output = verify(tmp_path, named.chain.model_dump(mode="json"), capsys)

    assert code == 0, output
    assert output.startswith("VALID licence chain")
    assert f"signed by key {signer.key_id} ({CHECKPOINT_KEY_PURPOSE}) from the export itself" in (
        output
    )
    assert f"key {signer.key_id}: {CHECKPOINT_KEY_PURPOSE}, valid from the start until now" in (
        output
    )
    assert f"Ada <Creator>: organisation {CREATOR_ORGANISATION}, confirmed by an admin" in output
    assert f"{BUYER_NAME}: organisation {BUYER_ORGANISATION}, confirmed by an admin" in output
    assert f"{CO_CREATOR_NAME}: not verified; paid royalties" in output


@pytest.mark.usefixtures("offline")
def test_pinned_keys_refuse_a_carried_key_that_differs(
    tmp_path: Path, signer: Signer, capsys: pytest.CaptureFixture[str]
) -> None:
    named = named_sale(signer)
    impostor = new_signer(CHECKPOINT_KEY_PURPOSE).published()
    pinned = PublishedKeys(
        keys=[signer.published().model_copy(update={"public_key": impostor.public_key})]
    )
    keys = tmp_path / "keys.json"
    keys.write_text(pinned.model_dump_json())
    same = tmp_path / "same.json"
    same.write_text(published(signer).model_dump_json())
    document = named.chain.model_dump(mode="json")

    refused, output = verify(tmp_path, document, capsys, "--keys", str(keys))
    accepted, pinned_output = verify(tmp_path, document, capsys, "--keys", str(same))

    assert refused == 1
    assert output.startswith("INVALID licence chain")
    assert f"the export carries key {signer.key_id} with another public key" in output
    assert accepted == 0, pinned_output
    assert f"from {same}" in pinned_output


@pytest.mark.usefixtures("offline")
def test_an_export_carrying_no_keys_still_needs_them(
    tmp_path: Path, signer: Signer, capsys: pytest.CaptureFixture[str]
) -> None:
    named = named_sale(signer, carry_keys=False)

    code, output = verify(tmp_path, named.chain.model_dump(mode="json"), capsys)

    assert code == 2
    assert f"cannot fetch {UNREACHABLE}" in output
