"""合同履约: signing keys, contract versions and their signatures, milestone decisions, recovery
claims.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signing_keys",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("party", sa.String(16), nullable=False),
        sa.Column("credit_code", sa.String(18)),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("revoked_at", sa.DateTime),
    )
    op.create_table(
        "contracts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("number", sa.String(48), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("credit_code", sa.String(18), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("drafted_by", sa.String(64), nullable=False),
        sa.Column("drafted_at", sa.DateTime, nullable=False),
        sa.Column("in_force_at", sa.DateTime),
        sa.UniqueConstraint("number", "version", name="uq_contract_version"),
    )
    op.create_index("ix_contracts_enterprise", "contracts", ["credit_code"])
    op.create_table(
        "contract_signatures",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("contract_id", sa.Integer, sa.ForeignKey("contracts.id"), nullable=False),
        sa.Column("party", sa.String(16), nullable=False),
        sa.Column("key_id", sa.Integer, sa.ForeignKey("signing_keys.id"), nullable=False),
        sa.Column("signer", sa.String(64), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.Column("signed_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("contract_id", "party", name="uq_contract_party"),
    )
    op.create_index("ix_contract_signatures_contract_id", "contract_signatures", ["contract_id"])
    op.create_table(
        "milestone_checks",
        sa.Column("number", sa.String(48), primary_key=True),
        sa.Column("milestone", sa.String(16), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.Column("checked_at", sa.DateTime, nullable=False),
        sa.Column("payout_id", sa.Integer, sa.ForeignKey("payouts.id")),
    )
    op.create_table(
        "recovery_claims",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("number", sa.String(48), nullable=False),
        sa.Column("milestone", sa.String(16), nullable=False),
        sa.Column("credit_code", sa.String(18), nullable=False),
        sa.Column("amount_fen", sa.BigInteger, nullable=False),
        sa.Column("settled_fen", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("settlements", sa.JSON, nullable=False),
        sa.Column("write_off_by", sa.String(64)),
        sa.Column("write_off_reason", sa.Text),
        sa.UniqueConstraint("number", "milestone", name="uq_claim_milestone"),
    )
    op.create_index("ix_recovery_claims_credit_code", "recovery_claims", ["credit_code"])


def downgrade() -> None:
    for table in ("recovery_claims", "milestone_checks", "contract_signatures", "contracts", "signing_keys"):
        op.drop_table(table)
