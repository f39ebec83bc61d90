"""The audit log's REST calls as the gateway and the outbox relay make them, chain events
as the other services emit them, and the checks an auditor runs on what the log returns."""

import hashlib
import json
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from assent.protocol import (
    canonical_json,
    leaf_hash,
    verify_consistency,
    verify_envelope,
    verify_inclusion,
)
from services.audit.models import LogEntry
from services.contracts.audit import (
    CHECKPOINT_PAYLOAD_TYPE,
    ChainRead,
    Checkpoint,
    CheckpointProof,
    CheckpointRead,
)
from services.contracts.catalogue import (
    ConsentKind,
    ConsentRecorded,
    MediaType,
    OfferPublished,
    Terms,
    Use,
    WorkWithdrawn,
)
from services.contracts.delivery import DeliveryIssued, DeliveryStatus, FileDownloaded
from services.contracts.events import AccountRegistered, EventEnvelope, Topic
from services.contracts.licensing import (
    LedgerAccountKind,
    LedgerRecorded,
    LicenceGranted,
    LicenceLineRead,
    LicenceLineStatus,
    LicenceRefunded,
    PostingRead,
    TransactionKind,
    TransactionRead,
)
from services.contracts.roles import Role
from services.contracts.signing import PublicKeyRead
from services.kit.db import utcnow
from tests.fixtures.rest import RestApi
from tests.services.catalogue.helpers import SIGNER, Actor

RELAY = Actor(subject="service:catalogue", roles=frozenset({Role.SERVICE}), name=None)
TERMS = Terms(
    uses=[Use.TRAINING], commercial_use=True, attribution_required=True, duration_days=365
)


def headers(actor: Actor) -> dict[str, str]:
    token = SIGNER.sign(subject=actor.subject, roles=actor.roles, audience="audit", name=actor.name)
    return {"authorization": f"Bearer {token}"}


def envelope_of(topic: Topic, payload: BaseModel, *, event_id: uuid.UUID | None = None) -> Any:
    event = EventEnvelope(
        id=event_id or uuid.uuid4(),
        topic=topic,
        source="tests",
        occurred_at=utcnow(),
        payload=payload.model_dump(mode="json"),
    )
    return json.loads(event.model_dump_json())


# --- chain events, as catalogue, licensing and delivery emit them ---


def consent(work_id: uuid.UUID, creator: Actor, kind: ConsentKind = ConsentKind.GIVEN) -> Any:
    topic = {
        ConsentKind.GIVEN: Topic.CONSENT_GIVEN,
        ConsentKind.REVISED: Topic.CONSENT_REVISED,
        ConsentKind.WITHDRAWN: Topic.CONSENT_WITHDRAWN,
    }[kind]
    return envelope_of(
        topic,
        ConsentRecorded(
            consent_id=uuid.uuid4(),
            work_id=work_id,
            kind=kind,
            uses=[Use.TRAINING],
            statement_version="2026-01",
            statement_sha256=hashlib.sha256(b"I agree").hexdigest(),
            given_by=creator.id,
            given_at=utcnow(),
        ),
    )


def offer(work_id: uuid.UUID) -> Any:
    return envelope_of(
        Topic.OFFER_PUBLISHED,
        OfferPublished(
            offer_id=uuid.uuid4(),
            work_id=work_id,
            price_minor=1_000,
            currency="EUR",
            terms_id="t" * 64,
            terms=TERMS,
            published_at=utcnow(),
        ),
    )


def withdrawal(work_id: uuid.UUID, creator: Actor) -> Any:
    return envelope_of(
        Topic.WORK_WITHDRAWN,
        WorkWithdrawn(work_id=work_id, withdrawn_by=creator.id, withdrawn_at=utcnow()),
    )


