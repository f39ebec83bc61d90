"""Licence chains, checked offline: every entry proven in the log, and what it says.

A chain export (`ChainRead`) holds entries of the audit log, each with an inclusion proof
against one signed checkpoint. `check_chain` checks it with only the published keys:

1. the checkpoint: its signature by an audit-checkpoint key, its origin, and that the
   checkpoint shown equals the signed one (`assent.verify.verify_checkpoint`);
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
5. the marketplace's rule: no sale after withdrawal. A licence.granted line for a work
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

A chain is a subset of the log, so no check can show that an entry was left out of it;
what the log held cannot change unnoticed once an auditor keeps a checkpoint (3).
"""

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from assent.verify import (
    DocumentInvalid,
    UnrecognisedDocument,
    first_error,
    split_document,
    verify_checkpoint,
)
from services.contracts.audit import (
    ChainEntry,
    ChainRead,
    ChainStep,
    ChainSubjectKind,
    Checkpoint,
    ConsistencyProof,
)
from services.contracts.catalogue import ConsentKind, ConsentRecorded, OfferPublished, WorkWithdrawn
from services.contracts.delivery import DeliveryIssued, FileDownloaded
from services.contracts.events import AccountRegistered, AccountRoleGranted, Topic
from services.contracts.licensing import (
    LedgerRecorded,
    LicenceGranted,
    LicenceRefunded,
    SaleScopeRecorded,
)
from services.contracts.signing import Envelope, PublicKeyRead
from services.kit.merkle import ProofInvalid, leaf_hash, verify_consistency, verify_inclusion

KIND = "licence chain"
_HASH = re.compile(r"[0-9a-f]{64}")

PAYLOADS: dict[Topic, type[BaseModel]] = {
    Topic.ACCOUNT_REGISTERED: AccountRegistered,
    Topic.ACCOUNT_ROLE_GRANTED: AccountRoleGranted,
    Topic.CONSENT_GIVEN: ConsentRecorded,
    Topic.CONSENT_REVISED: ConsentRecorded,
    Topic.CONSENT_WITHDRAWN: ConsentRecorded,
    Topic.OFFER_PUBLISHED: OfferPublished,
    Topic.WORK_WITHDRAWN: WorkWithdrawn,
    Topic.LICENCE_GRANTED: LicenceGranted,
    Topic.LICENCE_REFUNDED: LicenceRefunded,
    Topic.LEDGER_RECORDED: LedgerRecorded,
    Topic.DELIVERY_ISSUED: DeliveryIssued,
    Topic.FILE_DOWNLOADED: FileDownloaded,
    Topic.SALE_SCOPE_RECORDED: SaleScopeRecorded,
}
"""The contract each topic's payload is read with."""

STEPS: dict[Topic, frozenset[ChainStep]] = {
    Topic.ACCOUNT_REGISTERED: frozenset({ChainStep.ACCOUNT}),
    Topic.ACCOUNT_ROLE_GRANTED: frozenset({ChainStep.ACCOUNT}),
    Topic.CONSENT_GIVEN: frozenset({ChainStep.CONSENT}),
    Topic.CONSENT_REVISED: frozenset({ChainStep.CONSENT}),
    # A withdrawn consent is both a consent version and the work's withdrawal from sale.
    Topic.CONSENT_WITHDRAWN: frozenset({ChainStep.CONSENT, ChainStep.WITHDRAWAL}),
    Topic.OFFER_PUBLISHED: frozenset({ChainStep.OFFER}),
    Topic.WORK_WITHDRAWN: frozenset({ChainStep.WITHDRAWAL}),
    Topic.LICENCE_GRANTED: frozenset({ChainStep.LICENCE}),
    Topic.LICENCE_REFUNDED: frozenset({ChainStep.REFUND}),
    # A sale is the payment and its royalty split; a refund transaction reverses one.
    Topic.LEDGER_RECORDED: frozenset({ChainStep.PAYMENT, ChainStep.REFUND}),
    Topic.DELIVERY_ISSUED: frozenset({ChainStep.DELIVERY}),
    Topic.FILE_DOWNLOADED: frozenset({ChainStep.DOWNLOAD}),
    # What licensing may sell of a work: the offer as the seller enforces it.
    Topic.SALE_SCOPE_RECORDED: frozenset({ChainStep.OFFER}),
}
"""The steps an entry of each topic may be shown as: the report reads the step, so an
entry shown under another step's name would mislead it."""


