"""Periods: the history a replay needs (data versions, policy texts, the data a batch read), and
tag names of the snapshot era rewritten to the period they meant.

Before periods, `tax_paid` was 上年纳税总额 and `tax_paid_prev` 前年纳税总额 of whatever date a
value carried. A stored override, supplied value, pending event or application answer under such
a name now names its period: `tax_paid` as of a date in 2026 is `tax_paid@2025`, `tax_paid_prev`
is `tax_paid@2024`. Payout records are left as written (their inputs are read back with the same
rule, see grant.legacy_inputs): they are evidence, and the audit chain covers them.

Revision ID: 0010
Revises: 0009
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# the snapshot tags of the dictionary before periods, and how many years back each meant
LEGACY = {
    "revenue": ("revenue", 1), "total_assets": ("total_assets", 1), "output_value": ("output_value", 1),
    "tax_paid": ("tax_paid", 1), "tax_paid_prev": ("tax_paid", 2), "rd_expense": ("rd_expense", 1),
    "rd_expense_prev": ("rd_expense", 2), "rd_ratio": ("rd_ratio", 1), "export_value": ("export_value", 1),
    "export_value_prev": ("export_value", 2), "tech_renovation_investment": ("tech_renovation_investment", 1),
}


def slot_of(tag: str, day: dt.date) -> str:
    base, back = LEGACY[tag]
    return f"{base}@{day.year - back}"


def _date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def upgrade() -> None:
    op.create_table(
        "data_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
    )
    op.create_table(
        "policy_texts",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("policy_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
    )
    with op.batch_alter_table("batch_runs") as batch:
        batch.add_column(sa.Column("data_version_id", sa.Integer(), nullable=True))

    conn = op.get_bind()
    names = list(LEGACY)
    for table, day_col in (("tag_overrides", "as_of"), ("tag_events", "as_of"), ("supplied_values", "submitted_at")):
        t = sa.table(table, sa.column("tag"), sa.column(day_col), *([sa.column("credit_code")]
                     if table == "tag_overrides" else [sa.column("id")]))
        key = t.c.credit_code if table == "tag_overrides" else t.c.id
        rows = conn.execute(sa.select(key, t.c.tag, t.c[day_col]).where(t.c.tag.in_(names))).all()
        for k, tag, day in rows:
            where = (key == k) & (t.c.tag == tag)
            conn.execute(t.update().where(where).values(tag=slot_of(tag, _date(day))))
    apps = sa.table("applications", sa.column("id"), sa.column("answers", sa.JSON), sa.column("created_at"))
    for app_id, answers, created in conn.execute(sa.select(apps.c.id, apps.c.answers, apps.c.created_at)).all():
        if isinstance(answers, dict) and set(answers) & set(LEGACY):
            new = {slot_of(k, _date(created)) if k in LEGACY else k: v for k, v in answers.items()}
            conn.execute(apps.update().where(apps.c.id == app_id).values(answers=new))


def downgrade() -> None:
    with op.batch_alter_table("batch_runs") as batch:
        batch.drop_column("data_version_id")
    op.drop_table("policy_texts")
    op.drop_table("data_versions")
