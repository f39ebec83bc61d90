"""Creators' payouts: an account checked and confirmed from its mail (a real SMTP server),
a run paying each creator owed the minimum once in a pain.001 valid against its XSD,
and a bank statement marking transfers paid or returned; each refusal changes nothing."""

import re
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sepaxml
import xmlschema
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.events import Topic
from services.contracts.roles import Role
from services.kit.outbox import OutboxDelivery
from services.licensing.payout import Payouts
from services.licensing.payout.models import PayoutAccount
from services.licensing.payout.reconcile import reason_in_words
from tests.fixtures.bank import PLATFORM_BIC, PLATFORM_IBAN, Booked, camt053
from tests.fixtures.smtp import MailServer, text_of
from tests.services.catalogue.helpers import Actor
from tests.services.licensing.helpers import Api, licensing_settings, make_quote, quote_line, top_up

PAIN_XSD = Path(sepaxml.__file__).parent / "schemas" / "pain.001.001.03.xsd"
INES_IBAN, INES_BIC = "DE02120300000000202051", "BYLADEM1001"
OMAR_IBAN, OMAR_BIC = "FR1420041010050500013M02606", "PSSTFRPP"


@pytest.fixture
async def payouts_on(
    app: FastAPI, smtp_server: MailServer, migrated_postgres: str
) -> AsyncIterator[Payouts]:
    """The app with the platform's bank account and an SMTP server, as production has."""
    configured = app.state.payouts
    settings = licensing_settings(
        migrated_postgres,
        "licensing",
        bank_iban=PLATFORM_IBAN,
        bank_bic=PLATFORM_BIC,
        bank_holder="Assent Marketplace GmbH",
        payout_minimums={"EUR": 1_000},
        payout_batch=2,
        payout_file_transfers=1,
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
    )
    payouts = Payouts.build(settings, app.state.licensing, lambda: app.state.sessionmaker)
    app.state.payouts = payouts
    yield payouts
    app.state.payouts = configured


def _email(actor: Actor) -> str:
    return f"{actor.subject}@creators.example"


async def _ask(api: Api, creator: Actor, iban: str, bic: str) -> Any:
    return await api.call(
        creator,
        "POST",
        "/v1/payout-accounts",
        json={"holder": creator.name, "iban": iban, "bic": bic, "email": _email(creator)},
    )


async def _confirmed_account(
    api: Api, payouts: Payouts, smtp: MailServer, creator: Actor, iban: str, bic: str
) -> dict[str, Any]:
    asked = await _ask(api, creator, iban, bic)
    assert asked.status_code == 201, asked.text
    await payouts.mailer.send_due()
    mail = smtp.wait_for(_email(creator))
    code = re.search(r"this code on your payouts page: (\w+)", text_of(mail))
    assert code is not None
    confirmed: dict[str, Any] = await api.ok(
        creator,
        "POST",
        "/v1/payout-accounts/confirm",
        json={"account_id": asked.json()["id"], "code": code.group(1)},
    )
    return confirmed


