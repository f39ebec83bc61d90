import uuid

from services.catalogue.models import Offer, TermsRecord, Work
from services.catalogue.terms import canonical_json, terms_id
from services.contracts.catalogue import OfferIn, Terms
from services.kit.db import dialect_insert, utcnow
from services.kit.repository import Repository


class TermsRepository(Repository[TermsRecord]):
    model = TermsRecord

    async def ensure(self, terms: Terms) -> TermsRecord:
        """The one row for these terms, created by whichever offer names them first."""
        canonical = canonical_json(terms)
        await self.session.execute(
            dialect_insert(self.session)(TermsRecord)
            .values(id=terms_id(canonical), canonical_json=canonical, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=[TermsRecord.id])
        )
        record = await self.get(terms_id(canonical))
        assert record is not None
        return record


class OfferRepository(Repository[Offer]):
    model = Offer

    async def publish(self, work: Work, offer_in: OfferIn, *, published_by: uuid.UUID) -> Offer:
        """A new offer under the terms' one row; it becomes the work's current offer."""
        terms = await TermsRepository(self.session).ensure(offer_in.terms)
        offer = await self.create(
            Offer(
                id=uuid.uuid4(),
                work_id=work.id,
                terms_id=terms.id,
                terms_record=terms,
                price_minor=offer_in.price_minor,
                currency=offer_in.currency,
                published_by=published_by,
                published_at=utcnow(),
            )
        )
        work.offer = offer
        return offer
