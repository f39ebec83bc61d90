"""Top-ups, payouts and balances: every transaction balances, and no one overdraws."""

import uuid
from typing import Any

from sqlalchemy import event, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.licensing import LedgerAccountKind
from services.kit.db import create_engine, create_sessionmaker
from services.licensing.ledger.known_accounts import KnownAccounts
from services.licensing.ledger.repository import LedgerRepository
from services.licensing.models import AccountKey, LedgerAccount, LedgerPosting, LedgerTransaction
from tests.services.catalogue.helpers import Actor, outbox_topics
from tests.services.licensing.helpers import Api, make_quote, quote_line, top_up


async def _transactions(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count(LedgerTransaction.id))) or 0)


async def test_a_top_up_moves_money_from_funding_to_the_buyers_balance(
    api: Api, session: AsyncSession, lab: Actor, admin: Actor
) -> None:
    transaction = await api.top_up(admin, lab, 2500, "GBP")

    assert (transaction["kind"], transaction["currency"]) == ("top_up", "GBP")
    assert transaction["reference"].startswith("bank transfer")
    assert transaction["recorded_by"] == admin.subject
    assert [
        (p["account_kind"], p["owner_id"], p["amount_minor"]) for p in transaction["postings"]
    ] == [
        ("funding", None, -2500),
        ("buyer_balance", lab.subject, 2500),
    ]
    assert await api.ok(lab, "GET", "/v1/balances") == [
        {
            "owner_id": lab.subject,
            "account_kind": "buyer_balance",
            "currency": "GBP",
            "balance_minor": 2500,
        }
    ]
    assert await outbox_topics(session) == ["ledger.recorded"]


async def test_only_admins_record_money_and_bad_amounts_are_refused(
    api: Api, session: AsyncSession, lab: Actor, ines: Actor, admin: Actor, auditor: Actor
) -> None:
    def body(**fields: object) -> dict[str, object]:
        return {
            "buyer_id": lab.subject,
            "amount_minor": 100,
            "currency": "EUR",
            "reference": "r",
            **fields,
        }

    for actor in (lab, ines, auditor):
        assert await api.refused(actor, "POST", "/v1/ledger/top-ups", json=body()) == (
            403,
            "Forbidden",
        )
        payout = {
            "creator_id": ines.subject,
            "amount_minor": 1,
            "currency": "EUR",
            "reference": "r",
        }
        assert await api.refused(actor, "POST", "/v1/ledger/payouts", json=payout) == (
            403,
            "Forbidden",
        )
    for amount in (0, -5):
        response = await api.call(
            admin, "POST", "/v1/ledger/top-ups", json=body(amount_minor=amount)
        )
        assert response.status_code == 422
    foreign = await api.call(admin, "POST", "/v1/ledger/top-ups", json=body(currency="XAU"))
    assert (foreign.status_code, foreign.json()["fields"][0]["field"]) == (400, "currency")
    assert (
        await api.call(admin, "POST", "/v1/ledger/top-ups", json=body(currency="eur"))
    ).status_code == 422
    assert await _transactions(session) == 0


async def test_a_payout_is_limited_to_what_the_creator_is_owed(
    api: Api, session: AsyncSession, lab: Actor, ines: Actor, admin: Actor
) -> None:
    quote_id = await make_quote(session, lab.id, [quote_line(1000, [(ines.id, 10_000)])])
    await top_up(session, lab.id, 1000)
    await api.bought(lab, str(quote_id))
    payout = {
        "creator_id": ines.subject,
        "amount_minor": 851,
        "currency": "EUR",
        "reference": "SEPA 1",
    }

    too_much = await api.call(admin, "POST", "/v1/ledger/payouts", json=payout)
    other_currency = await api.call(
        admin, "POST", "/v1/ledger/payouts", json={**payout, "amount_minor": 1, "currency": "USD"}
    )
    paid = await api.ok(
        admin, "POST", "/v1/ledger/payouts", json={**payout, "amount_minor": 850}, status=201
    )

    assert (too_much.status_code, too_much.json()["error"]) == (409, "InsufficientFunds")
    assert (other_currency.status_code, other_currency.json()["error"]) == (
        409,
        "InsufficientFunds",
    )
    assert [(p["account_kind"], p["amount_minor"]) for p in paid["postings"]] == [
        ("creator_payable", -850),
        ("payouts", 850),
    ]
    assert await api.balance(ines, ines, "creator_payable") == 0
    again = await api.call(
        admin,
        "POST",
        "/v1/ledger/payouts",
        json={**payout, "amount_minor": 1, "reference": "SEPA 2"},
    )
    assert again.json()["error"] == "InsufficientFunds"


