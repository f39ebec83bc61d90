"""When a work is listed (offered to buyers), and why not when it is not.

A work is listed only while it has a complete current version, is clear of review, its
owner's newest consent is in force, its current offer asks for no use beyond that
consent, it is not withdrawn, and every co-creator has accepted their share and holds a
consent in force covering the offered uses (one invited by email who has no account
yet has done neither). The listing and its reasons are recomputed
on every change and stored on the work row, so the search never joins the consent,
offer or invitation history.
"""

import uuid

from services.catalogue.models import Consent, Invitation, Work, uses_mask
from services.contracts.catalogue import (
    InvitationStatus,
    ReviewStatus,
    SaleReason,
    SaleReasonCode,
    Use,
    WorkStatus,
)


def newest_consents(work: Work) -> dict[uuid.UUID, Consent]:
    """Each member's newest consent record, whoever gave it."""
    newest = {consent.given_by: consent for consent in work.consent_history}
    # The work's newest record may have been written after the history was loaded.
    if work.consent is not None:
        newest[work.consent.given_by] = work.consent
    return newest


def _consented(consent: Consent | None) -> set[Use]:
    if consent is None or not consent.in_force:
        return set()
    return {Use(use) for use in consent.uses}


def uses_consented_together(work: Work) -> list[Use]:
    """The uses every member's consent allows at once: the most the work may be sold for.
    A co-creator who has not accepted their share (yet, or again after a change) allows
    none, as does a member whose consent is not in force."""
    if work.address_invitations:
        return []
    consents = newest_consents(work)
    together = _consented(consents.get(work.owner_id))
    for invitation in work.invitations:
        accepted = invitation.status == InvitationStatus.ACCEPTED
        together &= _consented(consents.get(invitation.creator_id)) if accepted else set()
    return sorted(together)


def _co_creator_reason(
    invitation: Invitation, consent: Consent | None, offered: set[Use]
) -> SaleReason | None:
    name = invitation.creator.name
    if invitation.status == InvitationStatus.PENDING:
        detail = f"{name} has not accepted their share yet"
    elif invitation.status == InvitationStatus.DECLINED:
        detail = f"{name} declined their share"
    elif consent is None or not consent.in_force:
        detail = f"{name} has not given their consent"
    elif missing := offered - _consented(consent):
        detail = f"{name} has not consented to: {', '.join(sorted(missing))}"
    else:
        return None
    return SaleReason(
        code=SaleReasonCode.AWAITING_CO_CREATOR,
        detail=detail,
        creator_id=invitation.creator_id,
        creator_name=name,
    )


def sale_reasons(work: Work) -> list[SaleReason]:
    """Why the work is not for sale now; none when it is."""
    offer = work.offer
    offered = set(offer.terms.uses) if offer is not None else set()
    consents = newest_consents(work)
    owner_consented = _consented(consents.get(work.owner_id))
    reasons: list[SaleReason] = []

    def add(code: SaleReasonCode, detail: str) -> None:
        reasons.append(SaleReason(code=code, detail=detail))

    if work.status == WorkStatus.WITHDRAWN:
        add(SaleReasonCode.WITHDRAWN, "withdrawn from sale")
    if work.status == WorkStatus.PENDING_UPLOAD:
        add(SaleReasonCode.NO_FILE, "its file has not been uploaded and verified yet")
    if work.review_status == ReviewStatus.FLAGGED:
        why = work.review_note or "the same file is listed by another creator"
        add(SaleReasonCode.HELD_FOR_REVIEW, f"held for review: {why}")
    if not owner_consented:
        add(SaleReasonCode.NO_CONSENT, "its creator's consent is not in force")
    if offer is None:
        add(SaleReasonCode.NO_OFFER, "it has no price and terms yet")
    elif owner_consented and not offered <= owner_consented:
        beyond = ", ".join(sorted(offered - owner_consented))
        add(SaleReasonCode.OFFER_WIDER_THAN_CONSENT, f"offered for uses not consented to: {beyond}")
    for invitation in work.invitations:
        reason = _co_creator_reason(invitation, consents.get(invitation.creator_id), offered)
        if reason is not None:
            reasons.append(reason)
    # Someone invited by email has no account, so no answer and no consent, yet.
    reasons.extend(
        SaleReason(
            code=SaleReasonCode.AWAITING_CO_CREATOR,
            detail="a co-creator invited by email has not signed up and accepted yet",
        )
        for _ in work.address_invitations
    )
    return reasons


def refresh_listing(work: Work) -> None:
    offer = work.offer
    work.price_minor = offer.price_minor if offer is not None else None
    work.currency = offer.currency if offer is not None else None
    work.offer_uses = uses_mask(sorted(offer.terms.uses) if offer is not None else [])
    reasons = sale_reasons(work)
    work.sale_status = [reason.model_dump(mode="json") for reason in reasons]
    work.listed = not reasons
