"""Audit logs, checkpoints and licence chains built the way the audit service builds them:
real RFC 6962 hashing and proofs (assent.protocol), checkpoints signed by a test key."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from assent.protocol import (
    Frontier,
    Node,
    Signer,
    canonical_json,
    consistency_ranges,
    inclusion_ranges,
    leaf_hash,
    range_hash,
)
from services.contracts.audit import (
    CHECKPOINT_PAYLOAD_TYPE,
    LOG_ORIGIN,
    ChainEntry,
    ChainRead,
    ChainStep,
    ChainSubjectKind,
    Checkpoint,
    CheckpointRead,
    ConsistencyProof,
)
from services.contracts.catalogue import ConsentKind, WorkWithdrawn
from services.contracts.events import AccountRegistered, EventEnvelope, Topic
from tests.assent.chain_events import at, consent, delivery, download, grant, offer, sale_payment

STEP = {
    Topic.ACCOUNT_REGISTERED: ChainStep.ACCOUNT,
    Topic.ACCOUNT_ROLE_GRANTED: ChainStep.ACCOUNT,
    Topic.ACCOUNT_IDENTITY_VERIFIED: ChainStep.ACCOUNT,
    Topic.CONSENT_GIVEN: ChainStep.CONSENT,
    Topic.CONSENT_REVISED: ChainStep.CONSENT,
    Topic.CONSENT_WITHDRAWN: ChainStep.WITHDRAWAL,
    Topic.INVITATION_SENT: ChainStep.CONSENT,
    Topic.INVITATION_ACCEPTED: ChainStep.CONSENT,
    Topic.INVITATION_DECLINED: ChainStep.CONSENT,
    Topic.OFFER_PUBLISHED: ChainStep.OFFER,
    Topic.WORK_WITHDRAWN: ChainStep.WITHDRAWAL,
    Topic.LICENCE_GRANTED: ChainStep.LICENCE,
    Topic.LEDGER_RECORDED: ChainStep.PAYMENT,
    Topic.LICENCE_REFUNDED: ChainStep.REFUND,
    Topic.DELIVERY_ISSUED: ChainStep.DELIVERY,
    Topic.FILE_DOWNLOADED: ChainStep.DOWNLOAD,
    Topic.SALE_SCOPE_RECORDED: ChainStep.OFFER,
    Topic.KEY_ROTATED: ChainStep.KEY,
}


@dataclass(frozen=True)
class Logged:
    index: int
    event_id: uuid.UUID
    topic: Topic
    occurred_at: datetime
    entry: str


@dataclass
class Log:
    """An append-only log in memory, storing every perfect subtree as the service does."""

    entries: list[Logged] = field(default_factory=list)
    nodes: dict[Node, bytes] = field(default_factory=dict)
    frontier: Frontier = field(default_factory=Frontier.empty)

    def append(self, topic: Topic, payload: BaseModel, *, minute: int) -> Logged:
        envelope = EventEnvelope(
            id=uuid.uuid4(),
            topic=topic,
            source="test",
            occurred_at=at(minute),
            payload=payload.model_dump(mode="json"),
        )
        text = canonical_json(envelope.model_dump(mode="json")).decode()
        return self.add(Logged(len(self.entries), envelope.id, topic, envelope.occurred_at, text))

    def add(self, logged: Logged) -> Logged:
        self.entries.append(logged)
        self.nodes.update(self.frontier.append(leaf_hash(logged.entry.encode())))
        return logged

    def rewritten(self, index: int, entry: str) -> "Log":
        """The same log with one stored entry edited: a history rewritten."""
        log = Log()
        for logged in self.entries:
            log.add(replace(logged, entry=entry) if logged.index == index else logged)
        return log

    def entries_of(self, chain: Sequence[Logged]) -> list[Logged]:
        """This log's entries at the indices of another log's chain."""
        return [self.entries[logged.index] for logged in chain]

    @property
    def size(self) -> int:
        return len(self.entries)

    def root(self, size: int) -> str:
        return Frontier.at(size, self.nodes).root().hex()

    def inclusion(self, index: int, size: int) -> list[str]:
        ranges = inclusion_ranges(index, size)
        return [range_hash(start, end, self.nodes).hex() for start, end in ranges]

    def consistency(self, old: int, new: int) -> ConsistencyProof:
        hashes = [range_hash(s, e, self.nodes).hex() for s, e in consistency_ranges(old, new)]
        return ConsistencyProof(from_size=old, to_size=new, hashes=hashes)

    def checkpoint(
        self, signer: Signer, size: int | None = None, *, origin: str = LOG_ORIGIN
    ) -> CheckpointRead:
        size = self.size if size is None else size
        checkpoint = Checkpoint(
            origin=origin, tree_size=size, root_hash=self.root(size), issued_at=at(1000 + size)
        )
        envelope = signer.sign(
            CHECKPOINT_PAYLOAD_TYPE, canonical_json(checkpoint.model_dump(mode="json"))
        )
        return CheckpointRead(
            checkpoint=checkpoint, envelope=envelope, object_key=f"audit/checkpoints/{size}.json"
        )

    def chain_entry(
        self, logged: Logged, size: int, *, step: ChainStep | None = None
    ) -> ChainEntry:
        return ChainEntry(
            index=logged.index,
            event_id=logged.event_id,
            topic=logged.topic,
            step=step or STEP[logged.topic],
            occurred_at=logged.occurred_at,
            entry=logged.entry,
            inclusion_proof=self.inclusion(logged.index, size),
        )

    def chain(
        self,
        signer: Signer,
        kind: ChainSubjectKind,
        subject: uuid.UUID,
        entries: Sequence[Logged],
        *,
        size: int | None = None,
        consistent_with: int | None = None,
    ) -> ChainRead:
        checkpoint = self.checkpoint(signer, size)
        size = checkpoint.checkpoint.tree_size
        return ChainRead(
            subject_kind=kind,
            subject_id=subject,
            checkpoint=checkpoint,
            entries=[self.chain_entry(logged, size) for logged in entries],
            consistency=(
                self.consistency(consistent_with, size) if consistent_with is not None else None
            ),
        )


@dataclass
class Sale:
    """A work consented to, offered, sold (split between two creators), delivered and
    downloaded, among another work's entries, which belong to no chain of it."""

    log: Log
    work_id: uuid.UUID
    other_work_id: uuid.UUID
    licence_id: uuid.UUID
    delivery_id: uuid.UUID
    creator_id: uuid.UUID
    co_creator_id: uuid.UUID
    buyer_id: uuid.UUID
    work_chain: list[Logged]
    licence_chain: list[Logged]
    unrelated: list[Logged]

    def document(self, signer: Signer, kind: ChainSubjectKind = ChainSubjectKind.WORK) -> Any:
        return self.chain(signer, kind).model_dump(mode="json")

    def chain(self, signer: Signer, kind: ChainSubjectKind = ChainSubjectKind.WORK) -> ChainRead:
        if kind is ChainSubjectKind.WORK:
            return self.log.chain(signer, kind, self.work_id, self.work_chain)
        return self.log.chain(signer, kind, self.licence_id, self.licence_chain)


