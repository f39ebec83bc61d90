"""Linked entries, and the completeness of a chain export.

From the marker entry on, every leaf of the log is a *linked entry*: the canonical JSON
`{"event_sha256": <sha256 of the event bytes>, "links": [<SubjectLink>...]}`, one link
per subject of kind work, licence, account or key, sorted by (kind, id), each naming that
subject's previous entry by log index and leaf hash (null for its first). Hashing the
event apart lets an export show a withheld entry's links without its event.

`completeness` walks each claimed subject's links back from its latest entry, proven by
the head map that the checkpoint's heads leaf commits inside the witnessed tree
(`_heads`), to its first entry or to an entry logged before the marker; every entry on
the walk must be in the export, and every linked entry of the export must be on a walk,
so an entry left out, added or moved is found, with its place.
"""

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from uuid import NAMESPACE_URL, UUID, uuid5

from services.contracts.audit import (
    LOG_ORIGIN,
    ChainEntry,
    ChainRead,
    ChainSubjectKind,
    Checkpoint,
    LinkedKind,
    SubjectLink,
)

from ._entries import Problem, where
from ._errors import VerificationError
from ._heads import HeadsStatement, heads_root, verify_head, verify_heads_leaf
from ._merkle import leaf_hash
from ._signing import canonical_json

LINKED_KINDS = frozenset(kind.value for kind in LinkedKind)
MARKER_TOPIC = "audit.links_begin"
MARKER_EVENT_ID = uuid5(NAMESPACE_URL, "assent-audit-log:links-begin")


def marker_bytes(index: int) -> bytes:
    """The marker entry's bytes: where links begin, and which subjects they follow."""
    return canonical_json(
        {
            "log": LOG_ORIGIN,
            "marker": "subject links begin",
            "links_begin_at": index,
            "linked_kinds": sorted(LINKED_KINDS),
        }
    )


def linked_leaf_bytes(
    event_sha256: str, links: Sequence[tuple[str, UUID | str, int | None, str]]
) -> bytes:
    """The canonical JSON of a linked entry, written out directly for the sequencer's
    speed; `links` are (kind, id, previous index or None, previous leaf hash hex).

    Equal to `canonical_json` of the same document (the values are hex, UUIDs, kind names
    and integers, which JSON writes with no escaping): the tests hold it to that.
    """
    parts = []
    for kind, subject_id, index, previous in links:
        shown = "null" if index is None else f'{{"index":{index},"leaf_hash":"{previous}"}}'
        parts.append(f'{{"id":"{subject_id}","kind":"{kind}","previous":{shown}}}')
    return f'{{"event_sha256":"{event_sha256}","links":[{",".join(parts)}]}}'.encode()


def link_tuples(links: Sequence[SubjectLink]) -> list[tuple[str, UUID, int | None, str]]:
    return [
        (
            link.kind.value,
            link.id,
            None if link.previous is None else link.previous.index,
            "" if link.previous is None else link.previous.leaf_hash,
        )
        for link in links
    ]


def entry_leaf(entry: ChainEntry) -> bytes:
    """The leaf hash an export entry stands for, from what it shows; raises ValueError
    when what it shows disagrees with itself."""
    if entry.links is None:
        if entry.entry is not None:
            return leaf_hash(entry.entry.encode())
        if entry.leaf_hash is None:
            raise ValueError("a withheld entry logged before links began needs its leaf hash")
        return bytes.fromhex(entry.leaf_hash)
    if entry.entry is not None:
        digest = hashlib.sha256(entry.entry.encode()).hexdigest()
        if entry.event_sha256 is not None and entry.event_sha256 != digest:
            raise ValueError("event_sha256 is not the sha256 of the entry bytes")
    elif entry.event_sha256 is not None:
        digest = entry.event_sha256
    else:
        raise ValueError("a withheld linked entry needs its event_sha256")
    leaf = leaf_hash(linked_leaf_bytes(digest, link_tuples(entry.links)))
    if entry.leaf_hash is not None and entry.leaf_hash != leaf.hex():
        raise ValueError("the leaf hash shown is not that of the event hash and its links")
    return leaf


