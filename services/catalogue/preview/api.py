"""Previews' route: where versions' pictures can be fetched, for a short while."""

from services.catalogue.preview.service import preview_service
from services.catalogue.routes import Ids, Session, catalogue_router
from services.catalogue.storage import CatalogueStorage
from services.contracts.catalogue import PreviewUrl
from services.kit.errors import ServiceUnavailable, Unauthenticated, error_responses
from services.kit.internal_token import CurrentCaller

router = catalogue_router()


@router.get("/previews", responses=error_responses(Unauthenticated, ServiceUnavailable))
async def get_previews(
    ids: Ids, caller: CurrentCaller, session: Session, storage: CatalogueStorage
) -> list[PreviewUrl]:
    """Short-lived URLs of these versions' thumbnails or waveforms, by version id; versions
    without a picture, or of works the caller may not see, are left out."""
    return await preview_service.urls(session, caller, ids, store=storage.store)
