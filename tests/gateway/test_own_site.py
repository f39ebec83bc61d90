"""The own-site kit through the gateway: GraphQL names its files, the gateway serves
them, and each file points at the others where the gateway serves them, so a crawler
reads a withdrawal at once."""

import xml.etree.ElementTree as ET

import pytest

from services.contracts.catalogue import RSL_MEDIA_TYPE, RSL_NAMESPACE
from tests.e2e.marketplace import WITHDRAW, listed_work, register
from tests.fixtures.graphql import GraphQLClient

KIT = """query($id: ID!) { work(id: $id) { ... on Work {
  ownSiteKit { rslUrl tdmrepUrl robotsUrl } owner { ownSiteKit { robotsUrl } } } } }"""


@pytest.mark.stack
async def test_a_creator_publishes_the_kit_and_crawlers_follow_a_withdrawal(
    gateway: GraphQLClient,
) -> None:
    _, creator = await register(gateway, "CREATOR", "Nadia Own Site")
    work_id = await listed_work(gateway, creator, price=1_500, title="Salt marsh")

    work = (await gateway.execute(KIT, {"id": work_id}, key=creator))["work"]
    kit, creator_kit = work["ownSiteKit"], work["owner"]["ownSiteKit"]
    http = gateway.http

    # Public while the work is listed: a crawler fetches them with no key.
    licence = await http.get(kit["rslUrl"])
    assert licence.status_code == 200, licence.text
    assert licence.headers["content-type"].startswith(RSL_MEDIA_TYPE)
    root = ET.fromstring(licence.text)  # noqa: S314 - the catalogue's own output
    assert root.tag == f"{{{RSL_NAMESPACE}}}rsl"
    permits = root.find(f".//{{{RSL_NAMESPACE}}}permits[@type='usage']")
    assert permits is not None
    assert permits.text == "ai-train"
    amount = root.find(f".//{{{RSL_NAMESPACE}}}amount")
    assert amount is not None
    assert (amount.text, amount.get("currency")) == ("15.00", "EUR")

    robots = (await http.get(kit["robotsUrl"])).text
    assert f"License: {kit['rslUrl']}" in robots.splitlines()
    assert "Allow: /*harbour.raw$" in robots.splitlines()

    (rule,) = (await http.get(kit["tdmrepUrl"])).json()
    assert rule["tdm-reservation"] == 1
    policy = await http.get(rule["tdm-policy"])
    assert policy.status_code == 200
    assert policy.json()["permission"][0]["action"] == "tdm:mine"

    creator_robots = (await http.get(creator_kit["robotsUrl"])).text
    assert "Allow: /*harbour.raw$" in creator_robots.splitlines()

    withdrawn = await gateway.execute(WITHDRAW, {"id": work_id}, key=creator)
    assert withdrawn["withdrawWork"]["__typename"] == "WorkWithdrawn"

    # The work is no one's to see now but its creator's; their kit reserves everything.
    assert (await http.get(kit["robotsUrl"])).status_code == 404
    assert (await http.get(rule["tdm-policy"])).status_code == 404
    own = await http.get(kit["robotsUrl"], headers={"authorization": f"Bearer {creator}"})
    assert own.status_code == 200
    assert "Allow: /*harbour.raw$" not in own.text.splitlines()
    assert "Disallow: /*harbour.raw$" in own.text.splitlines()
    assert "harbour.raw" not in (await http.get(creator_kit["robotsUrl"])).text