@dataclass(frozen=True)
class _Held:
    position: int
    entry: ChainEntry
    leaf: str | None


def _claimed(chain: ChainRead) -> set[tuple[LinkedKind, UUID]]:
    """The subjects whose completeness the export must prove, read from what it shows:
    its subject, the licences of a work's chain (the works of a licence's), and the
    accounts and keys of its shown entries."""
    own = LinkedKind(chain.subject_kind.value)
    other = LinkedKind.LICENCE if chain.subject_kind == ChainSubjectKind.WORK else LinkedKind.WORK
    claimed = {(own, chain.subject_id)}
    for entry in chain.entries:
        if entry.entry is None or entry.links is None:
            continue
        for link in entry.links:
            if link.kind in (other, LinkedKind.ACCOUNT, LinkedKind.KEY):
                claimed.add((link.kind, link.id))
    return claimed


def _walk(
    kind: LinkedKind,
    subject: UUID,
    head: tuple[int, str],
    held: dict[int, _Held],
    begin: int,
    problems: list[Problem],
) -> tuple[set[int], str]:
    """The log indices on the subject's chain, and how the walk ended. Messages are
    written only for a failure: a long chain's walk is one dictionary step per entry."""
    name = f"{kind} {subject}"
    index, leaf = head
    seen: set[int] = set()
    came_from: _Held | None = None

    def named_by() -> str:
        if came_from is None:
            return f"the head map names log index {index} as the latest entry of {name}"
        return (
            f"{where(came_from.position, came_from.entry)} names log index {index} as the "
            f"previous entry of {name}"
        )

    while True:
        found = held.get(index)
        if found is None:
            at = () if came_from is None else (came_from.position,)
            problems.append(Problem(f"{named_by()}; the export does not hold it", at))
            return seen, "broken"
        here = (found.position,)
        if found.leaf != leaf:
            shown = where(found.position, found.entry)
            problems.append(
                Problem(f"{named_by()} with leaf hash {leaf}; {shown} has another", here)
            )
            return seen, "broken"
        seen.add(index)
        links = found.entry.links
        if links is None:
            if index >= begin:
                shown = where(found.position, found.entry)
                problems.append(
                    Problem(f"{shown} shows no links, but links began at log index {begin}", here)
                )
                return seen, "broken"
            return seen, f"legacy:{index}"
        mine = next((link for link in links if link.id == subject and link.kind == kind), None)
        if mine is None:
            shown = where(found.position, found.entry)
            problems.append(Problem(f"{shown}: its links do not name {name}; {named_by()}", here))
            return seen, "broken"
        previous = mine.previous
        if previous is None:
            return seen, "first"
        if previous.index >= index:
            shown = where(found.position, found.entry)
            problems.append(
                Problem(
                    f"{shown} names log index {previous.index}, not an earlier one, as the "
                    f"previous entry of {name}",
                    here,
                )
            )
            return seen, "broken"
        came_from = found
        index, leaf = previous.index, previous.leaf_hash


def _disagreements(
    chain: ChainRead, checkpoint: Checkpoint, statement: HeadsStatement
) -> list[Problem]:
    """Where the export's other words on the map differ from its proven heads leaf."""
    found = []
    if chain.links_begin_at is not None and chain.links_begin_at != statement.links_begin_at:
        found.append(
            Problem(
                f"completeness: the export says links begin at log index "
                f"{chain.links_begin_at}, its heads leaf says {statement.links_begin_at}"
            )
        )
    named = heads_root(statement.map_root, statement.links_begin_at)
    if checkpoint.subject_heads_root is not None and checkpoint.subject_heads_root != named:
        found.append(
            Problem(
                "completeness: the signed checkpoint names another subject heads root than "
                f"its heads leaf ({checkpoint.subject_heads_root}, not {named}): the head "
                "map shown is not the one the witnessed tree commits"
            )
        )
    return found


