"""The creator's own-site kit: the files a creator publishes on their own site so that
crawlers meet the terms a buyer meets on Assent (an RSL 1.0 licence, a TDMRep file and
robots.txt lines), and where the gateway serves them."""

from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import ConfigDict, Field, StringConstraints

from services.contracts.catalogue._base import Schema

RSL_NAMESPACE = "https://rslstandard.org/rsl"
RSL_MEDIA_TYPE = "application/rsl+xml"
OWN_SITE_PATH = "/own-site"
"""Where the gateway serves the kits, below its public URL."""


class OwnSiteFile(StrEnum):
    """A file of the kit, by the name the gateway serves it under."""

    RSL = "licence.xml"
    TDMREP = "tdmrep.json"
    TDM_POLICY = "tdm-policy.json"
    """A work's TDMRep policy, which its tdmrep.json entry points to."""
    ROBOTS = "robots.txt"


KitUrl = Annotated[str, StringConstraints(pattern=r"^https?://[^\s?#]*[^\s?#/]$", max_length=500)]


class KitQuery(Schema):
    """Query parameters of the catalogue's kit routes."""

    kit_url: KitUrl = Field(
        description="The gateway's public URL of the kits (…/own-site): the files point "
        "at one another there, so what crawlers read follows the work's state."
    )


def work_kit_url(kit_url: str, work_id: UUID, file: OwnSiteFile) -> str:
    return f"{kit_url}/works/{work_id}/{file}"


def creator_kit_url(kit_url: str, creator_id: UUID, file: OwnSiteFile) -> str:
    return f"{kit_url}/creators/{creator_id}/{file}"


class TdmRepRule(Schema):
    """One entry of a TDMRep `/.well-known/tdmrep.json`."""

    model_config = ConfigDict(from_attributes=True, frozen=True, populate_by_name=True)

    location: str = Field(description="A path pattern on the creator's site (RFC 9309 syntax)")
    tdm_reservation: int = Field(alias="tdm-reservation", ge=0, le=1)
    tdm_policy: str | None = Field(
        default=None, alias="tdm-policy", description="The URL of the TDMRep policy"
    )


class OwnSiteKit(Schema):
    """Every file of a kit, for one work or for all of a creator's listed works."""

    rsl: str = Field(description=f"An RSL 1.0 licence ({RSL_MEDIA_TYPE})")
    tdmrep: list[TdmRepRule]
    tdm_policy: dict[str, object] | None = Field(
        default=None,
        description="A work's kit: the TDMRep policy (an ODRL Offer) its entry points to; "
        "none while nothing of it can be licensed",
    )
    robots: str = Field(description="robots.txt lines for AI crawlers")
