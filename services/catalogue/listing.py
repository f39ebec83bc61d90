"""When a work is listed (offered to buyers).

A work is listed only while it has a complete current version, is clear of review, its
newest consent is in force, its current offer asks for no use beyond that consent, and
it is not withdrawn. The listing is recomputed on every change and stored on the work
row, so the search never joins the consent or offer history.
"""

from services.catalogue.models import Work, uses_mask
from services.contracts.catalogue import ReviewStatus, Use, WorkStatus


def refresh_listing(work: Work) -> None:
    offer, consent = work.offer, work.consent
    offered = set(offer.terms.uses) if offer is not None else set()
    work.price_minor = offer.price_minor if offer is not None else None
    work.currency = offer.currency if offer is not None else None
    work.offer_uses = uses_mask(sorted(offered))
    work.listed = (
        work.status == WorkStatus.READY
        and work.review_status == ReviewStatus.CLEAR
        and consent is not None
        and consent.in_force
        and offer is not None
        and offered <= {Use(use) for use in consent.uses}
    )
