import uuid
from datetime import datetime

import pydantic
import strawberry
from strawberry.types import Info

from gateway.accounts.repository import AccountRepository
from gateway.context import Context
from gateway.resolvers.catalogue import work_search
from gateway.types.catalogue import SearchSort, Use, WorkFilter
from gateway.types.errors import (
    REFUSALS,
    Conflict,
    Forbidden,
    InsufficientFunds,
    NotFound,
    QuoteExpired,
    ValidationFailed,
    failure,
)
from gateway.types.licensing import (
    Balance,
    Balances,
    BalancesResult,
    Bundle,
    BundleConnection,
    BundleCreated,
    BundleResult,
    BundlesResult,
    CreateBundleResult,
    Earnings,
    EarningsResult,
    LedgerCheck,
    LedgerCheckResult,
    LedgerTransaction,
    Licence,
    LicenceConnection,
    LicenceRefunded,
    LicenceResult,
    LicenceRevoked,
    LicencesResult,
    MoneyRecorded,
    Period,
    PurchaseResult,
    PurchaseSucceeded,
    Quote,
    QuoteBundleResult,
    QuoteIssued,
    QuoteResult,
    RecordMoneyResult,
    RefundLicenceResult,
    RevokeLicenceResult,
)
from gateway.types.scalars import BigInt
from services.contracts import licensing as contract
from services.contracts.catalogue import MAX_PAGE_SIZE
from services.contracts.roles import Role
from services.kit import errors


