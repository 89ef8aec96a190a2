"""Payment files as issued and their lines: bank results are bound to what they answer.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payment_files",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("total_fen", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "payment_lines",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("file_id", sa.Integer(), sa.ForeignKey("payment_files.id"), nullable=False),
        sa.Column("payout_id", sa.Integer(), sa.ForeignKey("payouts.id"), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("account", sa.String(40), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("bank_reference", sa.String(64), nullable=True),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("file_id", "payout_id", name="uq_payment_line"),
        sa.UniqueConstraint("bank_reference", name="uq_payment_line_bank_reference"),
    )
    op.create_index("ix_payment_lines_file_id", "payment_lines", ["file_id"])
    op.create_index("ix_payment_lines_payout_id", "payment_lines", ["payout_id"])


def downgrade() -> None:
    op.drop_table("payment_lines")
    op.drop_table("payment_files")
