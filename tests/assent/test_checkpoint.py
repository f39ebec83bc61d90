"""`assent verify` with audit checkpoints: a licence chain consistent with a kept one, a
history rewritten since caught, and checkpoint documents themselves."""

import json
from pathlib import Path
from typing import Any

import pytest

from assent.protocol import Signer
from services.contracts.audit import LOG_ORIGIN
from services.contracts.signing import CHECKPOINT_KEY_PURPOSE, PublicKeyRead
from tests.assent.chain_checks import WORK, facts_of, problems_of, run, write
from tests.assent.chains import Sale, sale
from tests.assent.documents import certificate, new_signer, signed_certificate

# -- consistency with a kept checkpoint ---------------------------------------------------


def kept_at(sold: Sale, signer: Signer, size: int) -> Any:
    return sold.log.checkpoint(signer, size).model_dump(mode="json")


def test_a_chain_consistent_with_the_kept_checkpoint_verifies(
    chain_keys: list[PublicKeyRead], checkpoint_signer: Signer
) -> None:
    sold = sale()
    chain = sold.log.chain(
        checkpoint_signer, WORK, sold.work_id, sold.work_chain, consistent_with=5
    )
    same = sold.document(checkpoint_signer)

    grown = facts_of(chain.model_dump(mode="json"), chain_keys, kept_at(sold, checkpoint_signer, 5))
    unchanged = facts_of(same, chain_keys, kept_at(sold, checkpoint_signer, 12))
    bare = facts_of(
        same, chain_keys, sold.log.checkpoint(checkpoint_signer, 12).envelope.model_dump()
    )

    assert grown["consistency"].startswith(
        f"the log grew from the kept checkpoint (size 5, root {sold.log.root(5)}, issued "
    )
    assert unchanged["consistency"] == (
        f"the chain's checkpoint is the kept one (size 12, root {sold.log.root(12)})"
    )
    assert bare["consistency"] == unchanged["consistency"]


def test_a_rewritten_history_is_caught_by_the_kept_checkpoint(
    chain_keys: list[PublicKeyRead], checkpoint_signer: Signer
) -> None:
    sold = sale()
    kept = kept_at(sold, checkpoint_signer, 8)
    offer = sold.work_chain[2]
    # The operator edits the stored offer, rebuilds the tree and signs it with the real key.
    rewritten = sold.log.rewritten(offer.index, offer.entry.replace("12000", "1"))
    chain = rewritten.chain(
        checkpoint_signer,
        WORK,
        sold.work_id,
        rewritten.entries_of(sold.work_chain),
        consistent_with=8,
    )
    document = chain.model_dump(mode="json")

    alone = facts_of(document, chain_keys)
    problems = problems_of(document, chain_keys, kept)

    assert alone["subject"] == f"work {sold.work_id}"
    assert (
        f"consistency: the kept checkpoint (size 8, root {sold.log.root(8)}) and the chain's "
        "checkpoint (size 12) are not one history: the proof does not lead to the root of tree "
        "size 12; the log was rewritten after the kept checkpoint was signed"
    ) in problems


def test_two_roots_for_one_size_are_caught(
    chain_keys: list[PublicKeyRead], checkpoint_signer: Signer
) -> None:
    sold = sale()
    offer = sold.work_chain[2]
    rewritten = sold.log.rewritten(offer.index, offer.entry.replace("12000", "1"))
    chain = rewritten.chain(
        checkpoint_signer, WORK, sold.work_id, rewritten.entries_of(sold.work_chain)
    )

    problems = problems_of(
        chain.model_dump(mode="json"), chain_keys, kept_at(sold, checkpoint_signer, 12)
    )

    assert "not one history: two different roots for tree size 12" in problems


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (
            "no-proof",
            "consistency: the chain's checkpoint carries no consistency proof from the "
            "kept checkpoint (size 8",
        ),
        (
            "proof-from-another-size",
            "consistency: the consistency proof runs from size 6 to 12, "
            "not from the kept size 8 to 12",
        ),
        (
            "proof-to-another-size",
            "consistency: the proof runs to size 11, the chain's checkpoint has size 12",
        ),
        ("proof-hash", "not one history: the proof does not lead to the root of tree size"),
        (
            "kept-newer",
            "consistency: the kept checkpoint (size 12, root {root}) is newer than "
            "the chain's checkpoint (size 10), and a log only grows; export the chain again with "
            "--checkpoint",
        ),
        ("kept-forged", "kept checkpoint: signature: no signature verifies"),
    ],
)
def test_an_inconsistent_chain_is_invalid_and_says_why(
    chain_keys: list[PublicKeyRead], checkpoint_signer: Signer, case: str, expected: str
) -> None:
    sold = sale()
    kept, from_size, size = kept_at(sold, checkpoint_signer, 8), 8, 12
    if case == "proof-from-another-size":
        from_size = 6
    elif case == "kept-newer":
        kept, size = kept_at(sold, checkpoint_signer, 12), 10
    elif case == "kept-forged":
        kept = kept_at(sold, new_signer(CHECKPOINT_KEY_PURPOSE), 8)
    entries = [logged for logged in sold.work_chain if logged.index < size]
    chain = sold.log.chain(
        checkpoint_signer,
        WORK,
        sold.work_id,
        entries,
        size=size,
        consistent_with=None if case == "no-proof" else from_size,
    )
    document = chain.model_dump(mode="json")
    if case == "proof-to-another-size":
        document["consistency"]["to_size"] = 11
    elif case == "proof-hash":
        document["consistency"]["hashes"][0] = "0" * 64

    assert expected.format(root=sold.log.root(12)) in problems_of(document, chain_keys, kept)


