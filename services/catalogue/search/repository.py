"""The search, on both backends.

On PostgreSQL, generated `tsvector` columns for the text and for the filters share one
GIN index over listed works, and user input goes through `websearch_to_tsquery`; on
SQLite, FTS5 with each user term quoted, so that no operator in the input reaches the
FTS5 parser. A search finds ids and a cursor; the page is then read by
`WorkRepository.read_many`.
"""

import base64
import binascii
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnClause,
    ColumnElement,
    Select,
    cast,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    text,
    tuple_,
    union_all,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.models import USE_BITS
from services.catalogue.work.repository import SHARE, WORK
from services.contracts.catalogue import MediaType, SearchSort
from services.kit.errors import InvalidRequest

# Relevance ranks only this many matches: ranking costs per match, and a common term
# matches hundreds of thousands of works (see DESIGN.md, performance notes).
RELEVANCE_CANDIDATES = 1000
TEXT_SEARCH_CONFIG: ColumnClause[Any] = literal_column("'english'::regconfig")
SEARCH_VECTOR: ColumnClause[Any] = literal_column("work.search_vector", postgresql.TSVECTOR)
FACETS: ColumnClause[Any] = literal_column("work.facets", postgresql.TSVECTOR)
WORK_FTS = table("work_fts")
# Title counts most, then tags, then the description (work_id is not indexed).
FTS_WEIGHTS = (0.0, 10.0, 5.0, 1.0)
_FTS_TERM = re.compile(r"\w+")
# For the search's transaction, in one round trip:
# - a generic plan cannot see how rare a term or a tag is, and would then walk an index
#   for a term that matches almost nothing (seconds at 1 M works);
# - the relevance candidates are the first matches in physical order, so a scan must
#   start at the table's first page: a synchronized scan starts wherever another scan of
#   the table is (a different candidate set, and so a different page, at every search
#   of a common word at 1 M works), and parallel workers return rows in any order.
_SEARCH_SETTINGS = text(
    "SELECT set_config('plan_cache_mode', 'force_custom_plan', true),"
    " set_config('synchronize_seqscans', 'off', true),"
    " set_config('max_parallel_workers_per_gather', '0', true)"
)


@dataclass(frozen=True)
class SearchFilters:
    query: str | None = None
    # Works the member owns or co-created, in every state; None: listed works only.
    member_id: uuid.UUID | None = None
    media_types: frozenset[MediaType] = field(default_factory=frozenset)
    # Every use whose bit (`models.USE_BITS`) is set must be offered.
    uses_mask: int = 0
    max_price_minor: int | None = None
    currency: str | None = None
    creator_id: uuid.UUID | None = None
    language: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class SearchPage:
    ids: list[uuid.UUID]
    next_cursor: str | None


def fts5_query(query: str) -> str:
    """Each word of the input as a quoted FTS5 string, all required.

    Quoting makes every operator, column filter or stray quote plain text. Input without
    a word gives an empty string, which FTS5 refuses: the search answers none itself.
    """
    terms = _FTS_TERM.findall(query.lower())
    return " ".join('"' + term.replace('"', '""') + '"' for term in terms)


