"""`assent verify` on licence chain exports: every tamper is caught and the failure says
where, and no delivery may follow a withdrawal."""

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from assent.protocol import Signer, VerificationError
from assent.verify import UnrecognisedDocument, verify_document
from services.contracts.catalogue import ConsentKind
from services.contracts.events import Topic
from services.contracts.signing import CHECKPOINT_KEY_PURPOSE, PublicKeyRead
from tests.assent.chain_checks import LICENCE, WORK, facts_of, problems_of, run, write
from tests.assent.chain_events import consent
from tests.assent.chains import Logged, Sale, sale
from tests.assent.documents import new_signer, with_payload

# -- valid chains -------------------------------------------------------------------------


def test_the_chain_of_a_sold_work_verifies(
    chain_keys: list[PublicKeyRead], checkpoint_signer: Signer
) -> None:
    sold = sale()

    facts = facts_of(sold.document(checkpoint_signer), chain_keys)

    root = sold.log.root(12)
    assert facts["subject"] == f"work {sold.work_id}"
    assert facts["checkpoint"].startswith(f"tree size 12, root {root}, issued ")
    assert facts["entries"] == (
        "7, each proven in the log (log indices 0 to 10): 1 account, 1 consent, 1 offer, "
        "1 licence, 1 payment, 1 delivery, 1 download"
    )
    assert facts["consistency"] == "not checked: no kept checkpoint given"
    assert facts["withdrawal rule"] == (
        "no sale after withdrawal: 0 withdrawn works, 0 sales checked by log order; no delivery "
        "after withdrawal, for works logged before sale scopes: 1 delivery checked"
    )


def test_the_chain_of_a_licence_verifies(
    chain_keys: list[PublicKeyRead], checkpoint_signer: Signer
) -> None:
    sold = sale()

    facts = facts_of(sold.document(checkpoint_signer, LICENCE), chain_keys)

    assert facts["subject"] == f"licence {sold.licence_id}"


