"""Licensing's rules: bundles, quotes, idempotent purchases, licences, the ledger, refunds.

Decided policies:

- A quote is a price lock, not a promise to sell. Licensing is the seller: it records
  each work's sale scope from the catalogue's consent and withdrawal events
  (`sale_scope.py`), and a purchase commits either before such a record or after it,
  never across it. A line whose work is not for sale for the quoted uses as of the
  purchase's commit is recorded EXCLUDED (`withdrawn`, `no_consent`) and not charged;
  the rest is sold at the quoted prices, and a purchase with nothing left is refused
  (NothingToPurchase). A line sold before a withdrawal stays sold: delivery delivers it
  on its terms. A work licensing has heard nothing about is sold as its quote says (the
  quote read the catalogue). Delivery reports the lines it genuinely could not deliver
  in `delivery.issued`, and licensing refunds exactly those (a REFUND transaction
  reversing each line's sale postings, the line EXCLUDED, the licence's
  `refunded_minor` raised). Each line can be refunded once: the line's status is checked
  under the licence's lock, and the ledger's `dedupe_key` refuses a second transaction.
- Money is integer minor units in a double-entry ledger; a transaction has one currency
  and its postings sum to zero. Signs: TOP_UP moves X from FUNDING (-X) to the buyer's
  balance (+X). SALE takes the total from the buyer (-total) and, per line, gives the
  platform its fee (+fee) and the co-creators the rest, split as `royalties` documents.
  PAYOUT moves P from the creator's payable (-P) to PAYOUTS (+P). REFUND is the exact
  negation of the sale postings not yet reversed. Postings of a line carry its work id.
- A refund of a sale whose royalties were already paid out leaves the creator's payable
  negative: the creator owes it, and later sales pay it back before the next payout.
- Concurrency: a purchase claims its idempotency key first (a unique row; racers wait on
  it and then replay), marks its quote bought (racers under other keys then read it
  without a lock), takes its works' shared sale scope locks in key order, then locks the
  buyer's balance for the check. Nothing else is locked: creators' and the platform's
  balances are sums over postings, so sales of popular works never queue on a shared
  row. A scope record takes its works' locks exclusively, in key order, and nothing
  after them; top-ups and payouts claim their reference, then lock one account. Every
  path locks at most one quote or licence and then one account, in that order, so no
  two paths can deadlock.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.catalogue import (
    CURRENCY_MINOR_DIGITS,
    Use,
)
from services.contracts.delivery import DeliveryIssued
from services.contracts.events import Topic
from services.contracts.licensing import (
    LICENCE_CERTIFICATE_TYPE,
    BalanceRead,
    BundleCreate,
    BundlePage,
    BundleRead,
    BundleSource,
    CertificateLine,
    CertificateRead,
    EarningLine,
    EarningsQuery,
    EarningsRead,
    LedgerAccountKind,
    LedgerCheck,
    LedgerRecorded,
    LicenceCertificate,
    LicenceGranted,
    LicenceLineRead,
    LicenceLineStatus,
    LicencePage,
    LicenceRead,
    LicenceStatus,
    PayoutRead,
    Period,
    PeriodEarnings,
    PostingRead,
    PurchaseIn,
    PurchaseRead,
    QuoteExclusion,
    QuoteIn,
    QuoteLine,
    QuoteRead,
    QuoteStatus,
    RefundIn,
    TransactionKind,
    TransactionRead,
    WorkEarnings,
)
from services.contracts.licensing import LicenceRefunded as LicenceRefundedEvent
from services.contracts.roles import Role
from services.kit.db import utcnow
from services.kit.errors import FieldError, Forbidden, InvalidRequest, NotFound
from services.kit.internal_token import Caller
from services.kit.outbox import emit, emit_all
from services.kit.signing import Signer, canonical_json
from services.licensing.catalogue import Catalogue
from services.licensing.errors import (
    IdempotencyKeyReused,
    InsufficientFunds,
    LicenceRefunded,
    NothingToPurchase,
    QuoteExpired,
    QuotePurchased,
)
from services.licensing.models import (
    AccountKey,
    Bundle,
    LedgerPosting,
    Licence,
    Quote,
)
from services.licensing.pricing import price
from services.licensing.repository import (
    BundleRepository,
    EarningsFilter,
    LedgerRepository,
    LicenceRepository,
    PurchaseRepository,
    QuoteRepository,
)
from services.licensing.royalties import Share, split
from services.licensing.sale_scope import sale_scope_service

log = structlog.get_logger()

SERVICE_ACCOUNT = uuid.UUID(int=0)
"""`recorded_by` of what licensing records on its own (refunds of undelivered lines)."""
MAX_EARNING_LINES = 1_000
"""A statement lists the newest lines; its totals always cover every line."""


def account_id(caller: Caller) -> uuid.UUID | None:
    """The caller's account, or None for a caller that is not an account (a service)."""
    try:
        return uuid.UUID(caller.subject)
    except ValueError:
        return None


