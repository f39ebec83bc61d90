"""The typed repository base every service's queries build on."""

import base64
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import Select, literal, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute

from services.kit.errors import InvalidRequest

ModelT = TypeVar("ModelT", bound=DeclarativeBase)

MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class Page(Generic[ModelT]):
    items: list[ModelT]
    next_cursor: str | None


def _encode_value(value: Any) -> Any:
    # Tagged, so a cursor decodes to the same Python types it was made from.
    if isinstance(value, datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return {"uuid": str(value)}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        ((tag, raw),) = value.items()
        if tag == "dt":
            return datetime.fromisoformat(raw)
        if tag == "uuid":
            return uuid.UUID(raw)
        raise ValueError(f"unknown cursor value tag {tag!r}")
    if isinstance(value, str | int | float):
        return value
    raise ValueError(f"unexpected cursor value {value!r}")


def _check_fits(column: InstrumentedAttribute[Any], value: Any) -> None:
    """A tampered cursor must fail here, as bad input, not later when bound to SQL."""
    column_type = getattr(column.type, "impl_instance", column.type)
    expected = column_type.python_type
    if not isinstance(value, expected) or isinstance(value, bool):
        raise ValueError(f"{value!r} does not fit {column.key}")
    if isinstance(value, datetime) and value.tzinfo is None:
        raise ValueError(f"{column.key} needs a timezone")


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([_encode_value(value) for value in values]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, columns: Sequence[InstrumentedAttribute[Any]]) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(columns):
            raise ValueError("wrong number of values")
        decoded = [_decode_value(value) for value in values]
        for column, value in zip(columns, decoded, strict=True):
            _check_fits(column, value)
        return decoded
    except (ValueError, TypeError) as exc:
        raise InvalidRequest("the cursor is not valid") from exc


class Repository(Generic[ModelT]):
    model: ClassVar[type[Any]]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, id_: Any) -> ModelT | None:
        found: ModelT | None = await self.session.get(self.model, id_)
        return found

    async def list(self, statement: Select[ModelT]) -> list[ModelT]:
        return list((await self.session.scalars(statement)).all())

    async def create(self, instance: ModelT) -> ModelT:
        self.session.add(instance)
        await self.session.flush()
        return instance

    async def paginate(
        self,
        statement: Select[ModelT],
        *,
        order_by: Sequence[InstrumentedAttribute[Any]],
        after: str | None,
        limit: int,
        descending: bool = False,
    ) -> Page[ModelT]:
        """Keyset pagination on `order_by` (which must end in a unique column).

        Cost stays constant at any depth, unlike OFFSET, and rows inserted meanwhile
        neither repeat nor vanish between pages.
        """
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidRequest(f"page size must be between 1 and {MAX_PAGE_SIZE}")
        key = tuple_(*order_by)
        if after is not None:
            values = decode_cursor(after, order_by)
            bound = tuple_(
                *(
                    literal(value, column.type)
                    for column, value in zip(order_by, values, strict=True)
                )
            )
            statement = statement.where(key < bound if descending else key > bound)
        ordering = [column.desc() if descending else column.asc() for column in order_by]
        rows = list(
            (await self.session.scalars(statement.order_by(*ordering).limit(limit + 1))).all()
        )
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]
            next_cursor = encode_cursor([getattr(last, column.key) for column in order_by])
        return Page(items=rows, next_cursor=next_cursor)
