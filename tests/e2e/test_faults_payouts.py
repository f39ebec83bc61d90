"""A payout run survives a crash: licensing is SIGKILLed in the middle of a run, after
some of its steps committed and while the next waits, and started again; the run goes
on from where it stopped and pays every creator exactly once.

The kill point is held through the database: the test locks the ledger account of the
last creator in the run's order, so the steps before it commit and the one reaching it
waits there until the process is killed.
"""

import uuid
from typing import Any

import pytest

from tests.e2e.marketplace import (
    assert_ledger_sound,
    buy,
    delivered,
    funded_buyer,
    listed_work,
    quote_for,
    register,
)
from tests.e2e.payouts import START_RUN, confirmed_payout_account, payouts_of, ready_run
from tests.fixtures.faults import database, eventually, kill, restart
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.smtp import MailServer
from tests.fixtures.stack import RunningStack

pytestmark = pytest.mark.stack

# Valid IBANs of banks schwifty knows, one per creator.
ACCOUNTS = [
    ("DE02120300000000202051", "BYLADEM1001"),
    ("DE02500105170137075030", "INGDDEFFXXX"),
    ("FR1420041010050500013M02606", "PSSTFRPP"),
    ("NL91ABNA0417164300", "ABNANL2A"),
    ("DE75512108001245126199", "SOGEDEFFXXX"),
]
LAST_IN_ORDER = """SELECT id FROM licensing.ledger_account
  WHERE kind = 'creator_payable' AND currency = 'EUR'
  ORDER BY owner_id DESC LIMIT 1 FOR UPDATE"""


async def _creators_who_sold(
    gateway: GraphQLClient, fault_stack: RunningStack, smtp: MailServer
) -> dict[str, int]:
    """Five creators with confirmed accounts, each owed for one sale: id to amount."""
    _, lab = await funded_buyer(gateway, fault_stack.admin_key, "Payout Fault Lab", 1_000_000)
    owed: dict[str, int] = {}
    for index, (iban, bic) in enumerate(ACCOUNTS):
        name = f"Payout Fault Creator {index}"
        creator_id, creator = await register(gateway, "CREATOR", name)
        await confirmed_payout_account(gateway, smtp, creator, name, iban, bic)
        price = 2_000 + 100 * index
        work = await listed_work(gateway, creator, price=price, title=f"{name} work")
        quote = await quote_for(gateway, lab, [work])
        await delivered(gateway, lab, (await buy(gateway, lab, quote["id"]))["id"])
        owed[creator_id] = price - price * 1_500 // 10_000
    return owed


async def test_licensing_killed_mid_run_pays_every_creator_once_when_it_goes_on(
    fault_stack: RunningStack, smtp_server: MailServer
) -> None:
    gateway = GraphQLClient(fault_stack.graphql_url)
    admin = fault_stack.admin_key
    try:
        owed = await _creators_who_sold(gateway, fault_stack, smtp_server)
        async with database(fault_stack) as db:
            held = db.transaction()
            await held.start()
            await db.fetchval(LAST_IN_ORDER)
            started = (await gateway.execute(START_RUN, key=admin))["startPayoutRun"]
            run_id = started["id"]

            async def some_committed_and_one_waiting() -> bool:
                async with database(fault_stack) as probe:
                    decided = await probe.fetchval(
                        "SELECT decided_through FROM licensing.payout_run WHERE id = $1",
                        uuid.UUID(run_id),
                    )
                    waiting = await probe.fetchval(
                        """SELECT count(*) FROM pg_stat_activity
                           WHERE datname = current_database() AND wait_event_type = 'Lock'"""
                    )
                return decided is not None and waiting > 0

            await eventually(some_committed_and_one_waiting, what="a run stopped mid-way")
            kill(fault_stack, "licensing")
            await held.rollback()
        await restart(fault_stack, "licensing")

        run = await ready_run(gateway, admin, run_id)
        paid: dict[str, list[dict[str, Any]]] = {}
        for creator_id in owed:
            paid[creator_id] = [
                payment
                for payment in await payouts_of(gateway, admin, creator_id)
                if payment["runId"] == run_id
            ]
        await assert_ledger_sound(gateway, admin)
    finally:
        await gateway.http.aclose()

    amounts = {
        creator: [p["amount"]["amountMinor"] for p in found] for creator, found in paid.items()
    }
    assert amounts == {creator: [amount] for creator, amount in owed.items()}
    files = "".join(file["pain001"] for file in run["files"])
    for found in paid.values():
        assert files.count(found[0]["endToEndId"]) == 1
