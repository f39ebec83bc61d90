"""Every query of the catalogue, the search among them.

The search runs on both backends: on PostgreSQL, generated `tsvector` columns for the
text and for the filters share one GIN index over listed works, and user input goes
through `websearch_to_tsquery`; on SQLite, FTS5 with each user term quoted, so that no
operator in the input reaches the FTS5 parser.
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
    Table,
    bindparam,
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
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.interfaces import LoaderOption

from services.catalogue.models import (
    USE_BITS,
    Consent,
    Creator,
    Offer,
    Share,
    TermsRecord,
    Work,
    WorkVersion,
)
from services.contracts.catalogue import (
    ConsentRead,
    MediaType,
    OfferRead,
    SearchSort,
    Terms,
    VersionRead,
    VersionStatus,
    WorkRead,
)
from services.kit.db import utcnow
from services.kit.errors import InvalidRequest
from services.kit.repository import Repository

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

# One work as the ORM loads it (for changes): its current version, pending version,
# newest consent and offer joined, then the shares with their creators.
READ_OPTIONS: tuple[LoaderOption, ...] = (
    joinedload(Work.current_version),
    joinedload(Work.pending_version),
    joinedload(Work.consent),
    joinedload(Work.offer).joinedload(Offer.terms_record),
    selectinload(Work.shares).joinedload(Share.creator),
)


# The tables themselves, for the statements that only read rows: a statement of plain
# table columns runs as Core, without the ORM's compile and loading steps (about 0.3 ms
# of CPU a search, on the catalogue and on whoever runs the same SQL).
WORK: Table = Work.__table__  # type: ignore[assignment]
SHARE: Table = Share.__table__  # type: ignore[assignment]
_VERSION: Table = WorkVersion.__table__  # type: ignore[assignment]
_CONSENT: Table = Consent.__table__  # type: ignore[assignment]
_OFFER: Table = Offer.__table__  # type: ignore[assignment]
_TERMS: Table = TermsRecord.__table__  # type: ignore[assignment]
_CREATOR: Table = Creator.__table__  # type: ignore[assignment]

# Many works as read (`WorkRead`), for search pages and batch reads: one statement of
# plain columns, shares and creators joined, with no ORM objects in between. Loading a
# page of 20 as ORM objects (two statements) and converting those took about 5 ms of CPU;
# this takes 2. The columns are the contracts' own fields, so a field added there is
# read here too. Built once: putting the statement together took longer than running it.
_CURRENT = _VERSION.alias("current_version")
_PENDING = _VERSION.alias("pending_version")
_NESTED = frozenset({"current_version", "pending_version", "shares", "consent", "offer"})
_WORK_FIELDS = tuple(name for name in WorkRead.model_fields if name not in _NESTED)
_VERSION_FIELDS = tuple(VersionRead.model_fields)
_CONSENT_FIELDS = tuple(ConsentRead.model_fields)
_OFFER_FIELDS = tuple(name for name in OfferRead.model_fields if name != "terms")
_READ_MANY = (
    select(
        *(WORK.c[name] for name in _WORK_FIELDS),
        *(_CURRENT.c[name] for name in _VERSION_FIELDS),
        *(_PENDING.c[name] for name in _VERSION_FIELDS),
        *(_CONSENT.c[name] for name in _CONSENT_FIELDS),
        *(_OFFER.c[name] for name in _OFFER_FIELDS),
        _TERMS.c.canonical_json,
        SHARE.c.creator_id,
        _CREATOR.c.name,
        SHARE.c.basis_points,
    )
    .select_from(WORK)
    .outerjoin(_CURRENT, _CURRENT.c.id == WORK.c.current_version_id)
    .outerjoin(_PENDING, _PENDING.c.id == WORK.c.pending_version_id)
    .outerjoin(_CONSENT, _CONSENT.c.id == WORK.c.consent_id)
    .outerjoin(_OFFER, _OFFER.c.id == WORK.c.offer_id)
    .outerjoin(_TERMS, _TERMS.c.id == _OFFER.c.terms_id)
    .outerjoin(SHARE, SHARE.c.work_id == WORK.c.id)
    .outerjoin(_CREATOR, _CREATOR.c.id == SHARE.c.creator_id)
    .where(WORK.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(SHARE.c.position)
)


def _insert_for(dialect: str) -> Any:
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


class CreatorRepository(Repository[Creator]):
    model = Creator

    async def upsert(self, creator_id: uuid.UUID, name: str | None) -> None:
        """Insert, or rename when the name changed; a missing name never erases one."""
        insert = _insert_for(self.session.get_bind().dialect.name)
        statement = insert(Creator).values(
            id=creator_id, name=name or "Unnamed creator", created_at=utcnow()
        )
        if name is None:
            statement = statement.on_conflict_do_nothing(index_elements=[Creator.id])
        else:
            # Only a changed name writes, so repeating the upsert on every call is cheap.
            statement = statement.on_conflict_do_update(
                index_elements=[Creator.id],
                set_={"name": statement.excluded.name},
                where=Creator.name != statement.excluded.name,
            )
        await self.session.execute(statement)

    async def get_many(self, ids: Sequence[uuid.UUID]) -> list[Creator]:
        return await self.list(select(Creator).where(Creator.id.in_(ids)))


class TermsRepository(Repository[TermsRecord]):
    model = TermsRecord

    async def ensure(self, terms_id: str, canonical: str) -> TermsRecord:
        """The one row for these terms, created by whichever offer names them first."""
        insert = _insert_for(self.session.get_bind().dialect.name)
        await self.session.execute(
            insert(TermsRecord)
            .values(id=terms_id, canonical_json=canonical, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=[TermsRecord.id])
        )
        record = await self.get(terms_id)
        assert record is not None
        return record


class VersionRepository(Repository[WorkVersion]):
    model = WorkVersion

    async def next_number(self, work_id: uuid.UUID) -> int:
        highest = await self.session.scalar(
            select(func.max(WorkVersion.number)).where(WorkVersion.work_id == work_id)
        )
        return (highest or 0) + 1

    async def held_by_another_creator(self, sha256: str, owner_id: uuid.UUID) -> bool:
        """True when a complete file with this sha256 belongs to a work of another owner."""
        statement = (
            select(WorkVersion.id)
            .join(Work, Work.id == WorkVersion.work_id)
            .where(
                WorkVersion.sha256 == sha256,
                WorkVersion.status == VersionStatus.COMPLETE,
                Work.owner_id != owner_id,
            )
            .limit(1)
        )
        return (await self.session.scalar(statement)) is not None


class ConsentRepository(Repository[Consent]):
    model = Consent


class OfferRepository(Repository[Offer]):
    model = Offer


def _work_fields(row: Any, terms: dict[str, Terms]) -> dict[str, Any]:
    """`WorkRead`'s fields from a row of `_READ_MANY`, its shares still to add."""
    values = iter(row)
    work = {name: next(values) for name in _WORK_FIELDS}
    for relation in ("current_version", "pending_version"):
        version = {name: next(values) for name in _VERSION_FIELDS}
        work[relation] = version if version["id"] is not None else None
    consent = {name: next(values) for name in _CONSENT_FIELDS}
    work["consent"] = consent if consent["id"] is not None else None
    offer = {name: next(values) for name in _OFFER_FIELDS}
    canonical = next(values)
    if offer["id"] is None:
        work["offer"] = None
    else:
        # Terms are shared by many works: each is parsed once a read.
        if canonical not in terms:
            terms[canonical] = Terms.model_validate_json(canonical)
        work["offer"] = {**offer, "terms": terms[canonical]}
    work["shares"] = []
    return work


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


