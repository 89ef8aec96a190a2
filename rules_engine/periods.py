"""Periods of periodic facts: which year, quarter or month a delivered value is for.

A periodic tag (纳税总额, 营业收入, 研发费用...) is stored once per period it was delivered for,
in a column named `tag@period` (a *slot*: `tax_paid@2025`, `tax_q@2025Q1`, `power@2025-03`).
A condition names the period relative to the evaluation date (`tax_paid[上年]`) or absolutely
(`tax_paid[2025]`); `ir.at` resolves it to the slot before any backend runs, so a missing year
is a missing column value (unknown) and no other year can stand in for it.

This module imports nothing of the package: the calendar is the ground floor.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum


class PeriodKind(StrEnum):
    INSTANT = "instant"  # a status or a date: one current value, as before periods
    YEAR = "year"
    QUARTER = "quarter"
    MONTH = "month"

    @property
    def zh(self) -> str:
        return {"instant": "时点", "year": "年度", "quarter": "季度", "month": "月度"}[self.value]


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """One calendar period. `index` is the quarter (1-4) or month (1-12); 0 for a year."""

    kind: PeriodKind
    year: int
    index: int = 0

    @property
    def text(self) -> str:
        if self.kind is PeriodKind.QUARTER:
            return f"{self.year}Q{self.index}"
        if self.kind is PeriodKind.MONTH:
            return f"{self.year}-{self.index:02d}"
        return str(self.year)

    @property
    def zh(self) -> str:
        if self.kind is PeriodKind.QUARTER:
            return f"{self.year}年第{self.index}季度"
        if self.kind is PeriodKind.MONTH:
            return f"{self.year}年{self.index}月"
        return f"{self.year}年度"

    @property
    def start(self) -> dt.date:
        if self.kind is PeriodKind.QUARTER:
            return dt.date(self.year, 3 * self.index - 2, 1)
        if self.kind is PeriodKind.MONTH:
            return dt.date(self.year, self.index, 1)
        return dt.date(self.year, 1, 1)

    def shift(self, n: int) -> Period:
        """The period n periods later (n < 0: earlier)."""
        if self.kind is PeriodKind.YEAR:
            return Period(self.kind, self.year + n)
        per = 4 if self.kind is PeriodKind.QUARTER else 12
        k = self.year * per + (self.index - 1) + n
        return Period(self.kind, k // per, k % per + 1)


def containing(kind: PeriodKind, day: dt.date) -> Period:
    """The period of `kind` that contains `day` (本年, 本季度, 本月)."""
    if kind is PeriodKind.QUARTER:
        return Period(kind, day.year, (day.month - 1) // 3 + 1)
    if kind is PeriodKind.MONTH:
        return Period(kind, day.year, day.month)
    return Period(PeriodKind.YEAR, day.year)


CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
             "八": 8, "九": 9}
FULL_WIDTH = str.maketrans("０１２３４５６７８９ＱｑＹｙ－", "0123456789QqYy-")


def _small_number(text: str) -> int | None:
    """1-99 in Arabic or Chinese numerals (三, 十二, 二十四)."""
    if text.isascii() and text.isdigit():
        return int(text)
    if not text or any(c not in CN_DIGITS and c != "十" for c in text):
        return None
    if "十" not in text:
        return CN_DIGITS[text] if len(text) == 1 else None
    tens, _, ones = text.partition("十")
    t = CN_DIGITS.get(tens, -1) if tens else 1
    o = CN_DIGITS.get(ones, -1) if ones else 0
    return t * 10 + o if t >= 0 and o >= 0 and "十" not in ones else None


YEAR_RE = re.compile(r"^(\d{4})\s*(?:年度?)?$")
QUARTER_RE = re.compile(r"^(\d{4})\s*(?:[Qq]|-?[Qq]|年\s*第?\s*)([0-9一二三四])\s*(?:季度?)?$")
MONTH_RE = re.compile(r"^(\d{4})\s*(?:[-/.]|年)\s*(\d{1,2})\s*(?:月份?)?$")
MIN_YEAR, MAX_YEAR = 1949, 2199


def parse_period(text: object) -> Period:
    """An absolute period as a department file or a condition writes it: 2025, 2025年, 2025年度,
    2025Q1, 2025-Q1, 2025年第1季度, 2025-03, 2025年3月. Raises ValueError (Chinese) otherwise:
    relative words (去年) have no meaning in a data file."""
    raw = str(text).strip().translate(FULL_WIDTH)
    if isinstance(text, int) and not isinstance(text, bool):
        raw = str(text)
    if isinstance(text, float) and text == int(text):  # 2025.0 from a spreadsheet
        raw = str(int(text))
    if m := YEAR_RE.match(raw):
        p = Period(PeriodKind.YEAR, int(m.group(1)))
    elif m := QUARTER_RE.match(raw):
        q = _small_number(m.group(2))
        if q is None or not 1 <= q <= 4:
            raise ValueError(f"季度应为 1 到 4，而不是 {m.group(2)!r}")
        p = Period(PeriodKind.QUARTER, int(m.group(1)), q)
    elif m := MONTH_RE.match(raw):
        month = int(m.group(2))
        if not 1 <= month <= 12:
            raise ValueError(f"月份应为 1 到 12，而不是 {m.group(2)!r}")
        p = Period(PeriodKind.MONTH, int(m.group(1)), month)
    else:
        raise ValueError(f"{str(text)[:40]!r} 不是期间；应写明具体年度、季度或月份，如 2025、2025Q1、2025-03"
                         "（「去年」「上季度」等相对说法不能用于数据文件）")
    if not MIN_YEAR <= p.year <= MAX_YEAR:
        raise ValueError(f"年份 {p.year} 超出范围")
    return p


# Relative periods as a condition writes them: offset from the evaluation date's own period.
RELATIVE = {
    "本年": (PeriodKind.YEAR, 0), "今年": (PeriodKind.YEAR, 0), "当年": (PeriodKind.YEAR, 0),
    "上年": (PeriodKind.YEAR, -1), "去年": (PeriodKind.YEAR, -1), "上一年": (PeriodKind.YEAR, -1),
    "上年度": (PeriodKind.YEAR, -1), "前年": (PeriodKind.YEAR, -2), "大前年": (PeriodKind.YEAR, -3),
    "本季度": (PeriodKind.QUARTER, 0), "当季": (PeriodKind.QUARTER, 0), "上季度": (PeriodKind.QUARTER, -1),
    "上一季度": (PeriodKind.QUARTER, -1),
    "本月": (PeriodKind.MONTH, 0), "当月": (PeriodKind.MONTH, 0), "上月": (PeriodKind.MONTH, -1),
    "上个月": (PeriodKind.MONTH, -1),
}
RELATIVE_ZH = {v: k for k, v in reversed(list(RELATIVE.items()))}  # the first spelling of each
WINDOW_RE = re.compile(r"^近\s*([0-9一二三四五六七八九十两]+)\s*(年|个?季度|个?月)$")
WINDOW_UNITS = {"年": PeriodKind.YEAR, "季度": PeriodKind.QUARTER, "个季度": PeriodKind.QUARTER,
                "月": PeriodKind.MONTH, "个月": PeriodKind.MONTH}
MAX_WINDOW = 24


@dataclass(frozen=True, slots=True)
class Relative:
    """A period named in a condition: `offset` periods from the evaluation date's, or `fixed`."""

    kind: PeriodKind
    offset: int = 0
    fixed: Period | None = None

    def at(self, as_of: dt.date) -> Period:
        return self.fixed if self.fixed is not None else containing(self.kind, as_of).shift(self.offset)

    @property
    def zh(self) -> str:
        if self.fixed is not None:
            return self.fixed.zh
        if (self.kind, self.offset) in RELATIVE_ZH:
            return RELATIVE_ZH[(self.kind, self.offset)]
        unit = {PeriodKind.QUARTER: "个季度", PeriodKind.MONTH: "个月"}.get(self.kind, "年")
        return f"{-self.offset}{unit}前" if self.offset < 0 else f"{self.offset}{unit}后"