class LoggedEvent(BaseModel):
    """The envelope of one chain event, as the log received and stored it."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    topic: str
    source: str
    occurred_at: AwareDatetime
    payload: dict[str, Any]


@dataclass(frozen=True)
class Problem:
    """A failed check, and the entries (by position in the export) it is about."""

    message: str
    positions: tuple[int, ...] = ()


@dataclass(frozen=True)
class ChainEvent:
    """An entry whose bytes read as a chain event (whether or not its proof holds)."""

    position: int
    """1-based place in the export's list of entries."""
    entry: ChainEntry
    event: LoggedEvent
    payload: BaseModel

    @property
    def where(self) -> str:
        return where(self.position, self.entry)

    @property
    def topic(self) -> Topic:
        return Topic(self.event.topic)


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


def where(position: int, entry: ChainEntry) -> str:
    return f"entry {position} (log index {entry.index}, event {entry.event_id})"


def _aware(moment: datetime) -> datetime:
    # The services write UTC; a time without a zone is read as UTC rather than refused,
    # since comparing it with an aware time would otherwise fail outright.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- reading entries ----------------------------------------------------------------------


def read_entry(position: int, entry: ChainEntry) -> tuple[ChainEvent | None, list[Problem]]:
    """The entry's logged event, and what disagrees with the fields shown beside it."""
    here = where(position, entry)
    at = (position,)
    if entry.entry is None:
        # Withheld from this reader: only its place in the log is proven.
        return None, []
    try:
        event = LoggedEvent.model_validate_json(entry.entry)
    except ValidationError as exc:
        return None, [
            Problem(f"{here}: entry bytes: not an event envelope: {first_error(exc)}", at)
        ]
    problems: list[Problem] = []
    if event.id != entry.event_id:
        problems.append(Problem(f"{here}: event id: the entry bytes say {event.id}", at))
    if event.topic != entry.topic:
        problems.append(
            Problem(
                f"{here}: topic: shown as {entry.topic!r}, the entry bytes say {event.topic!r}", at
            )
        )
    if _aware(entry.occurred_at) != event.occurred_at:
        problems.append(
            Problem(
                f"{here}: occurred_at: shown as {entry.occurred_at.isoformat()}, the entry "
                f"bytes say {event.occurred_at.isoformat()}",
                at,
            )
        )
    if event.topic not in PAYLOADS:
        problems.append(Problem(f"{here}: topic {event.topic!r} is not a chain event", at))
        return None, problems
    topic = Topic(event.topic)
    if entry.step not in STEPS[topic]:
        allowed = " or ".join(sorted(STEPS[topic]))
        problems.append(
            Problem(f"{here}: step: shown as {entry.step}, a {topic} entry is {allowed}", at)
        )
    try:
        payload = PAYLOADS[topic].model_validate(event.payload)
    except ValidationError as exc:
        problems.append(Problem(f"{here}: payload: not a valid {topic}: {first_error(exc)}", at))
        return None, problems
    return ChainEvent(position, entry, event, payload), problems


def _hash(text: str) -> bytes:
    if not _HASH.fullmatch(text):
        raise ValueError(f"{text[:70]!r} is not 64 lowercase hex digits")
    return bytes.fromhex(text)


def _proof_problems(chain: ChainRead, checkpoint: Checkpoint) -> list[Problem]:
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
        if (
            entry.entry is not None
            and entry.leaf_hash is not None
            and leaf_hash(entry.entry.encode()).hex() != entry.leaf_hash
        ):
            problems.append(Problem(f"{here}: leaf hash: not the hash of the entry bytes", at))
        try:
            proof = [_hash(text) for text in entry.inclusion_proof]
            leaf = (
                leaf_hash(entry.entry.encode())
                if entry.entry is not None
                else _hash(entry.leaf_hash or "")
            )
            verify_inclusion(leaf, entry.index, size, proof, root)
        except (ValueError, ProofInvalid) as exc:
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


# -- the kept checkpoint ------------------------------------------------------------------


def read_kept(document: object) -> tuple[Envelope, object | None]:
    """A kept checkpoint file's envelope and the checkpoint shown beside it, if any."""
    try:
        raw, shown = split_document(document)
        envelope = Envelope.model_validate(raw)
    except (UnrecognisedDocument, ValidationError) as exc:
        raise UnrecognisedDocument(
            "the kept checkpoint is not a checkpoint document (CheckpointRead or its envelope)"
        ) from exc
    return envelope, shown.get("checkpoint")


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
    except ProofInvalid as exc:
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


