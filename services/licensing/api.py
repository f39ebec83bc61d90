"""Licensing's REST API (the contract is `services.contracts.licensing`): each aggregate's
routes, in one router."""

from fastapi import APIRouter

from services.licensing.bundle.routes import router as bundle_router
from services.licensing.card.routes import router as card_router
from services.licensing.earnings.routes import router as earnings_router
from services.licensing.invoice.routes import router as invoice_router
from services.licensing.ledger.routes import router as ledger_router
from services.licensing.licence.routes import router as licence_router
from services.licensing.payout.routes import router as payout_router
from services.licensing.quote.routes import router as quote_router
from services.licensing.training.routes import router as training_router

router = APIRouter()
for part in (
    bundle_router,
    quote_router,
    licence_router,
    ledger_router,
    earnings_router,
    training_router,
    card_router,
    payout_router,
    invoice_router,
):
    router.include_router(part)
