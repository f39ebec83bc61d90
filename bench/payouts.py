"""A payout run for many creators, by hand (not a test): its time and peak memory beside
writing the same rows as plain CSV, in the same run.

1. Creates a scratch PostgreSQL database and migrates licensing into it.
2. Seeds `--creators` creators (not timed), each owed an amount above the minimum and
   with a confirmed payout account, with COPY.
3. In a fresh process per side (so each peak resident size is its own):
   - `run`: `PayoutRunService.start` and its steps until the run is ready, as the
     licensing worker takes them: payments, the ledger's move to "in payment" and its
     events, and the pain.001 files (10,000 transfers each), each validated by sepaxml
     against its XSD;
   - `csv`: the baseline, the same creators, amounts and accounts read in one query and
     written as CSV rows.
4. Prints each side's seconds and peak resident size (MiB above the side's start), the
   ratios run/csv, and checks the file: one transfer per creator, the sum of the amounts.

Usage: .venv/bin/python bench/payouts.py [--creators 100000] [--batch 500]
       (PostgreSQL: ASSENT_BENCH_POSTGRES_URL, default the local server, trust auth)
"""

import argparse
import asyncio
import csv
import io
import multiprocessing
import os
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from scratch_market import scratch_database
from sqlalchemy import select

from services.contracts.licensing import LedgerAccountKind, PayoutRunIn
from services.contracts.roles import Role
from services.kit.db import create_engine, create_sessionmaker
from services.kit.internal_token import Caller
from services.licensing.config import Settings
from services.licensing.ledger.known_accounts import KnownAccounts
from services.licensing.ledger.service import LedgerService
from services.licensing.models import AccountKey
from services.licensing.payout.models import PayoutFile, PayoutRun
from services.licensing.payout.runs import PayoutRunService
from services.licensing.payout.sepa import Debtor
from services.stack import migrate, stack_environment

IBAN, BIC = "DE02120300000000202051", "BYLADEM1001"
PLATFORM = ("Assent Marketplace GmbH", "DE89370400440532013000", "COBADEFFXXX")
# The service's default: banks cap a file's size, and each file is validated whole.
FILE_TRANSFERS = Settings().payout_file_transfers
NAMESPACE = uuid.UUID("6b1c3d0e-4c5a-4d0e-9f51-0a7f0b1c2d3e")


async def seed(dsn: str, creators: int) -> int:
    """Creators owed 15.00 to 49.99, one seeding transaction; returns the total owed."""
    now = datetime.now(UTC)
    transaction_id = uuid.uuid4()
    owners = [uuid.uuid5(NAMESPACE, str(number)) for number in range(creators)]
    amounts = [1_500 + number % 3_500 for number in range(creators)]
    funding = AccountKey(LedgerAccountKind.FUNDING, None, "EUR").id
    accounts = [(funding, "funding", None, "EUR", None, now)] + [
        (
            AccountKey(LedgerAccountKind.CREATOR_PAYABLE, owner, "EUR").id,
            "creator_payable",
            owner,
            "EUR",
            None,
            now,
        )
        for owner in owners
    ]
    postings = [(transaction_id, funding, -sum(amounts), None)] + [
        (transaction_id, account[0], amount, None)
        for account, amount in zip(accounts[1:], amounts, strict=True)
    ]
    payout_accounts = [
        (
            uuid.uuid4(),
            owner,
            "Creator",
            IBAN,
            BIC,
            "DE",
            now,
            now,
            None,
            "c@example.org",
            None,
            None,
            0,
        )
        for owner in owners
    ]
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("SET search_path TO licensing")
        await connection.copy_records_to_table(
            "ledger_account",
            records=accounts,
            columns=["id", "kind", "owner_id", "currency", "balance_minor", "created_at"],
        )
        await connection.execute(
            """INSERT INTO ledger_transaction (id, kind, currency, recorded_by, recorded_at)
               VALUES ($1, 'top_up', 'EUR', $1, $2)""",
            transaction_id,
            now,
        )
        await connection.copy_records_to_table(
            "ledger_posting",
            records=postings,
            columns=["transaction_id", "account_id", "amount_minor", "work_id"],
        )
        await connection.copy_records_to_table(
            "payout_account",
            records=payout_accounts,
            columns=[
                "id",
                "creator_id",
                "holder",
                "iban",
                "bic",
                "bank_country",
                "requested_at",
                "confirmed_at",
                "superseded_at",
                "email",
                "mailed_at",
                "mail_due_at",
                "mail_attempts",
            ],
        )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    return sum(amounts)


