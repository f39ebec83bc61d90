"""The head map is committed inside the witnessed tree: each checkpoint's last leaf is a
heads leaf naming the map's root, so a log cannot show two auditors two head maps at one
tree size (witnesses cosign only the size and the root), and a chain export whose heads
leaf is missing, moved or altered fails."""

import json
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assent.protocol import (
    BUCKETS,
    HEADS_TOPIC,
    bucket_leaf_of,
    bucket_of,
    canonical_json,
    check_chain,
    empty_bucket_leaves,
    heads_leaf_bytes,
    heads_root,
    map_levels,
    map_path,
    read_heads_leaf,
)
from services.audit.models import LogEntry, SubjectHead
from services.audit.sequencer import Sequencer
from services.contracts.audit import CHECKPOINT_PAYLOAD_TYPE
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


def problems(document: Any, keys: list[PublicKeyRead]) -> list[str]:
    return [problem.message for problem in check_chain(document, keys).problems]


def copy(document: Any) -> Any:
    return json.loads(json.dumps(document))


@pytest.fixture
async def withdrawn(
    audit: AuditApi, sequencer: Sequencer, ines: Actor, lab: Actor, auditor: Actor
) -> tuple[uuid.UUID, Any]:
    """A work sold, delivered and downloaded, then withdrawn: its chain, as exported."""
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
    chain = await audit.work_chain(auditor, work)
    return work, json.loads(chain.model_dump_json())


async def test_each_checkpoints_last_leaf_names_the_head_map_as_of_every_leaf_before_it(
    session: AsyncSession, withdrawn: tuple[uuid.UUID, Any]
) -> None:
    _, chain = withdrawn
    size = chain["checkpoint"]["checkpoint"]["tree_size"]
    last = await session.get(LogEntry, size - 1)
    assert last is not None
    assert last.topic == HEADS_TOPIC

    statement = read_heads_leaf(last.entry.decode())
    assert statement.tree_size == size - 1
    assert statement.links_begin_at == chain["links_begin_at"]
    assert statement.buckets == BUCKETS
    # A monitor recomputes it from the heads the log's entries give.
    leaves = empty_bucket_leaves()
    rows = await session.execute(
        select(
            SubjectHead.kind, SubjectHead.subject_id, SubjectHead.leaf_index, SubjectHead.leaf_hash
        )
    )
    buckets: dict[int, list[tuple[str, str, int, str]]] = {}
    for kind, subject, index, digest in rows:
        buckets.setdefault(bucket_of(kind, subject), []).append(
            (kind, str(subject), index, digest.hex())
        )
    for bucket, held in buckets.items():
        leaves[bucket] = bucket_leaf_of(bucket, held)
    map_root = map_levels(leaves)[-1][0]
    assert last.entry == heads_leaf_bytes(
        map_root, links_begin_at=statement.links_begin_at, tree_size=size - 1
    )
    assert chain["heads_leaf"]["index"] == size - 1
    assert chain["heads_leaf"]["entry"] == last.entry.decode()