# -- the subject --------------------------------------------------------------------------


@dataclass
class _Scope:
    """The works and licences a chain is about, as its own entries define them."""

    works: set[UUID]
    licences: set[UUID]
    parties: set[UUID] = field(default_factory=set)


def _scope(kind: ChainSubjectKind, subject: UUID, events: Sequence[ChainEvent]) -> _Scope:
    grants = [e.payload for e in events if isinstance(e.payload, LicenceGranted)]
    if kind is ChainSubjectKind.WORK:
        licences = {
            g.licence_id for g in grants if any(line.work_id == subject for line in g.lines)
        }
        return _Scope({subject}, licences)
    works = {line.work_id for g in grants if g.licence_id == subject for line in g.lines}
    return _Scope(works, {subject})


def _about(payload: BaseModel, scope: _Scope) -> bool:
    """Whether a non-account entry is about the scope's works or licences."""
    if isinstance(payload, ConsentRecorded | OfferPublished | WorkWithdrawn | SaleScopeRecorded):
        return payload.work_id in scope.works
    if isinstance(payload, LicenceGranted | LicenceRefunded | DeliveryIssued | FileDownloaded):
        return payload.licence_id in scope.licences
    if isinstance(payload, LedgerRecorded):
        return payload.transaction.licence_id in scope.licences
    return False


def _parties(payload: BaseModel) -> Iterable[UUID | None]:
    if isinstance(payload, ConsentRecorded):
        return (payload.given_by,)
    if isinstance(payload, WorkWithdrawn):
        return (payload.withdrawn_by,)
    if isinstance(payload, LicenceGranted | DeliveryIssued | FileDownloaded):
        return (payload.buyer_id,)
    if isinstance(payload, LicenceRefunded):
        return (payload.buyer_id, payload.refunded_by)
    if isinstance(payload, LedgerRecorded):
        transaction = payload.transaction
        return (transaction.recorded_by, *(posting.owner_id for posting in transaction.postings))
    return ()


def _what(payload: BaseModel) -> str:
    """What an entry is about, in the words of a problem report."""
    if isinstance(payload, ConsentRecorded | OfferPublished | WorkWithdrawn | SaleScopeRecorded):
        return f"it concerns work {payload.work_id}"
    if isinstance(payload, LicenceGranted | LicenceRefunded | DeliveryIssued | FileDownloaded):
        return f"it concerns licence {payload.licence_id}"
    if isinstance(payload, LedgerRecorded):
        licence = payload.transaction.licence_id
        return f"it concerns licence {licence}" if licence else "it concerns no licence"
    if isinstance(payload, AccountRegistered | AccountRoleGranted):
        return f"account {payload.account_id} is no party to this chain"
    return "it concerns nothing this chain is about"


def subject_problems(
    kind: ChainSubjectKind, subject: UUID, events: Sequence[ChainEvent]
) -> list[Problem]:
    scope = _scope(kind, subject, events)
    problems: list[Problem] = []
    for event in events:
        if isinstance(event.payload, AccountRegistered | AccountRoleGranted):
            continue
        if _about(event.payload, scope):
            scope.parties.update(p for p in _parties(event.payload) if p is not None)
            continue
        about_a_work = isinstance(
            event.payload, ConsentRecorded | OfferPublished | WorkWithdrawn | SaleScopeRecorded
        )
        hint = ""
        if kind is ChainSubjectKind.LICENCE and about_a_work:
            hint = f", which licence {subject} does not grant in this chain"
        elif kind is ChainSubjectKind.WORK and isinstance(event.payload, LicenceGranted):
            hint = f", whose lines do not include work {subject}"
        elif kind is ChainSubjectKind.WORK and not about_a_work:
            hint = f", and no licence.granted in this chain grants work {subject} under it"
        problems.append(
            Problem(
                f"{event.where}: not about {kind} {subject}: {_what(event.payload)}{hint}",
                (event.position,),
            )
        )
    for event in events:
        payload = event.payload
        if (
            isinstance(payload, AccountRegistered | AccountRoleGranted)
            and payload.account_id not in scope.parties
        ):
            problems.append(
                Problem(
                    f"{event.where}: not about {kind} {subject}: {_what(payload)}",
                    (event.position,),
                )
            )
    return problems


# -- the withdrawal rule ------------------------------------------------------------------


