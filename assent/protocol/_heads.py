"""The head map: every linked subject's latest entry, committed inside the log itself.

A chain export proves that it holds a subject's whole chain by walking the entries'
links back from the subject's latest entry; this module proves which entry is the
latest as of a checkpoint. The map puts each subject (kind, id) in one of `BUCKETS`
buckets by the sha256 of its key; a bucket's leaf is the canonical JSON of every head in
it, and the buckets are the leaves of a perfect RFC 6962 tree. A proof of a subject's
head is its whole bucket and the bucket's path to the map root, so it also shows that
the bucket holds no other head for the subject.

The map root is committed by a *heads leaf*: before signing a checkpoint the sequencer
appends a leaf whose bytes (`heads_leaf_bytes`) name the map root, the bucket count,
where links begin and the tree size the map is as of (every leaf before the heads leaf),
and the checkpoint it signs ends with that leaf. Witnesses cosign only the tree's size
and root (a C2SP note), so a map signed beside the tree (the DSSE checkpoint's
`subject_heads_root`, kept as a convenience) could differ between two readers of one
witnessed tree; a map inside the tree cannot. A chain export carries the heads leaf
with its inclusion proof (`verify_heads_leaf`), and every head proof must lead to the
root it names. Every heads leaf can be recomputed by a monitor replaying the log: the
links of the linked entries before it give each subject's latest entry, hence the map.

Written here rather than taken from a library: a sparse Merkle tree (the usual verifiable
map) costs 256 hashes per changed subject, where a bucketed map costs one bucket leaf per
checkpoint and 12 hashes per proof; and the verifier must be pure Python with no I/O.
With a million subjects a bucket holds about 250 heads (some 25 kB a proof).
"""

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from uuid import NAMESPACE_URL, UUID, uuid5

from services.contracts.audit import (
    LOG_ORIGIN,
    BucketHead,
    Checkpoint,
    HeadProof,
    HeadsLeaf,
    SubjectHead,
)

from ._errors import VerificationError
from ._merkle import leaf_hash, node_hash, verify_inclusion
from ._signing import canonical_json

BUCKETS_LOG2 = 12
BUCKETS = 1 << BUCKETS_LOG2
_HEADS_ROOT_TAG = b"assent subject heads v1\n"
HEADS_TOPIC = "audit.heads"
"""The topic the log stores its heads leaves under (they are no event of any service)."""
_HEADS_STATEMENT = "subject heads"
_HEX = re.compile(r"[0-9a-f]{64}")

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
    """The DSSE checkpoint's `subject_heads_root`: the map root, bound to the bucket count
    and the marker. A convenience only: what proves the map is the heads leaf, which the
    witnessed root commits; `check_chain` requires the two to agree."""
    document = {"buckets": BUCKETS, "links_begin_at": links_begin_at, "map_root": map_root.hex()}
    return hashlib.sha256(_HEADS_ROOT_TAG + canonical_json(document)).hexdigest()


def _climb(leaf: bytes, bucket: int, path: Sequence[bytes]) -> bytes:
    result = leaf
    for depth, sibling in enumerate(path):
        result = node_hash(sibling, result) if (bucket >> depth) & 1 else node_hash(result, sibling)
    return result


def verify_head(head: SubjectHead, *, map_root: bytes) -> None:
    """That `head.head` is the subject's latest entry in the map of root `map_root` (the
    one a proven heads leaf names); raises VerificationError saying what does not hold."""
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
    if _climb(bucket_leaf(proof.bucket, proof.heads), proof.bucket, path) != map_root:
        raise VerificationError(
            "the bucket and its path do not lead to the map root the checkpoint's heads "
            "leaf names: a stale or altered head"
        )


@dataclass(frozen=True)
class HeadsStatement:
    """What a heads leaf says: the head map of root `map_root` holds every subject's
    latest entry among the first `tree_size` leaves (all those before the heads leaf)."""

    map_root: bytes
    buckets: int
    links_begin_at: int
    tree_size: int


