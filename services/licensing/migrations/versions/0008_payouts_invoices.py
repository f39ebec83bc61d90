"""payouts, bank statements and references, billing details and invoices

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 02:45:01.265989
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.kit.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bank_reference",
        sa.Column("buyer_id", sa.Uuid(), nullable=False),
        sa.Column("reference", sa.String(length=25), nullable=False),
        sa.PrimaryKeyConstraint("buyer_id", name=op.f("pk_bank_reference")),
        sa.UniqueConstraint("reference", name=op.f("uq_bank_reference_reference")),
    )
    op.create_table(
        "bank_statement",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("statement_id", sa.String(length=100), nullable=False),
        sa.Column("imported_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("imported_by", sa.Uuid(), nullable=False),
        sa.Column("paid", sa.Integer(), nullable=False),
        sa.Column("returned", sa.Integer(), nullable=False),
        sa.Column("credited", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_statement")),
        sa.UniqueConstraint("statement_id", name=op.f("uq_bank_statement_statement_id")),
    )
    op.create_table(
        "billing_profile",
        sa.Column("buyer_id", sa.Uuid(), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("vat_id", sa.String(length=20), nullable=True),
        sa.Column("updated_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("buyer_id", name=op.f("pk_billing_profile")),
    )
    op.create_table(
        "invoice",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=True),
        sa.Column("buyer_id", sa.Uuid(), nullable=False),
        sa.Column("licence_id", sa.Uuid(), nullable=True),
        sa.Column("period", sa.Date(), nullable=True),
        sa.Column("issued_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("net_minor", sa.BigInteger(), nullable=False),
        sa.Column("vat_minor", sa.BigInteger(), nullable=False),
        sa.Column("vat_rate_bps", sa.Integer(), nullable=False),
        sa.Column(
            "vat_treatment",
            sa.Enum(
                "charged",
                "reverse_charge",
                "outside_scope",
                "not_determined",
                name="vattreatment",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("buyer_name", sa.String(length=200), nullable=False),
        sa.Column("buyer_address", sa.String(length=200), nullable=True),
        sa.Column("buyer_country", sa.String(length=2), nullable=True),
        sa.Column("buyer_vat_id", sa.String(length=20), nullable=True),
        sa.Column("seller_name", sa.String(length=200), nullable=False),
        sa.Column("seller_address", sa.String(length=200), nullable=False),
        sa.Column("seller_country", sa.String(length=2), nullable=False),
        sa.Column("seller_vat_id", sa.String(length=20), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice")),
        sa.UniqueConstraint("licence_id", name=op.f("uq_invoice_licence_id")),
        sa.UniqueConstraint("number", name=op.f("uq_invoice_number")),
    )
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.create_index("ix_invoice_buyer_issued", ["buyer_id", "issued_at"], unique=False)
        batch_op.create_index(
            "ix_invoice_unnumbered",
            ["issued_at", "id"],
            unique=False,
            postgresql_where=sa.text("number IS NULL"),
            sqlite_where=sa.text("number IS NULL"),
        )

    op.create_table(
        "invoice_counter",
        sa.Column("series", sa.String(length=10), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("series", name=op.f("pk_invoice_counter")),
    )
    op.create_table(
        "payout_account",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("creator_id", sa.Uuid(), nullable=False),
        sa.Column("holder", sa.String(length=70), nullable=False),
        sa.Column("iban", sa.String(length=34), nullable=False),
        sa.Column("bic", sa.String(length=11), nullable=False),
        sa.Column("bank_country", sa.String(length=2), nullable=False),
        sa.Column("requested_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", services.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("superseded_at", services.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("mailed_at", services.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("mail_due_at", services.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("mail_attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout_account")),
    )
    with op.batch_alter_table("payout_account", schema=None) as batch_op:
        batch_op.create_index(
            "ix_payout_account_creator", ["creator_id", "confirmed_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_payout_account_mail_due_at"), ["mail_due_at"], unique=False
        )

    op.create_table(
        "payout_run",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "state",
            sa.Enum("running", "ready", name="payoutrunstate", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("started_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_by", sa.Uuid(), nullable=True),
        sa.Column("execution_date", sa.Date(), nullable=False),
        sa.Column("minimum_minor", sa.BigInteger(), nullable=False),
        sa.Column("payments", sa.Integer(), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("skipped_without_account", sa.Integer(), nullable=False),
        sa.Column("decided_through", sa.Uuid(), nullable=True),
        sa.Column("decided", sa.Boolean(), nullable=False),
        sa.Column("filed_through", sa.String(length=35), nullable=True),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout_run")),
    )
    with op.batch_alter_table("payout_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payout_run_started_at"), ["started_at"], unique=False)
        batch_op.create_index(
            "uq_payout_run_running",
            ["currency"],
            unique=True,
            postgresql_where=sa.text("state = 'running'"),
            sqlite_where=sa.text("state = 'running'"),
        )

    op.create_table(
        "bank_entry",
        sa.Column("entry_reference", sa.String(length=100), nullable=False),
        sa.Column("statement_id", sa.Uuid(), nullable=False),
        sa.Column("matched", sa.String(length=35), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.ForeignKeyConstraint(
            ["statement_id"],
            ["bank_statement.id"],
            name=op.f("fk_bank_entry_statement_id_bank_statement"),
        ),
        sa.PrimaryKeyConstraint("entry_reference", name=op.f("pk_bank_entry")),
    )
    with op.batch_alter_table("bank_entry", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bank_entry_statement_id"), ["statement_id"], unique=False
        )

    op.create_table(
        "invoice_item",
        sa.Column("licence_id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=True),
        sa.Column("buyer_id", sa.Uuid(), nullable=False),
        sa.Column("issued_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("net_minor", sa.BigInteger(), nullable=False),
        sa.Column("vat_minor", sa.BigInteger(), nullable=False),
        sa.Column("vat_rate_bps", sa.Integer(), nullable=False),
        sa.Column(
            "vat_treatment",
            sa.Enum(
                "charged",
                "reverse_charge",
                "outside_scope",
                "not_determined",
                name="vattreatment",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("buyer_name", sa.String(length=200), nullable=False),
        sa.Column("buyer_address", sa.String(length=200), nullable=True),
        sa.Column("buyer_country", sa.String(length=2), nullable=True),
        sa.Column("buyer_vat_id", sa.String(length=20), nullable=True),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoice.id"], name=op.f("fk_invoice_item_invoice_id_invoice")
        ),
        sa.PrimaryKeyConstraint("licence_id", name=op.f("pk_invoice_item")),
    )
    with op.batch_alter_table("invoice_item", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_invoice_item_invoice_id"), ["invoice_id"], unique=False
        )
        batch_op.create_index(
            "ix_invoice_item_open",
            ["issued_at"],
            unique=False,
            postgresql_where=sa.text("invoice_id IS NULL"),
            sqlite_where=sa.text("invoice_id IS NULL"),
        )

    op.create_table(
        "payout_file",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=35), nullable=False),
        sa.Column("transfers", sa.Integer(), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("xml", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["payout_run.id"], name=op.f("fk_payout_file_run_id_payout_run")
        ),
        sa.PrimaryKeyConstraint("run_id", "sequence", name=op.f("pk_payout_file")),
    )
    op.create_table(
        "payout_payment",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("creator_id", sa.Uuid(), nullable=False),
        sa.Column("end_to_end_id", sa.String(length=35), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("holder", sa.String(length=70), nullable=False),
        sa.Column("iban", sa.String(length=34), nullable=False),
        sa.Column("bic", sa.String(length=11), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "in_payment", "paid", "returned", name="paymentstate", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("return_reason", sa.String(length=200), nullable=True),
        sa.Column("settled_at", services.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["payout_account.id"],
            name=op.f("fk_payout_payment_account_id_payout_account"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["payout_run.id"], name=op.f("fk_payout_payment_run_id_payout_run")
        ),
        sa.PrimaryKeyConstraint("run_id", "creator_id", name=op.f("pk_payout_payment")),
        sa.UniqueConstraint("end_to_end_id", name=op.f("uq_payout_payment_end_to_end_id")),
    )
    with op.batch_alter_table("payout_payment", schema=None) as batch_op:
        batch_op.create_index("ix_payout_payment_creator", ["creator_id", "run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("payout_payment", schema=None) as batch_op:
        batch_op.drop_index("ix_payout_payment_creator")

    op.drop_table("payout_payment")
    op.drop_table("payout_file")
    with op.batch_alter_table("invoice_item", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_invoice_item_open",
            postgresql_where=sa.text("invoice_id IS NULL"),
            sqlite_where=sa.text("invoice_id IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_invoice_item_invoice_id"))

    op.drop_table("invoice_item")
    with op.batch_alter_table("bank_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bank_entry_statement_id"))

    op.drop_table("bank_entry")
    with op.batch_alter_table("payout_run", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_payout_run_running",
            postgresql_where=sa.text("state = 'running'"),
            sqlite_where=sa.text("state = 'running'"),
        )
        batch_op.drop_index(batch_op.f("ix_payout_run_started_at"))

    op.drop_table("payout_run")
    with op.batch_alter_table("payout_account", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payout_account_mail_due_at"))
        batch_op.drop_index("ix_payout_account_creator")

    op.drop_table("payout_account")
    op.drop_table("invoice_counter")
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_invoice_unnumbered",
            postgresql_where=sa.text("number IS NULL"),
            sqlite_where=sa.text("number IS NULL"),
        )
        batch_op.drop_index("ix_invoice_buyer_issued")

    op.drop_table("invoice")
    op.drop_table("billing_profile")
    op.drop_table("bank_statement")
    op.drop_table("bank_reference")
