"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and their verification.

The log stores the hash of every *perfect* subtree: the node at `(level, index)` covers
leaves `[index * 2**level, (index + 1) * 2**level)`. Every subtree a proof names is either
perfect or a right edge `[start, size)`, whose hash folds the perfect subtrees it splits
into, so a proof needs only stored nodes. Building a proof is therefore two steps: the
ranges it names (`inclusion_ranges`, `consistency_ranges`), then the stored nodes those
ranges need (`nodes_for`), fetched in one query, and the hashes (`range_hash`).
"""

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ._errors import VerificationError

EMPTY_ROOT = hashlib.sha256(b"").digest()
HASH_SIZE = len(EMPTY_ROOT)

Node = tuple[int, int]
"""(level, index) of a perfect subtree."""

Range = tuple[int, int]
"""[start, end) of leaves."""


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two smaller than `size` (size > 1)."""
    return 1 << ((size - 1).bit_length() - 1)


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of a list of leaf hashes, held in memory (tests, benchmarks, small trees)."""
    if not leaf_hashes:
        return EMPTY_ROOT
    frontier = Frontier.empty()
    for leaf in leaf_hashes:
        frontier.append(leaf)
    return frontier.root()


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The subtrees of PATH(index, D[size]) (RFC 6962 2.1.1), bottom-up."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    ranges: list[Range] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def consistency_ranges(old_size: int, new_size: int) -> list[Range]:
    """The subtrees of PROOF(old_size, D[new_size]) (RFC 6962 2.1.2), bottom-up."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
    if old_size in (0, new_size):
        return []
    ranges: list[Range] = []
    start, end, m, whole = 0, new_size, old_size, True
    while m != end:
        k = _split(end - start)
        if m - start <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
            whole = False
    if not whole:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def perfect_parts(start: int, end: int) -> list[Node]:
    """The perfect subtrees a proof range splits into, left to right."""
    parts: list[Node] = []
    while start < end:
        level = (end - start).bit_length() - 1
        # A range of a proof starts on a boundary of its largest part; a range that does
        # not cannot be served from stored nodes.
        if start % (1 << level):
            raise ValueError(f"range [{start}, {end}) is not a subtree of the log")
        parts.append((level, start >> level))
        start += 1 << level
    return parts


def nodes_for(ranges: Iterable[Range]) -> set[Node]:
    return {node for start, end in ranges for node in perfect_parts(start, end)}


def range_hash(start: int, end: int, nodes: Mapping[Node, bytes]) -> bytes:
    """MTH(D[start:end]) from the stored perfect subtrees it splits into."""
    parts = [nodes[node] for node in perfect_parts(start, end)]
    result = parts[-1]
    for part in reversed(parts[:-1]):
        result = node_hash(part, result)
    return result


def frontier_nodes(size: int) -> list[Node]:
    """The perfect subtrees a tree of `size` leaves splits into, largest first."""
    return perfect_parts(0, size)


@dataclass
class Frontier:
    """The right edge of the tree: all an append needs, however large the tree.

    `append` returns the perfect subtrees it completes (the leaf itself first), which
    the log stores so that proofs never recompute them.
    """

    size: int
    hashes: list[tuple[int, bytes]]

    @classmethod
    def empty(cls) -> "Frontier":
        return cls(0, [])

    @classmethod
    def at(cls, size: int, nodes: Mapping[Node, bytes]) -> "Frontier":
        return cls(size, [(level, nodes[(level, index)]) for level, index in frontier_nodes(size)])

    def append(self, leaf: bytes) -> list[tuple[Node, bytes]]:
        index = self.size
        completed: list[tuple[Node, bytes]] = [((0, index), leaf)]
        self.hashes.append((0, leaf))
        while len(self.hashes) > 1 and self.hashes[-1][0] == self.hashes[-2][0]:
            level, right = self.hashes.pop()
            _, left = self.hashes.pop()
            merged = node_hash(left, right)
            self.hashes.append((level + 1, merged))
            completed.append(((level + 1, index >> (level + 1)), merged))
        self.size += 1
        return completed

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        result = self.hashes[-1][1]
        for _, part in reversed(self.hashes[:-1]):
            result = node_hash(part, result)
        return result


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 2.1.3.2; raises VerificationError."""
    if not 0 <= index < size:
        raise VerificationError(f"leaf index {index} is outside a tree of size {size}")
    # In a tree of one leaf the leaf hash is the root and is never hashed, so without
    # this check any bytes would "prove" themselves, e.g. an empty leaf and root.
    if len(leaf) != HASH_SIZE:
        raise VerificationError(f"a leaf hash is {HASH_SIZE} bytes, not {len(leaf)}")
    fn, sn, result = index, size - 1, leaf
    for sibling in proof:
        if sn == 0:
            raise VerificationError(f"the inclusion proof is too long for leaf {index} of {size}")
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError(f"the inclusion proof is too short for leaf {index} of {size}")
    if result != root:
        raise VerificationError(f"leaf {index} does not lead to the root of tree size {size}")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 2.1.4.2; raises VerificationError."""
    if not 0 <= old_size <= new_size:
        raise VerificationError(f"tree size went from {old_size} down to {new_size}")
    if old_size == new_size:
        if proof:
            raise VerificationError("a proof between equal tree sizes must be empty")
        if old_root != new_root:
            raise VerificationError(f"two different roots for tree size {old_size}")
        return
    if old_size == 0:
        if proof:
            raise VerificationError("a proof from the empty tree must be empty")
        return
    if not proof:
        raise VerificationError(f"an empty consistency proof from size {old_size} to {new_size}")
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for node in path[1:]:
        if sn == 0:
            raise VerificationError(
                f"the consistency proof from {old_size} to {new_size} is too long"
            )
        if fn & 1 or fn == sn:
            fr = node_hash(node, fr)
            sr = node_hash(node, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, node)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError(f"the consistency proof from {old_size} to {new_size} is too short")
    if fr != old_root:
        raise VerificationError(f"the proof does not lead to the root of tree size {old_size}")
    if sr != new_root:
        raise VerificationError(f"the proof does not lead to the root of tree size {new_size}")
