"""The platform's statements: the words a creator may agree to, and words stored by hash."""

from typing import Annotated

from fastapi import Query

from services.catalogue.routes import Session, catalogue_router
from services.catalogue.statements.service import statement_service
from services.contracts.catalogue import MAX_PAGE_SIZE, SHA256_HEX, StatementRead, StatementTextRead
from services.kit.errors import Unauthenticated, error_responses
from services.kit.internal_token import CurrentCaller

router = catalogue_router()

Sha256s = Annotated[
    list[Annotated[str, Query(pattern=SHA256_HEX)]],
    Query(alias="sha256", min_length=1, max_length=MAX_PAGE_SIZE),
]


@router.get("/statements", responses=error_responses(Unauthenticated))
async def get_statements(_caller: CurrentCaller) -> list[StatementRead]:
    """Every statement the platform has published, each marked current or not."""
    return statement_service.published()


@router.get("/statements/texts", responses=error_responses(Unauthenticated))
async def get_statement_texts(
    sha256s: Sha256s, _caller: CurrentCaller, session: Session
) -> list[StatementTextRead]:
    """Batch read of stored statement words by sha256; unknown hashes are left out."""
    return await statement_service.texts(session, sha256s)
