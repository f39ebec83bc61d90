"""Licence chains, checked offline: every entry proven in the log, and what it says.

A chain export (`ChainRead`) holds entries of the audit log, each with an inclusion proof
against one signed checkpoint. `check_chain` checks it with only the published keys:

1. the checkpoint: its signature by an audit-checkpoint key, its origin, and that the
   checkpoint shown equals the signed one (`verify_checkpoint`);
2. every entry: its bytes parse as the event envelope the log received, whose id, topic
   and time are the ones shown beside it, its step fits its topic, its payload reads by
   its topic's contract, and its leaf hash with its inclusion proof leads to the
   checkpoint's root; log indices strictly increase, so a reordered, repeated or
   renumbered entry fails. An entry withheld from the reader (another party's: a creator
   is not shown a buyer's sale) carries its leaf hash instead of its bytes; its inclusion
   proof is checked, and nothing else can be;
3. with a checkpoint the auditor kept earlier: the consistency proof from the kept size
   to the chain's, so a log whose history was rewritten since fails;
4. every entry is about the chain's subject, so an entry pasted in from another chain
   fails;
5. completeness (`_links`): from the marker entry on, each entry names its subjects'
   previous entries, and every subject's latest entry is in a head map whose root the
   checkpoint's last leaf (the heads leaf, `_heads`) names: the map is inside the tree
   the witnesses cosign, so one witnessed tree has one map, and a monitor replaying the
   log recomputes every heads leaf from the links before it. The export carries the
   heads leaf with its inclusion proof; a heads leaf missing, not the checkpoint's last
   leaf, not proven, or naming another root fails. Each subject the export claims is
   walked back from its latest entry, so an entry left out, added or moved fails, with
   the place of the gap;
6. the keys the export carries (`ChainRead.keys`) are those its proven `key.rotated`
   entries give, with the same intervals (`key_problems`): a key swapped in fails;
7. the marketplace's rule: no sale after withdrawal. A licence.granted line for a work
   sells no use that the work's newest sale_scope.recorded before it (in log order) had
   closed; a line sold before a withdrawal may be delivered after it. For works whose
   history the log holds no sale scope of (logged before licensing recorded them), the
   older rule stands: no delivery of a work after its withdrawal.

Which entries are about a subject:
- a work W: consents, offers, sale scopes and withdrawal of W; every licence.granted with
  a line for W; the ledger transactions, refunds, deliveries and downloads of those licences;
- a licence L: its licence.granted, ledger transactions, refund, deliveries and downloads;
  consents, offers, sale scopes and withdrawals of the works it grants;
- for both, the accounts these entries name as parties (who consented, withdrew, bought,
  was paid, refunded).

Entries logged before the marker name no previous entry, so a chain is proven complete
only back to its first linked entry, and a checkpoint signed before the marker proves no
completeness at all: the fact says so. What the log held cannot change unnoticed once an
auditor keeps a checkpoint (3).
"""

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from pydantic import ValidationError

from services.contracts.audit import ChainEntry, ChainRead, ChainStep, Checkpoint, ConsistencyProof
from services.contracts.signing import Envelope, KeyRotated, PublicKeyRead

from ._chain_rules import rule_fact, subject_problems, withdrawal_rule
from ._documents import first_error, key_problems, verify_checkpoint
from ._entries import ChainEvent, Problem, read_entry, where
from ._errors import VerificationError
from ._links import completeness, entry_leaf
from ._merkle import verify_consistency, verify_inclusion

KIND = "licence chain"
_HASH = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ChainCheck:
    """Everything `check_chain` found, kept whole so that a report can show an invalid
    chain as well as a valid one."""

    chain: ChainRead
    checkpoint: Checkpoint
    """The signed checkpoint; the shown one when its signature fails."""
    key: PublicKeyRead | None
    """The key that signed the checkpoint; None when none did."""
    kept: Checkpoint | None
    events: list[ChainEvent]
    problems: list[Problem]
    facts: list[tuple[str, str]]

    @property
    def ok(self) -> bool:
        return not self.problems

    def problems_at(self, position: int) -> list[str]:
        return [problem.message for problem in self.problems if position in problem.positions]


def _hash(text: str) -> bytes:
    if not _HASH.fullmatch(text):
        raise ValueError(f"{text[:70]!r} is not 64 lowercase hex digits")
    return bytes.fromhex(text)