def _lexeme(value: str) -> str:
    """One exact lexeme in tsquery syntax: quoted, with quotes and backslashes escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def facet_query(filters: SearchFilters) -> str | None:
    """The filters as a tsquery over the `facets` lexemes (see the 0002 migration), so the
    GIN index that holds the text answers them in the same scan; None when no filter."""
    terms = []
    if filters.media_types:
        media = " | ".join(_lexeme(f"media {m}") for m in sorted(filters.media_types))
        terms.append(f"( {media} )")
    if filters.language is not None:
        terms.append(_lexeme(f"language {filters.language.lower()}"))
    if filters.currency is not None:
        terms.append(_lexeme(f"currency {filters.currency}"))
    terms.extend(
        _lexeme(f"use {use}") for use, bit in sorted(USE_BITS.items()) if filters.uses_mask & bit
    )
    terms.extend(_lexeme(f"tag {tag}") for tag in filters.tags)
    return " & ".join(terms) or None


def _encode_cursor(sort: SearchSort, key: Sequence[Any]) -> str:
    values = [value.isoformat() if isinstance(value, datetime) else value for value in key]
    raw = json.dumps([sort.value, *(str(v) if isinstance(v, uuid.UUID) else v for v in values)])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, sort: SearchSort) -> tuple[Any, uuid.UUID]:
    """The sort key a cursor carries; it must come from a search with the same sort."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = json.loads(raw)
        if not isinstance(decoded, list) or len(decoded) != 3 or decoded[0] != sort.value:
            raise ValueError("the cursor belongs to another sort")
        _sort, value, last_id = decoded
        work_id = uuid.UUID(last_id)
        if sort == SearchSort.NEWEST:
            created_at = datetime.fromisoformat(value)
            if created_at.tzinfo is None:
                raise ValueError("the cursor time has no zone")
            return created_at, work_id
        if sort == SearchSort.RELEVANCE:
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ValueError("the cursor rank is not a number")
            return float(value), work_id
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError("the cursor price is not an integer")
        return value, work_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidRequest("the cursor is not valid for this search") from exc


class SearchRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def search(
        self, filters: SearchFilters, *, sort: SearchSort, after: str | None, limit: int
    ) -> SearchPage:
        dialect = self.session.get_bind().dialect.name
        if dialect == "postgresql":
            await self.session.execute(_SEARCH_SETTINGS)
        key = _decode_cursor(after, sort) if after is not None else None
        if filters.query is not None and dialect != "postgresql" and not fts5_query(filters.query):
            # Only punctuation or operators: nothing to match, as PostgreSQL's empty query.
            return SearchPage(ids=[], next_cursor=None)
        conditions = self._conditions(filters, dialect)
        if filters.query is not None and sort == SearchSort.RELEVANCE:
            statement = self._by_relevance(filters.query, conditions, dialect, key, limit)
        else:
            if filters.query is not None:
                conditions.append(self._text_match(filters.query, dialect))
            statement = self._by_column(sort, conditions, key, limit)
        rows = (await self.session.execute(statement)).all()
        if dialect == "postgresql":
            # Only the search needs a fresh plan: the read of the page that follows keeps
            # its cached one (planning its eight-table join costs 1 to 2 ms a time).
            await self.session.execute(text("SET LOCAL plan_cache_mode = auto"))
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            last_id, last_key = rows[-1]
            next_cursor = _encode_cursor(sort, (last_key, last_id))
        return SearchPage(ids=[row[0] for row in rows], next_cursor=next_cursor)

    def _conditions(self, filters: SearchFilters, dialect: str) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if filters.member_id is None:
            # SQLite renders `listed = 1`, which its partial indexes are declared with.
            conditions.append(WORK.c.listed)
        else:
            conditions.append(self._involves(filters.member_id))
        if filters.creator_id is not None:
            conditions.append(self._involves(filters.creator_id))
        if filters.max_price_minor is not None:
            conditions.append(WORK.c.price_minor <= filters.max_price_minor)
        if dialect == "postgresql":
            facets = facet_query(filters)
            if facets is not None:
                conditions.append(FACETS.bool_op("@@")(cast(facets, postgresql.TSQUERY)))
            return conditions
        if filters.media_types:
            conditions.append(WORK.c.media_type.in_(sorted(filters.media_types)))
        if filters.uses_mask:
            mask = filters.uses_mask
            conditions.append(WORK.c.offer_uses.op("&")(mask) == mask)
        if filters.currency is not None:
            conditions.append(WORK.c.currency == filters.currency)
        if filters.language is not None:
            # "en" also finds "en-GB": a buyer asking for a language takes its variants.
            conditions.append(
                or_(
                    WORK.c.language == filters.language,
                    WORK.c.language.startswith(filters.language + "-"),
                )
            )
        for tag in filters.tags:
            each = func.json_each(WORK.c.tags).table_valued("value")
            conditions.append(
                exists(select(literal(1)).select_from(each).where(each.c.value == tag))
            )
        return conditions

    def _involves(self, creator_id: uuid.UUID) -> ColumnElement[bool]:
        # One id list from two indexes: written as `owner = x OR id IN (...)` the planner
        # walks the whole listing filtering row by row (200 ms at 200k works, not 1 ms).
        owned = WORK.alias()
        members = union_all(
            select(owned.c.id).where(owned.c.owner_id == creator_id),
            select(SHARE.c.work_id).where(SHARE.c.creator_id == creator_id),
        )
        return WORK.c.id.in_(members)

    def _text_match(self, query: str, dialect: str) -> ColumnElement[bool]:
        if dialect == "postgresql":
            return SEARCH_VECTOR.bool_op("@@")(self._tsquery(query))
        matching: Select[Any] = (
            select(literal_column("work_fts.work_id"))
            .select_from(WORK_FTS)
            .where(literal_column("work_fts").op("MATCH")(fts5_query(query)))
        )
        return WORK.c.id.in_(matching)

    def _tsquery(self, query: str) -> ColumnElement[Any]:
        return func.websearch_to_tsquery(TEXT_SEARCH_CONFIG, query)

    def _by_column(
        self,
        sort: SearchSort,
        conditions: list[ColumnElement[bool]],
        key: tuple[Any, uuid.UUID] | None,
        limit: int,
    ) -> Select[uuid.UUID, Any]:
        column = WORK.c.created_at if sort == SearchSort.NEWEST else WORK.c.price_minor
        work_id = WORK.c.id
        descending = sort != SearchSort.PRICE_ASC
        if sort != SearchSort.NEWEST:
            # Works without an offer have no price to sort by.
            conditions.append(WORK.c.price_minor.is_not(None))
        if key is not None:
            bound = tuple_(literal(key[0], column.type), literal(key[1], work_id.type))
            position = tuple_(column, work_id)
            conditions.append(position < bound if descending else position > bound)
        order = (column.desc(), work_id.desc()) if descending else (column.asc(), work_id.asc())
        return select(work_id, column).where(*conditions).order_by(*order).limit(limit + 1)

    def _by_relevance(
        self,
        query: str,
        conditions: list[ColumnElement[bool]],
        dialect: str,
        key: tuple[Any, uuid.UUID] | None,
        limit: int,
    ) -> Select[uuid.UUID, Any]:
        # The candidates are the first matches found, not the best ones: choosing the best
        # would mean ranking every match. The order they are found in (physical, see
        # `_SEARCH_SETTINGS`) stays the same from one page to the next unless the rows
        # themselves change.
        if dialect == "postgresql":
            tsquery = self._tsquery(query)
            candidates = (
                select(WORK.c.id.label("id"), func.ts_rank(SEARCH_VECTOR, tsquery).label("rank"))
                .where(*conditions, SEARCH_VECTOR.bool_op("@@")(tsquery))
                .limit(RELEVANCE_CANDIDATES)
                .subquery("candidates")
            )
        else:
            # bm25 is lower for better matches; negated so that higher ranks first on both.
            candidates = (
                select(
                    WORK.c.id.label("id"),
                    (-func.bm25(literal_column("work_fts"), *FTS_WEIGHTS)).label("rank"),
                )
                .select_from(WORK_FTS)
                .join(WORK, WORK.c.id == literal_column("work_fts.work_id"))
                .where(*conditions, literal_column("work_fts").op("MATCH")(fts5_query(query)))
                .limit(RELEVANCE_CANDIDATES)
                .subquery("candidates")
            )
        statement = select(candidates.c.id, candidates.c.rank)
        if key is not None:
            statement = statement.where(
                tuple_(candidates.c.rank, candidates.c.id)
                < tuple_(literal(key[0]), literal(key[1], WORK.c.id.type))
            )
        return statement.order_by(candidates.c.rank.desc(), candidates.c.id.desc()).limit(limit + 1)
