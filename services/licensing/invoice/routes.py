"""Invoices' routes: a lab's billing details, and its invoices."""

import uuid

from fastapi import APIRouter

from services.contracts.licensing import BillingDetailsIn, BillingDetailsRead, InvoiceRead
from services.kit.errors import (
    Forbidden,
    InvalidRequest,
    NotFound,
    Unauthenticated,
    error_responses,
)
from services.kit.internal_token import CurrentCaller
from services.licensing.dependencies import First, Licences, Session

router = APIRouter(prefix="/v1", tags=["invoices"])


@router.put(
    "/billing-details", responses=error_responses(Unauthenticated, Forbidden, InvalidRequest)
)
async def set_billing_details(
    details: BillingDetailsIn, caller: CurrentCaller, session: Session, licences: Licences
) -> BillingDetailsRead:
    """Who a lab's invoices are made out to, and so what VAT its purchases bear (buyers)."""
    return await licences.invoicing.set_details(session, caller, details)


@router.get("/billing-details", responses=error_responses(Unauthenticated, Forbidden, NotFound))
async def get_billing_details(
    caller: CurrentCaller, session: Session, licences: Licences
) -> BillingDetailsRead:
    return await licences.invoicing.details(session, caller)


@router.get("/invoices", responses=error_responses(Unauthenticated, Forbidden))
async def list_invoices(
    caller: CurrentCaller,
    session: Session,
    licences: Licences,
    first: First = 100,
    buyer_id: uuid.UUID | None = None,
) -> list[InvoiceRead]:
    """Invoices, newest first: a lab's own; any lab's for admins and auditors."""
    return await licences.invoicing.invoices(session, caller, buyer_id, first)


@router.get(
    "/invoices/{invoice_id}", responses=error_responses(Unauthenticated, Forbidden, NotFound)
)
async def get_invoice(
    invoice_id: uuid.UUID, caller: CurrentCaller, session: Session, licences: Licences
) -> InvoiceRead:
    return await licences.invoicing.invoice(session, caller, invoice_id)
