"""The server's clock. No caller passes the date a notice period is judged by: approval inside
the 公示 period must be impossible whatever a user types. A test or demo ledger (fixed when it
was created, ledger/mode.py) accepts MIANSHEN_CLOCK=YYYY-MM-DD; every transition made under it
says so in the audit log, and a production ledger refuses to open or write under it."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from ..errors import Invalid
from ..ledger.mode import CLOCK_ENV as ENV


def override() -> dt.date | None:
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise Invalid(f"{ENV} 应为 YYYY-MM-DD 格式的日期，而不是 {raw!r}") from None


def today() -> dt.date:
    return override() or dt.date.today()


def now() -> dt.datetime:
    day = override()
    real = dt.datetime.now()
    return real if day is None else dt.datetime.combine(day, real.time())


def stamp() -> dict[str, Any]:
    """What the audit entry of a transition records about the clock it used."""
    day = override()
    return {} if day is None else {"clock_override": day.isoformat()}
