"""Typed tag values in natural units, shared by test cases, loaders and the UI.

Natural units: Decimal for numbers and money (yuan), date, bool, str.
Conversion is exact or it fails with a reason; nothing is silently coerced.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from .ir import Kind, TagType, decimal_scale

TRUE_WORDS = {"true", "1", "yes", "y", "是", "有", "t"}
FALSE_WORDS = {"false", "0", "no", "n", "否", "无", "f"}
SCALE_SUFFIX = {"万": Decimal(10000), "亿": Decimal(100000000)}


def parse_decimal(raw: object) -> Decimal:
    """A Decimal from text or a number, accepting 万/亿 and thousands separators."""
    if isinstance(raw, bool):
        raise ValueError("expected a number, found true/false")
    if isinstance(raw, Decimal):
        return raw
    if isinstance(raw, int):
        return Decimal(raw)
    if isinstance(raw, float):
        # repr gives the shortest text that round-trips, so 0.1 stays 0.1
        return Decimal(repr(raw))
    text = str(raw).strip().replace(",", "").replace("，", "")
    mult = Decimal(1)
    if text.endswith("%"):
        text, mult = text[:-1], Decimal("0.01")
    if text and text[-1] in SCALE_SUFFIX:
        mult *= SCALE_SUFFIX[text[-1]]
        text = text[:-1]
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"expected a number, found {raw!r}") from None
    if not value.is_finite():
        raise ValueError(f"expected a finite number, found {raw!r}")
    return value * mult


def coerce(ttype: TagType, raw: object) -> object:
    """A raw value (from YAML, CSV, a form) as this tag's natural value; None stays None."""
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return None
    if isinstance(raw, float) and raw != raw:  # NaN from pandas
        return None
    kind = ttype.kind
    if kind in (Kind.NUMBER, Kind.MONEY):
        value = parse_decimal(raw)
        if decimal_scale(value) > ttype.scale:
            raise ValueError(f"{value} has more than {ttype.scale} decimal places")
        return value
    if kind is Kind.DATE:
        if isinstance(raw, dt.datetime):
            return raw.date()
        if isinstance(raw, dt.date):
            return raw
        if hasattr(raw, "date") and callable(raw.date):  # pandas Timestamp
            return raw.date()
        text = str(raw).strip().replace("/", "-")
        try:
            return dt.date.fromisoformat(text[:10])
        except ValueError:
            raise ValueError(f"expected a date YYYY-MM-DD, found {raw!r}") from None
    if kind is Kind.BOOL:
        if isinstance(raw, bool):
            return raw
        word = str(raw).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueError(f"expected true/false (是/否), found {raw!r}")
    text = str(raw).strip()
    if kind is Kind.CATEGORY and text not in ttype.values:
        raise ValueError(f"{text!r} is not one of {', '.join(ttype.values)}")
    if kind is Kind.CODE:
        if isinstance(raw, (int, Decimal)) or (isinstance(raw, float) and raw.is_integer()):
            text = str(int(raw))
        if ttype.hierarchy == "region" and not (len(text) == 6 and text.isdigit()):
            raise ValueError(f"expected a 6-digit region code, found {raw!r}")
        if ttype.hierarchy == "industry" and not (
            text[:1].isalpha() and text[:1].isupper() and text[1:].isdigit() and len(text) <= 5
        ):
            raise ValueError(f"expected an industry code such as C3911, found {raw!r}")
    return text


def fmt_value(ttype: TagType | None, value: object) -> str:
    """A value for display in Chinese text."""
    if value is None:
        return "（缺失）"
    if ttype is not None and ttype.kind is Kind.MONEY and isinstance(value, Decimal):
        return f"{value:,.2f} 元"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        unit = ttype.unit if ttype else ""
        return f"{text}{' ' if unit and unit != '%' else ''}{unit}"
    return str(value)


def yuan(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(Decimal("0.01"))


def fmt_yuan(fen: int, grouped: bool = True) -> str:
    """1,234.56 for people; 1234.56 (grouped=False) for files other programs read."""
    return f"{yuan(fen):,.2f}" if grouped else f"{yuan(fen):.2f}"
