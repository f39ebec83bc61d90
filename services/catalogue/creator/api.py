"""The creators' directory route."""

from services.catalogue.creator.service import creator_service
from services.catalogue.routes import Ids, Session, catalogue_router
from services.contracts.catalogue import CreatorRead
from services.kit.errors import Unauthenticated, error_responses
from services.kit.internal_token import CurrentCaller

router = catalogue_router()


@router.get("/creators", responses=error_responses(Unauthenticated))
async def get_creators(ids: Ids, _caller: CurrentCaller, session: Session) -> list[CreatorRead]:
    """Batch read of creators in the order asked; unknown ids are left out."""
    return await creator_service.get_many(session, ids)