class WorkRepository(Repository[Work]):
    model = Work

    async def get_for_read(self, work_id: uuid.UUID) -> Work | None:
        statement = (
            select(Work)
            .where(Work.id == work_id)
            .options(*READ_OPTIONS)
            .execution_options(populate_existing=True)
        )
        return (await self.session.scalars(statement)).unique().one_or_none()

    async def read_many(self, ids: Sequence[uuid.UUID]) -> list[WorkRead]:
        """The works found, in the order of `ids`, in one statement."""
        if not ids:
            return []
        found: dict[uuid.UUID, dict[str, Any]] = {}
        terms: dict[str, Terms] = {}
        # A row per share, the work's columns repeated on each.
        for row in await self.session.execute(_READ_MANY, {"ids": list(ids)}):
            work = found.get(row[0])
            if work is None:
                work = found[row[0]] = _work_fields(row, terms)
            creator_id, creator_name, basis_points = row[-3:]
            if creator_id is not None:
                work["shares"].append(
                    {
                        "creator_id": creator_id,
                        "creator_name": creator_name,
                        "basis_points": basis_points,
                    }
                )
        return [WorkRead.model_validate(found[work_id]) for work_id in ids if work_id in found]

    async def lock(self, work_id: uuid.UUID) -> Work | None:
        """The work, locked until the transaction ends: its changes are read-then-write.

        The lock comes first, on its own: a `FOR UPDATE` with the joined consent and
        offer would, after waiting, recheck only the work row and return the joined rows
        as they were before the other transaction committed. Loaded afterwards, in a new
        statement, everything is current.
        """
        locked = await self.session.scalar(
            select(Work.id).where(Work.id == work_id).with_for_update()
        )
        return None if locked is None else await self.get_for_read(work_id)

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
