"""What a work gets in a quote: a priced line, or why it is left out.

A buyer learns nothing from a quote about a work they could not see in the catalogue:
whatever is not listed and not theirs (they are neither its owner nor a co-creator) is
`not_found`, whether it is a draft, under review, withdrawn or does not exist at all.
"""

import uuid

from services.contracts.catalogue import ConsentKind, Use, WorkRead, WorkStatus
from services.contracts.licensing import ExclusionReason, QuoteExclusion, QuoteLine, ShareLine
from services.licensing.ledger.royalties import platform_fee

NOT_FOUND_DETAIL = "no such work in the catalogue"


def visible_to(work: WorkRead, buyer_id: uuid.UUID) -> bool:
    """The catalogue's own rule for a buyer: listed works, and every state of their own."""
    members = {work.owner_id, *(share.creator_id for share in work.shares)}
    return work.listed or buyer_id in members


def price(
    work_id: uuid.UUID,
    work: WorkRead | None,
    *,
    buyer_id: uuid.UUID,
    uses: set[Use],
    currency: str,
    fee_bps: int,
) -> QuoteLine | QuoteExclusion:
    """The line this work gets in the buyer's quote, or why it is left out."""

    def excluded(reason: ExclusionReason, detail: str) -> QuoteExclusion:
        return QuoteExclusion(work_id=work_id, reason=reason, detail=detail)

    def named(missing: set[Use]) -> str:
        return ", ".join(sorted(missing))

    if work is None or not visible_to(work, buyer_id):
        return excluded(ExclusionReason.NOT_FOUND, NOT_FOUND_DETAIL)
    if work.status == WorkStatus.WITHDRAWN:
        return excluded(ExclusionReason.WITHDRAWN, "withdrawn by its creator")
    consent = work.consent
    if consent is None or consent.kind == ConsentKind.WITHDRAWN:
        return excluded(ExclusionReason.NO_CONSENT, "its creator's consent is not in force")
    if missing := uses - set(consent.uses):
        return excluded(ExclusionReason.NO_CONSENT, f"no consent for: {named(missing)}")
    offer = work.offer
    if offer is None:
        return excluded(ExclusionReason.NO_OFFER, "its creator has not priced it")
    if missing := uses - set(offer.terms.uses):
        return excluded(ExclusionReason.USES_NOT_OFFERED, f"not offered for: {named(missing)}")
    if offer.currency != currency:
        return excluded(ExclusionReason.CURRENCY, f"offered in {offer.currency}, not {currency}")
    version = work.current_version
    if not work.listed or version is None:
        return excluded(
            ExclusionReason.NOT_LISTED, "not offered now (no verified file, or under review)"
        )
    return QuoteLine(
        work_id=work.id,
        version_id=version.id,
        title=work.title,
        media_type=work.media_type,
        file_name=version.file_name,
        size=version.size,
        sha256=version.sha256,
        offer_id=offer.id,
        terms_id=offer.terms_id,
        terms=offer.terms,
        price_minor=offer.price_minor,
        platform_fee_minor=platform_fee(offer.price_minor, fee_bps),
        shares=[
            ShareLine(
                creator_id=share.creator_id,
                creator_name=share.creator_name,
                basis_points=share.basis_points,
            )
            for share in work.shares
        ],
    )