async def test_two_head_maps_at_one_witnessed_tree_size_cannot_both_verify(
    app: FastAPI,
    session: AsyncSession,
    withdrawn: tuple[uuid.UUID, Any],
    audit: AuditApi,
    auditor: Actor,
) -> None:
    """The log's operator, holding the checkpoint key, shows a second auditor the same
    witnessed tree (same size, same root, same note) with a head map that hides the
    withdrawal: signed afresh, its head proofs all lead to its own root."""
    _, real = withdrawn
    keys = await audit.keys(auditor)
    assert check_chain(real, keys).ok

    hidden = next(entry for entry in real["entries"] if entry["topic"] == "work.withdrawn")
    heads: dict[tuple[str, str], tuple[int, str]] = {}
    rows = await session.execute(
        select(
            SubjectHead.kind, SubjectHead.subject_id, SubjectHead.leaf_index, SubjectHead.leaf_hash
        )
    )
    for kind, subject, index, digest in rows:
        heads[(kind, str(subject))] = (index, digest.hex())
    # Every subject of the withdrawal set back to its entry before it.
    for link in hidden["links"]:
        before = link["previous"]
        heads[(link["kind"], link["id"])] = (before["index"], before["leaf_hash"])
    buckets: dict[int, list[tuple[str, str, int, str]]] = {}
    for (named, shown), (at, hashed) in heads.items():
        buckets.setdefault(bucket_of(named, uuid.UUID(shown)), []).append(
            (named, shown, at, hashed)
        )
    leaves = empty_bucket_leaves()
    for bucket, held in buckets.items():
        leaves[bucket] = bucket_leaf_of(bucket, held)
    levels = map_levels(leaves)

    forged = copy(real)
    forged["entries"] = [e for e in forged["entries"] if e["index"] != hidden["index"]]
    for head in forged["heads"]:
        bucket = head["proof"]["bucket"]
        held = sorted(buckets[bucket])
        mine = next(row for row in held if (row[0], row[1]) == (head["kind"], head["id"]))
        head["head"] = {"index": mine[2], "leaf_hash": mine[3]}
        head["proof"]["heads"] = [
            {"id": subject, "index": index, "kind": kind, "leaf_hash": digest}
            for kind, subject, index, digest in held
        ]
        head["proof"]["path"] = [part.hex() for part in map_path(levels, bucket)]
    statement = dict(forged["checkpoint"]["checkpoint"])
    statement["subject_heads_root"] = heads_root(levels[-1][0], forged["links_begin_at"])
    signer = await app.state.keyring.signer_at(session)
    forged["checkpoint"]["checkpoint"] = statement
    forged["checkpoint"]["envelope"] = signer.sign(
        CHECKPOINT_PAYLOAD_TYPE, canonical_json(statement)
    ).model_dump(mode="json")
    # The same witnessed statement: origin, size and root, in the same note.
    assert forged["checkpoint"]["note"] == real["checkpoint"]["note"]
    assert statement["root_hash"] == real["checkpoint"]["checkpoint"]["root_hash"]

    found = problems(forged, keys)
    assert found, "a second head map at the same witnessed tree size verified"
    assert any("a stale or altered head" in message for message in found), found

    # Its own heads leaf, naming the forged map, is not the tree's leaf.
    relabelled = copy(forged)
    said = read_heads_leaf(relabelled["heads_leaf"]["entry"])
    relabelled["heads_leaf"]["entry"] = heads_leaf_bytes(
        levels[-1][0], links_begin_at=said.links_begin_at, tree_size=said.tree_size
    ).decode()
    found = problems(relabelled, keys)
    assert any("heads leaf" in message and "inclusion proof" in message for message in found), found


async def test_an_export_without_its_heads_leaf_or_with_another_fails(
    audit: AuditApi, withdrawn: tuple[uuid.UUID, Any], auditor: Actor
) -> None:
    work, chain = withdrawn
    keys = await audit.keys(auditor)
    size = chain["checkpoint"]["checkpoint"]["tree_size"]

    missing = copy(chain)
    missing["heads_leaf"] = None
    assert any("carries no heads leaf" in message for message in problems(missing, keys))

    # The heads leaf of the checkpoint before, proven in this tree, is not its last leaf.
    earlier = await audit.work_chain(auditor, work, tree_size=size - 2)
    moved = copy(chain)
    older = earlier.heads_leaf
    assert older is not None
    assert older.index < size - 1
    proof = await audit.ok(
        auditor, "GET", "/v1/proofs/inclusion", params={"leaf_index": older.index}
    )
    moved["heads_leaf"] = {
        "index": older.index,
        "entry": older.entry,
        "inclusion_proof": proof["hashes"],
    }
    found = problems(moved, keys)
    assert any(
        f"the heads leaf is log index {older.index}, not the checkpoint's last leaf "
        f"(log index {size - 1})" in message
        for message in found
    ), found

    altered = copy(chain)
    altered["heads_leaf"]["inclusion_proof"][0] = "0" * 64
    found = problems(altered, keys)
    assert any("heads leaf (log index" in m and "inclusion proof" in m for m in found), found
