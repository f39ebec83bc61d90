"""Who the caller is and what input licensing accepts: the checks its services share."""

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.catalogue import (
    CURRENCY_MINOR_DIGITS,
)
from services.kit.errors import FieldError, Forbidden, InvalidRequest
from services.kit.internal_token import Caller


def require_account(caller: Caller) -> uuid.UUID:
    found = caller.account_id
    if found is None:
        raise Forbidden("only an account may do this")
    return found


def check_currency(currency: str) -> None:
    if currency not in CURRENCY_MINOR_DIGITS:
        raise InvalidRequest(
            f"{currency} is not a currency of the marketplace",
            fields=[FieldError("currency", "not a supported currency", "unknown_currency")],
        )


async def end_read_before_calling_out(session: AsyncSession) -> None:
    """End the session's transaction, which has only read, before a call to another
    process: on SQLite it holds the database's write lock from its first statement, and
    a service that waited on us while we waited on it stalled both until a timeout."""
    await session.commit()


def aware(value: datetime | None, field: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise InvalidRequest(
            "times need a timezone",
            fields=[FieldError(field, "give a timezone (e.g. Z)", "naive_datetime")],
        )
    return value
