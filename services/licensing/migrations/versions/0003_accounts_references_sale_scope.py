"""accounts, payment references, sale scopes

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 18:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.kit.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KINDS = sa.Enum(
    "top_up",
    "sale",
    "refund",
    "payout",
    name="transactionkind",
    native_enum=False,
    length=20,
)


def upgrade() -> None:
    op.create_table(
        "account",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("recorded_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account")),
    )
    reference = op.create_table(
        "ledger_reference",
        sa.Column("kind", _KINDS, nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transaction.id"],
            name=op.f("fk_ledger_reference_transaction_id_ledger_transaction"),
            initially="DEFERRED",
            deferrable=True,
        ),
        sa.PrimaryKeyConstraint("kind", "reference", name=op.f("pk_ledger_reference")),
        sa.UniqueConstraint("transaction_id", name=op.f("uq_ledger_reference_transaction_id")),
    )
    _record_earlier_references(reference)
    op.create_table(
        "sale_scope",
        sa.Column("work_id", sa.Uuid(), nullable=False),
        sa.Column("open_uses", sa.JSON(), nullable=False),
        sa.Column("withdrawn", sa.Boolean(), nullable=False),
        sa.Column("cause_event_id", sa.Uuid(), nullable=False),
        sa.Column("recorded_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("work_id", name=op.f("pk_sale_scope")),
    )


def _record_earlier_references(reference: sa.Table | None) -> None:
    """Top-ups and payouts recorded before references were unique: the first under each
    reference becomes its record, so a late retry of it moves no money again."""
    assert reference is not None
    meta = sa.MetaData()
    transaction = sa.Table(
        "ledger_transaction",
        meta,
        sa.Column("id", sa.Uuid()),
        sa.Column("kind", sa.String(20)),
        sa.Column("reference", sa.String(200)),
        sa.Column("recorded_at", services.kit.db.UTCDateTime(timezone=True)),
    )
    posting = sa.Table(
        "ledger_posting",
        meta,
        sa.Column("id", sa.BigInteger()),
        sa.Column("transaction_id", sa.Uuid()),
        sa.Column("account_id", sa.Uuid()),
        sa.Column("amount_minor", sa.BigInteger()),
    )
    account = sa.Table(
        "ledger_account",
        meta,
        sa.Column("id", sa.Uuid()),
        sa.Column("kind", sa.String(20)),
        sa.Column("owner_id", sa.Uuid()),
        sa.Column("currency", sa.String(3)),
    )
    # The posting that names the payment's account: the buyer credited, the creator paid.
    rows = op.get_bind().execute(
        sa.select(
            transaction.c.kind,
            transaction.c.reference,
            account.c.owner_id,
            sa.func.abs(posting.c.amount_minor),
            account.c.currency,
            transaction.c.id,
        )
        .join(posting, posting.c.transaction_id == transaction.c.id)
        .join(account, account.c.id == posting.c.account_id)
        .where(
            sa.or_(
                sa.and_(transaction.c.kind == "top_up", account.c.kind == "buyer_balance"),
                sa.and_(transaction.c.kind == "payout", account.c.kind == "creator_payable"),
            ),
            transaction.c.reference.is_not(None),
        )
        .order_by(transaction.c.recorded_at, transaction.c.id)
    )
    first: dict[tuple[str, str], dict[str, object]] = {}
    for kind, name, owner_id, amount, currency, transaction_id in rows:
        first.setdefault(
            (kind, name),
            {
                "kind": kind,
                "reference": name,
                "owner_id": owner_id,
                "amount_minor": amount,
                "currency": currency,
                "transaction_id": transaction_id,
            },
        )
    if first:
        op.bulk_insert(reference, list(first.values()))


def downgrade() -> None:
    op.drop_table("sale_scope")
    op.drop_table("ledger_reference")
    op.drop_table("account")
