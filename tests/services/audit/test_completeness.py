"""A chain export is whole or it fails: an entry left out, added or moved, a stale head
or a cut proof is found by `check_chain`, which names the place of the gap."""

import json
import uuid
from typing import Any

import pytest

from assent.protocol import check_chain
from services.audit.sequencer import Sequencer
from services.contracts.audit import ChainRead
from services.contracts.signing import PublicKeyRead
from tests.services.audit.helpers import (
    AuditApi,
    consent,
    delivery,
    download,
    grant,
    offer,
    payment,
    registered,
    withdrawal,
)
from tests.services.catalogue.helpers import Actor


def document(chain: ChainRead) -> Any:
    return json.loads(chain.model_dump_json())


def problems(document: Any, keys: list[PublicKeyRead]) -> list[str]:
    return [problem.message for problem in check_chain(document, keys).problems]


@pytest.fixture
async def sold_then_withdrawn(
    audit: AuditApi, sequencer: Sequencer, ines: Actor, lab: Actor
) -> tuple[uuid.UUID, uuid.UUID]:
    """A work sold to the lab, delivered, downloaded, then withdrawn."""
    work, licence = uuid.uuid4(), uuid.uuid4()
    await audit.post(
        registered(lab),
        consent(work, ines),
        offer(work),
        grant(licence, lab, [work]),
        payment(licence, lab),
        delivery(licence, lab),
        download(licence, lab, work),
    )
    await sequencer.run_once()
    await audit.post(withdrawal(work, ines))
    await sequencer.run_once()
    return work, licence


async def test_a_whole_chain_is_proven_complete_back_to_each_subjects_first_entry(
    audit: AuditApi, sold_then_withdrawn: tuple[uuid.UUID, uuid.UUID], auditor: Actor
) -> None:
    work, licence = sold_then_withdrawn
    keys = await audit.keys(auditor)

    for chain in (
        await audit.work_chain(auditor, work),
        await audit.licence_chain(auditor, licence),
    ):
        check = check_chain(document(chain), keys)
        assert check.ok, check.problems
        assert chain.links_begin_at == 0
        assert {(head.kind, head.id) for head in chain.heads} >= {
            ("work", work),
            ("licence", licence),
        }
        complete = dict(check.facts)["completeness"]
        assert f"work {work}: all 5 entries" in complete
        assert f"licence {licence}: all 4 entries" in complete


async def test_removing_any_one_entry_fails_and_says_where(
    audit: AuditApi, sold_then_withdrawn: tuple[uuid.UUID, uuid.UUID], auditor: Actor
) -> None:
    work, _ = sold_then_withdrawn
    keys = await audit.keys(auditor)
    whole = document(await audit.work_chain(auditor, work))
    assert check_chain(whole, keys).ok

    for position, removed in enumerate(whole["entries"]):
        cut = json.loads(json.dumps(whole))
        del cut["entries"][position]
        found = problems(cut, keys)
        assert found, f"removing entry {position + 1} ({removed['topic']}) went unnoticed"
        index = removed["index"]
        # The gap is named: the entry that points at the missing one, or the head map.
        assert any(
            f"names log index {index} as the" in message
            and "the export does not hold it" in message
            for message in found
        ), found


async def test_the_withdrawal_left_out_is_the_latest_entry_missing(
    audit: AuditApi, sold_then_withdrawn: tuple[uuid.UUID, uuid.UUID], auditor: Actor
) -> None:
    work, _ = sold_then_withdrawn
    keys = await audit.keys(auditor)
    whole = document(await audit.work_chain(auditor, work))
    withdrawn = next(e for e in whole["entries"] if e["topic"] == "work.withdrawn")
    whole["entries"].remove(withdrawn)

    assert (
        f"the head map names log index {withdrawn['index']} as the latest entry of work {work}; "
        "the export does not hold it"
    ) in problems(whole, keys)


async def test_an_added_or_moved_entry_fails(
    audit: AuditApi,
    sequencer: Sequencer,
    sold_then_withdrawn: tuple[uuid.UUID, uuid.UUID],
    ines: Actor,
    auditor: Actor,
) -> None:
    work, _ = sold_then_withdrawn
    other = uuid.uuid4()
    await audit.post(consent(other, ines))
    await sequencer.run_once()
    keys = await audit.keys(auditor)
    whole = document(await audit.work_chain(auditor, work))
    stranger = document(await audit.work_chain(auditor, other))["entries"][0]

    added = json.loads(json.dumps(whole))
    added["entries"].append(stranger)
    found = problems(added, keys)
    assert any("is on no proven subject's chain: an entry added" in m for m in found), found

    moved = json.loads(json.dumps(whole))
    moved["entries"][1], moved["entries"][2] = moved["entries"][2], moved["entries"][1]
    found = problems(moved, keys)
    assert any("entries are reordered or repeated" in m for m in found), found


async def test_a_stale_head_or_a_cut_proof_fails(
    audit: AuditApi, sold_then_withdrawn: tuple[uuid.UUID, uuid.UUID], auditor: Actor
) -> None:
    work, _ = sold_then_withdrawn
    keys = await audit.keys(auditor)
    whole = document(await audit.work_chain(auditor, work))
    position = next(n for n, head in enumerate(whole["heads"]) if head["kind"] == "work")
    earlier = [e for e in whole["entries"] if e["topic"] != "work.withdrawn"][-1]

    # The withdrawal and its head left out, the head set back to the entry before it.
    stale = json.loads(json.dumps(whole))
    stale["entries"] = [e for e in stale["entries"] if e["topic"] != "work.withdrawn"]
    stale["heads"][position]["head"] = {"index": earlier["index"], "leaf_hash": "0" * 64}
    found = problems(stale, keys)
    assert any(f"head {position + 1} (work {work}): head proof:" in m for m in found), found

    # And the bucket rewritten to match: it no longer leads to the signed heads root.
    rewritten = json.loads(json.dumps(stale))
    for held in rewritten["heads"][position]["proof"]["heads"]:
        if held["id"] == str(work):
            held.update(index=earlier["index"], leaf_hash="0" * 64)
    found = problems(rewritten, keys)
    assert any("a stale or altered head" in m for m in found), found

    cut = json.loads(json.dumps(whole))
    cut["heads"][position]["proof"]["path"].pop()
    found = problems(cut, keys)
    assert any("11 path hashes" in m and "truncated" in m for m in found), found

    cut_inclusion = json.loads(json.dumps(whole))
    cut_inclusion["entries"][0]["inclusion_proof"].pop()
    found = problems(cut_inclusion, keys)
    assert any("entry 1 (log index" in m and "too short" in m for m in found), found


async def test_a_chain_against_an_older_checkpoint_is_proven_complete_as_of_it(
    audit: AuditApi, sold_then_withdrawn: tuple[uuid.UUID, uuid.UUID], auditor: Actor
) -> None:
    work, _ = sold_then_withdrawn
    keys = await audit.keys(auditor)
    latest = await audit.work_chain(auditor, work)
    # The checkpoint before ends two leaves earlier: the withdrawal, then a heads leaf.
    before = latest.checkpoint.checkpoint.tree_size - 2

    then = await audit.work_chain(auditor, work, tree_size=before)

    check = check_chain(document(then), keys)
    assert check.ok, check.problems
    assert then.pending_entries == 1
    assert "work.withdrawn" not in [entry.topic for entry in then.entries]
    assert f"work {work}: all 4 entries" in dict(check.facts)["completeness"]