def heads_leaf_bytes(map_root: bytes, *, links_begin_at: int, tree_size: int) -> bytes:
    """The bytes of the heads leaf appended at log index `tree_size`."""
    return canonical_json(
        {
            "buckets": BUCKETS,
            "links_begin_at": links_begin_at,
            "log": LOG_ORIGIN,
            "map_root": map_root.hex(),
            "statement": _HEADS_STATEMENT,
            "tree_size": tree_size,
        }
    )


def heads_event_id(tree_size: int) -> UUID:
    """The heads leaf's id in the log's table (each log index holds at most one)."""
    return uuid5(NAMESPACE_URL, f"assent-audit-log:heads:{tree_size}")


def _count(document: dict[str, object], name: str) -> int:
    value = document.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise VerificationError(f"its {name} is not a count: {value!r}")
    return value


def read_heads_leaf(text: str) -> HeadsStatement:
    """The statement of a heads leaf's bytes; raises VerificationError for bytes that are
    not a heads leaf of this log in canonical JSON (two readers must read one meaning)."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise VerificationError(f"it is not JSON: {exc}") from exc
    if not isinstance(document, dict) or document.get("statement") != _HEADS_STATEMENT:
        raise VerificationError("it is not a statement of subject heads")
    if document.get("log") != LOG_ORIGIN:
        raise VerificationError(f"it is of the log {document.get('log')!r}, not {LOG_ORIGIN!r}")
    root = document.get("map_root")
    if not isinstance(root, str) or not _HEX.fullmatch(root):
        raise VerificationError("its map_root is not 64 lowercase hex digits")
    statement = HeadsStatement(
        map_root=bytes.fromhex(root),
        buckets=_count(document, "buckets"),
        links_begin_at=_count(document, "links_begin_at"),
        tree_size=_count(document, "tree_size"),
    )
    expected = heads_leaf_bytes(
        statement.map_root,
        links_begin_at=statement.links_begin_at,
        tree_size=statement.tree_size,
    )
    if statement.buckets != BUCKETS:
        raise VerificationError(f"its map has {statement.buckets} buckets, not {BUCKETS}")
    if text.encode() != expected:
        raise VerificationError("it is not the canonical JSON of a heads statement")
    return statement


def verify_heads_leaf(leaf: HeadsLeaf | None, checkpoint: Checkpoint) -> HeadsStatement:
    """The statement of the checkpoint's heads leaf: the leaf must be the checkpoint's
    last, prove into its root and be as of every leaf before it. Raises
    VerificationError saying what does not hold."""
    last = checkpoint.tree_size - 1
    if leaf is None:
        raise VerificationError(
            "the export carries no heads leaf (the checkpoint's last leaf, which commits "
            "the head map inside the witnessed tree), so no head can be proven; a "
            "checkpoint signed before heads leaves cannot prove completeness: export "
            "against a later one"
        )
    if leaf.index != last:
        raise VerificationError(
            f"the heads leaf is log index {leaf.index}, not the checkpoint's last leaf "
            f"(log index {last})"
        )
    try:
        statement = read_heads_leaf(leaf.entry)
    except VerificationError as exc:
        raise VerificationError(f"the heads leaf (log index {leaf.index}): {exc}") from exc
    if statement.tree_size != leaf.index:
        raise VerificationError(
            f"the heads leaf (log index {leaf.index}) names the map as of tree size "
            f"{statement.tree_size}, not of every leaf before it ({leaf.index})"
        )
    try:
        proof = [bytes.fromhex(part) for part in leaf.inclusion_proof]
        verify_inclusion(
            leaf_hash(leaf.entry.encode()),
            leaf.index,
            checkpoint.tree_size,
            proof,
            bytes.fromhex(checkpoint.root_hash),
        )
    except (ValueError, VerificationError) as exc:
        raise VerificationError(
            f"the heads leaf (log index {leaf.index}): inclusion proof: {exc}"
        ) from exc
    return statement
