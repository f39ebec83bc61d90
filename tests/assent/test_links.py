"""Linked leaves and the head map, checked offline with no log at hand."""

import random
import uuid

import pytest

from assent.protocol import (
    BUCKETS,
    Signer,
    VerificationError,
    bucket_leaf,
    bucket_of,
    canonical_json,
    empty_bucket_leaves,
    heads_leaf_bytes,
    leaf_hash,
    linked_leaf_bytes,
    map_levels,
    map_path,
    read_heads_leaf,
    root_of,
    verify_head,
    verify_heads_leaf,
)
from services.contracts.audit import (
    BucketHead,
    Checkpoint,
    HeadProof,
    HeadsLeaf,
    LinkedKind,
    PreviousEntry,
    SubjectHead,
)
from services.contracts.signing import PublicKeyRead
from services.kit.db import utcnow
from tests.assent.chain_checks import facts_of
from tests.assent.chains import sale


def test_the_sequencers_leaf_bytes_are_the_canonical_json_of_the_entry() -> None:
    rng = random.Random(5)
    for _ in range(200):
        links = []
        for kind in sorted(rng.sample([k.value for k in LinkedKind], rng.randint(0, 4))):
            first = rng.random() < 0.3
            index = None if first else rng.randrange(2**53)
            digest = "" if first else rng.randbytes(32).hex()
            links.append((kind, uuid.UUID(int=rng.getrandbits(128)), index, digest))
        event = rng.randbytes(32).hex()
        document = {
            "event_sha256": event,
            "links": [
                {
                    "id": str(subject),
                    "kind": kind,
                    "previous": None if index is None else {"index": index, "leaf_hash": digest},
                }
                for kind, subject, index, digest in links
            ],
        }
        assert linked_leaf_bytes(event, links) == canonical_json(document)


def test_a_buckets_leaf_is_over_the_canonical_json_of_its_heads() -> None:
    heads = [
        BucketHead(kind=kind, id=uuid.uuid4(), index=n * 2**40, leaf_hash=f"{n:064x}")
        for n, kind in enumerate([LinkedKind.WORK, LinkedKind.ACCOUNT, LinkedKind.WORK])
    ]
    ordered = sorted(heads, key=lambda head: (head.kind.value, str(head.id)))
    document = {"bucket": 9, "heads": [head.model_dump(mode="json") for head in ordered]}

    assert bucket_leaf(9, reversed(heads)) == leaf_hash(canonical_json(document))


def _map(heads: list[BucketHead]) -> tuple[list[list[bytes]], dict[int, list[BucketHead]]]:
    buckets: dict[int, list[BucketHead]] = {}
    for head in heads:
        buckets.setdefault(bucket_of(head.kind, head.id), []).append(head)
    leaves = empty_bucket_leaves()
    for bucket, held in buckets.items():
        leaves[bucket] = bucket_leaf(bucket, held)
    return map_levels(leaves), buckets


def test_a_head_proof_proves_the_latest_entry_and_nothing_else() -> None:
    heads = [
        BucketHead(kind=LinkedKind.WORK, id=uuid.uuid4(), index=n, leaf_hash=f"{n:064x}")
        for n in range(50)
    ]
    levels, buckets = _map(heads)
    root = levels[-1][0]
    mine = heads[7]
    bucket = bucket_of(mine.kind, mine.id)
    held = sorted(buckets[bucket], key=lambda head: (head.kind.value, str(head.id)))
    proof = HeadProof(bucket=bucket, heads=held, path=[p.hex() for p in map_path(levels, bucket)])
    head = SubjectHead(
        kind=mine.kind,
        id=mine.id,
        head=PreviousEntry(index=7, leaf_hash=mine.leaf_hash),
        proof=proof,
    )

    verify_head(head, map_root=root)
    assert 0 <= bucket < BUCKETS
    with pytest.raises(VerificationError, match="a stale or altered head"):
        verify_head(head, map_root=levels[-2][0])
    stale = head.model_copy(update={"head": PreviousEntry(index=6, leaf_hash=f"{6:064x}")})
    with pytest.raises(VerificationError, match="the bucket holds log index 7"):
        verify_head(stale, map_root=root)
    emptied = head.model_copy(update={"proof": proof.model_copy(update={"heads": []})})
    with pytest.raises(VerificationError, match="the map holds no entry of it"):
        verify_head(emptied, map_root=root)


def test_a_chain_against_a_checkpoint_signed_before_links_says_completeness_is_not_provable(
    chain_keys: list[PublicKeyRead], checkpoint_signer: Signer
) -> None:
    sold = sale()

    facts = facts_of(sold.document(checkpoint_signer), chain_keys)

    assert facts["completeness"].startswith(
        "not provable: the checkpoint (tree size 12) was signed before the log kept subject links"
    )


def test_a_heads_leaf_is_read_only_from_its_canonical_bytes() -> None:
    root = bytes(range(32))
    leaf = heads_leaf_bytes(root, links_begin_at=3, tree_size=41)

    said = read_heads_leaf(leaf.decode())
    assert (said.map_root, said.buckets, said.links_begin_at, said.tree_size) == (
        root,
        BUCKETS,
        3,
        41,
    )
    # One meaning for every reader: no repeated key, no other spelling, no other map.
    repeated = leaf.decode().replace('{"buckets"', '{"tree_size":7,"buckets"')
    with pytest.raises(VerificationError, match="not the canonical JSON"):
        read_heads_leaf(repeated)
    with pytest.raises(VerificationError, match="not the canonical JSON"):
        read_heads_leaf(leaf.decode().replace(",", ", "))
    with pytest.raises(VerificationError, match="its map has 16 buckets"):
        read_heads_leaf(leaf.decode().replace(f'"buckets":{BUCKETS}', '"buckets":16'))
    with pytest.raises(VerificationError, match="not a statement of subject heads"):
        read_heads_leaf(canonical_json({"event_sha256": "0" * 64, "links": []}).decode())


def test_a_heads_leaf_must_be_the_checkpoints_last_leaf_as_of_every_leaf_before_it() -> None:
    others = [leaf_hash(f"entry {n}".encode()) for n in range(5)]
    entry = heads_leaf_bytes(bytes(32), links_begin_at=0, tree_size=5)
    leaves = [*others, leaf_hash(entry)]
    checkpoint = Checkpoint(tree_size=6, root_hash=root_of(leaves).hex(), issued_at=utcnow())
    # In a tree of six leaves, the last one's path: leaf 4, then leaves 0 to 3.
    proof = [leaves[4].hex(), root_of(leaves[:4]).hex()]
    leaf = HeadsLeaf(index=5, entry=entry.decode(), inclusion_proof=proof)

    assert verify_heads_leaf(leaf, checkpoint).tree_size == 5
    with pytest.raises(VerificationError, match="carries no heads leaf"):
        verify_heads_leaf(None, checkpoint)
    longer = checkpoint.model_copy(update={"tree_size": 7})
    with pytest.raises(VerificationError, match="not the checkpoint's last leaf"):
        verify_heads_leaf(leaf, longer)
    stale = heads_leaf_bytes(bytes(32), links_begin_at=0, tree_size=4).decode()
    with pytest.raises(VerificationError, match="as of tree size 4, not of every leaf before"):
        verify_heads_leaf(leaf.model_copy(update={"entry": stale}), checkpoint)
    other = heads_leaf_bytes(bytes([1]) * 32, links_begin_at=0, tree_size=5).decode()
    with pytest.raises(VerificationError, match="inclusion proof"):
        verify_heads_leaf(leaf.model_copy(update={"entry": other}), checkpoint)