def parse_relative(text: str) -> Relative:
    """`上年`, `前年`, `本年`, `上季度`, `上月`, or an absolute period. ValueError otherwise."""
    t = text.strip().translate(FULL_WIDTH)
    if t in RELATIVE:
        kind, offset = RELATIVE[t]
        return Relative(kind, offset)
    try:
        p = parse_period(t)
    except ValueError:
        raise ValueError(f"{text!r} 不是期间；可写 上年、前年、本年、上季度、上月，或具体的 2025、2025Q1、2025-03") from None
    return Relative(p.kind, fixed=p)


def parse_window(text: str) -> tuple[PeriodKind, int]:
    """`近3年`, `近三年`, `近4个季度`, `近12个月`: the last N complete periods before the
    evaluation date's (近3年 on 2026-06-30 is 2023, 2024 and 2025)."""
    m = WINDOW_RE.match(text.strip().translate(FULL_WIDTH))
    n = _small_number(m.group(1)) if m else None
    if m is None or n is None:
        raise ValueError(f"{text!r} 不是期间范围；应写如 近3年、近三年、近4个季度、近12个月")
    if not 1 <= n <= MAX_WINDOW:
        raise ValueError(f"期间范围应为 1 到 {MAX_WINDOW} 个期间，而不是 {n}")
    return WINDOW_UNITS[m.group(2)], n


# ------------------------------------------------------------------ slots

SLOT_SEP = "@"


def slot(tag: str, period: Period) -> str:
    return f"{tag}{SLOT_SEP}{period.text}"


def split_slot(name: str) -> tuple[str, str]:
    """`tax_paid@2025` -> ("tax_paid", "2025"); a plain tag -> (tag, "")."""
    tag, _, period = name.partition(SLOT_SEP)
    return tag, period


def resolve_ref(text: str, as_of: dt.date) -> str:
    """A tag reference as a policy's budget priority writes it, as the column it reads on
    `as_of`: `revenue[上年]` -> `revenue@2025`; a plain tag or a slot stays as written."""
    name, bracket, rest = text.partition("[")
    if not bracket:
        return text
    return slot(name.strip(), parse_relative(rest.rstrip("]")).at(as_of))
