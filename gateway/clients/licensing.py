"""The licensing service, as the gateway calls it."""

import uuid
from collections.abc import Sequence

from pydantic import TypeAdapter

from gateway.accounts.service import Principal
from gateway.clients.base import ServiceApi, query_params
from services.contracts.licensing import (
    BalanceRead,
    BundleCreate,
    BundlePage,
    BundleRead,
    CertificateRead,
    EarningsQuery,
    EarningsRead,
    LedgerCheck,
    LicencePage,
    LicenceRead,
    PayoutIn,
    PurchaseIn,
    PurchaseRead,
    QuoteIn,
    QuoteRead,
    RefundIn,
    RevokeIn,
    TopUpIn,
    TransactionRead,
)
from services.contracts.signing import PublicKeyRead
from services.kit import errors

_LICENCES = TypeAdapter(list[LicenceRead])
_BALANCES = TypeAdapter(list[BalanceRead])
_KEYS = TypeAdapter(list[PublicKeyRead])
_CERTIFICATES = TypeAdapter(list[CertificateRead])


def _page(first: int, after: str | None) -> dict[str, str | int]:
    return {"first": first, **({"after": after} if after else {})}


class LicensingClient(ServiceApi):
    async def create_bundle(self, principal: Principal, bundle: BundleCreate) -> BundleRead:
        return await self._model(BundleRead, principal, "POST", "/v1/bundles", body=bundle)

    async def bundle(self, principal: Principal, bundle_id: uuid.UUID) -> BundleRead:
        return await self._model(BundleRead, principal, "GET", f"/v1/bundles/{bundle_id}")

    async def bundles(self, principal: Principal, first: int, after: str | None) -> BundlePage:
        return await self._model(
            BundlePage, principal, "GET", "/v1/bundles", params=_page(first, after)
        )

    async def quote_bundle(self, principal: Principal, bundle_id: uuid.UUID) -> QuoteRead:
        return await self._model(
            QuoteRead, principal, "POST", "/v1/quotes", body=QuoteIn(bundle_id=bundle_id)
        )

    async def quote(self, principal: Principal, quote_id: uuid.UUID) -> QuoteRead:
        return await self._model(QuoteRead, principal, "GET", f"/v1/quotes/{quote_id}")

    async def purchase(self, principal: Principal, purchase: PurchaseIn) -> PurchaseRead:
        return await self._model(PurchaseRead, principal, "POST", "/v1/purchases", body=purchase)

    async def licence(self, principal: Principal, licence_id: uuid.UUID) -> LicenceRead:
        return await self._model(LicenceRead, principal, "GET", f"/v1/licences/{licence_id}")

    async def licences_by_id(
        self, principal: Principal, ids: Sequence[uuid.UUID]
    ) -> list[LicenceRead]:
        content = await self._call(
            principal, "GET", "/v1/licences/batch", params=[("id", str(i)) for i in ids]
        )
        return _LICENCES.validate_json(content)

    async def licences(self, principal: Principal, first: int, after: str | None) -> LicencePage:
        return await self._model(
            LicencePage, principal, "GET", "/v1/licences", params=_page(first, after)
        )

    async def certificate(self, principal: Principal, licence_id: uuid.UUID) -> CertificateRead:
        return await self._model(
            CertificateRead, principal, "GET", f"/v1/licences/{licence_id}/certificate"
        )

    async def certificates(
        self, principal: Principal, licence_ids: Sequence[uuid.UUID]
    ) -> list[CertificateRead | errors.AssentError]:
        """Each licence's certificate in the order asked, in one call; a licence licensing
        left out (missing, or not the caller's) answers as a single read would: not found."""
        content = await self._call(
            principal,
            "GET",
            "/v1/licences/certificates",
            params=[("licence_id", str(i)) for i in licence_ids],
        )
        found = {read.certificate.licence_id: read for read in _CERTIFICATES.validate_json(content)}
        return [
            found.get(licence_id) or errors.NotFound("no such licence")
            for licence_id in licence_ids
        ]

    async def refund(
        self, principal: Principal, licence_id: uuid.UUID, refund: RefundIn
    ) -> LicenceRead:
        return await self._model(
            LicenceRead, principal, "POST", f"/v1/licences/{licence_id}/refund", body=refund
        )

    async def revoke(
        self, principal: Principal, licence_id: uuid.UUID, revoke: RevokeIn
    ) -> LicenceRead:
        return await self._model(
            LicenceRead, principal, "POST", f"/v1/licences/{licence_id}/revoke", body=revoke
        )

    async def top_up(self, principal: Principal, top_up: TopUpIn) -> TransactionRead:
        return await self._model(
            TransactionRead, principal, "POST", "/v1/ledger/top-ups", body=top_up
        )

    async def payout(self, principal: Principal, payout: PayoutIn) -> TransactionRead:
        return await self._model(
            TransactionRead, principal, "POST", "/v1/ledger/payouts", body=payout
        )

    async def balances(self, principal: Principal, owner_id: uuid.UUID) -> list[BalanceRead]:
        content = await self._call(
            principal, "GET", "/v1/balances", params={"owner_id": str(owner_id)}
        )
        return _BALANCES.validate_json(content)

    async def ledger_check(self, principal: Principal) -> LedgerCheck:
        return await self._model(LedgerCheck, principal, "GET", "/v1/ledger/check")

    async def earnings(self, principal: Principal, query: EarningsQuery) -> EarningsRead:
        return await self._model(
            EarningsRead, principal, "GET", "/v1/earnings", params=query_params(query)
        )

    async def keys(self, principal: Principal | None) -> list[PublicKeyRead]:
        return _KEYS.validate_json(await self._call(principal, "GET", "/v1/keys"))
