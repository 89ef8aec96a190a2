"""A ledger knows what it is for: 生产 (production), 测试 (test) or 演示 (demo), decided once when
it is created and recorded in the audit chain. Only a test or demo ledger accepts a simulated
clock (MIANSHEN_CLOCK); a ledger that already has history becomes a production ledger, whatever
the environment says at upgrade time.

Revision ID: 0011
Revises: 0010
"""

import datetime as dt
import hashlib
import json
import os

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


# as in rules_engine/ledger/mode.py and audit.py, frozen here: a migration does not import the
# package it migrates (tests/test_ledger.py checks the entry it writes verifies)
CREATE_ENV = "MIANSHEN_LEDGER_MODE"
MODES = ("production", "test", "demo")
GENESIS = "0" * 64


def _entry_hash(seq: int, at: str, actor: str, action: str, subject: str, details: str, prev_hash: str) -> str:
    body = json.dumps([seq, at, actor, action, subject, details, prev_hash], ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def upgrade() -> None:
    op.create_table(
        "ledger_settings",
        sa.Column("key", sa.String(32), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
    )
    bind = op.get_bind()
    last = bind.execute(sa.text("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")).first()
    asked = os.environ.get(CREATE_ENV, "").strip() or "production"
    if asked not in MODES:
        raise ValueError(f"{CREATE_ENV} 应为 {'、'.join(MODES)} 之一，而不是 {asked!r}")
    mode = "production" if last is not None else asked
    seq, prev = (last[0] + 1, last[1]) if last is not None else (1, GENESIS)
    at = dt.datetime.now().isoformat(timespec="microseconds")
    details = json.dumps({"mode": mode, "reason": "账本建立时确定用途" if last is None else "已有记录的账本升级为生产账本"},
                         ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    bind.execute(sa.text("INSERT INTO ledger_settings (key, value) VALUES ('mode', :m)"), {"m": mode})
    bind.execute(sa.text("INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash) "
                         "VALUES (:seq, :at, 'system', 'ledger_mode', 'ledger', :d, :prev, :h)"),
                 {"seq": seq, "at": at, "d": details, "prev": prev,
                  "h": _entry_hash(seq, at, "system", "ledger_mode", "ledger", details, prev)})


def downgrade() -> None:
    op.drop_table("ledger_settings")
