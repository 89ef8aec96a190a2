"""Numbers as policy texts write them, read exactly: 30万元, 1.5亿, 二十万元, 百分之十, 0.1%.
Chinese numerals go through cn2an; every result is a Decimal, never a float."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

CN_DIGITS = "零〇一二两三四五六七八九"
DIGIT_VALUE = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
CN_NUM = f"[{CN_DIGITS}十百千]+(?:点[{CN_DIGITS}]+)?"
AR_NUM = r"\d+(?:,\d{3})*(?:\.\d+)?"
MAGNITUDES = {"千万": Decimal(10) ** 7, "百万": Decimal(10) ** 6, "万": Decimal(10) ** 4, "亿": Decimal(10) ** 8,
              "千": Decimal(1000)}
UNITS = ("元", "%", "人", "名", "件", "项", "个月", "月", "年", "天", "日", "户", "家", "个", "倍", "次")

# one quantity: a number, a magnitude, a unit; 百分之十 is a percentage written out
QUANTITY = re.compile(
    rf"百分之(?P<pct>{AR_NUM}|{CN_NUM})"
    rf"|(?P<num>{AR_NUM}|{CN_NUM})(?P<mag>千万|百万|万|亿|千(?=元))?(?P<unit>{'|'.join(UNITS)})?")


@dataclass(frozen=True)
class Quantity:
    value: Decimal  # in yuan for money, in percent points for %, else as written
    unit: str  # 元 | % | 人 | 件 | 月 | 年 | ... | "" (a bare number)
    start: int
    end: int

    @property
    def money(self) -> bool:
        return self.unit == "元"


def cn_number(text: str) -> Decimal | None:
    """二十 → 20, 一点五 → 1.5, 两 → 2; None when it is not a numeral."""
    import cn2an

    whole, _, frac = text.partition("点")
    try:
        value = Decimal(int(cn2an.cn2an(whole, "normal"))) if whole else Decimal(0)
    except (ValueError, KeyError, TypeError, IndexError, InvalidOperation):
        return None
    if frac:
        digits = "".join(str(DIGIT_VALUE[c]) for c in frac)
        value += Decimal("0." + digits)
    return value


def number(text: str) -> Decimal | None:
    if re.fullmatch(AR_NUM, text):
        return Decimal(text.replace(",", ""))
    return cn_number(text)


def quantities(text: str, offset: int = 0) -> list[Quantity]:
    """Every quantity in `text`, its value exact. 万 and 亿 without 元 still count as money when
    they follow the number directly (达到1亿、5亿); a bare Chinese numeral without unit is not
    a quantity (一次性, 一企一策)."""
    out = []
    dates = [(d.start(), d.end()) for d in DATE.finditer(text)]
    for m in QUANTITY.finditer(text):
        if any(a < m.end() and m.start() < b for a, b in dates):
            continue  # part of a date: the date reader reads it
        if m.group("pct") is not None:
            v = number(m.group("pct"))
            if v is not None:
                out.append(Quantity(v, "%", m.start() + offset, m.end() + offset))
            continue
        raw, mag, unit = m.group("num"), m.group("mag"), m.group("unit") or ""
        if not re.fullmatch(AR_NUM, raw) and not mag and not unit:
            continue
        if not re.fullmatch(AR_NUM, raw) and len(raw) == 1 and raw in "一两" and unit in ("次", "个", "家", "名", "项", "件"):
            continue  # 一次性, 一个, 一家: a word, not a count
        v = number(raw)
        if v is None:
            continue
        if mag:
            v *= MAGNITUDES[mag]
            if not unit:
                unit = "元"  # 1亿、5亿: the magnitude names money in a policy text
        if unit == "名":
            unit = "人"
        elif unit == "项":
            unit = "件"
        elif unit == "个月":
            unit = "月"
        out.append(Quantity(Decimal(int(v)) if v == v.to_integral_value() else v, unit, m.start() + offset, m.end() + offset))
    return out


def literal(value: Decimal) -> str:
    """A value as the policy language writes it: 5000000 → 500万, 150000000 → 1.5亿."""
    value = value.normalize()
    if value >= 10 ** 8 and (value / 10 ** 8) == (value / 10 ** 8).quantize(Decimal("0.0001")):
        return f"{_plain(value / 10 ** 8)}亿"
    if value >= 10 ** 4 and (value / 10 ** 4) == (value / 10 ** 4).quantize(Decimal("0.01")):
        return f"{_plain(value / 10 ** 4)}万"
    return _plain(value)


def _plain(v: Decimal) -> str:
    s = format(v.normalize(), "f")
    return s


DATE = re.compile(r"(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日")