@dataclass(frozen=True)
class RuleOutcome:
    withdrawn_works: int
    sales: int
    """Lines of a licence.granted checked against their work's sale scope."""
    deliveries: int
    """Deliveries checked by the older rule, for works with no sale scope in the chain."""
    violations: list[Problem]


def _consent_in_force(
    consents: Sequence[tuple[datetime, ChainEvent]], moment: datetime
) -> ChainEvent | None:
    """The newest consent record before `moment` (consents sorted by time)."""
    current = None
    for given_at, event in consents:
        if given_at >= moment:
            break
        current = event
    return current


def _sales_after_withdrawal(
    events: Sequence[ChainEvent],
) -> tuple[set[UUID], int, list[Problem]]:
    """No sale after withdrawal, by log order: a licence.granted line for a work sells
    only uses its newest sale_scope.recorded before it left open. Licensing commits every
    sale of a work before or after each sale scope and its outbox keeps that order, so
    the log's order is the commits' order. A line sold before a withdrawal may be
    delivered after it. The works with a sale scope are returned: the rule covers them."""
    scopes: dict[UUID, ChainEvent] = {}
    sales = 0
    violations: list[Problem] = []
    for event in events:
        payload = event.payload
        if isinstance(payload, SaleScopeRecorded):
            scopes[payload.work_id] = event
            continue
        if not isinstance(payload, LicenceGranted):
            continue
        for line in payload.lines:
            scope = scopes.get(line.work_id)
            if scope is None or not isinstance(scope.payload, SaleScopeRecorded):
                continue
            sales += 1
            closed = sorted(set(payload.uses) - set(scope.payload.open_uses))
            if closed:
                violations.append(
                    Problem(
                        f"no sale after withdrawal: {event.where}: licence "
                        f"{payload.licence_id} sells work {line.work_id} for "
                        f"{', '.join(closed)}, which the sale scope in {scope.where} "
                        f"(after {scope.payload.cause_topic}) had closed",
                        (scope.position, event.position),
                    )
                )
    return set(scopes), sales, violations


def _deliveries_after_withdrawal(
    events: Sequence[ChainEvent], ruled: set[UUID]
) -> tuple[set[UUID], int, list[Problem]]:
    """The rule for works logged before sale scopes were: a delivery issued after a work
    was withdrawn (work.withdrawn, or a withdrawn consent not given again before the
    delivery) must list the work in its exclusions, if its licence grants the work.
    Works in `ruled` have a sale scope, and `_sales_after_withdrawal` covers them."""
    lines: dict[UUID, set[UUID]] = defaultdict(set)
    withdrawn: dict[UUID, tuple[datetime, ChainEvent]] = {}
    consents: dict[UUID, list[tuple[datetime, ChainEvent]]] = defaultdict(list)
    deliveries: list[tuple[DeliveryIssued, ChainEvent]] = []
    for event in events:
        payload = event.payload
        if isinstance(payload, LicenceGranted):
            lines[payload.licence_id].update(line.work_id for line in payload.lines)
        elif isinstance(payload, WorkWithdrawn):
            moment = _aware(payload.withdrawn_at)
            if payload.work_id not in withdrawn or moment < withdrawn[payload.work_id][0]:
                withdrawn[payload.work_id] = (moment, event)
        elif isinstance(payload, ConsentRecorded):
            consents[payload.work_id].append((_aware(payload.given_at), event))
        elif isinstance(payload, DeliveryIssued):
            deliveries.append((payload, event))
    for records in consents.values():
        records.sort(key=lambda record: record[0])
    withdrawn_works = set(withdrawn) | {
        work
        for work, records in consents.items()
        if any(
            isinstance(e.payload, ConsentRecorded) and e.payload.kind is ConsentKind.WITHDRAWN
            for _, e in records
        )
    }
    violations: list[Problem] = []
    checked = 0
    for delivery, event in deliveries:
        issued = _aware(delivery.issued_at)
        excluded = {exclusion.work_id for exclusion in delivery.excluded}
        works = lines.get(delivery.licence_id, set()) - ruled
        checked += bool(works)
        for work in sorted(works - excluded, key=str):
            withdrawal: tuple[datetime, ChainEvent] | None = None
            if work in withdrawn and withdrawn[work][0] < issued:
                withdrawal = withdrawn[work]
            else:
                consent = _consent_in_force(consents.get(work, []), issued)
                if (
                    consent is not None
                    and isinstance(consent.payload, ConsentRecorded)
                    and consent.payload.kind is ConsentKind.WITHDRAWN
                ):
                    withdrawal = (_aware(consent.payload.given_at), consent)
            if withdrawal is None:
                continue
            moment, by = withdrawal
            violations.append(
                Problem(
                    f"no delivery after withdrawal: {event.where}: delivery "
                    f"{delivery.delivery_id} of licence {delivery.licence_id}, issued "
                    f"{issued.isoformat()}, delivers work {work} without excluding it, though "
                    f"{by.topic} in {by.where} withdrew it at {moment.isoformat()}",
                    (event.position, by.position),
                )
            )
    return withdrawn_works, checked, violations


