"""Bundles: a buyer's saved selection of works, by id or by a catalogue search."""

import uuid

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.licensing import (
    BundleCreate,
    BundlePage,
    BundleRead,
    BundleSource,
)
from services.kit.db import utcnow
from services.kit.errors import FieldError, InvalidRequest, NotFound
from services.kit.internal_token import Caller
from services.licensing.bundle.repository import BundleRepository
from services.licensing.catalogue_client import CatalogueClient
from services.licensing.models import (
    Bundle,
)
from services.licensing.rules import (
    check_currency,
    require_account,
)

log = structlog.get_logger()


class BundleService:
    async def create(
        self,
        session: AsyncSession,
        caller: Caller,
        bundle_in: BundleCreate,
        *,
        catalogue: CatalogueClient,
    ) -> BundleRead:
        buyer_id = require_account(caller)
        if not bundle_in.name.strip():
            raise InvalidRequest(
                "the bundle needs a name", fields=[FieldError("name", "is blank", "blank")]
            )
        check_currency(bundle_in.currency)
        if bundle_in.search is not None:
            if bundle_in.search.mine:
                # A bundle holds what a buyer is shown: listed works. A creator's own works
                # in every state are not for sale as such, so the search is refused in
                # words rather than finding nothing.
                raise InvalidRequest(
                    "a bundle is chosen from listed works; `mine` searches your own works",
                    fields=[FieldError("search.mine", "cannot make a bundle", "not_for_bundles")],
                )
            work_ids = await catalogue.search(bundle_in.search)
            if not work_ids:
                raise InvalidRequest(
                    "the search finds no works",
                    fields=[FieldError("search", "finds no works", "no_results")],
                )
        else:
            assert bundle_in.work_ids is not None
            work_ids = list(dict.fromkeys(bundle_in.work_ids))
        bundle = await BundleRepository(session).create(
            Bundle(
                id=uuid.uuid4(),
                buyer_id=buyer_id,
                name=bundle_in.name.strip(),
                uses=sorted(set(bundle_in.uses)),
                currency=bundle_in.currency,
                source=BundleSource.WORKS if bundle_in.search is None else BundleSource.SEARCH,
                search=None
                if bundle_in.search is None
                else bundle_in.search.model_dump(mode="json"),
                work_ids=[str(work_id) for work_id in work_ids],
                created_at=utcnow(),
            )
        )
        return BundleRead.model_validate(bundle)

    async def page(
        self, session: AsyncSession, caller: Caller, *, after: str | None, first: int
    ) -> BundlePage:
        buyer_id = caller.account_id
        if buyer_id is None:
            return BundlePage(items=[], next_cursor=None)
        page = await BundleRepository(session).page_of(buyer_id, after=after, limit=first)
        return BundlePage(
            items=[BundleRead.model_validate(bundle) for bundle in page.items],
            next_cursor=page.next_cursor,
        )

    async def get(self, session: AsyncSession, caller: Caller, bundle_id: uuid.UUID) -> BundleRead:
        return BundleRead.model_validate(await self._visible(session, caller, bundle_id))

    async def _visible(self, session: AsyncSession, caller: Caller, bundle_id: uuid.UUID) -> Bundle:
        """The bundle if the caller may see it; otherwise 404, never revealing it exists."""
        bundle = await BundleRepository(session).get(bundle_id)
        if bundle is None or not (caller.sees_everything or bundle.buyer_id == caller.account_id):
            raise NotFound("no such bundle")
        return bundle


bundle_service = BundleService()