def test_a_chain_with_a_kept_checkpoint_on_the_command_line(
    tmp_path: Path,
    chain_keys_file: Path,
    checkpoint_signer: Signer,
    licence_signer: Signer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sold = sale()
    chain = sold.log.chain(
        checkpoint_signer, WORK, sold.work_id, sold.work_chain, consistent_with=5
    )
    path = write(tmp_path, chain.model_dump(mode="json"))
    kept = write(tmp_path, kept_at(sold, checkpoint_signer, 5))
    certificate_file = write(
        tmp_path, signed_certificate(licence_signer, certificate()).model_dump()
    )
    not_a_checkpoint = write(tmp_path, {"hello": "world"})
    keys_option = ["--keys", str(chain_keys_file)]

    code, output = run(
        ["verify", str(path), *keys_option, "--checkpoint", str(kept), "--json"], capsys
    )
    misplaced, misplaced_output = run(
        ["verify", str(certificate_file), *keys_option, "--checkpoint", str(kept)], capsys
    )
    wrong, wrong_output = run(
        ["verify", str(path), *keys_option, "--checkpoint", str(not_a_checkpoint)], capsys
    )
    absent, _ = run(
        ["verify", str(path), *keys_option, "--checkpoint", str(tmp_path / "no.json")], capsys
    )

    assert code == 0, output
    result = json.loads(output)
    assert result["valid"] is True
    assert result["key"] == {"key_id": checkpoint_signer.key_id, "purpose": "audit-checkpoint"}
    assert result["facts"]["consistency"].startswith("the log grew from the kept checkpoint")
    assert misplaced == 2
    assert "a kept checkpoint is checked only against a chain export" in misplaced_output
    assert wrong == 2
    assert "the kept checkpoint is not a checkpoint document" in wrong_output
    assert absent == 2


# -- checkpoints --------------------------------------------------------------------------


def test_a_kept_checkpoint_verifies_whole_or_as_a_bare_envelope(
    tmp_path: Path,
    chain_keys_file: Path,
    checkpoint_signer: Signer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sold = sale()
    read = sold.log.checkpoint(checkpoint_signer)
    whole = write(tmp_path, read.model_dump(mode="json"))
    bare = write(tmp_path, read.envelope.model_dump())

    whole_code, whole_output = run(["verify", str(whole), "--keys", str(chain_keys_file)], capsys)
    bare_code, bare_output = run(["verify", str(bare), "--keys", str(chain_keys_file)], capsys)

    assert (whole_code, bare_code) == (0, 0), whole_output + bare_output
    for output in (whole_output, bare_output):
        assert output.startswith("VALID audit checkpoint")
        assert f"signed by key {checkpoint_signer.key_id} (audit-checkpoint)" in output
        assert "log: assent-audit-log" in output
        assert "tree size: 12" in output
        assert f"root: {sold.log.root(12)}" in output
    assert "published as: audit/checkpoints/12.json" in whole_output


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("manifest-key", "signature: key {manifest} is published for delivery-manifest"),
        ("unpublished-key", "signature: no signature verifies with the published keys"),
        ("origin", "origin: the checkpoint is of log 'another-log', not 'assent-audit-log'"),
        ("shown", "the checkpoint shown differs from the signed one in: tree_size"),
    ],
)
def test_a_forged_checkpoint_is_invalid(
    tmp_path: Path,
    chain_keys_file: Path,
    checkpoint_signer: Signer,
    manifest_signer: Signer,
    capsys: pytest.CaptureFixture[str],
    case: str,
    expected: str,
) -> None:
    log = sale().log
    signers = {
        "manifest-key": manifest_signer,
        "unpublished-key": new_signer(CHECKPOINT_KEY_PURPOSE),
    }
    origin = "another-log" if case == "origin" else LOG_ORIGIN
    document = log.checkpoint(signers.get(case, checkpoint_signer), origin=origin).model_dump(
        mode="json"
    )
    if case == "shown":
        document["checkpoint"]["tree_size"] = 13

    code, output = run(
        ["verify", str(write(tmp_path, document)), "--keys", str(chain_keys_file)], capsys
    )

    assert code == 1
    assert output.startswith("INVALID audit checkpoint")
    assert expected.format(manifest=manifest_signer.key_id) in output