async def test_balances_are_private_to_their_owner_admins_and_auditors(
    api: Api, session: AsyncSession, lab: Actor, rival: Actor, admin: Actor, auditor: Actor
) -> None:
    await top_up(session, lab.id, 700)

    for actor in (admin, auditor):
        owned = await api.ok(actor, "GET", "/v1/balances", params={"owner_id": lab.subject})
        assert [b["balance_minor"] for b in owned] == [700]
    assert await api.refused(rival, "GET", "/v1/balances", params={"owner_id": lab.subject}) == (
        403,
        "Forbidden",
    )
    assert await api.ok(rival, "GET", "/v1/balances") == []


async def test_the_ledger_check_is_clean_and_for_admins_and_auditors(
    api: Api, session: AsyncSession, lab: Actor, admin: Actor, auditor: Actor
) -> None:
    quote_id = await make_quote(session, lab.id, [quote_line(999, [(uuid.uuid4(), 10_000)])])
    await top_up(session, lab.id, 5000)
    await top_up(session, lab.id, 300, "USD")
    await api.bought(lab, str(quote_id))

    check = await api.ok(auditor, "GET", "/v1/ledger/check")

    assert check == {
        "transactions": 3,
        "unbalanced_transactions": [],
        "mixed_currency_transactions": [],
        "balance_mismatches": [],
        "negative_buyer_balances": [],
        "totals": {"EUR": 0, "USD": 0},
    }
    assert await api.refused(lab, "GET", "/v1/ledger/check") == (403, "Forbidden")
    assert (await api.ok(admin, "GET", "/v1/ledger/check"))["transactions"] == 3


async def test_the_ledger_check_reports_every_broken_invariant(
    api: Api, session: AsyncSession, lab: Actor, rival: Actor, admin: Actor
) -> None:
    await top_up(session, lab.id, 100)
    await top_up(session, rival.id, 100)
    top_ups = (
        await session.scalars(select(LedgerTransaction).order_by(LedgerTransaction.recorded_at))
    ).all()
    await LedgerRepository(session).ensure_accounts(
        [AccountKey(LedgerAccountKind.FUNDING, None, "USD")], KnownAccounts(enabled=False)
    )
    lab_account = _buyer_account(lab)
    # Money appearing from nowhere on the lab's balance, and a posting in another currency.
    session.add(LedgerPosting(transaction_id=top_ups[0].id, account_id=lab_account, amount_minor=5))
    session.add(
        LedgerPosting(
            transaction_id=top_ups[1].id,
            account_id=AccountKey(LedgerAccountKind.FUNDING, None, "USD").id,
            amount_minor=0,
        )
    )
    await session.flush()
    # The rival's stored balance agrees with postings that overdraw it.
    rival_account = _buyer_account(rival)
    session.add(
        LedgerPosting(transaction_id=top_ups[1].id, account_id=rival_account, amount_minor=-300)
    )
    await session.execute(
        update(LedgerAccount).where(LedgerAccount.id == rival_account).values(balance_minor=-200)
    )
    await session.flush()

    check = await api.ok(admin, "GET", "/v1/ledger/check")

    assert check["unbalanced_transactions"] == sorted(str(t.id) for t in top_ups)
    assert check["mixed_currency_transactions"] == [str(top_ups[1].id)]
    assert [m.split(":")[0] for m in check["balance_mismatches"]] == [
        f"buyer_balance {lab.subject} EUR"
    ]
    assert check["negative_buyer_balances"] == [rival.subject]
    assert check["totals"] == {"EUR": 5 - 300, "USD": 0}


def _buyer_account(buyer: Actor) -> uuid.UUID:
    return AccountKey(LedgerAccountKind.BUYER_BALANCE, buyer.id, "EUR").id


async def test_an_account_is_written_until_its_creation_has_committed(
    migrated_postgres: str,
) -> None:
    engine = create_engine(migrated_postgres, schema="licensing", pool_size=1)
    written: list[str] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO LEDGER_ACCOUNT"):
            written.append(statement)

    sessionmaker = create_sessionmaker(engine)
    known = KnownAccounts()
    payable = AccountKey(LedgerAccountKind.CREATOR_PAYABLE, uuid.uuid4(), "EUR")
    try:
        async with sessionmaker() as session:
            await LedgerRepository(session).ensure_accounts([payable], known)
            await session.rollback()
        async with sessionmaker() as session, session.begin():
            await LedgerRepository(session).ensure_accounts([payable], known)
        async with sessionmaker() as session, session.begin():
            await LedgerRepository(session).ensure_accounts([payable], known)
            stored = await session.get(LedgerAccount, payable.id)
    finally:
        await engine.dispose()

    # Rolled back, then committed; the third sale skips an account known to exist.
    assert len(written) == 2
    assert stored is not None
