"""Previews' route: where a version's picture can be fetched, for a short while."""

import uuid

from services.catalogue.preview.service import preview_service
from services.catalogue.routes import READ, Session, catalogue_router
from services.catalogue.storage import CatalogueStorage
from services.contracts.catalogue import PreviewName, PreviewUrl
from services.kit.errors import ServiceUnavailable, error_responses
from services.kit.internal_token import CurrentCaller

router = catalogue_router()


@router.get(
    "/works/{work_id}/versions/{version_id}/previews/{name}",
    responses=error_responses(*READ, ServiceUnavailable),
)
async def get_preview(
    work_id: uuid.UUID,
    version_id: uuid.UUID,
    name: PreviewName,
    caller: CurrentCaller,
    session: Session,
    storage: CatalogueStorage,
) -> PreviewUrl:
    """A short-lived URL of a version's thumbnail or waveform, for whoever may see the work."""
    return await preview_service.url(
        session, caller, work_id, version_id, name, store=storage.store
    )
