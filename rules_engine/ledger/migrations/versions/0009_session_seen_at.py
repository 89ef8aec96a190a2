"""Person sessions remember when they were last used (30 minutes idle ends them), so that a
web session can be resumed after a page refresh.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_sessions") as batch:
        batch.add_column(sa.Column("seen_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_sessions") as batch:
        batch.drop_column("seen_at")
