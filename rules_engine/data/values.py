"""Typed tag values in natural units, shared by test cases, loaders and the UI.

Natural units: Decimal for numbers and money (yuan), date, bool, str.
Conversion is exact or it fails with a reason; nothing is silently coerced.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from ..ir import Kind, TagType, decimal_scale
from .codes import industry_code_problem

TRUE_WORDS = {"true", "1", "yes", "y", "是", "有", "t"}
FALSE_WORDS = {"false", "0", "no", "n", "否", "无", "f"}
SCALE_SUFFIX = {"万": Decimal(10000), "亿": Decimal(100000000)}


MAX_ABS = Decimal(10) ** 15  # 10^15 yuan is 10^17 fen, far inside int64: no amount overflows downstream
MAX_DIGITS = 28  # Decimal's default precision: more significant digits would round silently
GROUPED = re.compile(r"[+-]?\d{1,3}([,，]\d{3})+(\.\d+)?")


def parse_decimal(raw: object) -> Decimal:
    """A Decimal from text or a number, accepting 万/亿, a trailing % and correctly placed thousands
    separators. Refused with a reason: underscores, misplaced separators, non-finite values,
    more than 28 significant digits, magnitudes of 10^15 or more."""
    if isinstance(raw, bool):
        raise ValueError("应为数值，而不是 true/false")
    if isinstance(raw, Decimal):
        value = raw
    elif isinstance(raw, int):
        value = Decimal(raw)
    elif isinstance(raw, float):
        # repr gives the shortest text that round-trips, so 0.1 stays 0.1
        value = Decimal(repr(raw))
    else:
        text = str(raw).strip()
        mult = Decimal(1)
        if text.endswith("%"):  # a rate in a policy file: 10% is 0.10 (tag values: see coerce)
            text, mult = text[:-1].strip(), Decimal("0.01")
        if text and text[-1] in SCALE_SUFFIX:
            mult *= SCALE_SUFFIX[text[-1]]
            text = text[:-1].strip()
        if GROUPED.fullmatch(text):
            text = text.replace(",", "").replace("，", "")
        if "_" in text or "," in text or "，" in text:
            raise ValueError(f"应为数值（千分位逗号须每三位一组），而不是 {_quote(raw)}")
        if not text.isascii():  # Decimal() reads ٥٠٠٠ and ５０００; a number here is ASCII (data: see datasets._cell)
            digits = any(ch.isdigit() and not ch.isascii() for ch in text)
            raise ValueError(f"应为{'半角阿拉伯数字' if digits else '数值'}，而不是 {_quote(raw)}")
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"应为数值，而不是 {_quote(raw)}") from None
        if value.is_finite() and len(value.as_tuple().digits) > MAX_DIGITS:
            raise ValueError(f"有效数字超过 {MAX_DIGITS} 位，无法精确表示：{_quote(raw)}")
        if value.is_finite() and abs(value) < MAX_ABS:
            value = value * mult
    if not value.is_finite():
        raise ValueError(f"应为有限数值，而不是 {_quote(raw)}")
    if abs(value) >= MAX_ABS:
        raise ValueError(f"数值超出可处理范围（绝对值须小于 10^15）：{_quote(raw)}")
    return value


def _quote(raw: object) -> str:
    text = str(raw)
    return repr(text if len(text) <= 60 else text[:57] + "...")


def parse_money_fen(raw: object) -> int:
    """An amount in yuan (at most two decimals, positive) as integer fen."""
    from ..errors import Invalid

    try:
        value = parse_decimal(raw)
    except ValueError as exc:
        raise Invalid(f"金额{exc}") from None
    if value <= 0 or decimal_scale(value) > 2:
        raise Invalid(f"金额应为正数且最多两位小数（分），而不是 {_quote(raw)}")
    return int(value * 100)


FULL_WIDTH_NUMBERS = str.maketrans({chr(0xFF10 + i): str(i) for i in range(10)} |
                                   {"．": ".", "－": "-", "＋": "+", "，": ",", "％": "%"})
FULL_WIDTH_NUMBER = re.compile("[０-９．－＋％]")
FULL_WIDTH = str.maketrans({chr(0xFF10 + i): str(i) for i in range(10)} |
                           {chr(0xFF21 + i): chr(ord("A") + i) for i in range(26)})
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # C0 controls and DEL; tab and line breaks pass
DATE_TEXT = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]00:00(?::00(?:\.0+)?)?)?")


FIRST_DAY, LAST_DAY = dt.date(1900, 1, 1), dt.date(2099, 12, 31)


def _plausible(day: dt.date, raw: object) -> dt.date:
    """9999-12-31 is some system's 'unknown', 0001-01-01 another's: neither is a date a policy
    can compare with."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"日期 {_quote(raw)} 超出合理范围（{FIRST_DAY} 至 {LAST_DAY}），可能是占位值")
    return day


