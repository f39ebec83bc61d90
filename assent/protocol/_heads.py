"""The head map: every linked subject's latest entry, committed in each checkpoint.

A chain export proves that it holds a subject's whole chain by walking the entries'
links back from the subject's latest entry; this module proves which entry is the
latest as of a checkpoint. The map puts each subject (kind, id) in one of `BUCKETS`
buckets by the sha256 of its key; a bucket's leaf is the canonical JSON of every head in
it, and the buckets are the leaves of a perfect RFC 6962 tree. The checkpoint signs
`heads_root`: the map root, the bucket count and the log index where links begin. A
proof of a subject's head is its whole bucket and the bucket's path to the map root, so
it also shows that the bucket holds no other head for the subject.

Written here rather than taken from a library: a sparse Merkle tree (the usual verifiable
map) costs 256 hashes per changed subject, where a bucketed map costs one bucket leaf per
checkpoint and 12 hashes per proof; and the verifier must be pure Python with no I/O.
With a million subjects a bucket holds about 250 heads (some 25 kB a proof).
"""

import hashlib
from collections.abc import Iterable, Sequence
from functools import cache
from uuid import UUID

from services.contracts.audit import BucketHead, HeadProof, SubjectHead

from ._errors import VerificationError
from ._merkle import leaf_hash, node_hash
from ._signing import canonical_json

BUCKETS_LOG2 = 12
BUCKETS = 1 << BUCKETS_LOG2
_HEADS_ROOT_TAG = b"assent subject heads v1\n"

HeadKey = tuple[str, UUID]
"""(kind, subject id)."""


def bucket_of(kind: str, subject_id: UUID) -> int:
    digest = hashlib.sha256(f"{kind}:{subject_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") >> (32 - BUCKETS_LOG2)


def bucket_leaf(bucket: int, heads: Iterable[BucketHead]) -> bytes:
    """The leaf hash of a bucket; `heads` in any order (sorted here by kind, then id)."""
    return bucket_leaf_of(
        bucket, ((head.kind.value, str(head.id), head.index, head.leaf_hash) for head in heads)
    )


def bucket_leaf_of(bucket: int, heads: Iterable[tuple[str, str, int, str]]) -> bytes:
    """`bucket_leaf` of (kind, id, index, leaf hash hex) rows: the canonical JSON
    `{"bucket": b, "heads": [{"id", "index", "kind", "leaf_hash"}...]}` written out
    directly, as a checkpoint rehashes thousands of buckets (the tests hold it equal to
    `canonical_json` of the same document)."""
    parts = [
        f'{{"id":"{subject}","index":{index},"kind":"{kind}","leaf_hash":"{digest}"}}'
        for kind, subject, index, digest in sorted(heads)
    ]
    return leaf_hash(f'{{"bucket":{bucket},"heads":[{",".join(parts)}]}}'.encode())


def empty_bucket_leaves() -> list[bytes]:
    """Every bucket's leaf in a map with no heads (a new list each call)."""
    return list(_empty_leaves())


@cache
def _empty_leaves() -> tuple[bytes, ...]:
    # 4,096 canonical JSON documents: worth computing once per process.
    return tuple(bucket_leaf(bucket, ()) for bucket in range(BUCKETS))


def map_levels(leaves: Sequence[bytes]) -> list[list[bytes]]:
    """Every level of the map's perfect tree, the bucket leaves first, the root last."""
    if len(leaves) != BUCKETS:
        raise ValueError(f"the head map has {BUCKETS} buckets, not {len(leaves)}")
    levels = [list(leaves)]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below), 2)])
    return levels


def map_path(levels: Sequence[Sequence[bytes]], bucket: int) -> list[bytes]:
    """The sibling hashes from a bucket's leaf to the root, bottom-up."""
    return [level[(bucket >> depth) ^ 1] for depth, level in enumerate(levels[:-1])]


def heads_root(map_root: bytes, links_begin_at: int) -> str:
    """What a checkpoint signs: the map root, bound to the bucket count and the marker."""
    document = {"buckets": BUCKETS, "links_begin_at": links_begin_at, "map_root": map_root.hex()}
    return hashlib.sha256(_HEADS_ROOT_TAG + canonical_json(document)).hexdigest()


def _climb(leaf: bytes, bucket: int, path: Sequence[bytes]) -> bytes:
    result = leaf
    for depth, sibling in enumerate(path):
        result = node_hash(sibling, result) if (bucket >> depth) & 1 else node_hash(result, sibling)
    return result


def verify_head(head: SubjectHead, *, root: str, links_begin_at: int) -> None:
    """That `head.head` is the subject's latest entry in the map signed as `root`;
    raises VerificationError saying what does not hold."""
    proof: HeadProof = head.proof
    expected = bucket_of(head.kind, head.id)
    if proof.bucket != expected:
        raise VerificationError(
            f"the proof is of bucket {proof.bucket}; the subject is in {expected}"
        )
    if len(proof.path) != BUCKETS_LOG2:
        raise VerificationError(
            f"the proof has {len(proof.path)} path hashes; a map of {BUCKETS} buckets needs "
            f"{BUCKETS_LOG2} (truncated or padded)"
        )
    keys = [(entry.kind.value, str(entry.id)) for entry in proof.heads]
    if keys != sorted(set(keys)):
        raise VerificationError("the bucket's heads are not in order, or repeat a subject")
    strays = [entry for entry in proof.heads if bucket_of(entry.kind, entry.id) != proof.bucket]
    if strays:
        raise VerificationError(
            f"the bucket holds {strays[0].kind} {strays[0].id} of another bucket"
        )
    found = [entry for entry in proof.heads if (entry.kind, entry.id) == (head.kind, head.id)]
    if not found:
        raise VerificationError("the subject is not in its bucket: the map holds no entry of it")
    held = found[0]
    if (held.index, held.leaf_hash) != (head.head.index, head.head.leaf_hash):
        raise VerificationError(
            f"the bucket holds log index {held.index} as the latest entry, the export says "
            f"log index {head.head.index}"
        )
    try:
        path = [bytes.fromhex(text) for text in proof.path]
    except ValueError as exc:
        raise VerificationError(f"a path hash is not hex: {exc}") from exc
    if any(len(part) != 32 for part in path):
        raise VerificationError("a path hash is not 32 bytes")
    map_root = _climb(bucket_leaf(proof.bucket, proof.heads), proof.bucket, path)
    if heads_root(map_root, links_begin_at) != root:
        raise VerificationError(
            "the bucket and its path do not lead to the checkpoint's subject heads root "
            f"(with links beginning at log index {links_begin_at}): a stale or altered head"
        )