def _proof_problems(
    chain: ChainRead, checkpoint: Checkpoint, leaves: dict[int, bytes]
) -> list[Problem]:
    """What fails the entries' order and proofs; each leaf hash found goes to `leaves`
    (by position), for the completeness check to reuse."""
    size, root = checkpoint.tree_size, bytes.fromhex(checkpoint.root_hash)
    problems: list[Problem] = []
    previous: tuple[int, ChainEntry] | None = None
    for position, entry in enumerate(chain.entries, start=1):
        here, at = where(position, entry), (position,)
        if previous is not None and entry.index <= previous[1].index:
            before, earlier = previous
            problems.append(
                Problem(
                    f"{here}: order: log index {entry.index} does not follow log index "
                    f"{earlier.index} of entry {before}; entries are reordered or repeated",
                    (before, position),
                )
            )
        previous = (position, entry)
        if entry.index >= size:
            problems.append(
                Problem(
                    f"{here}: log index {entry.index} is outside the checkpoint's tree of "
                    f"size {size}",
                    at,
                )
            )
            continue
        try:
            leaf = entry_leaf(entry)
        except ValueError as exc:
            problems.append(Problem(f"{here}: leaf hash: {exc}", at))
            continue
        leaves[position] = leaf
        try:
            proof = [_hash(text) for text in entry.inclusion_proof]
            verify_inclusion(leaf, entry.index, size, proof, root)
        except (ValueError, VerificationError) as exc:
            problems.append(Problem(f"{here}: inclusion proof: {exc}", at))
    seen: dict[UUID, int] = {}
    for position, entry in enumerate(chain.entries, start=1):
        first = seen.setdefault(entry.event_id, position)
        if first != position:
            problems.append(
                Problem(
                    f"{where(position, entry)}: event {entry.event_id} is also entry {first}",
                    (first, position),
                )
            )
    return problems


def consistency_problem(
    kept: Checkpoint, checkpoint: Checkpoint, proof: ConsistencyProof | None, *, this: str
) -> str | None:
    """Why `checkpoint` (named `this`) is not a later state of the log `kept` was signed
    for, or None when it is: equal sizes need equal roots, a larger size needs a
    consistency proof from the kept size that verifies."""
    old, new = kept.tree_size, checkpoint.tree_size
    kept_shown = f"the kept checkpoint (size {old}, root {kept.root_hash})"
    if old > new:
        return f"{kept_shown} is newer than {this} (size {new}), and a log only grows"
    hashes: list[bytes] = []
    # The empty log is the start of every log: nothing to prove from size 0.
    if 0 < old < new:
        if proof is None:
            return (
                f"{this} carries no consistency proof from {kept_shown} "
                f"(asked for with consistentWith {old})"
            )
        if (proof.from_size, proof.to_size) != (old, new):
            return (
                f"the consistency proof runs from size {proof.from_size} to {proof.to_size}, "
                f"not from the kept size {old} to {new}"
            )
        try:
            hashes = [_hash(text) for text in proof.hashes]
        except ValueError as exc:
            return f"the consistency proof: {exc}"
    try:
        verify_consistency(
            old, new, bytes.fromhex(kept.root_hash), bytes.fromhex(checkpoint.root_hash), hashes
        )
    except VerificationError as exc:
        return (
            f"{kept_shown} and {this} (size {new}) are not one history: {exc}; the log was "
            "rewritten after the kept checkpoint was signed, or the proof was altered"
        )
    return None


def _consistency(
    chain: ChainRead, checkpoint: Checkpoint, kept: Checkpoint | None, problems: list[Problem]
) -> str:
    """The consistency fact; what fails goes to `problems`."""
    proof, size = chain.consistency, checkpoint.tree_size
    if proof is not None and proof.to_size != size:
        problems.append(
            Problem(
                f"consistency: the proof runs to size {proof.to_size}, the chain's checkpoint "
                f"has size {size}"
            )
        )
        return "failed"
    if kept is None:
        if proof is not None:
            return (
                f"not checked: a proof from size {proof.from_size} is carried; give the "
                "checkpoint you kept (--checkpoint) to check it"
            )
        return "not checked: no kept checkpoint given"
    problem = consistency_problem(kept, checkpoint, proof, this="the chain's checkpoint")
    if problem is not None:
        if kept.tree_size > size:
            problem += "; export the chain again with --checkpoint to have it proven against one"
            problem += " at least as new"
        problems.append(Problem(f"consistency: {problem}"))
        return "failed"
    if kept.tree_size == size:
        return f"the chain's checkpoint is the kept one (size {size}, root {kept.root_hash})"
    return (
        f"the log grew from the kept checkpoint (size {kept.tree_size}, root {kept.root_hash}, "
        f"issued {kept.issued_at.isoformat()}) to the chain's checkpoint without changing "
        "its history"
    )


