"""Own-site kits: for one work, and for all of a creator's listed works.

A listed work's kit is public, as the work is. While a work is not listed its kit (which
then reserves everything) is its owner's and its accepted co-creators': it is theirs to
publish, and it says nothing a buyer could act on.
"""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.access import visible_work
from services.catalogue.creator.repository import CreatorRepository
from services.catalogue.models import Work
from services.catalogue.ownsite.files import (
    robots_lines,
    rsl_licence,
    tdm_policy,
    tdmrep_rules,
)
from services.catalogue.ownsite.repository import OwnSiteRepository
from services.contracts.catalogue import (
    InvitationStatus,
    OwnSiteFile,
    OwnSiteKit,
    creator_kit_url,
    work_kit_url,
)
from services.kit.errors import Forbidden, NotFound
from services.kit.internal_token import Caller


def _publishes(work: Work, caller: Caller) -> bool:
    member = caller.account_id
    return member is not None and (
        member == work.owner_id
        or any(
            invitation.creator_id == member and invitation.status == InvitationStatus.ACCEPTED
            for invitation in work.invitations
        )
    )


class OwnSiteService:
    async def work_kit(
        self, session: AsyncSession, caller: Caller, work_id: uuid.UUID, *, kit_url: str
    ) -> OwnSiteKit:
        work = await visible_work(session, caller, work_id, lock=False)
        if not work.listed and not _publishes(work, caller):
            raise Forbidden(
                "while a work is not listed, only its owner and co-creators who accepted "
                "their share may take its own-site kit"
            )
        return OwnSiteKit(
            rsl=rsl_licence([work]),
            tdmrep=tdmrep_rules(
                [work], lambda _: work_kit_url(kit_url, work.id, OwnSiteFile.TDM_POLICY)
            ),
            tdm_policy=tdm_policy(work),
            robots=robots_lines([work], work_kit_url(kit_url, work.id, OwnSiteFile.RSL)),
        )

    async def creator_kit(
        self, session: AsyncSession, creator_id: uuid.UUID, *, kit_url: str
    ) -> OwnSiteKit:
        if await CreatorRepository(session).get(creator_id) is None:
            raise NotFound("no such creator")
        works = await OwnSiteRepository(session).listed_works_of(creator_id)
        return OwnSiteKit(
            rsl=rsl_licence(works),
            tdmrep=tdmrep_rules(
                works, lambda work: work_kit_url(kit_url, work.id, OwnSiteFile.TDM_POLICY)
            ),
            robots=robots_lines(works, creator_kit_url(kit_url, creator_id, OwnSiteFile.RSL)),
        )


own_site_service = OwnSiteService()
