"""pymerkle, an independent RFC 9162 implementation, against our Merkle roots and proofs.

pymerkle hashes the same way (leaf = H(0x00||entry), node = H(0x01||left||right), the
empty tree H("")), numbers leaves from one, and ends an inclusion proof's path with the
leaf's own hash first. Its consistency proofs list the old tree's subtrees explicitly
where RFC 6962 leaves them implicit, so those are compared through each other's verifier.
"""

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymerkle import InclusionProof, InmemoryTree, InvalidProof  # type: ignore[import-untyped]

from assent.protocol import (
    EMPTY_ROOT,
    Frontier,
    Node,
    VerificationError,
    consistency_ranges,
    inclusion_ranges,
    leaf_hash,
    range_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)

EVERY_SIZE_UP_TO = 70
LARGE_SIZES = [127, 128, 129, 1000, 1023, 1024, 1025, 4097]


class Log:
    """Entries as the audit log holds them: stored perfect subtrees, proofs built from them."""

    def __init__(self, size: int) -> None:
        self.entries = [f"entry {number}".encode() for number in range(size)]
        self.leaves = [leaf_hash(entry) for entry in self.entries]
        self.nodes: dict[Node, bytes] = {}
        frontier = Frontier.empty()
        self.roots = [frontier.root()]
        for leaf in self.leaves:
            self.nodes.update(frontier.append(leaf))
            self.roots.append(frontier.root())
        self.oracle = InmemoryTree.init_from_entries(self.entries)

    def inclusion(self, index: int, size: int) -> list[bytes]:
        return [range_hash(start, end, self.nodes) for start, end in inclusion_ranges(index, size)]

    def consistency(self, old: int, new: int) -> list[bytes]:
        return [range_hash(start, end, self.nodes) for start, end in consistency_ranges(old, new)]


@pytest.fixture(scope="module")
def log() -> Log:
    return Log(max(LARGE_SIZES))


def small_pairs() -> Iterator[tuple[int, int]]:
    for size in range(1, EVERY_SIZE_UP_TO + 1):
        for index in range(size):
            yield index, size


def test_the_roots_agree_at_every_size(log: Log) -> None:
    assert log.oracle.get_root(0) == EMPTY_ROOT == log.roots[0]
    for size in [*range(1, EVERY_SIZE_UP_TO + 1), *LARGE_SIZES]:
        expected = log.oracle.get_root(size)
        assert log.roots[size] == expected, size
        assert root_of(log.leaves[:size]) == expected, size
        assert log.oracle.get_leaf(size) == log.leaves[size - 1]


def assert_inclusion_agrees(log: Log, index: int, size: int) -> None:
    theirs = log.oracle.prove_inclusion(index + 1, size)
    ours = log.inclusion(index, size)
    root, leaf = log.roots[size], log.leaves[index]

    assert theirs.path == [leaf, *ours], (index, size)
    verify_inclusion(leaf, index, size, theirs.path[1:], root)
    # pymerkle checks our proof, laid out by its own rule for this index and size.
    ours_for_them = InclusionProof("sha256", True, size, index + 1, theirs.rule, [leaf, *ours])
    ours_for_them.verify(leaf, root, index=index + 1, size=size)


def test_inclusion_proofs_agree_for_every_leaf_of_small_trees(log: Log) -> None:
    for index, size in small_pairs():
        assert_inclusion_agrees(log, index, size)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_inclusion_proofs_agree_in_large_trees(log: Log, data: st.DataObject) -> None:
    size = data.draw(st.sampled_from(LARGE_SIZES) | st.integers(1, len(log.entries)))
    index = data.draw(st.integers(0, size - 1))
    assert_inclusion_agrees(log, index, size)


def assert_consistency_agrees(log: Log, old: int, new: int) -> None:
    theirs = log.oracle.prove_consistency(old, new)
    ours = log.consistency(old, new)

    # Each verifier accepts the other side's roots with its own side's proof.
    theirs.verify(log.roots[old], log.roots[new], prior_size=old, later_size=new)
    verify_consistency(old, new, log.oracle.get_root(old), log.oracle.get_root(new), ours)
    # And refuses a root of another size.
    if old > 1:
        with pytest.raises(InvalidProof):
            theirs.verify(log.roots[old - 1], log.roots[new])
        with pytest.raises(VerificationError):
            verify_consistency(old, new, log.oracle.get_root(old - 1), log.roots[new], ours)


def test_consistency_proofs_agree_between_every_pair_of_small_sizes(log: Log) -> None:
    for old, new in small_pairs():
        assert_consistency_agrees(log, old + 1, new)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_consistency_proofs_agree_in_large_trees(log: Log, data: st.DataObject) -> None:
    new = data.draw(st.sampled_from(LARGE_SIZES) | st.integers(1, len(log.entries)))
    old = data.draw(st.integers(1, new))
    assert_consistency_agrees(log, old, new)


def test_our_verifier_refuses_what_pymerkle_refuses(log: Log) -> None:
    size, index = 1025, 700
    proof = log.inclusion(index, size)
    tampered = [proof[0], bytes(32), *proof[2:]]
    root, leaf = log.roots[size], log.leaves[index]
    theirs = log.oracle.prove_inclusion(index + 1, size)

    with pytest.raises(InvalidProof, match="State does not match"):
        InclusionProof("sha256", True, size, index + 1, theirs.rule, [leaf, *tampered]).verify(
            leaf, root
        )
    with pytest.raises(VerificationError, match="does not lead to the root"):
        verify_inclusion(leaf, index, size, tampered, root)
