"""The search route: `WorkSearch` in the query, a `WorkPage` out."""

from typing import Annotated

from fastapi import Query, status

from services.catalogue.routes import Session, catalogue_router
from services.catalogue.search.service import search_service
from services.contracts.catalogue import WorkPage, WorkSearch
from services.kit.errors import (
    ErrorBody,
    Forbidden,
    InvalidRequest,
    Unauthenticated,
    error_responses,
)
from services.kit.internal_token import ReadingCaller

router = catalogue_router()


@router.get(
    "/works/search",
    responses={
        **error_responses(Unauthenticated, Forbidden, InvalidRequest),
        status.HTTP_422_UNPROCESSABLE_CONTENT: {"model": ErrorBody},
    },
)
async def search_works(
    caller: ReadingCaller, search: Annotated[WorkSearch, Query()], session: Session
) -> WorkPage:
    """Search works: buyers see listed works; `mine` gives a creator's own in every state."""
    return await search_service.search(session, caller, search)
