"""Own-site kits' routes: the files a creator publishes on their own site, for one work
or for all their listed works."""

import uuid
from typing import Annotated

from fastapi import Query

from services.catalogue.ownsite.service import own_site_service
from services.catalogue.routes import READ, Session, catalogue_router
from services.contracts.catalogue import KitQuery, OwnSiteKit
from services.kit.errors import Forbidden, error_responses
from services.kit.internal_token import CurrentCaller

router = catalogue_router()


@router.get("/works/{work_id}/own-site", responses=error_responses(*READ, Forbidden))
async def get_work_kit(
    work_id: uuid.UUID,
    query: Annotated[KitQuery, Query()],
    caller: CurrentCaller,
    session: Session,
) -> OwnSiteKit:
    """A work's RSL licence, TDMRep file and policy, and robots.txt lines (public while it
    is listed; otherwise its owner's and accepted co-creators')."""
    return await own_site_service.work_kit(session, caller, work_id, kit_url=query.kit_url)


@router.get("/creators/{creator_id}/own-site", responses=error_responses(*READ))
async def get_creator_kit(
    creator_id: uuid.UUID,
    query: Annotated[KitQuery, Query()],
    _caller: CurrentCaller,
    session: Session,
) -> OwnSiteKit:
    """One kit for all the works the creator has listed (public)."""
    return await own_site_service.creator_kit(session, creator_id, kit_url=query.kit_url)
