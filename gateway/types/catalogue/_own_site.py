"""Where a creator downloads their own-site kit: the files they publish on their site so
crawlers meet the terms a buyer meets here."""

import uuid

import strawberry

from services.contracts.catalogue import (
    OWN_SITE_PATH,
    OwnSiteFile,
    creator_kit_url,
    work_kit_url,
)


@strawberry.type(
    description="Files for the creator's own site, served by the gateway. A listed "
    "work's kit and a creator's kit (their listed works) are public; while a work is not "
    "listed its kit, which reserves everything, is its owner's and accepted co-creators'."
)
class OwnSiteKit:
    rsl_url: str = strawberry.field(description="An RSL 1.0 licence (application/rsl+xml).")
    tdmrep_url: str = strawberry.field(description="A TDMRep /.well-known/tdmrep.json.")
    robots_url: str = strawberry.field(
        description="robots.txt lines for AI crawlers, with a License line for the RSL file."
    )

    @classmethod
    def of_work(cls, public_url: str, work_id: uuid.UUID) -> "OwnSiteKit":
        base = public_url + OWN_SITE_PATH
        return cls(
            rsl_url=work_kit_url(base, work_id, OwnSiteFile.RSL),
            tdmrep_url=work_kit_url(base, work_id, OwnSiteFile.TDMREP),
            robots_url=work_kit_url(base, work_id, OwnSiteFile.ROBOTS),
        )

    @classmethod
    def of_creator(cls, public_url: str, creator_id: uuid.UUID) -> "OwnSiteKit":
        base = public_url + OWN_SITE_PATH
        return cls(
            rsl_url=creator_kit_url(base, creator_id, OwnSiteFile.RSL),
            tdmrep_url=creator_kit_url(base, creator_id, OwnSiteFile.TDMREP),
            robots_url=creator_kit_url(base, creator_id, OwnSiteFile.ROBOTS),
        )
