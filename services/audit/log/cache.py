"""The sequencer's memory of recent subjects' latest entries, so that a batch reads from
`subject_head` only the subjects it has not seen lately.

Reading a batch's heads was a third of the time of an append. The sequencer is the one
writer of `subject_head`, but another replica may have held its lock since, and a pass
whose transaction rolled back leaves the memory ahead of the table. So the memory is as
of one tree head (size and root), and is used only while the log's tree head, read
under the sequencer's lock, is that one: the root commits every leaf, and the leaves'
links are what the heads are made of. Any other tree head clears it.
"""

from collections.abc import Collection, Mapping
from itertools import islice

from services.audit.log.heads import Head, HeadKey

# About 100 bytes a head: some 20 MB at most.
DEFAULT_CAPACITY = 200_000

TreeState = tuple[int, bytes]
"""(tree size, root hash)."""


class HeadCache:
    """Owned by one sequencer; not shared between tasks."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._capacity = capacity
        self._heads: dict[HeadKey, Head] = {}
        self._tree: tuple[int, bytes] | None = None

    def known(
        self, keys: Collection[HeadKey], *, tree: TreeState
    ) -> tuple[dict[HeadKey, Head], set[HeadKey]]:
        """The heads it holds of `keys`, and the keys to read from the table, for a log
        whose tree head is `tree`."""
        if self._tree != tree:
            return {}, set(keys)
        found: dict[HeadKey, Head] = {}
        missing: set[HeadKey] = set()
        for key in keys:
            head = self._heads.get(key)
            if head is None:
                missing.add(key)
            else:
                found[key] = head
        return found, missing

    def advance(
        self,
        *,
        before: TreeState,
        after: TreeState,
        seen: Mapping[HeadKey, Head] | None = None,
        changed: Mapping[HeadKey, Head] | None = None,
    ) -> None:
        """An append took the log from tree head `before` to `after`: `seen` are the heads
        it read from the table, `changed` those it wrote. What the cache held as of
        another tree head is dropped."""
        heads = self._heads
        if self._tree != before:
            heads.clear()
        for found in (seen or {}, changed or {}):
            for key, head in found.items():
                # Moved to the end, so the least recently used are evicted first.
                heads.pop(key, None)
                heads[key] = head
        excess = len(heads) - self._capacity
        if excess > 0:
            for key in list(islice(heads, excess)):
                del heads[key]
        self._tree = after
