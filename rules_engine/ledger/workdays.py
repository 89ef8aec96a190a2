"""Working days by the official calendar: statutory holidays and 调休 make-up working days
(the State Council's annual notice, as kept by the `chinesecalendar` package), with a local
file for overrides (MIANSHEN_HOLIDAYS: lines of `YYYY-MM-DD holiday` or `YYYY-MM-DD workday`,
e.g. a city's own day off). A local line wins; a year the package does not cover yet counts
Monday to Friday until the file (or a newer package) says otherwise, and `coverage` says so.
公示 periods and 兑现时限 use the same calendar.
"""

from __future__ import annotations

import datetime as dt
import os
from functools import cache

import chinese_calendar


@cache
def _local(path: str | None) -> tuple[frozenset[dt.date], frozenset[dt.date]]:
    holidays: set[dt.date] = set()
    workdays: set[dt.date] = set()
    if path:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                parts = line.split("#")[0].split()
                if len(parts) == 2:
                    (holidays if parts[1] == "holiday" else workdays).add(dt.date.fromisoformat(parts[0]))
    return frozenset(holidays), frozenset(workdays)


def official(d: dt.date) -> bool | None:
    """The official calendar's answer, or None for a year it does not cover."""
    try:
        return bool(chinese_calendar.is_workday(d))
    except NotImplementedError:
        return None


def coverage(year: int) -> bool:
    return official(dt.date(year, 6, 1)) is not None


def is_working_day(d: dt.date) -> bool:
    holidays, workdays = _local(os.environ.get("MIANSHEN_HOLIDAYS"))
    if d in workdays:
        return True
    if d in holidays:
        return False
    known = official(d)
    return d.weekday() < 5 if known is None else known


def first_working_day(d: dt.date) -> dt.date:
    """`d` itself if it is a working day, else the next one."""
    while not is_working_day(d):
        d += dt.timedelta(days=1)
    return d


def add_working_days(start: dt.date, n: int) -> dt.date:
    """The date of the n-th working day after `start`, so that
    working_days_between(start, add_working_days(start, n)) == n from any day, a Saturday too
    (it once moved to Monday first and then added n: one day more than was counted)."""
    d = start
    for _ in range(n):
        d = first_working_day(d + dt.timedelta(days=1))
    return d


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Working days after `start` up to and including `end` (0 if end is not after start)."""
    n = 0
    d = start
    while d < end:
        d += dt.timedelta(days=1)
        n += is_working_day(d)
    return n
