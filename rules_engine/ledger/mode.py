"""What a ledger is for, fixed when it is created (migration 0011) and recorded in the audit chain.

Only a 测试 or 演示 ledger accepts a simulated clock (MIANSHEN_CLOCK): on a production ledger a
notice period is judged by the server's date, whatever the environment of the moment says.
`MIANSHEN_LEDGER_MODE=test|demo` is read once, by the migration that creates an empty ledger; a
ledger with history is production. Changing the stored mode afterwards is reported by
`audit verify` (it disagrees with the audited entry).
"""

from __future__ import annotations

import os

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import Invalid
from .models import LedgerSetting

CREATE_ENV = "MIANSHEN_LEDGER_MODE"
CLOCK_ENV = "MIANSHEN_CLOCK"
MODES = {"production": "生产", "test": "测试", "demo": "演示"}


def mode(s: Session) -> str:
    value = s.scalar(select(LedgerSetting.value).where(LedgerSetting.key == "mode"))
    return value if value in MODES else "production"


def simulated_clock_allowed(s: Session) -> bool:
    return mode(s) in ("test", "demo")


def refuse_simulated_clock(s: Session) -> None:
    """A production ledger is never opened, nor written, under a simulated clock."""
    raw = os.environ.get(CLOCK_ENV, "").strip()
    if raw and not simulated_clock_allowed(s):
        raise Invalid(f"本账本为生产账本，不接受模拟时钟 {CLOCK_ENV}={raw}：公示期与审批只按服务器日期。"
                      f"测试或演示请使用新建的测试/演示账本（新建时设置 {CREATE_ENV}=test 或 demo）")
