"""What licensing's routes share: their dependencies and the documented error answers."""

import uuid
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from assent.protocol import Signer
from services.contracts.catalogue import MAX_PAGE_SIZE
from services.kit.client import ServiceClient
from services.kit.db import get_session
from services.kit.errors import (
    NotFound,
    Unauthenticated,
)
from services.kit.keyring import Keyring
from services.licensing.catalogue_client import CatalogueClient
from services.licensing.config import Settings
from services.licensing.ledger.payments import PaymentService
from services.licensing.ledger.service import LedgerService
from services.licensing.licence.service import LicenceService
from services.licensing.wiring import LicensingServices

Session = Annotated[AsyncSession, Depends(get_session, scope="function")]
Ids = Annotated[list[uuid.UUID], Query(alias="id", min_length=1, max_length=MAX_PAGE_SIZE)]
First = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _catalogue_client(request: Request) -> CatalogueClient:
    # Built per request from the app's shared client, which tests may route elsewhere.
    state = request.app.state
    return CatalogueClient(
        ServiceClient(
            "catalogue", state.settings.catalogue_url, signer=state.token_signer, http=state.http
        )
    )


async def _signer(request: Request, session: Session) -> Signer:
    # The key valid now, from the key history every replica shares.
    keyring: Keyring = request.app.state.keyring
    return await keyring.signer_at(session)


async def _services(request: Request) -> LicensingServices:
    services: LicensingServices = request.app.state.licensing
    return services


async def _ledger(services: Annotated[LicensingServices, Depends(_services)]) -> LedgerService:
    return services.ledger


async def _payments(services: Annotated[LicensingServices, Depends(_services)]) -> PaymentService:
    return services.payments


async def _licences(services: Annotated[LicensingServices, Depends(_services)]) -> LicenceService:
    return services.licences


LicensingSettings = Annotated[Settings, Depends(_settings)]
Catalogue = Annotated[CatalogueClient, Depends(_catalogue_client)]
CertificateSigner = Annotated[Signer, Depends(_signer)]
Ledger = Annotated[LedgerService, Depends(_ledger)]
Payments = Annotated[PaymentService, Depends(_payments)]
Licences = Annotated[LicenceService, Depends(_licences)]


READ = (Unauthenticated, NotFound)