def _line(work_id: uuid.UUID) -> LicenceLineRead:
    now = utcnow()
    return LicenceLineRead(
        work_id=work_id,
        version_id=uuid.uuid4(),
        title="Evening over the estuary",
        media_type=MediaType.IMAGE,
        file_name="estuary.png",
        size=1_000,
        sha256="0" * 64,
        attribution="Ines Creator",
        terms_id="t" * 64,
        terms=TERMS,
        price_minor=1_000,
        starts_at=now,
        ends_at=now + timedelta(days=365),
        status=LicenceLineStatus.ACTIVE,
        excluded_reason=None,
    )


def grant(licence_id: uuid.UUID, buyer: Actor, work_ids: Sequence[uuid.UUID]) -> Any:
    return envelope_of(
        Topic.LICENCE_GRANTED,
        LicenceGranted(
            licence_id=licence_id,
            buyer_id=buyer.id,
            buyer_name=buyer.name or "Lab",
            bundle_id=uuid.uuid4(),
            quote_id=uuid.uuid4(),
            uses=[Use.TRAINING],
            currency="EUR",
            total_minor=1_000 * len(work_ids),
            granted_at=utcnow(),
            lines=[_line(work_id) for work_id in work_ids],
        ),
    )


def payment(licence_id: uuid.UUID | None, buyer: Actor) -> Any:
    return envelope_of(
        Topic.LEDGER_RECORDED,
        LedgerRecorded(
            transaction=TransactionRead(
                id=uuid.uuid4(),
                kind=TransactionKind.SALE if licence_id else TransactionKind.TOP_UP,
                currency="EUR",
                licence_id=licence_id,
                reference=None,
                recorded_by=buyer.id,
                recorded_at=utcnow(),
                postings=[
                    PostingRead(
                        account_kind=LedgerAccountKind.BUYER_BALANCE,
                        owner_id=buyer.id,
                        amount_minor=-1_000,
                        work_id=None,
                    ),
                    PostingRead(
                        account_kind=LedgerAccountKind.PLATFORM_REVENUE,
                        owner_id=None,
                        amount_minor=1_000,
                        work_id=None,
                    ),
                ],
            )
        ),
    )


def delivery(licence_id: uuid.UUID, buyer: Actor) -> Any:
    return envelope_of(
        Topic.DELIVERY_ISSUED,
        DeliveryIssued(
            delivery_id=uuid.uuid4(),
            licence_id=licence_id,
            buyer_id=buyer.id,
            status=DeliveryStatus.ISSUED,
            issued_at=utcnow(),
            manifest_key=None,
            manifest_sha256=None,
            key_id="k" * 16,
            entry_count=1,
            excluded=[],
            watermark_commitment="c" * 64,
        ),
    )


def download(licence_id: uuid.UUID, buyer: Actor, work_id: uuid.UUID) -> Any:
    return envelope_of(
        Topic.FILE_DOWNLOADED,
        FileDownloaded(
            delivery_id=uuid.uuid4(),
            licence_id=licence_id,
            buyer_id=buyer.id,
            work_id=work_id,
            version_id=uuid.uuid4(),
            downloaded_at=utcnow(),
        ),
    )


def refund(licence_id: uuid.UUID, buyer: Actor) -> Any:
    return envelope_of(
        Topic.LICENCE_REFUNDED,
        LicenceRefunded(
            licence_id=licence_id,
            buyer_id=buyer.id,
            refunded_by=uuid.uuid4(),
            reason="invoice disputed",
            refunded_at=utcnow(),
            amount_minor=1_000,
            currency="EUR",
        ),
    )


def registered(account: Actor) -> Any:
    return envelope_of(
        Topic.ACCOUNT_REGISTERED,
        AccountRegistered(account_id=account.id, name=account.name or "", roles=["buyer"]),
    )


# --- the API ---