def test_a_chain_verifies_on_the_command_line(
    tmp_path: Path,
    chain_keys_file: Path,
    checkpoint_signer: Signer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sold = sale()
    path = write(tmp_path, sold.document(checkpoint_signer))

    code, output = run(["verify", str(path), "--keys", str(chain_keys_file)], capsys)

    assert code == 0, output
    assert output.startswith(f"VALID licence chain in {path}")
    assert f"signed by key {checkpoint_signer.key_id} (audit-checkpoint)" in output
    assert f"subject: work {sold.work_id}" in output
    assert f"checkpoint: tree size 12, root {sold.log.root(12)}" in output
    assert "1 payment, 1 delivery, 1 download" in output


# -- tampered chains ----------------------------------------------------------------------


def _entry(sold: Sale, topic: Topic, *, unrelated: bool = False) -> Logged:
    return next(e for e in (sold.unrelated if unrelated else sold.work_chain) if e.topic == topic)


def tampered(case: str, sold: Sale, signer: Signer, manifest_signer: Signer) -> tuple[Any, str]:
    """A tampered work chain and the problem it must be refused with."""
    document = sold.document(signer)
    entries = document["entries"]

    def where(position: int) -> str:
        entry = entries[position - 1]
        return f"entry {position} (log index {entry['index']}, event {entry['event_id']})"

    if case == "entry-bytes":
        entries[2]["entry"] = entries[2]["entry"].replace('"price_minor":12000', '"price_minor":1')
        return (
            document,
            f"{where(3)}: inclusion proof: leaf 4 does not lead to the root of tree size 12",
        )
    if case == "shown-time":
        entries[1]["occurred_at"] = "2030-01-01T00:00:00Z"
        return document, f"{where(2)}: occurred_at: shown as 2030-01-01T00:00:00+00:00"
    if case == "shown-event-id":
        entries[1]["event_id"] = str(uuid.uuid4())
        return document, f"{where(2)}: event id: the entry bytes say"
    if case == "shown-step":
        entries[5]["step"] = "download"
        return document, f"{where(6)}: step: shown as download, a delivery.issued entry is delivery"
    if case == "proof-hash":
        entries[3]["inclusion_proof"][0] = "0" * 64
        return document, f"{where(4)}: inclusion proof: leaf 6 does not lead to the root"
    if case == "proof-not-hex":
        entries[0]["inclusion_proof"][0] = "zz"
        return document, f"{where(1)}: inclusion proof: 'zz' is not 64 lowercase hex digits"
    if case == "reordered":
        entries[2], entries[3] = entries[3], entries[2]
        return document, (
            f"{where(4)}: order: log index 4 does not follow log index 6 of entry 3; entries "
            "are reordered or repeated"
        )
    if case == "duplicated":
        entries.insert(3, dict(entries[2]))
        return document, f"{where(4)}: event {entries[2]['event_id']} is also entry 3"
    if case == "dropped-and-renumbered":
        # The offer (log index 4) dropped, the licence after it moved up into its place.
        del entries[2]
        entries[2]["index"] = 4
        return document, f"{where(3)}: inclusion proof: leaf 4 does not lead to the root"
    if case == "replaced":
        # Another work's offer put in place of this work's, under the same index and proof.
        other = _entry(sold, Topic.OFFER_PUBLISHED, unrelated=True)
        entries[2].update(
            entry=other.entry,
            event_id=str(other.event_id),
            occurred_at=other.occurred_at.isoformat(),
        )
        return document, f"{where(3)}: inclusion proof: leaf 4 does not lead to the root"
    if case == "index-outside":
        entries[6]["index"] = 12
        return document, f"{where(7)}: log index 12 is outside the checkpoint's tree of size 12"
    if case == "pasted-offer":
        # Genuinely logged and proven, but about another work.
        other = _entry(sold, Topic.OFFER_PUBLISHED, unrelated=True)
        entries.insert(3, sold.log.chain_entry(other, 12).model_dump(mode="json"))
        return document, (
            f"{where(4)}: not about work {sold.work_id}: it concerns work {sold.other_work_id}"
        )
    if case == "pasted-download":
        other = _entry(sold, Topic.FILE_DOWNLOADED, unrelated=True)
        entries.append(sold.log.chain_entry(other, 12).model_dump(mode="json"))
        return document, (
            f"{where(8)}: not about work {sold.work_id}: it concerns licence "
            f"{json.loads(other.entry)['payload']['licence_id']}, and no licence.granted in this "
            f"chain grants work {sold.work_id} under it"
        )
    if case == "pasted-account":
        other = _entry(sold, Topic.ACCOUNT_REGISTERED, unrelated=True)
        entries.insert(1, sold.log.chain_entry(other, 12).model_dump(mode="json"))
        account = json.loads(other.entry)["payload"]["account_id"]
        return document, f"{where(2)}: not about work {sold.work_id}: account {account} is no party"
    if case == "checkpoint-unpublished-key":
        document = sold.chain(new_signer(CHECKPOINT_KEY_PURPOSE)).model_dump(mode="json")
        return document, "checkpoint: signature: no signature verifies with the published keys"
    if case == "checkpoint-manifest-key":
        document = sold.chain(manifest_signer).model_dump(mode="json")
        return document, (
            f"checkpoint: signature: key {manifest_signer.key_id} is published for "
            "delivery-manifest, not audit-checkpoint"
        )
    if case == "checkpoint-payload":
        checkpoint = document["checkpoint"]
        envelope = sold.log.checkpoint(signer).envelope

        def bigger(payload: Any) -> None:
            payload["tree_size"] = 13

        checkpoint["envelope"] = with_payload(envelope, bigger).model_dump()
        return document, "checkpoint: signature: no signature verifies"
    if case == "checkpoint-shown":
        document["checkpoint"]["checkpoint"]["root_hash"] = "0" * 64
        return (
            document,
            "checkpoint: the checkpoint shown differs from the signed one in: root_hash",
        )
    if case == "checkpoint-origin":
        document["checkpoint"] = sold.log.checkpoint(signer, origin="another-log").model_dump(
            mode="json"
        )
        return document, "checkpoint: origin: the checkpoint is of log 'another-log'"
    if case == "proof-for-another-size":
        # Proofs made for the tree of size 10, shown against the checkpoint of size 12.
        for entry, logged in zip(entries, sold.work_chain, strict=True):
            if logged.index < 10:
                entry["inclusion_proof"] = sold.log.inclusion(logged.index, 10)
        return (
            document,
            f"{where(1)}: inclusion proof: leaf 0 does not lead to the root of tree size 12",
        )
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case",
    [
        "entry-bytes",
        "shown-time",
        "shown-event-id",
        "shown-step",
        "proof-hash",
        "proof-not-hex",
        "reordered",
        "duplicated",
        "dropped-and-renumbered",
        "replaced",
        "index-outside",
        "pasted-offer",
        "pasted-download",
        "pasted-account",
        "checkpoint-unpublished-key",
        "checkpoint-manifest-key",
        "checkpoint-payload",
        "checkpoint-shown",
        "checkpoint-origin",
        "proof-for-another-size",
    ],
)
def test_a_tampered_chain_is_invalid_and_says_where(
    chain_keys: list[PublicKeyRead], checkpoint_signer: Signer, manifest_signer: Signer, case: str
) -> None:
    document, where = tampered(case, sale(), checkpoint_signer, manifest_signer)

    assert where in problems_of(document, chain_keys)