def sale(
    *, withdraw: str | None = None, withdraw_minute: int = 25, delivery_excludes: bool = False
) -> Sale:
    """A sold work's log. `withdraw` adds a withdrawal of the work: "work" (work.withdrawn)
    or "consent" (consent.withdrawn), at `withdraw_minute`; the delivery is at minute 30
    and names the work among its exclusions if `delivery_excludes`."""
    log = Log()
    work, other = uuid.uuid4(), uuid.uuid4()
    licence, delivered = uuid.uuid4(), uuid.uuid4()
    creator, co_creator, buyer = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    stranger = uuid.uuid4()
    chain: list[Logged] = []
    unrelated: list[Logged] = []

    chain.append(
        log.append(
            Topic.ACCOUNT_REGISTERED,
            AccountRegistered(account_id=creator, name="Ada <Creator>", roles=["creator"]),
            minute=0,
        )
    )
    unrelated.append(
        log.append(
            Topic.ACCOUNT_REGISTERED,
            AccountRegistered(account_id=stranger, name="Someone", roles=["creator"]),
            minute=1,
        )
    )
    chain.append(
        log.append(Topic.CONSENT_GIVEN, consent(work, creator, ConsentKind.GIVEN, 2), minute=2)
    )
    unrelated.append(
        log.append(Topic.CONSENT_GIVEN, consent(other, stranger, ConsentKind.GIVEN, 3), minute=3)
    )
    chain.append(log.append(Topic.OFFER_PUBLISHED, offer(work, 4), minute=4))
    unrelated.append(log.append(Topic.OFFER_PUBLISHED, offer(other, 5), minute=5))
    chain.append(log.append(Topic.LICENCE_GRANTED, grant(licence, buyer, [work], 10), minute=10))
    chain.append(
        log.append(
            Topic.LEDGER_RECORDED,
            sale_payment(licence, buyer, work, [creator, co_creator], 10),
            minute=10,
        )
    )
    other_licence = uuid.uuid4()
    unrelated.append(
        log.append(Topic.LICENCE_GRANTED, grant(other_licence, buyer, [other], 11), minute=11)
    )
    if withdraw == "work":
        chain.append(
            log.append(
                Topic.WORK_WITHDRAWN,
                WorkWithdrawn(work_id=work, withdrawn_by=creator, withdrawn_at=at(withdraw_minute)),
                minute=withdraw_minute,
            )
        )
    elif withdraw == "consent":
        chain.append(
            log.append(
                Topic.CONSENT_WITHDRAWN,
                consent(work, creator, ConsentKind.WITHDRAWN, withdraw_minute),
                minute=withdraw_minute,
            )
        )
    excluded = [work] if delivery_excludes else []
    chain.append(
        log.append(
            Topic.DELIVERY_ISSUED,
            delivery(delivered, licence, buyer, 30, excluded=excluded),
            minute=30,
        )
    )
    chain.append(
        log.append(Topic.FILE_DOWNLOADED, download(delivered, licence, buyer, work, 40), minute=40)
    )
    unrelated.append(
        log.append(
            Topic.FILE_DOWNLOADED,
            download(uuid.uuid4(), other_licence, buyer, other, 41),
            minute=41,
        )
    )
    return Sale(
        log=log,
        work_id=work,
        other_work_id=other,
        licence_id=licence,
        delivery_id=delivered,
        creator_id=creator,
        co_creator_id=co_creator,
        buyer_id=buyer,
        work_chain=chain,
        # The licence's chain is the work's: its consent, offer, grant, payment, delivery.
        licence_chain=list(chain),
        unrelated=unrelated,
    )
