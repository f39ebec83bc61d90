"""A creator's and an admin's payout steps through the gateway, as the stack tests take
them: an account confirmed from the mail the SMTP server received, a run waited for."""

import asyncio
import re
from typing import Any

from tests.fixtures.faults import eventually
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.smtp import MailServer, text_of

SET_ACCOUNT = """mutation($holder: String!, $iban: String!, $bic: String!) {
  setPayoutAccount(holder: $holder, iban: $iban, bic: $bic) { __typename
    ... on PayoutAccount { id state } ... on ValidationFailed { fields { field code } } } }"""
CONFIRM = """mutation($id: ID!, $code: String!) { confirmPayoutAccount(accountId: $id, code: $code) {
  __typename ... on PayoutAccount { id state iban } } }"""
START_RUN = """mutation { startPayoutRun { __typename ... on PayoutRun { id state } } }"""
RUN = """query($id: ID!) { payoutRun(id: $id) { __typename ... on PayoutRun {
  id state payments skippedWithoutAccount total { amountMinor currency }
  files { sequence transfers pain001 } } } }"""
PAYOUTS = """query($creator: ID) { payouts(creatorId: $creator, first: 100) { __typename
  ... on PayoutPaymentList { items { runId creatorId endToEndId state returnReason
    amount { amountMinor currency } } } } }"""
IMPORT = """mutation($format: BankStatementFormat!, $content: String!) {
  importBankStatement(format: $format, content: $content) { __typename
    ... on BankStatementImport { paid returned credited replayed }
    ... on ValidationFailed { message fields { field code } } } }"""
ME = "{ me { ... on Account { email } } }"


async def confirmed_payout_account(
    gateway: GraphQLClient, smtp: MailServer, key: str, holder: str, iban: str, bic: str
) -> str:
    """The creator names an account and confirms it with the code mailed to them."""
    email = (await gateway.execute(ME, key=key))["me"]["email"]
    asked = (
        await gateway.execute(SET_ACCOUNT, {"holder": holder, "iban": iban, "bic": bic}, key=key)
    )["setPayoutAccount"]
    assert asked["__typename"] == "PayoutAccount", asked
    # Its own mail: the creator may have been mailed other things (an invitation).
    mail = await asyncio.to_thread(smtp.wait_for, email, "payouts page")
    code = re.search(r"payouts page: (\w+)", text_of(mail))
    assert code is not None
    confirmed = (
        await gateway.execute(CONFIRM, {"id": asked["id"], "code": code.group(1)}, key=key)
    )["confirmPayoutAccount"]
    assert confirmed["state"] == "CONFIRMED", confirmed
    return str(asked["id"])


async def ready_run(gateway: GraphQLClient, admin: str, run_id: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        run: dict[str, Any] = (await gateway.execute(RUN, {"id": run_id}, key=admin))["payoutRun"]
        return run if run.get("state") == "READY" else None

    return await eventually(probe, what=f"payout run {run_id} ready")


async def payout_run(gateway: GraphQLClient, admin: str) -> dict[str, Any]:
    started = (await gateway.execute(START_RUN, key=admin))["startPayoutRun"]
    assert started["__typename"] == "PayoutRun", started
    return await ready_run(gateway, admin, started["id"])


async def payouts_of(gateway: GraphQLClient, key: str, creator: str) -> list[dict[str, Any]]:
    found = (await gateway.execute(PAYOUTS, {"creator": creator}, key=key))["payouts"]
    items: list[dict[str, Any]] = found["items"]
    return items