def _steps(events: Sequence[ChainEvent]) -> str:
    counts = Counter(event.entry.step for event in events)
    return ", ".join(f"{counts[step]} {step}" for step in ChainStep if counts[step])


def parse_chain(document: object) -> ChainRead:
    try:
        return ChainRead.model_validate(document)
    except ValidationError as exc:
        raise VerificationError(first_error(exc), kind=KIND) from exc


def check_chain(
    document: object,
    keys: Sequence[PublicKeyRead],
    *,
    kept: Envelope | None = None,
    kept_shown: object | None = None,
) -> ChainCheck:
    """Every check of the module docstring; `kept` is the envelope of a checkpoint the
    auditor kept, `kept_shown` the checkpoint shown beside it. Raises VerificationError
    only for a document that is not a chain export at all; every other failure is a
    Problem in the result."""
    chain = parse_chain(document)
    problems: list[Problem] = []
    shown = chain.checkpoint
    checkpoint, key = shown.checkpoint, None
    try:
        checkpoint, key = verify_checkpoint(
            shown.envelope, keys, shown=shown.checkpoint.model_dump(mode="json")
        )
    except VerificationError as exc:
        problems.append(Problem(f"checkpoint: {exc.problem}"))
    kept_checkpoint = None
    if kept is not None:
        try:
            kept_checkpoint, _ = verify_checkpoint(kept, keys, shown=kept_shown)
        except VerificationError as exc:
            problems.append(Problem(f"kept checkpoint: {exc.problem}"))

    events: list[ChainEvent] = []
    for position, entry in enumerate(chain.entries, start=1):
        event, found = read_entry(position, entry)
        problems += found
        if event is not None:
            events.append(event)
    leaves: dict[int, bytes] = {}
    problems += _proof_problems(chain, checkpoint, leaves)
    consistency = (
        _consistency(chain, checkpoint, kept_checkpoint, problems)
        if kept is None or kept_checkpoint is not None
        else "not checked: the kept checkpoint does not verify"
    )
    problems += subject_problems(chain.subject_kind, chain.subject_id, events)
    gaps, complete = completeness(chain, checkpoint, leaves)
    problems += gaps
    rotations = [event.payload for event in events if isinstance(event.payload, KeyRotated)]
    problems += [Problem(message) for message in key_problems(chain.keys, rotations)]
    rule = withdrawal_rule(events)
    problems += rule.violations

    indices = [entry.index for entry in chain.entries]
    withheld = sum(entry.entry is None for entry in chain.entries)
    facts = [
        ("subject", f"{chain.subject_kind} {chain.subject_id}"),
        (
            "checkpoint",
            f"tree size {checkpoint.tree_size}, root {checkpoint.root_hash}, "
            f"issued {checkpoint.issued_at.isoformat()}",
        ),
        (
            "entries",
            f"{len(chain.entries)}, each proven in the log"
            + (f" (log indices {min(indices)} to {max(indices)})" if indices else "")
            + (f": {_steps(events)}" if events else "")
            + (
                f"; {withheld} withheld from this reader as another party's, each proven by "
                "its leaf hash (its topic, step and time shown beside it are not)"
                if withheld
                else ""
            ),
        ),
        ("consistency", consistency),
        ("completeness", complete),
        ("withdrawal rule", rule_fact(rule)),
    ]
    if chain.pending_entries:
        facts.append(
            (
                "pending",
                f"{chain.pending_entries} more entries about the subject were logged after this "
                "checkpoint; export again later to have them proven",
            )
        )
    return ChainCheck(chain, checkpoint, key, kept_checkpoint, events, problems, facts)
