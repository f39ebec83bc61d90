"""A quote locks each work's current offer, and says why every other work is left out."""

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.consent.service import consent_service
from services.catalogue.models import Work
from services.catalogue.offer.service import offer_service
from services.catalogue.work.repository import WorkRepository
from services.catalogue.work.service import work_service
from services.contracts.catalogue import (
    OfferIn,
    ReviewStatus,
    Terms,
    Use,
)
from services.contracts.roles import Role
from tests.services.catalogue.helpers import WITHDRAWAL, Actor, consent_in, create_work
from tests.services.licensing.helpers import Api, listed_work


def _terms(*uses: Use) -> Terms:
    return Terms(uses=list(uses), commercial_use=True, attribution_required=True, duration_days=90)


async def _consent(session: AsyncSession, owner: Actor, work_id: uuid.UUID, *uses: Use) -> None:
    await consent_service.give_consent(
        session,
        owner.caller,
        work_id,
        consent_in(*uses),
    )


async def _offer(
    session: AsyncSession, owner: Actor, work_id: uuid.UUID, *uses: Use, currency: str = "EUR"
) -> None:
    await offer_service.set_offer(
        session,
        owner.caller,
        work_id,
        OfferIn(price_minor=700, currency=currency, terms=_terms(*uses)),
    )


async def _read_work(session: AsyncSession, work_id: uuid.UUID) -> Work:
    work = await WorkRepository(session).get_for_read(work_id)
    assert work is not None
    return work


async def _every_kind_of_work(catalogue_session: AsyncSession, ines: Actor) -> list[uuid.UUID]:
    """One work of Ines's for each reason a quote leaves a work out (and one it sells)."""
    both = (Use.TRAINING, Use.RETRIEVAL)
    ok = await listed_work(catalogue_session, ines, uses=both, price_minor=900)
    withdrawn = await listed_work(catalogue_session, ines, uses=both)
    await work_service.withdraw(catalogue_session, ines.caller, withdrawn)
    unconsented = (await create_work(catalogue_session, owner=ines)).id
    consent_withdrawn = await listed_work(catalogue_session, ines, uses=both)
    await consent_service.withdraw_consent(
        catalogue_session, ines.caller, consent_withdrawn, WITHDRAWAL
    )
    narrow_consent = await listed_work(catalogue_session, ines, uses=[Use.TRAINING])
    unpriced = (await create_work(catalogue_session, owner=ines)).id
    await _consent(catalogue_session, ines, unpriced, *both)
    narrow_offer = (await create_work(catalogue_session, owner=ines)).id
    await _consent(catalogue_session, ines, narrow_offer, *both)
    await _offer(catalogue_session, ines, narrow_offer, Use.TRAINING)
    dollars = await listed_work(catalogue_session, ines, uses=both, currency="USD")
    flagged = await listed_work(catalogue_session, ines, uses=both)
    work = await catalogue_session.get(Work, flagged)
    assert work is not None
    work.review_status = ReviewStatus.FLAGGED
    work.listed = False
    await catalogue_session.flush()
    return [
        ok,
        withdrawn,
        unconsented,
        consent_withdrawn,
        narrow_consent,
        unpriced,
        narrow_offer,
        dollars,
        flagged,
        uuid.uuid4(),
    ]


async def test_every_work_of_ones_own_is_either_quoted_or_excluded_with_its_reason(
    api: Api, catalogue_session: AsyncSession, ines: Actor
) -> None:
    works = await _every_kind_of_work(catalogue_session, ines)
    ines_buying = Actor(ines.subject, frozenset({Role.CREATOR, Role.BUYER}), ines.name)

    quote = await api.quote_works(ines_buying, works, Use.TRAINING, Use.RETRIEVAL)

    assert [line["work_id"] for line in quote["lines"]] == [str(works[0])]
    assert [(e["work_id"], e["reason"]) for e in quote["excluded"]] == list(
        zip(
            map(str, works[1:]),
            [
                "withdrawn",
                "no_consent",
                "no_consent",
                "no_consent",
                "no_offer",
                "uses_not_offered",
                "currency",
                "not_listed",
                "not_found",
            ],
            strict=True,
        )
    )
    assert "retrieval" in quote["excluded"][3]["detail"]
    assert (quote["subtotal_minor"], quote["platform_fee_minor"], quote["total_minor"]) == (
        900,
        135,
        900,
    )