def test_a_tampered_chain_is_invalid_on_the_command_line(
    tmp_path: Path,
    chain_keys_file: Path,
    checkpoint_signer: Signer,
    manifest_signer: Signer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    document, where = tampered("entry-bytes", sale(), checkpoint_signer, manifest_signer)
    path = write(tmp_path, document)

    code, output = run(["verify", str(path), "--keys", str(chain_keys_file)], capsys)
    json_code, json_output = run(
        ["verify", str(path), "--keys", str(chain_keys_file), "--json"], capsys
    )

    assert (code, json_code) == (1, 1)
    assert output.startswith(f"INVALID licence chain in {path}\n  {where}")
    result = json.loads(json_output)
    assert result["valid"] is False
    assert result["problems"] == [where]


def test_a_licence_chain_holds_only_its_own_licence_and_works(
    chain_keys: list[PublicKeyRead], checkpoint_signer: Signer
) -> None:
    sold = sale()
    document = sold.document(checkpoint_signer, LICENCE)
    for topic in (Topic.CONSENT_GIVEN, Topic.LICENCE_GRANTED):
        other = _entry(sold, topic, unrelated=True)
        document["entries"].append(sold.log.chain_entry(other, 12).model_dump(mode="json"))
        document["entries"].sort(key=lambda entry: entry["index"])

    problems = problems_of(document, chain_keys)

    assert (
        f"not about licence {sold.licence_id}: it concerns work {sold.other_work_id}, which "
        f"licence {sold.licence_id} does not grant in this chain"
    ) in problems
    assert f"not about licence {sold.licence_id}: it concerns licence " in problems


# -- the withdrawal rule ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("withdraw", "minute", "excluded", "violation"),
    [
        ("work", 25, False, True),
        ("work", 25, True, False),
        ("work", 35, False, False),
        ("consent", 25, False, True),
        ("consent", 25, True, False),
        ("consent", 35, False, False),
    ],
)
def test_no_delivery_after_withdrawal(
    chain_keys: list[PublicKeyRead],
    checkpoint_signer: Signer,
    withdraw: str,
    minute: int,
    excluded: bool,
    violation: bool,
) -> None:
    sold = sale(withdraw=withdraw, withdraw_minute=minute, delivery_excludes=excluded)
    document = sold.document(checkpoint_signer)

    if not violation:
        facts = facts_of(document, chain_keys)
        assert facts["withdrawal rule"] == (
            "no sale after withdrawal: 1 withdrawn work, 0 sales checked by log order; no "
            "delivery after withdrawal, for works logged before sale scopes: 1 delivery checked"
        )
        return
    problems = problems_of(document, chain_keys)
    delivery, withdrawal = document["entries"][6], document["entries"][5]
    assert (
        f"no delivery after withdrawal: entry 7 (log index {delivery['index']}, event "
        f"{delivery['event_id']}): delivery {sold.delivery_id} of licence {sold.licence_id}, "
        f"issued 2026-03-01T12:30:00+00:00, delivers work {sold.work_id} without excluding it, "
        f"though {withdrawal['topic']} in entry 6 (log index {withdrawal['index']}, event "
        f"{withdrawal['event_id']}) withdrew it at 2026-03-01T12:25:00+00:00"
    ) in problems


def test_consent_given_again_before_a_delivery_allows_it(
    chain_keys: list[PublicKeyRead], checkpoint_signer: Signer
) -> None:
    sold = sale(withdraw="consent", withdraw_minute=20)
    again = consent(sold.work_id, sold.creator_id, ConsentKind.GIVEN, 22)
    entries = [*sold.work_chain, sold.log.append(Topic.CONSENT_GIVEN, again, minute=22)]
    chain = sold.log.chain(checkpoint_signer, WORK, sold.work_id, entries)

    facts = facts_of(chain.model_dump(mode="json"), chain_keys)

    assert facts["withdrawal rule"].startswith("no sale after withdrawal: 1 withdrawn work, ")
    assert facts["withdrawal rule"].endswith("1 delivery checked")


def test_what_is_not_a_chain_export_is_refused(chain_keys: list[PublicKeyRead]) -> None:
    with pytest.raises(VerificationError, match="licence chain: subject_kind"):
        verify_document({"type": "application/vnd.assent.licence-chain+json"}, chain_keys)
    with pytest.raises(UnrecognisedDocument, match="or a licence chain export"):
        verify_document({"type": "something else"}, chain_keys)
