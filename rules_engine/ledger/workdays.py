"""Working days for notice periods: Monday to Friday, less the holidays configured.

Holidays (and the weekend days made working days, 调休) come from MIANSHEN_HOLIDAYS, a
file of `YYYY-MM-DD holiday` / `YYYY-MM-DD workday` lines; without it only weekends count.
"""

from __future__ import annotations

import datetime as dt
import os
from functools import cache


@cache
def _calendar(path: str | None) -> tuple[frozenset[dt.date], frozenset[dt.date]]:
    holidays: set[dt.date] = set()
    workdays: set[dt.date] = set()
    if path:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                parts = line.split("#")[0].split()
                if len(parts) == 2:
                    (holidays if parts[1] == "holiday" else workdays).add(dt.date.fromisoformat(parts[0]))
    return frozenset(holidays), frozenset(workdays)


def is_working_day(d: dt.date) -> bool:
    holidays, workdays = _calendar(os.environ.get("MIANSHEN_HOLIDAYS"))
    if d in workdays:
        return True
    return d.weekday() < 5 and d not in holidays


def add_working_days(start: dt.date, n: int) -> dt.date:
    """The date n working days after `start` (start itself counted first if it is a working day)."""
    d = start
    while not is_working_day(d):
        d += dt.timedelta(days=1)
    for _ in range(n):
        d += dt.timedelta(days=1)
        while not is_working_day(d):
            d += dt.timedelta(days=1)
    return d
