"""What every router of the catalogue declares alike: its session, id lists and errors."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.catalogue import MAX_PAGE_SIZE
from services.kit.db import get_session
from services.kit.errors import (
    Forbidden,
    InvalidRequest,
    NotFound,
    Unauthenticated,
)

Session = Annotated[AsyncSession, Depends(get_session, scope="function")]
Ids = Annotated[list[uuid.UUID], Query(alias="id", min_length=1, max_length=MAX_PAGE_SIZE)]

READ = (Unauthenticated, NotFound)
CHANGE = (Unauthenticated, Forbidden, NotFound, InvalidRequest)


def catalogue_router() -> APIRouter:
    return APIRouter(prefix="/v1", tags=["catalogue"])