def coerce(ttype: TagType, raw: object) -> object:
    """A raw value (from YAML, CSV, a form) as this tag's natural value; None stays None."""
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return None
    if isinstance(raw, float) and raw != raw:  # NaN from pandas
        return None
    if isinstance(raw, str) and CONTROL.search(raw):  # a broken export; PostgreSQL cannot even store NUL
        raise ValueError(f"含有控制字符（如 NUL），不能作为数据：{_quote(raw)}")
    kind = ttype.kind
    if kind in (Kind.NUMBER, Kind.MONEY):
        if isinstance(raw, str) and raw.strip().endswith("%"):
            if ttype.unit != "%":  # '5%' of a money or head-count tag is a mistake, not 0.05
                raise ValueError(f"该标签单位为{ttype.unit or '数值'}，不能填百分数：{_quote(raw)}")
            raw = raw.strip()[:-1]
        value = parse_decimal(raw)
        if decimal_scale(value) > ttype.scale:
            raise ValueError(f"小数位数超过 {ttype.scale} 位：{_quote(raw)}")
        if value < 0 and not ttype.signed:
            raise ValueError(f"不能为负数：{_quote(raw)}")
        return value
    if kind is Kind.DATE:
        if isinstance(raw, dt.datetime):
            return _plausible(raw.date(), raw)
        if isinstance(raw, dt.date):
            return _plausible(raw, raw)
        if hasattr(raw, "date") and callable(raw.date):  # pandas Timestamp
            return _plausible(raw.date(), raw)
        m = DATE_TEXT.fullmatch(str(raw).strip().replace("/", "-"))
        try:
            if m is None:
                raise ValueError
            day = dt.date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            raise ValueError(f"应为日期 YYYY-MM-DD，而不是 {_quote(raw)}") from None
        return _plausible(day, raw)
    if kind is Kind.BOOL:
        if isinstance(raw, bool):
            return raw
        word = str(raw).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueError(f"应为 是/否（true/false），而不是 {_quote(raw)}")
    text = str(raw).strip()
    if kind is Kind.CATEGORY and text not in ttype.values:
        raise ValueError(f"{_quote(text)} 不是可选值（{'、'.join(ttype.values)}）之一")
    if kind is Kind.CODE:
        if isinstance(raw, (int, Decimal)) or (isinstance(raw, float) and raw.is_integer()):
            text = str(int(raw))
        text = text.translate(FULL_WIDTH)  # ３４０１０４ typed on a Chinese keyboard is 340104
        if ttype.hierarchy == "region" and not (len(text) == 6 and text.isascii() and text.isdigit()):
            raise ValueError(f"应为 6 位行政区划代码，而不是 {_quote(raw)}")
        if ttype.hierarchy == "industry":
            problem = industry_code_problem(text)
            if problem:
                raise ValueError(f"{_quote(raw)} 不是国民经济行业代码：{problem}")
    return text


def fmt_value(ttype: TagType | None, value: object) -> str:
    """A value for display in Chinese text."""
    if value is None:
        return "（缺失）"
    if ttype is not None and ttype.kind is Kind.MONEY and isinstance(value, Decimal):
        return decimal_yuan_text(value)
    if isinstance(value, bool):
        return "是" if value else "否"
    if ttype is not None and ttype.hierarchy and isinstance(value, str):
        from .codes import code_name  # a code is read by its name: 蜀山区（340104）

        name = code_name(value, ttype.hierarchy)
        return f"{name}（{value}）" if name else value
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        unit = ttype.unit if ttype else ""
        return f"{text}{' ' if unit and unit != '%' else ''}{unit}"
    return str(value)


def yuan(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(Decimal("0.01"))


def fmt_yuan(fen: int, grouped: bool = True) -> str:
    """1,234.56 for people (in a column headed （元）); 1234.56 (grouped=False) for files other
    programs read."""
    return f"{yuan(fen):,.2f}" if grouped else f"{yuan(fen):.2f}"


def yuan_text(fen: int) -> str:
    """Money in a sentence, metric or message: 1,234.56 元, the one display format. (Rule text
    keeps the wording of the rule it quotes: 不低于60万元.)"""
    return f"{fmt_yuan(fen)} 元"


def decimal_yuan_text(v: Decimal) -> str:
    """An exact amount of yuan in the same format; a value finer than the fen keeps its digits."""
    return f"{v:,.2f} 元" if v == v.quantize(Decimal("0.01")) else f"{v:,f} 元"
