"""The rules a chain's entries must keep: every entry about the chain's subject, and no
sale after withdrawal."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from pydantic import BaseModel

from services.contracts.audit import ChainSubjectKind
from services.contracts.catalogue import (
    ConsentKind,
    ConsentRecorded,
    InvitationEvent,
    OfferPublished,
    WorkVersionPublished,
    WorkWithdrawn,
)
from services.contracts.delivery import DeliveryIssued, FileDownloaded
from services.contracts.events import (
    AccountIdentityVerified,
    AccountRegistered,
    AccountRoleGranted,
)
from services.contracts.licensing import (
    LedgerRecorded,
    LicenceGranted,
    LicenceLineRead,
    LicenceLineStatus,
    LicenceRefunded,
    LicenceRevoked,
    SaleScopeRecorded,
    TrainingRecorded,
    TrainingRefused,
)
from services.contracts.signing import KeyRotated

from ._entries import ChainEvent, Problem, aware

# -- the subject --------------------------------------------------------------------------

# Entries about one work: its members' consents and invitations, offers, withdrawal, and
# what each consent leaves for sale.
_WORK_EVENTS = (
    ConsentRecorded
    | InvitationEvent
    | OfferPublished
    | WorkWithdrawn
    | SaleScopeRecorded
    | WorkVersionPublished
)
# Entries about one licence, each naming it by `licence_id`.
_LICENCE_EVENTS = (
    LicenceGranted
    | LicenceRefunded
    | LicenceRevoked
    | DeliveryIssued
    | FileDownloaded
    | TrainingRefused
)


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
    if isinstance(payload, _WORK_EVENTS):
        return payload.work_id in scope.works
    if isinstance(payload, _LICENCE_EVENTS):
        return payload.licence_id in scope.licences
    if isinstance(payload, LedgerRecorded):
        return payload.transaction.licence_id in scope.licences
    if isinstance(payload, TrainingRecorded):
        return any(use.licence_id in scope.licences for use in payload.run.licences)
    return False


_ACCOUNT_EVENTS = AccountRegistered | AccountRoleGranted | AccountIdentityVerified
"""Entries about an account, which belong in a chain whose entries name it as a party."""


def parties_of(payload: BaseModel) -> set[UUID]:
    """The accounts an entry names as parties to it (who consented, withdrew, bought, was
    paid, refunded): the log's audit service adds their account entries to a chain."""
    return {party for party in _parties(payload) if party is not None}


def _parties(payload: BaseModel) -> Iterable[UUID | None]:
    if isinstance(payload, ConsentRecorded):
        return (payload.given_by,)
    if isinstance(payload, InvitationEvent):
        return (payload.creator_id, payload.invited_by)
    if isinstance(payload, WorkWithdrawn):
        return (payload.withdrawn_by,)
    if isinstance(payload, LicenceGranted | DeliveryIssued | FileDownloaded | TrainingRefused):
        return (payload.buyer_id,)
    if isinstance(payload, LicenceRefunded):
        return (payload.buyer_id, payload.refunded_by)
    if isinstance(payload, LicenceRevoked):
        return (payload.buyer_id, payload.revoked_by)
    if isinstance(payload, TrainingRecorded):
        return (payload.run.buyer_id,)
    if isinstance(payload, LedgerRecorded):
        transaction = payload.transaction
        return (transaction.recorded_by, *(posting.owner_id for posting in transaction.postings))
    return ()


def _what(payload: BaseModel) -> str:
    """What an entry is about, in the words of a problem report."""
    if isinstance(payload, _WORK_EVENTS):
        return f"it concerns work {payload.work_id}"
    if isinstance(payload, _LICENCE_EVENTS):
        return f"it concerns licence {payload.licence_id}"
    if isinstance(payload, TrainingRecorded):
        licences = ", ".join(str(use.licence_id) for use in payload.run.licences)
        return f"it concerns licences {licences}"
    if isinstance(payload, LedgerRecorded):
        licence = payload.transaction.licence_id
        return f"it concerns licence {licence}" if licence else "it concerns no licence"
    if isinstance(payload, _ACCOUNT_EVENTS):
        return f"account {payload.account_id} is no party to this chain"
    return "it concerns nothing this chain is about"


def subject_problems(
    kind: ChainSubjectKind, subject: UUID, events: Sequence[ChainEvent]
) -> list[Problem]:
    scope = _scope(kind, subject, events)
    problems: list[Problem] = []
    for event in events:
        if isinstance(event.payload, _ACCOUNT_EVENTS):
            continue
        # The log's signing keys are in every chain: the keys it is checked with.
        if isinstance(event.payload, KeyRotated):
            continue
        if _about(event.payload, scope):
            scope.parties.update(p for p in _parties(event.payload) if p is not None)
            continue
        about_a_work = isinstance(event.payload, _WORK_EVENTS)
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
        if isinstance(payload, _ACCOUNT_EVENTS) and payload.account_id not in scope.parties:
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


def _sold(grant: LicenceGranted) -> list[LicenceLineRead]:
    """The lines a grant sold: licensing logs the lines it left out (their work no longer
    for sale for the licence's uses) in the same event, and those sell nothing."""
    return [line for line in grant.lines if line.status is LicenceLineStatus.ACTIVE]


def _sales_after_withdrawal(
    events: Sequence[ChainEvent],
) -> tuple[set[UUID], int, list[Problem]]:
    """No sale after withdrawal, by log order: a licence.granted line for a work sells
    only uses its newest sale_scope.recorded before it left open. Licensing commits every
    sale of a work before or after each sale scope and its outbox keeps that order, so
    the log's order is the commits' order. A line sold before a withdrawal may be
    delivered after it, and a line licensing left out is no sale. The works with a sale
    scope are returned: the rule covers them."""
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
        for line in _sold(payload):
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
            lines[payload.licence_id].update(line.work_id for line in _sold(payload))
        elif isinstance(payload, WorkWithdrawn):
            moment = aware(payload.withdrawn_at)
            if payload.work_id not in withdrawn or moment < withdrawn[payload.work_id][0]:
                withdrawn[payload.work_id] = (moment, event)
        elif isinstance(payload, ConsentRecorded):
            consents[payload.work_id].append((aware(payload.given_at), event))
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
        issued = aware(delivery.issued_at)
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
                    withdrawal = (aware(consent.payload.given_at), consent)
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


def rule_fact(rule: RuleOutcome) -> str:
    fact = (
        f"no sale after withdrawal: {count(rule.withdrawn_works, 'withdrawn work')}, "
        f"{count(rule.sales, 'sale')} checked by log order"
    )
    if rule.deliveries:
        fact += (
            f"; no delivery after withdrawal, for works logged before sale scopes: "
            f"{count(rule.deliveries, 'delivery', 'deliveries')} checked"
        )
    return fact


def count(number: int, one: str, many: str | None = None) -> str:
    return f"{number} {one if number == 1 else many or one + 's'}"
