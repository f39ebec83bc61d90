"""Co-creators' operations refuse what they can on the gateway alone, typed: no key, an
id that names no invitation, shares that name no one; and a catalogue that does not
answer is a ServiceUnavailable in place, as for every other resolver."""

import uuid

from tests.fixtures.graphql import GraphQLClient

INVITATIONS = "{ invitations { __typename ... on ServiceUnavailable { service } } }"
ACCEPT = """mutation($id: ID!) { acceptInvitation(id: $id) { __typename
  ... on ServiceUnavailable { service } } }"""
DECLINE = """mutation($id: ID!) { declineInvitation(id: $id) { __typename } }"""
CHANGE_SHARES = """mutation($work: ID!, $shares: [ShareInput!]!) {
  changeShares(workId: $work, shares: $shares) { __typename
    ... on ValidationFailed { fields { field code } }
    ... on ServiceUnavailable { service } } }"""


async def test_without_a_key_each_is_unauthenticated(client: GraphQLClient) -> None:
    invitation = {"id": str(uuid.uuid4())}
    shares = {"work": str(uuid.uuid4()), "shares": []}

    answers = [
        (await client.execute(INVITATIONS))["invitations"],
        (await client.execute(ACCEPT, invitation))["acceptInvitation"],
        (await client.execute(DECLINE, invitation))["declineInvitation"],
        (await client.execute(CHANGE_SHARES, shares))["changeShares"],
    ]

    assert [answer["__typename"] for answer in answers] == ["Unauthenticated"] * 4


async def test_an_id_that_is_not_one_names_no_invitation(
    client: GraphQLClient, admin_key: str
) -> None:
    accepted = await client.execute(ACCEPT, {"id": "not-an-id"}, key=admin_key)
    declined = await client.execute(DECLINE, {"id": "7"}, key=admin_key)

    assert accepted["acceptInvitation"]["__typename"] == "NotFound"
    assert declined["declineInvitation"]["__typename"] == "NotFound"


async def test_shares_naming_no_one_are_refused_before_the_catalogue_is_asked(
    client: GraphQLClient, admin_key: str
) -> None:
    answer = await client.execute(
        CHANGE_SHARES, {"work": str(uuid.uuid4()), "shares": []}, key=admin_key
    )

    assert answer["changeShares"] == {
        "__typename": "ValidationFailed",
        "fields": [{"field": "shares", "code": "too_short"}],
    }


async def test_a_catalogue_that_does_not_answer_is_service_unavailable(
    client: GraphQLClient, admin_key: str
) -> None:
    listed = await client.execute(INVITATIONS, key=admin_key)
    accepted = await client.execute(ACCEPT, {"id": str(uuid.uuid4())}, key=admin_key)
    changed = await client.execute(
        CHANGE_SHARES,
        {
            "work": str(uuid.uuid4()),
            "shares": [{"creatorId": str(uuid.uuid4()), "basisPoints": 10_000}],
        },
        key=admin_key,
    )

    assert listed["invitations"] == {"__typename": "ServiceUnavailable", "service": "catalogue"}
    assert accepted["acceptInvitation"] == {
        "__typename": "ServiceUnavailable",
        "service": "catalogue",
    }
    assert changed["changeShares"] == {"__typename": "ServiceUnavailable", "service": "catalogue"}