def withdrawal_rule(events: Sequence[ChainEvent]) -> RuleOutcome:
    """No sale after withdrawal (by log order); for works the log holds no sale scope
    of, the older rule of no delivery after withdrawal (by the times the events carry)."""
    ruled, sales, sold_after = _sales_after_withdrawal(events)
    withdrawn, deliveries, delivered_after = _deliveries_after_withdrawal(events, ruled)
    closed = {
        e.payload.work_id
        for e in events
        if isinstance(e.payload, SaleScopeRecorded) and not e.payload.open_uses
    }
    return RuleOutcome(len(withdrawn | closed), sales, deliveries, sold_after + delivered_after)


def _rule_fact(rule: RuleOutcome) -> str:
    fact = (
        f"no sale after withdrawal: {_count(rule.withdrawn_works, 'withdrawn work')}, "
        f"{_count(rule.sales, 'sale')} checked by log order"
    )
    if rule.deliveries:
        fact += (
            f"; no delivery after withdrawal, for works logged before sale scopes: "
            f"{_count(rule.deliveries, 'delivery', 'deliveries')} checked"
        )
    return fact


# -- the whole check ----------------------------------------------------------------------


def _count(number: int, one: str, many: str | None = None) -> str:
    return f"{number} {one if number == 1 else many or one + 's'}"


def _steps(events: Sequence[ChainEvent]) -> str:
    counts = Counter(event.entry.step for event in events)
    return ", ".join(f"{counts[step]} {step}" for step in ChainStep if counts[step])


def parse_chain(document: object) -> ChainRead:
    try:
        return ChainRead.model_validate(document)
    except ValidationError as exc:
        raise DocumentInvalid(KIND, first_error(exc)) from exc


def check_chain(
    document: object, keys: Sequence[PublicKeyRead], *, kept: object | None = None
) -> ChainCheck:
    """Every check of the module docstring. Raises DocumentInvalid only for a document
    that is not a chain export at all, and UnrecognisedDocument for a kept checkpoint that
    is not a checkpoint document; every other failure is a Problem in the result."""
    chain = parse_chain(document)
    problems: list[Problem] = []
    shown = chain.checkpoint
    checkpoint, key = shown.checkpoint, None
    try:
        checkpoint, key = verify_checkpoint(
            shown.envelope, keys, shown=shown.checkpoint.model_dump(mode="json")
        )
    except DocumentInvalid as exc:
        problems.append(Problem(f"checkpoint: {exc.problem}"))
    kept_checkpoint = None
    if kept is not None:
        envelope, kept_shown = read_kept(kept)
        try:
            kept_checkpoint, _ = verify_checkpoint(envelope, keys, shown=kept_shown)
        except DocumentInvalid as exc:
            problems.append(Problem(f"kept checkpoint: {exc.problem}"))

    events: list[ChainEvent] = []
    for position, entry in enumerate(chain.entries, start=1):
        event, found = read_entry(position, entry)
        problems += found
        if event is not None:
            events.append(event)
    problems += _proof_problems(chain, checkpoint)
    consistency = (
        _consistency(chain, checkpoint, kept_checkpoint, problems)
        if kept is None or kept_checkpoint is not None
        else "not checked: the kept checkpoint does not verify"
    )
    problems += subject_problems(chain.subject_kind, chain.subject_id, events)
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
        ("withdrawal rule", _rule_fact(rule)),
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


def checkpoint_of(
    document: object, keys: Sequence[PublicKeyRead]
) -> tuple[Checkpoint, PublicKeyRead]:
    """A checkpoint document's signed checkpoint and its key; raises if it does not verify."""
    envelope, shown = read_kept(document)
    return verify_checkpoint(envelope, keys, shown=shown)
