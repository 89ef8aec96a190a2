"""Tokens of the condition language.

Numbers may carry 万 (10^4) or 亿 (10^8) and a trailing % (÷100); dates are
written YYYY-MM-DD; strings use '', "" or “”; identifiers may be Chinese.
≥ ≤ ≠ are accepted for >= <= !=.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from ..errors import ExpressionError


class T(StrEnum):
    NUMBER = "number"
    STRING = "string"
    DATE = "date"
    IDENT = "identifier"
    KEYWORD = "keyword"
    OP = "operator"
    PERIOD = "period"  # `[上年]` right after a tag name: the text between the brackets
    EOF = "end of text"


KEYWORDS = frozenset(
    {"and", "or", "not", "in", "under", "between", "is", "null", "true", "false", "within"}
)
OPERATORS = ("==", "!=", ">=", "<=", ">", "<", "+", "-", "(", ")", ",", "[", "]", "{", "}")
ALIASES = {"≥": ">=", "≤": "<=", "≠": "!=", "（": "(", "）": ")", "，": ","}
QUOTES = {"'": "'", '"': '"', "“": "”", "‘": "’"}
SCALE_SUFFIX = {"万": Decimal(10000), "亿": Decimal(100000000)}


@dataclass(frozen=True, slots=True)
class Token:
    type: T
    text: str  # the source text of the token
    pos: int
    value: object = None  # Decimal, str or date

    def is_(self, type_: T, text: str | None = None) -> bool:
        return self.type is type_ and (text is None or self.text == text)


def _is_ident_char(ch: str, first: bool) -> bool:
    if ch == "_" or ch.isalpha():
        return True
    return not first and ch.isdigit()


def tokenize(text: str) -> list[Token]:
    out: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        start = i
        if ch.isascii() and ch.isdigit():  # '²' and '３' are digits to str.isdigit, not to Decimal
            j = i
            while j < n and ((text[j].isascii() and text[j].isdigit()) or text[j] == "."):
                j += 1
            # YYYY-MM-DD
            if j - i == 4 and j < n and text[j] == "-" and text[j + 1 : j + 3].isdigit():
                k = j + 6
                raw = text[i : k]
                if k <= n and len(raw) == 10 and raw[7] == "-":
                    try:
                        out.append(Token(T.DATE, raw, start, dt.date.fromisoformat(raw)))
                    except ValueError:
                        raise ExpressionError(f"无效的日期 {raw!r}", text, start, 10) from None
                    i = k
                    continue
            raw = text[i:j]
            if j - i == 4 and text[j : j + 1] in ("Q", "q") and text[j + 1 : j + 2].isdigit() \
                    and not _is_ident_char(text[j + 2 : j + 3] or " ", False):
                out.append(Token(T.PERIOD, text[i : j + 2], start, text[i : j + 2]))  # 2025Q1: a quarter
                i = j + 2
                continue
            if raw.count(".") > 1 or raw.endswith("."):
                raise ExpressionError(f"无法识别的数字 {raw!r}", text, start, j - i)
            value = Decimal(raw)
            if j < n and text[j] in SCALE_SUFFIX:
                value *= SCALE_SUFFIX[text[j]]
                j += 1
            if j < n and text[j] == "%":
                value /= 100
                j += 1
            if j < n and _is_ident_char(text[j], True) and text[j] not in SCALE_SUFFIX:
                raise ExpressionError(
                    "数字与名称连在了一起；请在中间加空格或运算符",
                    text, start, j - i + 1,
                )
            out.append(Token(T.NUMBER, text[start:j], start, value))
            i = j
            continue
        if ch in QUOTES:
            close = QUOTES[ch]
            j = text.find(close, i + 1)
            if j < 0:
                raise ExpressionError("引号没有闭合", text, start, n - start)
            out.append(Token(T.STRING, text[i : j + 1], start, text[i + 1 : j]))
            i = j + 1
            continue
        if _is_ident_char(ch, True):
            j = i
            while j < n and _is_ident_char(text[j], False):
                j += 1
            word = text[i:j]
            kind = T.KEYWORD if word.lower() in KEYWORDS else T.IDENT
            out.append(Token(kind, word.lower() if kind is T.KEYWORD else word, start, word))
            i = j
            continue
        if ch in "[【" and out and out[-1].type is T.IDENT and out[-1].pos + len(out[-1].text) == i:
            close = "]" if ch == "[" else "】"
            j = text.find(close, i + 1)
            if j < 0 or j - i > 40:
                raise ExpressionError(f"期间的 {ch} 没有闭合（应写如 tax_paid[上年]）", text, start, 1)
            out.append(Token(T.PERIOD, text[i : j + 1], start, text[i + 1 : j].strip()))
            i = j + 1
            continue
        if ch in ALIASES:
            out.append(Token(T.OP, ALIASES[ch], start))
            i += 1
            continue
        for op in OPERATORS:
            if text.startswith(op, i):
                out.append(Token(T.OP, op, start))
                i += len(op)
                break
        else:
            hint = "判断相等请用 ==" if ch == "=" else ""
            if ch == "=":
                raise ExpressionError("'=' 不是运算符", text, start, 1, hint)
            raise ExpressionError(f"无法识别的字符 {ch!r}", text, start)
    out.append(Token(T.EOF, "", n))
    return out