def completeness(
    chain: ChainRead, checkpoint: Checkpoint, leaves: Mapping[int, bytes] | None = None
) -> tuple[list[Problem], str]:
    """What fails the export's completeness, and the fact to show for it; `leaves` are the
    entries' leaf hashes by position where already computed (an entry missing from it
    whose leaf cannot be computed is on no walk: its own check reports it)."""
    linked = any(entry.links is not None for entry in chain.entries)
    begun = chain.links_begin_at is not None and chain.links_begin_at < checkpoint.tree_size
    if not (linked or begun or chain.heads_leaf or checkpoint.subject_heads_root):
        return [], (
            f"not provable: the checkpoint (tree size {checkpoint.tree_size}) was signed before "
            "the log kept subject links; export against a later checkpoint"
        )
    try:
        statement = verify_heads_leaf(chain.heads_leaf, checkpoint)
    except VerificationError as exc:
        return [Problem(f"completeness: {exc}")], "failed"
    begin = statement.links_begin_at
    problems = _disagreements(chain, checkpoint, statement)
    held: dict[int, _Held] = {}
    for position, entry in enumerate(chain.entries, start=1):
        leaf: str | None = None
        if leaves is not None and position in leaves:
            leaf = leaves[position].hex()
        elif leaves is None:
            try:
                leaf = entry_leaf(entry).hex()
            except ValueError:
                leaf = None  # reported by the inclusion check
        held.setdefault(entry.index, _Held(position, entry, leaf))
    heads: dict[tuple[LinkedKind, UUID], tuple[int, str]] = {}
    for number, head in enumerate(chain.heads, start=1):
        name = f"head {number} ({head.kind} {head.id})"
        if (head.kind, head.id) in heads:
            problems.append(Problem(f"completeness: {name} is given twice"))
            continue
        if head.head.index >= statement.tree_size:
            problems.append(
                Problem(
                    f"completeness: {name}: log index {head.head.index} is past the head map "
                    f"(as of tree size {statement.tree_size})"
                )
            )
            continue
        try:
            verify_head(head, map_root=statement.map_root)
        except VerificationError as exc:
            problems.append(Problem(f"completeness: {name}: head proof: {exc}"))
            continue
        heads[(head.kind, head.id)] = (head.head.index, head.head.leaf_hash)
    missing = sorted(_claimed(chain) - heads.keys(), key=lambda key: (key[0].value, str(key[1])))
    problems += [
        Problem(f"completeness: {kind} {subject} has entries in the export but no proven head")
        for kind, subject in missing
    ]
    on_walk: dict[int, set[tuple[LinkedKind, UUID]]] = {}
    ends: list[str] = []
    for (kind, subject), latest in heads.items():
        seen, end = _walk(kind, subject, latest, held, begin, problems)
        for index in seen:
            on_walk.setdefault(index, set()).add((kind, subject))
        if end == "first":
            ends.append(f"{kind} {subject}: all {len(seen)} entries")
        elif end.startswith("legacy:"):
            ends.append(
                f"{kind} {subject}: {len(seen)} entries back to log index {end[7:]}; before "
                f"the marker (log index {begin}) the log kept no links, so its earlier "
                "entries cannot be proven complete"
            )
    for index, found in held.items():
        if found.entry.links is None:
            if index >= begin:
                problems.append(
                    Problem(
                        f"{where(found.position, found.entry)} shows no links, but links began "
                        f"at log index {begin}",
                        (found.position,),
                    )
                )
        elif index not in on_walk:
            problems.append(
                Problem(
                    f"{where(found.position, found.entry)} is on no proven subject's chain: "
                    "an entry added to the export",
                    (found.position,),
                )
            )
    if problems:
        return problems, "failed"
    return [], "no entry left out, from each subject's latest entry as of the checkpoint " + (
        "back to its first: " + "; ".join(ends)
    )
