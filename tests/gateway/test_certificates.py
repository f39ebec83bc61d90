"""Certificates of a page of licences through the gateway: each licence's own, read from
licensing in one batch."""

import pytest

from tests.e2e.marketplace import buy, funded_buyer, listed_work, quote_for, register
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.stack import RunningStack

LICENCES = """{ licences(first: 10) { ... on LicenceConnection {
  items { id certificate } } } }"""


@pytest.mark.stack
async def test_each_licence_of_a_page_has_its_own_certificate(
    gateway: GraphQLClient, running_stack: RunningStack
) -> None:
    _, creator = await register(gateway, "CREATOR", "Noor Haddad")
    _, lab = await funded_buyer(gateway, running_stack.admin_key, "Certified Lab", 10_000)
    bought = []
    for price in (300, 400, 500):
        work_id = await listed_work(gateway, creator, price=price, title=f"Study {price}")
        quote = await quote_for(gateway, lab, [work_id])
        bought.append((await buy(gateway, lab, quote["id"]))["id"])

    page = (await gateway.execute(LICENCES, key=lab))["licences"]["items"]

    assert [licence["id"] for licence in page] == bought[::-1]
    for licence in page:
        certificate = licence["certificate"]
        assert certificate["certificate"]["licence_id"] == licence["id"]
        assert certificate["envelope"]["signatures"]