async def test_a_quote_tells_a_buyer_nothing_of_works_they_cannot_see(
    api: Api, catalogue_session: AsyncSession, ines: Actor, lab: Actor
) -> None:
    """Drafts, works under review or withdrawn, and ones with no consent answer as a work
    that does not exist: no state, currency or consent of a hidden work is revealed."""
    works = await _every_kind_of_work(catalogue_session, ines)
    ok, narrow_consent, narrow_offer, dollars = works[0], works[4], works[6], works[7]

    quote = await api.quote_works(lab, works, Use.TRAINING, Use.RETRIEVAL)

    assert [line["work_id"] for line in quote["lines"]] == [str(ok)]
    reasons = {e["work_id"]: (e["reason"], e["detail"]) for e in quote["excluded"]}
    # Listed works are public: why they are left out is no secret.
    assert [reasons.pop(str(work))[0] for work in (narrow_consent, narrow_offer, dollars)] == [
        "no_consent",
        "uses_not_offered",
        "currency",
    ]
    # The rest (withdrawn, unconsented, unpriced, under review, missing) look alike.
    assert len(reasons) == 6
    assert set(reasons.values()) == {("not_found", "no such work in the catalogue")}


async def test_a_line_locks_the_file_the_offer_and_the_shares(
    api: Api, catalogue_session: AsyncSession, ines: Actor, omar: Actor, lab: Actor
) -> None:
    work_id = await listed_work(
        catalogue_session, ines, price_minor=1001, title="Tide", co_creators=[(omar, 2500)]
    )
    work = await _read_work(catalogue_session, work_id)

    quote = await api.quote_works(lab, [work_id])

    (line,) = quote["lines"]
    version, offer = work.current_version, work.offer
    assert version is not None
    assert offer is not None
    assert (line["version_id"], line["file_name"], line["size"], line["sha256"]) == (
        str(version.id),
        version.file_name,
        version.size,
        version.sha256,
    )
    assert (line["offer_id"], line["terms_id"], line["price_minor"]) == (
        str(offer.id),
        offer.terms_id,
        1001,
    )
    assert line["terms"]["duration_days"] == 30
    assert line["platform_fee_minor"] == 150
    assert [(s["creator_name"], s["basis_points"]) for s in line["shares"]] == [
        ("Ines Creator", 7500),
        ("Omar Creator", 2500),
    ]
    created = datetime.fromisoformat(quote["created_at"])
    expires = datetime.fromisoformat(quote["expires_at"])
    assert (expires - created).total_seconds() == 900
    assert (quote["status"], quote["platform_fee_bps"], quote["currency"]) == ("open", 1500, "EUR")


async def test_a_quote_never_changes_once_issued(
    api: Api, catalogue_session: AsyncSession, ines: Actor, lab: Actor
) -> None:
    work_id = await listed_work(catalogue_session, ines, price_minor=1000)
    quote = await api.quote_works(lab, [work_id])

    await _offer(catalogue_session, ines, work_id, Use.TRAINING)
    await work_service.withdraw(catalogue_session, ines.caller, work_id)

    again = await api.ok(lab, "GET", f"/v1/quotes/{quote['id']}")
    assert again == quote


async def test_quotes_and_bundles_are_seen_by_their_buyer_admins_and_auditors(
    api: Api,
    catalogue_session: AsyncSession,
    ines: Actor,
    lab: Actor,
    rival: Actor,
    admin: Actor,
    auditor: Actor,
) -> None:
    work_id = await listed_work(catalogue_session, ines)
    bundle = await api.bundle(lab, [work_id])
    quote = await api.quote(lab, bundle["id"])

    for actor in (lab, admin, auditor):
        assert (await api.ok(actor, "GET", f"/v1/quotes/{quote['id']}"))["id"] == quote["id"]
        assert (await api.ok(actor, "GET", f"/v1/bundles/{bundle['id']}"))["id"] == bundle["id"]
    for path in (f"/v1/quotes/{quote['id']}", f"/v1/bundles/{bundle['id']}"):
        assert await api.refused(rival, "GET", path) == (404, "NotFound")
        assert await api.refused(ines, "GET", path) == (404, "NotFound")
    assert await api.refused(rival, "POST", "/v1/quotes", json={"bundle_id": bundle["id"]}) == (
        404,
        "NotFound",
    )
    assert await api.refused(ines, "POST", "/v1/quotes", json={"bundle_id": bundle["id"]}) == (
        403,
        "Forbidden",
    )
