"""Invoices, as the gateway calls licensing for them: a lab's billing details and invoices."""

import uuid

from pydantic import TypeAdapter

from gateway.accounts.service import Principal
from gateway.clients.base import ServiceApi
from services.contracts.licensing import BillingDetailsIn, BillingDetailsRead, InvoiceRead

_INVOICES = TypeAdapter(list[InvoiceRead])


class InvoicesClient(ServiceApi):
    async def set_details(
        self, principal: Principal, details: BillingDetailsIn
    ) -> BillingDetailsRead:
        return await self._model(
            BillingDetailsRead, principal, "PUT", "/v1/billing-details", body=details
        )

    async def details(self, principal: Principal) -> BillingDetailsRead:
        return await self._model(BillingDetailsRead, principal, "GET", "/v1/billing-details")

    async def invoices(
        self, principal: Principal, buyer_id: uuid.UUID | None, first: int
    ) -> list[InvoiceRead]:
        params: dict[str, str] = {"first": str(first)}
        if buyer_id is not None:
            params["buyer_id"] = str(buyer_id)
        return _INVOICES.validate_json(
            await self._call(principal, "GET", "/v1/invoices", params=params)
        )

    async def invoice(self, principal: Principal, invoice_id: uuid.UUID) -> InvoiceRead:
        return await self._model(InvoiceRead, principal, "GET", f"/v1/invoices/{invoice_id}")
