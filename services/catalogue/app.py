from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.config import Settings
from services.catalogue.consent.api import router as consent_router
from services.catalogue.creator.api import router as creator_router
from services.catalogue.creator.service import creator_service
from services.catalogue.invitation.api import router as invitation_router
from services.catalogue.notification.api import router as notification_router
from services.catalogue.notification.events import NOTIFYING
from services.catalogue.offer.api import router as offer_router
from services.catalogue.ownsite.api import router as own_site_router
from services.catalogue.preview.api import router as preview_router
from services.catalogue.review.api import router as review_router
from services.catalogue.search.api import router as search_router
from services.catalogue.statements.api import router as statements_router
from services.catalogue.storage import Storage
from services.catalogue.upload.api import router as upload_router
from services.catalogue.work.api import router as work_router
from services.contracts.events import (
    AccountRegistered,
    AccountRoleGranted,
    EventEnvelope,
    Topic,
)
from services.kit.app import create_service_app
from storage import create_object_store
from storage.object_store import StorageSettings

# The search comes first: `/works/search` is not a work id.
ROUTERS = (
    search_router,
    work_router,
    upload_router,
    consent_router,
    offer_router,
    review_router,
    creator_router,
    invitation_router,
    statements_router,
    own_site_router,
    preview_router,
    notification_router,
)


async def _account_registered(session: AsyncSession, envelope: EventEnvelope) -> None:
    await creator_service.record_registration(
        session, AccountRegistered.model_validate(envelope.payload)
    )


async def _account_role_granted(session: AsyncSession, envelope: EventEnvelope) -> None:
    await creator_service.record_role_grant(
        session, AccountRoleGranted.model_validate(envelope.payload)
    )


def create_app(
    settings: Settings | None = None, storage_settings: StorageSettings | None = None
) -> FastAPI:
    storage_settings = storage_settings or StorageSettings()
    store = create_object_store(storage_settings)
    app = create_service_app(
        "catalogue",
        settings or Settings(),
        routers=list(ROUTERS),
        event_handlers={
            Topic.ACCOUNT_REGISTERED: _account_registered,
            Topic.ACCOUNT_ROLE_GRANTED: _account_role_granted,
            **NOTIFYING,
        },
        object_store=store,
        # Licensing reads works for quotes and searches for bundles.
        readers=frozenset({"licensing"}),
    )
    app.state.catalogue_storage = Storage(store, storage_settings)
    return app