class AuditApi(RestApi):
    def headers(self, actor: Actor) -> dict[str, str]:
        return headers(actor)

    async def post(self, *events: Any) -> list[bool]:
        """Deliver events as an outbox relay does; whether each was a duplicate."""
        receipts = [
            await self.ok(RELAY, "POST", "/internal/events", json=event) for event in events
        ]
        return [bool(receipt["duplicate"]) for receipt in receipts]

    async def keys(self, actor: Actor) -> list[PublicKeyRead]:
        return [
            PublicKeyRead.model_validate(key) for key in await self.ok(actor, "GET", "/v1/keys")
        ]

    async def checkpoint(self, actor: Actor, **params: int) -> CheckpointProof:
        return CheckpointProof.model_validate(
            await self.ok(actor, "GET", "/v1/checkpoint", params=params)
        )

    async def work_chain(self, actor: Actor, work_id: uuid.UUID, **params: int) -> ChainRead:
        path = f"/v1/chains/works/{work_id}"
        return ChainRead.model_validate(await self.ok(actor, "GET", path, params=params))

    async def licence_chain(self, actor: Actor, licence_id: uuid.UUID, **params: int) -> ChainRead:
        path = f"/v1/chains/licences/{licence_id}"
        return ChainRead.model_validate(await self.ok(actor, "GET", path, params=params))


# --- what an auditor checks ---


def verified_checkpoint(read: CheckpointRead, keys: list[PublicKeyRead]) -> Checkpoint:
    """The checkpoint as signed; raises unless its signature verifies with the keys."""
    payload, _key = verify_envelope(read.envelope, keys, payload_type=CHECKPOINT_PAYLOAD_TYPE)
    signed = Checkpoint.model_validate_json(payload)
    assert signed == read.checkpoint
    return signed


def verify_chain(chain: ChainRead, keys: list[PublicKeyRead]) -> None:
    """Every entry of the chain is in the tree its signed checkpoint commits to."""
    checkpoint = verified_checkpoint(chain.checkpoint, keys)
    root = bytes.fromhex(checkpoint.root_hash)
    for entry in chain.entries:
        # An entry withheld from the reader is proven by its leaf hash alone; a linked
        # entry's leaf is over its event's hash and its links, written here with the
        # general RFC 8785 writer rather than the sequencer's own.
        if entry.entry is None:
            leaf = bytes.fromhex(entry.leaf_hash or "")
        elif entry.links is None:
            leaf = leaf_hash(entry.entry.encode())
        else:
            leaf = leaf_hash(
                canonical_json(
                    {
                        "event_sha256": hashlib.sha256(entry.entry.encode()).hexdigest(),
                        "links": [link.model_dump(mode="json") for link in entry.links],
                    }
                )
            )
        verify_inclusion(
            leaf,
            entry.index,
            checkpoint.tree_size,
            [bytes.fromhex(digest) for digest in entry.inclusion_proof],
            root,
        )
        if entry.entry is not None:
            assert EventEnvelope.model_validate_json(entry.entry).id == entry.event_id


def verify_extends(old: Checkpoint, new: Checkpoint, hashes: Sequence[str]) -> None:
    verify_consistency(
        old.tree_size,
        new.tree_size,
        bytes.fromhex(old.root_hash),
        bytes.fromhex(new.root_hash),
        [bytes.fromhex(digest) for digest in hashes],
    )


async def tree_size(session: AsyncSession) -> int:
    last = await session.scalar(select(func.max(LogEntry.leaf_index)))
    return 0 if last is None else last + 1


def topics(chain: ChainRead) -> list[str]:
    return [entry.topic for entry in chain.entries]


def logged_leaf(entry: LogEntry) -> bytes:
    """A stored entry's leaf hash, rebuilt from its bytes and links: the marker and the
    entries before it are leaves over their bytes, linked entries over their event's
    hash and links (RFC 8785 written by the general writer, not the sequencer's)."""
    if entry.links is None:
        return leaf_hash(entry.entry)
    document = {"event_sha256": hashlib.sha256(entry.entry).hexdigest(), "links": entry.links}
    return leaf_hash(canonical_json(document))