class PeakResident:
    """The process's resident size sampled every 5 ms from /proc: its peak above what it
    was when sampling began (the kernel's own peak counts the imports too)."""

    def __init__(self) -> None:
        self._page = os.sysconf("SC_PAGE_SIZE")
        self.start = self.peak = self._resident()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _resident(self) -> int:
        return int(Path("/proc/self/statm").read_text().split()[1]) * self._page

    def _sample(self) -> None:
        while not self._done.wait(0.005):
            self.peak = max(self.peak, self._resident())

    def stop(self) -> float:
        """The peak above the start, in MiB."""
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, self._resident())
        return (self.peak - self.start) / 2**20


async def _run_side(url: str, batch: int) -> dict[str, Any]:
    engine = create_engine(url, schema="licensing", pool_size=2)
    sessionmaker = create_sessionmaker(engine)
    runs = PayoutRunService(
        LedgerService(KnownAccounts()),
        Debtor(*PLATFORM),
        minimums={"EUR": 1_000},
        batch=batch,
        file_transfers=FILE_TRANSFERS,
    )
    admin = Caller(subject=str(uuid.uuid4()), roles=frozenset({Role.ADMIN}), issuer="gateway")
    resident = PeakResident()
    began = time.perf_counter()
    async with sessionmaker() as session, session.begin():
        started = await runs.start(session, admin, PayoutRunIn())
    while True:
        async with sessionmaker() as session, session.begin():
            if not await runs.step(session):
                break
    seconds = time.perf_counter() - began
    peak = resident.stop()
    async with sessionmaker() as session:
        run = await session.get(PayoutRun, started.id)
        assert run is not None
        payments, total = run.payments, run.total_minor
        transfers = sum(
            xml.count("<CdtTrfTxInf>")
            for xml in await session.scalars(
                select(PayoutFile.xml).where(PayoutFile.run_id == run.id)
            )
        )
    await engine.dispose()
    return {
        "seconds": seconds,
        "peak_mib": peak,
        "rows": payments,
        "total_minor": total,
        "transfers": transfers,
    }


async def _csv_side(dsn: str) -> dict[str, Any]:
    resident = PeakResident()
    began = time.perf_counter()
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            """SELECT a.owner_id, sum(p.amount_minor) AS owed, pa.holder, pa.iban, pa.bic
               FROM licensing.ledger_account a
               JOIN licensing.ledger_posting p ON p.account_id = a.id
               JOIN licensing.payout_account pa ON pa.creator_id = a.owner_id
               WHERE a.kind = 'creator_payable' AND a.currency = 'EUR'
               GROUP BY a.owner_id, pa.holder, pa.iban, pa.bic
               ORDER BY a.owner_id"""
        )
    finally:
        await connection.close()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["creator_id", "amount_minor", "holder", "iban", "bic"])
    writer.writerows(
        (row["owner_id"], row["owed"], row["holder"], row["iban"], row["bic"]) for row in rows
    )
    seconds = time.perf_counter() - began
    return {
        "seconds": seconds,
        "peak_mib": resident.stop(),
        "rows": len(rows),
        "total_minor": sum(int(row["owed"]) for row in rows),
        "transfers": len(rows),
    }


def _side(side: str, url: str, dsn: str, batch: int, answer: Any) -> None:
    coroutine = _run_side(url, batch) if side == "run" else _csv_side(dsn)
    answer.put(asyncio.run(coroutine))


def measure(side: str, url: str, dsn: str, batch: int) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    answer = context.Queue()
    process = context.Process(target=_side, args=(side, url, dsn, batch, answer))
    process.start()
    result: dict[str, Any] = answer.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creators", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    arguments = parser.parse_args()
    with scratch_database("bench_payouts") as dsn:
        url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
        with tempfile.TemporaryDirectory() as data_dir:
            migrate(
                stack_environment(
                    data_dir=Path(data_dir), port=1, base={"ASSENT_DATABASE_URL": url}
                )
            )
        owed = asyncio.run(seed(dsn, arguments.creators))
        print(f"{arguments.creators:,} creators seeded, {owed / 100:,.2f} EUR owed")
        baseline = measure("csv", url, dsn, arguments.batch)
        payout = measure("run", url, dsn, arguments.batch)
    print(f"{'side':<6} {'seconds':>9} {'peak MiB':>9} {'rows':>8} {'total EUR':>14}")
    for name, side in (("csv", baseline), ("run", payout)):
        print(
            f"{name:<6} {side['seconds']:>9.2f} {side['peak_mib']:>9.1f} {side['rows']:>8,}"
            f" {side['total_minor'] / 100:>14,.2f}"
        )
    print(
        f"run/csv: time x{payout['seconds'] / baseline['seconds']:.1f}, "
        f"peak memory x{payout['peak_mib'] / max(baseline['peak_mib'], 0.1):.1f}"
    )
    checked = payout["transfers"] == arguments.creators and payout["total_minor"] == owed
    print(f"pain.001 validated by sepaxml; one transfer per creator, totals tie: {checked}")
    if not checked:
        sys.exit(1)


if __name__ == "__main__":
    main()