def require_account(caller: Caller) -> uuid.UUID:
    found = account_id(caller)
    if found is None:
        raise Forbidden("only an account may do this")
    return found


def sees_everything(caller: Caller) -> bool:
    return caller.has(Role.ADMIN, Role.AUDITOR, Role.SERVICE)


def refuse_nul(**texts: str) -> None:
    """PostgreSQL text cannot hold a NUL: refuse it as bad input rather than fail later."""
    problems = [
        FieldError(name, "contains a NUL character", "nul_character")
        for name, text in texts.items()
        if "\x00" in text
    ]
    if problems:
        raise InvalidRequest("the text is not valid", fields=problems)


def check_currency(currency: str) -> None:
    if currency not in CURRENCY_MINOR_DIGITS:
        raise InvalidRequest(
            f"{currency} is not a currency of the marketplace",
            fields=[FieldError("currency", "not a supported currency", "unknown_currency")],
        )


async def end_read_before_calling_out(session: AsyncSession) -> None:
    """End the session's transaction, which has only read, before a call to another
    process: on SQLite it holds the database's write lock from its first statement, and
    a service that waited on us while we waited on it stalled both until a timeout."""
    await session.commit()


def _aware(value: datetime | None, field: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise InvalidRequest(
            "times need a timezone",
            fields=[FieldError(field, "give a timezone (e.g. Z)", "naive_datetime")],
        )
    return value


# --- bundles ---


class BundleService:
    async def create(
        self,
        session: AsyncSession,
        caller: Caller,
        bundle_in: BundleCreate,
        *,
        catalogue: Catalogue,
    ) -> BundleRead:
        buyer_id = require_account(caller)
        refuse_nul(name=bundle_in.name)
        if not bundle_in.name.strip():
            raise InvalidRequest(
                "the bundle needs a name", fields=[FieldError("name", "is blank", "blank")]
            )
        check_currency(bundle_in.currency)
        if bundle_in.search is not None:
            work_ids = await catalogue.search(caller, bundle_in.search)
            if not work_ids:
                raise InvalidRequest(
                    "the search finds no works",
                    fields=[FieldError("search", "finds no works", "no_results")],
                )
        else:
            assert bundle_in.work_ids is not None
            work_ids = list(dict.fromkeys(bundle_in.work_ids))
        bundle = await BundleRepository(session).create(
            Bundle(
                id=uuid.uuid4(),
                buyer_id=buyer_id,
                name=bundle_in.name.strip(),
                uses=sorted(set(bundle_in.uses)),
                currency=bundle_in.currency,
                source=BundleSource.WORKS if bundle_in.search is None else BundleSource.SEARCH,
                search=None
                if bundle_in.search is None
                else bundle_in.search.model_dump(mode="json"),
                work_ids=[str(work_id) for work_id in work_ids],
                created_at=utcnow(),
            )
        )
        return BundleRead.model_validate(bundle)

    async def page(
        self, session: AsyncSession, caller: Caller, *, after: str | None, first: int
    ) -> BundlePage:
        buyer_id = account_id(caller)
        if buyer_id is None:
            return BundlePage(items=[], next_cursor=None)
        page = await BundleRepository(session).page_of(buyer_id, after=after, limit=first)
        return BundlePage(
            items=[BundleRead.model_validate(bundle) for bundle in page.items],
            next_cursor=page.next_cursor,
        )

    async def get(self, session: AsyncSession, caller: Caller, bundle_id: uuid.UUID) -> BundleRead:
        return BundleRead.model_validate(await self._visible(session, caller, bundle_id))

    async def _visible(self, session: AsyncSession, caller: Caller, bundle_id: uuid.UUID) -> Bundle:
        """The bundle if the caller may see it; otherwise 404, never revealing it exists."""
        bundle = await BundleRepository(session).get(bundle_id)
        if bundle is None or not (sees_everything(caller) or bundle.buyer_id == account_id(caller)):
            raise NotFound("no such bundle")
        return bundle


bundle_service = BundleService()


# --- quotes ---


def quote_read(quote: Quote, *, now: datetime) -> QuoteRead:
    if quote.purchased_at is not None:
        status = QuoteStatus.PURCHASED
    elif now >= quote.expires_at:
        status = QuoteStatus.EXPIRED
    else:
        status = QuoteStatus.OPEN
    return QuoteRead(
        id=quote.id,
        bundle_id=quote.bundle_id,
        buyer_id=quote.buyer_id,
        currency=quote.currency,
        uses=[Use(use) for use in quote.uses],
        lines=[QuoteLine.model_validate(line) for line in quote.lines],
        excluded=[QuoteExclusion.model_validate(exclusion) for exclusion in quote.excluded],
        subtotal_minor=quote.subtotal_minor,
        platform_fee_minor=quote.platform_fee_minor,
        total_minor=quote.total_minor,
        platform_fee_bps=quote.platform_fee_bps,
        status=status,
        created_at=quote.created_at,
        expires_at=quote.expires_at,
    )


class QuoteService:
    async def create(
        self,
        session: AsyncSession,
        caller: Caller,
        quote_in: QuoteIn,
        *,
        catalogue: Catalogue,
        fee_bps: int,
        ttl: timedelta,
    ) -> QuoteRead:
        buyer_id = require_account(caller)
        bundle = await BundleRepository(session).get(quote_in.bundle_id)
        if bundle is None or bundle.buyer_id != buyer_id:
            raise NotFound("no such bundle")
        await end_read_before_calling_out(session)
        work_ids = [uuid.UUID(work_id) for work_id in bundle.work_ids]
        found = {work.id: work for work in await catalogue.works(work_ids)}
        uses = {Use(use) for use in bundle.uses}
        lines: list[QuoteLine] = []
        excluded: list[QuoteExclusion] = []
        for work_id in work_ids:
            outcome = price(
                work_id,
                found.get(work_id),
                buyer_id=buyer_id,
                uses=uses,
                currency=bundle.currency,
                fee_bps=fee_bps,
            )
            if isinstance(outcome, QuoteLine):
                lines.append(outcome)
            else:
                excluded.append(outcome)
        subtotal = sum(line.price_minor for line in lines)
        now = utcnow()
        quote = await QuoteRepository(session).create(
            Quote(
                id=uuid.uuid4(),
                bundle_id=bundle.id,
                buyer_id=buyer_id,
                currency=bundle.currency,
                uses=bundle.uses,
                lines=[line.model_dump(mode="json") for line in lines],
                excluded=[exclusion.model_dump(mode="json") for exclusion in excluded],
                subtotal_minor=subtotal,
                platform_fee_minor=sum(line.platform_fee_minor for line in lines),
                # The fee is inside the price: the buyer pays the sum of the prices.
                total_minor=subtotal,
                platform_fee_bps=fee_bps,
                created_at=now,
                expires_at=now + ttl,
            )
        )
        return quote_read(quote, now=now)

    async def get(self, session: AsyncSession, caller: Caller, quote_id: uuid.UUID) -> QuoteRead:
        quote = await QuoteRepository(session).get(quote_id)
        if quote is None or not (sees_everything(caller) or quote.buyer_id == account_id(caller)):
            raise NotFound("no such quote")
        return quote_read(quote, now=utcnow())


quote_service = QuoteService()


# --- the ledger ---


@dataclass(frozen=True, slots=True)
class Entry:
    """A posting to be written."""

    account: AccountKey
    amount_minor: int
    work_id: uuid.UUID | None


def _platform(currency: str) -> AccountKey:
    return AccountKey(LedgerAccountKind.PLATFORM_REVENUE, None, currency)


def buyer_account(buyer_id: uuid.UUID, currency: str) -> AccountKey:
    return AccountKey(LedgerAccountKind.BUYER_BALANCE, buyer_id, currency)


def creator_account(creator_id: uuid.UUID, currency: str) -> AccountKey:
    return AccountKey(LedgerAccountKind.CREATOR_PAYABLE, creator_id, currency)


def sale_entries(buyer_id: uuid.UUID, currency: str, lines: Sequence[QuoteLine]) -> list[Entry]:
    """The buyer pays the total; each line pays its fee and its co-creators' royalties.

    A co-creator whose share of a line rounds to nothing gets no posting for it.
    """
    entries = [
        Entry(buyer_account(buyer_id, currency), -sum(line.price_minor for line in lines), None)
    ]
    for line in lines:
        if line.platform_fee_minor:
            entries.append(Entry(_platform(currency), line.platform_fee_minor, line.work_id))
        royalties = split(
            line.price_minor - line.platform_fee_minor,
            [Share(share.creator_id, share.basis_points) for share in line.shares],
        )
        entries.extend(
            Entry(creator_account(royalty.creator_id, currency), royalty.amount_minor, line.work_id)
            for royalty in royalties
            if royalty.amount_minor
        )
    return entries


def _reversal(postings: Sequence[LedgerPosting]) -> list[Entry]:
    return [
        Entry(posting.account.key, -posting.amount_minor, posting.work_id) for posting in postings
    ]


class LedgerService:
    async def record(
        self,
        session: AsyncSession,
        *,
        kind: TransactionKind,
        currency: str,
        entries: Sequence[Entry],
        recorded_by: uuid.UUID,
        licence_id: uuid.UUID | None = None,
        reference: str | None = None,
        dedupe_key: str | None = None,
        events: Sequence[tuple[Topic, BaseModel]] = (),
        transaction_id: uuid.UUID | None = None,
    ) -> TransactionRead:
        """Write one balanced transaction and announce it (`ledger.recorded`), after
        `events`: those of the change it belongs to, written in the same statement.

        A buyer's stored balance moves with its postings; the caller holds its lock
        wherever the balance was checked first.
        """
        if not entries or sum(entry.amount_minor for entry in entries) != 0:
            raise ValueError("a ledger transaction needs postings that sum to zero")
        if any(entry.account.currency != currency for entry in entries):
            raise ValueError("a ledger transaction has one currency")
        ledger = LedgerRepository(session)
        await ledger.ensure_accounts({entry.account for entry in entries})
        stored: dict[uuid.UUID, int] = {}
        for entry in entries:
            if entry.account.kind == LedgerAccountKind.BUYER_BALANCE:
                stored[entry.account.id] = stored.get(entry.account.id, 0) + entry.amount_minor
        for account, amount in sorted(stored.items()):
            await ledger.add_to_stored_balance(account, amount)
        transaction_id = transaction_id or uuid.uuid4()
        recorded_at = utcnow()
        await ledger.add_transaction(
            {
                "id": transaction_id,
                "kind": kind,
                "currency": currency,
                "licence_id": licence_id,
                "reference": reference,
                "dedupe_key": dedupe_key,
                "recorded_by": recorded_by,
                "recorded_at": recorded_at,
            },
            [
                {
                    "transaction_id": transaction_id,
                    "account_id": entry.account.id,
                    "amount_minor": entry.amount_minor,
                    "work_id": entry.work_id,
                }
                for entry in entries
            ],
        )
        read = TransactionRead(
            id=transaction_id,
            kind=kind,
            currency=currency,
            licence_id=licence_id,
            reference=reference,
            recorded_by=recorded_by,
            recorded_at=recorded_at,
            postings=[
                PostingRead(
                    account_kind=entry.account.kind,
                    owner_id=entry.account.owner_id,
                    amount_minor=entry.amount_minor,
                    work_id=entry.work_id,
                )
                for entry in entries
            ],
        )
        await emit_all(
            session, [*events, (Topic.LEDGER_RECORDED, LedgerRecorded(transaction=read))]
        )
        return read

    async def balances(
        self, session: AsyncSession, caller: Caller, owner_id: uuid.UUID | None
    ) -> list[BalanceRead]:
        me = account_id(caller)
        owner = owner_id or me
        if owner is None:
            raise InvalidRequest(
                "say whose balances", fields=[FieldError("owner_id", "required", "required")]
            )
        if owner != me and not caller.has(Role.ADMIN, Role.AUDITOR):
            raise Forbidden("only admins and auditors see others' balances")
        return [
            BalanceRead(
                owner_id=owner,
                account_kind=balance.kind,
                currency=balance.currency,
                balance_minor=balance.balance_minor,
            )
            for balance in await LedgerRepository(session).balances(owner_id=owner)
        ]

    async def check(self, session: AsyncSession) -> LedgerCheck:
        ledger = LedgerRepository(session)
        return LedgerCheck(
            transactions=await ledger.count_transactions(),
            unbalanced_transactions=await ledger.unbalanced_transactions(),
            mixed_currency_transactions=await ledger.mixed_currency_transactions(),
            balance_mismatches=[
                f"{key.kind} {key.owner_id} {key.currency}: stored {stored}, postings {posted}"
                for key, stored, posted in await ledger.stored_balance_mismatches()
            ],
            negative_buyer_balances=await ledger.negative_buyer_balances(),
            totals=await ledger.totals_by_currency(),
        )


ledger_service = LedgerService()


# --- purchases and licences ---


def licence_read(licence: Licence) -> LicenceRead:
    return LicenceRead.model_validate(licence)


def _attribution(line: QuoteLine) -> str:
    return ", ".join(share.creator_name for share in line.shares)


def _certificate(licence: Licence, signer: Signer) -> CertificateRead:
    """The licence as a signed document: the works still licensed, and its status."""
    certificate = LicenceCertificate(
        licence_id=licence.id,
        buyer_id=licence.buyer_id,
        buyer_name=licence.buyer_name,
        uses=[Use(use) for use in licence.uses],
        granted_at=licence.granted_at,
        status=licence.status,
        issued_at=utcnow(),
        lines=[
            CertificateLine(
                work_id=line.work_id,
                version_id=line.version_id,
                sha256=line.sha256,
                terms_id=line.terms_id,
                starts_at=line.starts_at,
                ends_at=line.ends_at,
            )
            for line in licence.lines
            if line.status != LicenceLineStatus.EXCLUDED
        ],
    )
    envelope = signer.sign(
        LICENCE_CERTIFICATE_TYPE, canonical_json(certificate.model_dump(mode="json"))
    )
    return CertificateRead(certificate=certificate, envelope=envelope)


class LicenceService:
    async def purchase(
        self, session: AsyncSession, caller: Caller, purchase: PurchaseIn
    ) -> PurchaseRead:
        """Buy a quote once per idempotency key, however often the request is repeated."""
        buyer_id = require_account(caller)
        purchases = PurchaseRepository(session)
        try:
            claimed = await purchases.claim(buyer_id, purchase.idempotency_key, purchase.quote_id)
        except IntegrityError as exc:
            # The key's row refers to its quote: an unknown quote fails the foreign key.
            raise NotFound("no such quote") from exc
        if not claimed:
            return await self._replay(session, buyer_id, purchase)
        now = utcnow()
        quotes = QuoteRepository(session)
        quote = await quotes.mark_purchased(purchase.quote_id, now)
        if quote is None:
            bought = await quotes.get(purchase.quote_id)
            if bought is None or bought.buyer_id != buyer_id:
                raise NotFound("no such quote")
            raise QuotePurchased("this quote was bought under another idempotency key")
        if quote.buyer_id != buyer_id:
            raise NotFound("no such quote")
        if now >= quote.expires_at:
            raise QuoteExpired("the quote has expired; quote the bundle again")
        lines = [QuoteLine.model_validate(line) for line in quote.lines]
        if not lines:
            raise NothingToPurchase("every work of this quote was excluded")
        closed = await sale_scope_service.unsellable(
            session, [line.work_id for line in lines], quote.uses
        )
        sold = [line for line in lines if line.work_id not in closed]
        if not sold:
            raise NothingToPurchase("no work of this quote is for sale any more")
        total = sum(line.price_minor for line in sold)
        buyer = buyer_account(buyer_id, quote.currency)
        balance = await LedgerRepository(session).lock_stored_balance(buyer.id) or 0
        if balance < total:
            raise InsufficientFunds(f"the balance is {balance} {quote.currency}, the sale {total}")
        read = LicenceRead(
            id=uuid.uuid4(),
            buyer_id=buyer_id,
            buyer_name=caller.name or "Unnamed buyer",
            bundle_id=quote.bundle_id,
            quote_id=quote.id,
            uses=[Use(use) for use in quote.uses],
            currency=quote.currency,
            total_minor=total,
            platform_fee_minor=sum(line.platform_fee_minor for line in sold),
            refunded_minor=0,
            status=LicenceStatus.ACTIVE,
            granted_at=now,
            starts_at=now,
            ends_at=max(now + timedelta(days=line.terms.duration_days) for line in sold),
            refunded_at=None,
            lines=[
                LicenceLineRead(
                    work_id=line.work_id,
                    version_id=line.version_id,
                    title=line.title,
                    media_type=line.media_type,
                    file_name=line.file_name,
                    size=line.size,
                    sha256=line.sha256,
                    attribution=_attribution(line),
                    terms_id=line.terms_id,
                    terms=line.terms,
                    price_minor=line.price_minor,
                    starts_at=now,
                    ends_at=now + timedelta(days=line.terms.duration_days),
                    status=LicenceLineStatus.EXCLUDED
                    if line.work_id in closed
                    else LicenceLineStatus.ACTIVE,
                    excluded_reason=closed.get(line.work_id),
                )
                for line in lines
            ],
        )
        # Written as rows, not mapped objects: the ORM's flush costs more than the SQL.
        await LicenceRepository(session).grant(
            {
                "id": read.id,
                "buyer_id": read.buyer_id,
                "buyer_name": read.buyer_name,
                "bundle_id": read.bundle_id,
                "quote_id": read.quote_id,
                "uses": quote.uses,
                "currency": read.currency,
                "total_minor": read.total_minor,
                "platform_fee_minor": read.platform_fee_minor,
                "refunded_minor": 0,
                "status": read.status,
                "granted_at": now,
                "starts_at": now,
                "ends_at": read.ends_at,
            },
            [
                {
                    "licence_id": read.id,
                    "work_id": line.work_id,
                    "position": position,
                    "version_id": line.version_id,
                    "title": line.title,
                    "media_type": line.media_type,
                    "file_name": line.file_name,
                    "size": line.size,
                    "sha256": line.sha256,
                    "attribution": granted.attribution,
                    "terms_id": line.terms_id,
                    "terms": line.terms.model_dump(mode="json"),
                    "price_minor": line.price_minor,
                    "platform_fee_minor": line.platform_fee_minor,
                    "shares": [share.model_dump(mode="json") for share in line.shares],
                    "starts_at": granted.starts_at,
                    "ends_at": granted.ends_at,
                    "status": granted.status,
                    "excluded_reason": granted.excluded_reason,
                }
                for position, (line, granted) in enumerate(zip(lines, read.lines, strict=True))
            ],
        )
        await ledger_service.record(
            session,
            kind=TransactionKind.SALE,
            currency=quote.currency,
            entries=sale_entries(buyer_id, quote.currency, sold),
            recorded_by=buyer_id,
            licence_id=read.id,
            dedupe_key=f"sale:{read.id}",
            events=[
                (
                    Topic.LICENCE_GRANTED,
                    LicenceGranted(
                        licence_id=read.id,
                        buyer_id=read.buyer_id,
                        buyer_name=read.buyer_name,
                        bundle_id=read.bundle_id,
                        quote_id=read.quote_id,
                        uses=read.uses,
                        currency=read.currency,
                        total_minor=read.total_minor,
                        granted_at=read.granted_at,
                        lines=read.lines,
                    ),
                )
            ],
        )
        log.info("licence.purchase.granted", licence_id=str(read.id), total=total)
        return PurchaseRead(licence=read, replayed=False)

    async def _replay(
        self, session: AsyncSession, buyer_id: uuid.UUID, purchase: PurchaseIn
    ) -> PurchaseRead:
        claimed = await PurchaseRepository(session).find(buyer_id, purchase.idempotency_key)
        assert claimed is not None
        if claimed.quote_id != purchase.quote_id:
            raise IdempotencyKeyReused("this idempotency key already bought another quote")
        licence = await LicenceRepository(session).by_quote(claimed.quote_id)
        assert licence is not None
        log.info("licence.purchase.idempotent_replay", licence_id=str(licence.id))
        return PurchaseRead(licence=licence_read(licence), replayed=True)

    async def page(
        self, session: AsyncSession, caller: Caller, *, after: str | None, first: int
    ) -> LicencePage:
        """Newest first: a buyer's own licences; every licence for admins and auditors."""
        buyer_id = None if sees_everything(caller) else account_id(caller)
        if buyer_id is None and not sees_everything(caller):
            return LicencePage(items=[], next_cursor=None)
        page = await LicenceRepository(session).page(buyer_id=buyer_id, after=after, limit=first)
        return LicencePage(
            items=[licence_read(licence) for licence in page.items], next_cursor=page.next_cursor
        )

    async def get_many(
        self, session: AsyncSession, caller: Caller, ids: Sequence[uuid.UUID]
    ) -> list[LicenceRead]:
        licences = await LicenceRepository(session).get_many_for_read(list(dict.fromkeys(ids)))
        return [licence_read(licence) for licence in licences if self._may_see(caller, licence)]

    async def get(
        self, session: AsyncSession, caller: Caller, licence_id: uuid.UUID
    ) -> LicenceRead:
        return licence_read(await self._visible(session, caller, licence_id))

    async def certificate(
        self, session: AsyncSession, caller: Caller, licence_id: uuid.UUID, *, signer: Signer
    ) -> CertificateRead:
        """The licence as a signed document: the works still licensed, and its status."""
        return _certificate(await self._visible(session, caller, licence_id), signer)

    async def certificates(
        self, session: AsyncSession, caller: Caller, ids: Sequence[uuid.UUID], *, signer: Signer
    ) -> list[CertificateRead]:
        """Each licence's certificate in the order asked; those the caller may not see (or
        that do not exist) are left out."""
        licences = await LicenceRepository(session).get_many_for_read(list(dict.fromkeys(ids)))
        return [
            _certificate(licence, signer) for licence in licences if self._may_see(caller, licence)
        ]

    async def refund(
        self, session: AsyncSession, caller: Caller, licence_id: uuid.UUID, refund: RefundIn
    ) -> LicenceRead:
        """Revoke the licence and reverse whatever of its sale is not yet reversed."""
        admin_id = require_account(caller)
        refuse_nul(reason=refund.reason)
        licence = await LicenceRepository(session).lock(licence_id)
        if licence is None:
            raise NotFound("no such licence")
        if licence.status == LicenceStatus.REFUNDED:
            raise LicenceRefunded("this licence has already been refunded")
        active = {line.work_id for line in licence.lines if line.status == LicenceLineStatus.ACTIVE}
        sold = await LedgerRepository(session).licence_postings(licence.id, TransactionKind.SALE)
        remaining = licence.total_minor - licence.refunded_minor
        entries = _reversal(
            [
                posting
                for posting in sold
                if posting.work_id in active
                and posting.account.kind != LedgerAccountKind.BUYER_BALANCE
            ]
        )
        now = utcnow()
        for line in licence.lines:
            if line.status == LicenceLineStatus.ACTIVE:
                line.status = LicenceLineStatus.REFUNDED
        licence.status = LicenceStatus.REFUNDED
        licence.refunded_minor = licence.total_minor
        licence.refunded_at = now
        licence.refunded_by = admin_id
        licence.refund_reason = refund.reason
        refunded = LicenceRefundedEvent(
            licence_id=licence.id,
            buyer_id=licence.buyer_id,
            refunded_by=admin_id,
            reason=refund.reason,
            refunded_at=now,
            amount_minor=remaining,
            currency=licence.currency,
        )
        # Nothing is left to reverse when delivery already left every line out.
        if remaining:
            await ledger_service.record(
                session,
                kind=TransactionKind.REFUND,
                currency=licence.currency,
                entries=[
                    Entry(buyer_account(licence.buyer_id, licence.currency), remaining, None),
                    *entries,
                ],
                recorded_by=admin_id,
                licence_id=licence.id,
                reference=refund.reason[:200],
                dedupe_key=f"refund:{licence.id}",
                events=[(Topic.LICENCE_REFUNDED, refunded)],
            )
        else:
            emit(session, Topic.LICENCE_REFUNDED, refunded)
        await session.flush()
        log.info("licence.refunded", licence_id=str(licence.id), amount=remaining)
        return licence_read(licence)

    async def refund_undelivered(self, session: AsyncSession, issued: DeliveryIssued) -> None:
        """Refund each sold line delivery reports it could not deliver.

        A line sold before its work's withdrawal is delivered on its terms, so this
        refunds only what delivery genuinely could not deliver (a file gone, say)."""
        if not issued.excluded:
            return
        licence = await LicenceRepository(session).lock(issued.licence_id)
        if licence is None:
            log.warning("licence.exclusion.unknown_licence", licence_id=str(issued.licence_id))
            return
        if licence.status == LicenceStatus.REFUNDED:
            return
        lines = {line.work_id: line for line in licence.lines}
        sold = await LedgerRepository(session).licence_postings(licence.id, TransactionKind.SALE)
        for exclusion in issued.excluded:
            line = lines.get(exclusion.work_id)
            if line is None or line.status != LicenceLineStatus.ACTIVE:
                continue
            line.status = LicenceLineStatus.EXCLUDED
            line.excluded_reason = exclusion.reason[:200]
            licence.refunded_minor += line.price_minor
            reversed_line = _reversal(
                [
                    posting
                    for posting in sold
                    if posting.work_id == line.work_id
                    and posting.account.kind != LedgerAccountKind.BUYER_BALANCE
                ]
            )
            await ledger_service.record(
                session,
                kind=TransactionKind.REFUND,
                currency=licence.currency,
                entries=[
                    Entry(
                        buyer_account(licence.buyer_id, licence.currency),
                        line.price_minor,
                        line.work_id,
                    ),
                    *reversed_line,
                ],
                recorded_by=SERVICE_ACCOUNT,
                licence_id=licence.id,
                reference=f"left out of delivery {issued.delivery_id}",
                dedupe_key=f"refund:{licence.id}:{line.work_id}",
            )
            log.info(
                "licence.line.excluded",
                licence_id=str(licence.id),
                work_id=str(line.work_id),
                reason=exclusion.reason,
            )
        await session.flush()

    def _may_see(self, caller: Caller, licence: Licence) -> bool:
        return sees_everything(caller) or licence.buyer_id == account_id(caller)

    async def _visible(
        self, session: AsyncSession, caller: Caller, licence_id: uuid.UUID
    ) -> Licence:
        """The licence if the caller may see it; otherwise 404, never revealing it exists."""
        licence = await LicenceRepository(session).get_for_read(licence_id)
        if licence is None or not self._may_see(caller, licence):
            raise NotFound("no such licence")
        return licence


licence_service = LicenceService()


# --- creators' earnings ---


def _period_start(moment: datetime, period: Period) -> datetime:
    moment = moment.astimezone(UTC)
    day = 1 if period == Period.MONTH else moment.day
    return datetime(moment.year, moment.month, day, tzinfo=UTC)


class EarningsService:
    async def statement(
        self, session: AsyncSession, caller: Caller, query: EarningsQuery
    ) -> EarningsRead:
        creator_id = self._whose(caller, query)
        if query.currency is not None:
            check_currency(query.currency)
        where = EarningsFilter(
            creator_id=creator_id,
            currency=query.currency,
            since=_aware(query.since, "since"),
            until=_aware(query.until, "until"),
        )
        ledger = LedgerRepository(session)
        rows = await ledger.earning_rows(where, limit=MAX_EARNING_LINES)
        periods: dict[tuple[datetime, str], int] = {}
        for moment, currency, amount in await ledger.earning_amounts(where):
            key = (_period_start(moment, query.period), currency)
            periods[key] = periods.get(key, 0) + amount
        return EarningsRead(
            creator_id=creator_id,
            lines=[
                EarningLine(
                    licence_id=row.licence_id,
                    work_id=row.work_id,
                    title=row.title,
                    buyer_id=row.buyer_id,
                    buyer_name=row.buyer_name,
                    uses=[Use(use) for use in row.uses],
                    basis_points=next(
                        (
                            int(share["basis_points"])
                            for share in row.shares
                            if share["creator_id"] == str(creator_id)
                        ),
                        0,
                    ),
                    amount_minor=row.amount_minor,
                    currency=row.currency,
                    kind=row.kind,
                    recorded_at=row.recorded_at,
                )
                for row in rows
            ],
            by_work=[
                WorkEarnings(
                    work_id=total.work_id,
                    title=total.title,
                    currency=total.currency,
                    amount_minor=total.amount_minor,
                    licences=total.licences,
                )
                for total in await ledger.earnings_by_work(where)
            ],
            by_period=[
                PeriodEarnings(period_start=start, currency=currency, amount_minor=amount)
                for (start, currency), amount in sorted(periods.items())
            ],
            payouts=[
                PayoutRead(
                    transaction_id=payout.transaction_id,
                    creator_id=creator_id,
                    amount_minor=payout.amount_minor,
                    currency=payout.currency,
                    reference=payout.reference,
                    recorded_at=payout.recorded_at,
                )
                for payout in await ledger.payouts(where)
            ],
            balances=[
                BalanceRead(
                    owner_id=creator_id,
                    account_kind=balance.kind,
                    currency=balance.currency,
                    balance_minor=balance.balance_minor,
                )
                for balance in await ledger.balances(
                    owner_id=creator_id,
                    kinds={LedgerAccountKind.CREATOR_PAYABLE},
                    currency=query.currency,
                )
            ],
        )

    def _whose(self, caller: Caller, query: EarningsQuery) -> uuid.UUID:
        """Creators see their own earnings; admins and auditors any creator's."""
        me = account_id(caller)
        if caller.has(Role.ADMIN, Role.AUDITOR):
            creator_id = query.creator_id or (me if caller.has(Role.CREATOR) else None)
            if creator_id is None:
                raise InvalidRequest(
                    "say whose earnings",
                    fields=[FieldError("creator_id", "required", "required")],
                )
            return creator_id
        if not caller.has(Role.CREATOR) or me is None:
            raise Forbidden("earnings are for creators, admins and auditors")
        if query.creator_id not in (None, me):
            raise Forbidden("a creator sees only their own earnings")
        return me


earnings_service = EarningsService()