def _uuid(value: strawberry.ID, what: str) -> uuid.UUID:
    """An id that is not a UUID names nothing: the same answer as an unknown one."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise errors.NotFound(f"no such {what}") from None


def _field_id(value: strawberry.ID, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise errors.InvalidRequest(
            f"{field} is not a valid id",
            fields=[errors.FieldError(field, "not a valid id", "invalid")],
        ) from None


def _first(first: int) -> int:
    return max(1, min(first, MAX_PAGE_SIZE))


async def _account_roles(ctx: Context, account_id: uuid.UUID) -> list[Role]:
    """The account's roles by the gateway's own accounts ([] for no such account):
    licensing hears of an account through the outbox, a moment after it registered."""
    async with ctx.db() as session:
        opened_here = not session.in_transaction()
        account = await AccountRepository(session).get_with_roles(account_id)
        if opened_here:
            # Only this read is in the transaction: end it before licensing is called.
            await session.commit()
    return sorted(account.role_set) if account is not None else []


@strawberry.input
class CreateBundleInput:
    name: str
    uses: list[Use] = strawberry.field(description="What you will do with the works.")
    currency: str = "EUR"
    work_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="The works; or give `search` instead."
    )
    search: WorkFilter | None = strawberry.field(
        default=None, description="A catalogue search, resolved into works now and saved."
    )
    sort: SearchSort | None = None


@strawberry.type
class LicensingQuery:
    @strawberry.field(description="One of your bundles.")
    async def bundle(self, info: Info[Context, None], id: strawberry.ID) -> BundleResult:
        ctx = info.context
        try:
            found = await ctx.licensing.bundle(ctx.require_principal(), _uuid(id, "bundle"))
        except errors.AssentError as error:
            return failure(error, NotFound, *REFUSALS)
        return Bundle.of(found)

    @strawberry.field(description="Your bundles, newest first.")
    async def bundles(
        self, info: Info[Context, None], first: int = 20, after: str | None = None
    ) -> BundlesResult:
        ctx = info.context
        try:
            page = await ctx.licensing.bundles(ctx.require_principal(), _first(first), after)
        except errors.AssentError as error:
            # A cursor that is not one the service gave is refused as invalid.
            return failure(error, ValidationFailed, *REFUSALS)
        return BundleConnection(
            items=[Bundle.of(b) for b in page.items], next_cursor=page.next_cursor
        )

    @strawberry.field(description="A quote you were given; it never changes once issued.")
    async def quote(self, info: Info[Context, None], id: strawberry.ID) -> QuoteResult:
        ctx = info.context
        try:
            found = await ctx.licensing.quote(ctx.require_principal(), _uuid(id, "quote"))
        except errors.AssentError as error:
            return failure(error, NotFound, *REFUSALS)
        return Quote.of(found)

    @strawberry.field(description="One licence: yours, or any for admins and auditors.")
    async def licence(self, info: Info[Context, None], id: strawberry.ID) -> LicenceResult:
        ctx = info.context
        try:
            ctx.require_principal()
            found = await ctx.loaders.licences.load(_uuid(id, "licence"))
            if found is None:
                raise errors.NotFound("no such licence")
        except errors.AssentError as error:
            return failure(error, NotFound, *REFUSALS)
        return Licence.of(found)

    @strawberry.field(description="Your licences, newest first (admins and auditors: all).")
    async def licences(
        self, info: Info[Context, None], first: int = 20, after: str | None = None
    ) -> LicencesResult:
        ctx = info.context
        try:
            page = await ctx.licensing.licences(ctx.require_principal(), _first(first), after)
        except errors.AssentError as error:
            return failure(error, ValidationFailed, *REFUSALS)
        for licence in page.items:
            ctx.loaders.licences.prime(licence.id, licence)
        return LicenceConnection(
            items=[Licence.of(lic) for lic in page.items], next_cursor=page.next_cursor
        )

    @strawberry.field(description="Prepaid balances (yours; admins: anyone's).")
    async def balances(
        self, info: Info[Context, None], owner_id: strawberry.ID | None = None
    ) -> BalancesResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            owner = _field_id(owner_id, "ownerId") if owner_id else principal.account_id
            found = await ctx.licensing.balances(principal, owner)
        except errors.AssentError as error:
            return failure(error, ValidationFailed, Forbidden, *REFUSALS)
        return Balances(owner_id=strawberry.ID(str(owner)), balances=[Balance.of(b) for b in found])

    @strawberry.field(description="The ledger's invariants (admins and auditors).")
    async def ledger_check(self, info: Info[Context, None]) -> LedgerCheckResult:
        ctx = info.context
        try:
            check = await ctx.licensing.ledger_check(ctx.require_principal())
        except errors.AssentError as error:
            return failure(error, Forbidden, *REFUSALS)
        return LedgerCheck(
            transactions=check.transactions,
            unbalanced_transactions=[strawberry.ID(str(i)) for i in check.unbalanced_transactions],
            mixed_currency_transactions=[
                strawberry.ID(str(i)) for i in check.mixed_currency_transactions
            ],
            balance_mismatches=list(check.balance_mismatches),
            negative_buyer_balances=[strawberry.ID(str(i)) for i in check.negative_buyer_balances],
            sound=not (
                check.unbalanced_transactions
                or check.mixed_currency_transactions
                or check.balance_mismatches
                or check.negative_buyer_balances
                or any(check.totals.values())
            ),
        )

    @strawberry.field(
        description="What a creator earned: per licence, per work and per period, who "
        "licensed what for which uses, payouts, and what is owed (creators: their own)."
    )
    async def earnings(
        self,
        info: Info[Context, None],
        creator_id: strawberry.ID | None = None,
        currency: str | None = None,
        period: Period = Period.MONTH,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> EarningsResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            query = contract.EarningsQuery(
                creator_id=_field_id(creator_id, "creatorId") if creator_id else None,
                currency=currency,
                period=period,
                since=since,
                until=until,
            )
            found = await ctx.licensing.earnings(principal, query)
        except (errors.AssentError, pydantic.ValidationError) as error:
            return failure(error, ValidationFailed, Forbidden, *REFUSALS)
        return Earnings.of(found)


@strawberry.type
class LicensingMutation:
    @strawberry.mutation(
        description="Make a bundle (buyers) from work ids or a catalogue search, for the "
        "uses you will make of it."
    )
    async def create_bundle(
        self, info: Info[Context, None], input: CreateBundleInput
    ) -> CreateBundleResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            bundle = contract.BundleCreate(
                name=input.name,
                uses=list(input.uses),
                currency=input.currency,
                work_ids=[_field_id(w, "workIds") for w in input.work_ids]
                if input.work_ids is not None
                else None,
                search=work_search(input.search, input.sort, MAX_PAGE_SIZE, None)
                if input.search is not None
                else None,
            )
            created = await ctx.licensing.create_bundle(principal, bundle)
        except (errors.AssentError, pydantic.ValidationError) as error:
            return failure(error, ValidationFailed, Forbidden, *REFUSALS)
        return BundleCreated(bundle=Bundle.of(created))

    @strawberry.mutation(
        description="Quote a bundle: each work's current offer locked for 15 minutes, the "
        "works left out and why, the platform fee and the total."
    )
    async def quote_bundle(
        self, info: Info[Context, None], bundle_id: strawberry.ID
    ) -> QuoteBundleResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            quote = await ctx.licensing.quote_bundle(principal, _uuid(bundle_id, "bundle"))
        except errors.AssentError as error:
            return failure(error, NotFound, Forbidden, *REFUSALS)
        return QuoteIssued(quote=Quote.of(quote))

    @strawberry.mutation(
        description="Buy a quote. The same idempotency key always returns the same licence, "
        "however often it is retried; reuse it on every retry of one purchase."
    )
    async def purchase(
        self, info: Info[Context, None], quote_id: strawberry.ID, idempotency_key: str
    ) -> PurchaseResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            wanted = contract.PurchaseIn(
                quote_id=_uuid(quote_id, "quote"), idempotency_key=idempotency_key
            )
            bought = await ctx.licensing.purchase(principal, wanted)
        except (errors.AssentError, pydantic.ValidationError) as error:
            return failure(
                error,
                QuoteExpired,
                InsufficientFunds,
                Conflict,
                NotFound,
                Forbidden,
                ValidationFailed,
                *REFUSALS,
            )
        ctx.loaders.licences.prime(bought.licence.id, bought.licence)
        return PurchaseSucceeded(licence=Licence.of(bought.licence), replayed=bought.replayed)

    @strawberry.mutation(
        description="Refund a licence (admins): every entry reversed exactly, the licence "
        "revoked, and its downloads refused from then on."
    )
    async def refund_licence(
        self, info: Info[Context, None], licence_id: strawberry.ID, reason: str
    ) -> RefundLicenceResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            refund = contract.RefundIn(reason=reason)
            refunded = await ctx.licensing.refund(principal, _uuid(licence_id, "licence"), refund)
        except (errors.AssentError, pydantic.ValidationError) as error:
            return failure(error, Conflict, NotFound, Forbidden, ValidationFailed, *REFUSALS)
        return LicenceRefunded(licence=Licence.of(refunded))

    @strawberry.mutation(
        description="Revoke a licence without a refund (admins), when its buyer broke its "
        "terms: its files no longer download and its records may no longer be used; the "
        "money stays where the sale put it. Conflict code: LicenceNotUsable (refunded)."
    )
    async def revoke_licence(
        self, info: Info[Context, None], licence_id: strawberry.ID, reason: str
    ) -> RevokeLicenceResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            revoke = contract.RevokeIn(reason=reason)
            revoked = await ctx.licensing.revoke(principal, _uuid(licence_id, "licence"), revoke)
        except (errors.AssentError, pydantic.ValidationError) as error:
            return failure(error, Conflict, NotFound, Forbidden, ValidationFailed, *REFUSALS)
        return LicenceRevoked(licence=Licence.of(revoked))

    @strawberry.mutation(description="Record money received from a buyer (admins).")
    async def top_up(
        self,
        info: Info[Context, None],
        buyer_id: strawberry.ID,
        amount_minor: BigInt,
        currency: str,
        reference: str,
    ) -> RecordMoneyResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            buyer = _field_id(buyer_id, "buyerId")
            top_up = contract.TopUpIn(
                buyer_id=buyer,
                amount_minor=amount_minor,
                currency=currency,
                reference=reference,
                buyer_roles=await _account_roles(ctx, buyer),
            )
            recorded = await ctx.licensing.top_up(principal, top_up)
        except (errors.AssentError, pydantic.ValidationError) as error:
            return failure(error, Conflict, ValidationFailed, Forbidden, *REFUSALS)
        return MoneyRecorded(transaction=LedgerTransaction.of(recorded))

    @strawberry.mutation(description="Record money paid out to a creator (admins).")
    async def record_payout(
        self,
        info: Info[Context, None],
        creator_id: strawberry.ID,
        amount_minor: BigInt,
        currency: str,
        reference: str,
    ) -> RecordMoneyResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            payout = contract.PayoutIn(
                creator_id=_field_id(creator_id, "creatorId"),
                amount_minor=amount_minor,
                currency=currency,
                reference=reference,
            )
            recorded = await ctx.licensing.payout(principal, payout)
        except (errors.AssentError, pydantic.ValidationError) as error:
            return failure(
                error, InsufficientFunds, Conflict, ValidationFailed, Forbidden, *REFUSALS
            )
        return MoneyRecorded(transaction=LedgerTransaction.of(recorded))