async def _sold(session: AsyncSession, api: Api, lab: Actor, *owed: tuple[Actor, int]) -> None:
    """Sales leaving each creator owed the amount (a line's price less the 15% fee)."""
    lines = [quote_line(amount * 100 // 85, [(creator.id, 10_000)]) for creator, amount in owed]
    total = sum(line.price_minor for line in lines)
    await top_up(session, lab.id, total)
    await api.bought(lab, str(await make_quote(session, lab.id, lines)))


async def _run(api: Api, admin: Actor, payouts: Payouts) -> dict[str, Any]:
    started = await api.ok(admin, "POST", "/v1/payout-runs", json={}, status=201)
    while await payouts.runner.step():
        pass
    run: dict[str, Any] = await api.ok(admin, "GET", f"/v1/payout-runs/{started['id']}")
    return run


async def test_a_bad_iban_or_a_bic_of_another_country_is_refused_and_nothing_is_kept(
    api: Api, session: AsyncSession, ines: Actor, payouts_on: Payouts
) -> None:
    bad_checksum = await _ask(api, ines, "DE02120300000000202052", INES_BIC)
    elsewhere = await _ask(api, ines, INES_IBAN, OMAR_BIC)
    unknown_bank = await _ask(api, ines, INES_IBAN, "ZZZZDEFFXXX")

    assert bad_checksum.status_code == elsewhere.status_code == unknown_bank.status_code == 400
    assert [f["code"] for f in bad_checksum.json()["fields"]] == ["invalid_iban"]
    assert [f["code"] for f in elsewhere.json()["fields"]] == ["bic_country_mismatch"]
    assert "unknown_bic" in [f["code"] for f in unknown_bank.json()["fields"]]
    assert await session.scalar(select(func.count()).select_from(PayoutAccount)) == 0


async def test_an_account_counts_only_once_confirmed_with_the_mailed_code(
    api: Api,
    session: AsyncSession,
    ines: Actor,
    omar: Actor,
    smtp_server: MailServer,
    payouts_on: Payouts,
) -> None:
    asked = await _ask(api, ines, INES_IBAN, INES_BIC)
    account_id = asked.json()["id"]
    await payouts_on.mailer.send_due()
    mail = smtp_server.wait_for(_email(ines))
    text = text_of(mail)
    # Sent once: the next poll finds nothing due.
    assert await payouts_on.mailer.send_due() == 0

    wrong = await api.call(
        ines,
        "POST",
        "/v1/payout-accounts/confirm",
        json={"account_id": account_id, "code": "A" * 16},
    )
    code = re.search(r"payouts page: (\w+)", text)
    assert code is not None
    someone_else = await api.call(
        omar,
        "POST",
        "/v1/payout-accounts/confirm",
        json={"account_id": account_id, "code": code.group(1)},
    )
    pending = await api.ok(ines, "GET", "/v1/payout-accounts")
    confirmed = await api.ok(
        ines,
        "POST",
        "/v1/payout-accounts/confirm",
        json={"account_id": account_id, "code": code.group(1)},
    )

    assert asked.status_code == 201
    assert mail["Subject"] == "Confirm your payout account"
    assert "DE02 •••• 2051" in text
    assert INES_IBAN not in text
    assert wrong.status_code == 400
    assert wrong.json()["fields"][0]["code"] == "wrong_code"
    assert someone_else.status_code == 404
    assert [a["state"] for a in pending] == ["pending"]
    assert confirmed["state"] == "confirmed"
    assert confirmed["iban"] == "DE02 •••• 2051"
    logged = await session.scalars(
        select(OutboxDelivery.topic).where(
            OutboxDelivery.topic.like("payout_account.%"), OutboxDelivery.destination == "audit"
        )
    )
    assert sorted(logged) == [Topic.PAYOUT_ACCOUNT_CONFIRMED, Topic.PAYOUT_ACCOUNT_REQUESTED]


async def test_a_run_pays_each_creator_owed_the_minimum_once_in_a_valid_pain001(
    api: Api,
    session: AsyncSession,
    lab: Actor,
    ines: Actor,
    omar: Actor,
    pia: Actor,
    admin: Actor,
    smtp_server: MailServer,
    payouts_on: Payouts,
) -> None:
    kai = Actor(subject=str(uuid.uuid4()), roles=frozenset({Role.CREATOR}), name="Kai Creator")
    for creator, iban, bic in (
        (ines, INES_IBAN, INES_BIC),
        (omar, OMAR_IBAN, OMAR_BIC),
        (kai, "NL91ABNA0417164300", "ABNANL2A"),
    ):
        await _confirmed_account(api, payouts_on, smtp_server, creator, iban, bic)
    # Pia is owed enough but has no account; Kai is owed less than the minimum.
    await _sold(session, api, lab, (ines, 2_550), (omar, 1_700), (pia, 5_100), (kai, 850))

    run = await _run(api, admin, payouts_on)
    again = await _run(api, admin, payouts_on)
    # One transfer per file here: each file is fetched, validated against the XSD and
    # decoded by xmlschema, an independent reader.
    schema = xmlschema.XMLSchema(str(PAIN_XSD))
    batches: list[Any] = []
    for file in run["files"]:
        xml = (
            await api.call(admin, "GET", f"/v1/payout-runs/{run['id']}/files/{file['sequence']}")
        ).text
        document: Any = schema.to_dict(xml)
        batches.extend(document["CstmrCdtTrfInitn"]["PmtInf"])
    paid = {
        transfer["CdtrAcct"]["Id"]["IBAN"]: transfer["Amt"]["InstdAmt"]["$"]
        for batch in batches
        for transfer in batch["CdtTrfTxInf"]
    }

    assert run["state"] == "ready"
    assert (run["payments"], run["total_minor"], run["skipped_without_account"]) == (2, 4_250, 1)
    assert [(f["sequence"], f["transfers"]) for f in run["files"]] == [(1, 1), (2, 1)]
    assert again["id"] != run["id"]
    assert again["payments"] == 0
    assert again["files"] == []
    assert paid == {INES_IBAN: Decimal("25.50"), OMAR_IBAN: Decimal("17.00")}
    assert {batch["DbtrAcct"]["Id"]["IBAN"] for batch in batches} == {PLATFORM_IBAN}
    assert await api.balance(admin, kai, "creator_payable") == 850
    assert await api.balance(admin, ines, "creator_payable") == 0
    assert await api.balance(admin, ines, "in_payment") == 2_550
    assert await api.balance(admin, pia, "creator_payable") == 5_100
    check = await api.ok(admin, "GET", "/v1/ledger/check")
    assert check["unbalanced_transactions"] == []
    assert check["balance_mismatches"] == []


async def test_an_account_confirmed_after_a_run_started_waits_for_the_next(
    api: Api,
    session: AsyncSession,
    lab: Actor,
    ines: Actor,
    admin: Actor,
    smtp_server: MailServer,
    payouts_on: Payouts,
) -> None:
    await _sold(session, api, lab, (ines, 2_550))
    started = await api.ok(admin, "POST", "/v1/payout-runs", json={}, status=201)
    await _confirmed_account(api, payouts_on, smtp_server, ines, INES_IBAN, INES_BIC)
    while await payouts_on.runner.step():
        pass

    first = await api.ok(admin, "GET", f"/v1/payout-runs/{started['id']}")
    second = await _run(api, admin, payouts_on)

    assert (first["payments"], first["skipped_without_account"]) == (0, 1)
    assert (second["payments"], second["total_minor"]) == (1, 2_550)


async def _paid_run(
    api: Api,
    session: AsyncSession,
    lab: Actor,
    admin: Actor,
    payouts: Payouts,
    smtp: MailServer,
    *creators: tuple[Actor, str, str, int],
) -> dict[str, dict[str, Any]]:
    for creator, iban, bic, _ in creators:
        await _confirmed_account(api, payouts, smtp, creator, iban, bic)
    await _sold(session, api, lab, *((creator, owed) for creator, _, _, owed in creators))
    await _run(api, admin, payouts)
    payments = await api.ok(admin, "GET", "/v1/payouts")
    return {payment["creator_id"]: payment for payment in payments}


async def test_a_statement_marks_one_transfer_paid_and_returns_the_other_with_its_reason(
    api: Api,
    session: AsyncSession,
    lab: Actor,
    ines: Actor,
    omar: Actor,
    admin: Actor,
    smtp_server: MailServer,
    payouts_on: Payouts,
) -> None:
    sent = await _paid_run(
        api,
        session,
        lab,
        admin,
        payouts_on,
        smtp_server,
        (ines, INES_IBAN, INES_BIC, 2_550),
        (omar, OMAR_IBAN, OMAR_BIC, 1_700),
    )
    ines_sent, omar_sent = sent[ines.subject], sent[omar.subject]
    statement = camt053(
        [
            Booked(2_550, debit=True, end_to_end_id=ines_sent["end_to_end_id"]),
            Booked(1_700, debit=True, end_to_end_id=omar_sent["end_to_end_id"]),
            Booked(
                1_700, debit=False, end_to_end_id=omar_sent["end_to_end_id"], return_reason="AC04"
            ),
        ]
    )

    imported = await api.ok(
        admin,
        "POST",
        "/v1/bank-statements",
        json={"format": "camt053", "content": statement},
        status=201,
    )
    replayed = await api.ok(
        admin,
        "POST",
        "/v1/bank-statements",
        json={"format": "camt053", "content": statement},
        status=201,
    )
    omar_sees = await api.ok(omar, "GET", "/v1/payouts")
    earnings = await api.ok(omar, "GET", "/v1/earnings")

    assert (imported["paid"], imported["returned"], imported["credited"]) == (2, 1, 0)
    assert replayed["replayed"] is True
    assert replayed["id"] == imported["id"]
    assert [(p["state"], p["return_reason"]) for p in omar_sees] == [
        ("returned", "AC04: the account is closed")
    ]
    assert await api.balance(admin, omar, "creator_payable") == 1_700
    assert await api.balance(admin, omar, "in_payment") == 0
    assert await api.balance(admin, ines, "in_payment") == 0
    assert sorted(p["amount_minor"] for p in earnings["payouts"]) == [-1_700, 1_700]
    assert [c["amount_minor"] for c in earnings["closing"]] == [1_700]
    check = await api.ok(admin, "GET", "/v1/ledger/check")
    assert check["unbalanced_transactions"] == []
    assert check["balance_mismatches"] == []


async def test_a_statement_with_an_entry_it_cannot_apply_changes_nothing(
    api: Api,
    session: AsyncSession,
    lab: Actor,
    ines: Actor,
    admin: Actor,
    smtp_server: MailServer,
    payouts_on: Payouts,
) -> None:
    sent = await _paid_run(
        api, session, lab, admin, payouts_on, smtp_server, (ines, INES_IBAN, INES_BIC, 2_550)
    )
    end_to_end = sent[ines.subject]["end_to_end_id"]
    good = Booked(2_550, debit=True, end_to_end_id=end_to_end, reference="BANK-1")
    cases = {
        "unknown_reference": [good, Booked(900, debit=False, remittance="invoice 12")],
        "duplicate_entry": [good, Booked(10, debit=False, reference="BANK-1")],
        "wrong_currency": [Booked(2_550, debit=True, end_to_end_id=end_to_end, currency="USD")],
        "wrong_amount": [Booked(2_549, debit=True, end_to_end_id=end_to_end)],
    }

    answers = {
        case: await api.call(
            admin,
            "POST",
            "/v1/bank-statements",
            json={"format": "camt053", "content": camt053(entries)},
        )
        for case, entries in cases.items()
    }

    for case, answer in answers.items():
        assert answer.status_code == 400, case
        assert answer.json()["error"] == "BankStatementRejected", case
        assert case in [field["code"] for field in answer.json()["fields"]], case
    assert await api.balance(admin, ines, "in_payment") == 2_550
    payments = await api.ok(admin, "GET", "/v1/payouts")
    assert [p["state"] for p in payments] == ["in_payment"]


async def test_a_lab_tops_up_by_bank_transfer_quoting_its_reference(
    api: Api, session: AsyncSession, lab: Actor, admin: Actor, payouts_on: Payouts
) -> None:
    await top_up(session, lab.id, 1)  # licensing has heard of the lab
    reference = await api.ok(lab, "GET", "/v1/payments/bank/reference")
    spaced = " ".join(re.findall(".{1,4}", reference["reference"]))
    statement = camt053([Booked(50_000, debit=False, remittance=f"Order 77 {spaced}")])
    csv_statement = (
        "entry_reference,booking_date,direction,amount,currency,end_to_end_id,remittance,"
        f"return_reason\nBANK-CSV-1,2026-12-08,credit,120.00,EUR,,{reference['reference']},\n"
    )

    imported = await api.ok(
        admin,
        "POST",
        "/v1/bank-statements",
        json={"format": "camt053", "content": statement},
        status=201,
    )
    from_csv = await api.ok(
        admin,
        "POST",
        "/v1/bank-statements",
        json={"format": "csv", "content": csv_statement},
        status=201,
    )

    assert reference["reference"].startswith("RF")
    assert reference["iban"] == PLATFORM_IBAN
    assert imported["credited"] == 1
    assert from_csv["credited"] == 1
    assert await api.balance(lab, lab) == 1 + 50_000 + 12_000


async def test_without_a_platform_bank_account_runs_are_off_and_say_so(
    api: Api, admin: Actor, lab: Actor
) -> None:
    run = await api.call(admin, "POST", "/v1/payout-runs", json={})
    reference = await api.call(lab, "GET", "/v1/payments/bank/reference")

    assert run.status_code == reference.status_code == 409
    assert run.json()["error"] == reference.json()["error"] == "PayoutsOff"


def test_a_return_reason_reads_in_words_and_an_unknown_one_keeps_its_code() -> None:
    assert reason_in_words("AC01") == "AC01: the account number is wrong"
    assert reason_in_words("XY99") == "XY99: returned by the bank"
