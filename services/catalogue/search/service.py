"""The search: buyers find listed works; a member finds their own in every state."""

import unicodedata

from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.models import uses_mask
from services.catalogue.search.repository import SearchFilters, SearchRepository
from services.catalogue.text import canonical_language
from services.catalogue.work.repository import WorkRepository
from services.contracts.catalogue import CURRENCY_MINOR_DIGITS, SearchSort, WorkPage, WorkSearch
from services.kit.errors import FieldError, InvalidRequest
from services.kit.internal_token import Caller


def _searchable(query: str | None) -> str | None:
    """The query without control characters (which mean nothing to a search), or None."""
    cleaned = "".join(" " if unicodedata.category(c) == "Cc" else c for c in query or "")
    return cleaned.strip() or None


class SearchService:
    async def search(self, session: AsyncSession, caller: Caller, search: WorkSearch) -> WorkPage:
        query = _searchable(search.query)
        sort = search.sort or (SearchSort.RELEVANCE if query else SearchSort.NEWEST)
        problems = []
        if sort == SearchSort.RELEVANCE and query is None:
            problems.append(FieldError("sort", "relevance needs a query", "needs_query"))
        if search.max_price_minor is not None and search.currency is None:
            problems.append(FieldError("currency", "a maximum price needs a currency", "required"))
        if search.currency is not None and search.currency not in CURRENCY_MINOR_DIGITS:
            problems.append(
                FieldError("currency", "no offer is in this currency", "unknown_currency")
            )
        if problems:
            raise InvalidRequest("the search is not valid", fields=problems)
        member_id = caller.account_id if search.mine else None
        if search.mine and member_id is None:
            return WorkPage(items=[], next_cursor=None)
        filters = SearchFilters(
            query=query,
            member_id=member_id,
            media_types=frozenset(search.media_types),
            uses_mask=uses_mask(search.uses),
            max_price_minor=search.max_price_minor,
            currency=search.currency,
            creator_id=search.creator_id,
            language=canonical_language(search.language) if search.language else None,
            tags=tuple(dict.fromkeys(search.tags)),
        )
        page = await SearchRepository(session).search(
            filters, sort=sort, after=search.after, limit=search.first
        )
        items = await WorkRepository(session).read_many(page.ids)
        return WorkPage(items=items, next_cursor=page.next_cursor)


search_service = SearchService()
