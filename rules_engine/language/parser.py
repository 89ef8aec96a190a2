"""A recursive-descent parser for the condition language. No eval, no exec.

    pred    := or
    or      := and ('or' and)*
    and     := not ('and' not)*
    not     := 'not' not | test
    test    := sum [ ('=='|'!='|'<'|'<='|'>'|'>=') sum
                   | 'between' sum 'and' sum
                   | ['not'] 'in' set
                   | 'under' code | 'under' set
                   | 'is' ['not'] 'null'
                   | 'within' NUMBER ('years'|'months'|'days') ]
    sum     := atom (('+'|'-') atom)*
    atom    := NUMBER | '-' NUMBER | STRING | DATE | 'true' | 'false'
             | NAME ['[' PERIOD ']'] | NAME '(' sum ')' | '(' pred ')'
             | AGG '(' NAME ',' WINDOW ')' | 'growth' '(' NAME ',' PERIOD [',' PERIOD] ')'

Periodic tags name their period: `tax_paid[上年]`, `revenue[2025]`, `tax_q[上季度]`; aggregates
run over the last N complete periods: `sum(rd_expense, 近3年)`, `min(revenue, 近3年) >= 1000万`,
`max(...)`, `每年(revenue, 近3年) > 0`; `growth(revenue, 上年, 前年) >= 20%` compares a growth
rate with a constant (the base period defaults to the one before).

A bare boolean tag is a test on its own (`is_hitech and not dishonest_debtor`), and so
are `true` and `false` (a policy open to everyone in its scope says `when: true`).
`d within 12 months` holds for a date in the last 12 months up to the evaluation date
(see ir.Within for the ends).
Names are bound to tags (and type-checked) afterwards by `binder.bind`.
"""

from __future__ import annotations

from decimal import Decimal

from .. import ir
from ..errors import ExpressionError
from ..periods import Relative, parse_relative, parse_window
from .lexer import T, Token, tokenize

FUNCTIONS = {
    "years_since": ir.ElapsedUnit.YEARS,
    "months_since": ir.ElapsedUnit.MONTHS,
    "days_since": ir.ElapsedUnit.DAYS,
}

AGGREGATES = {
    "sum": ir.OverFn.SUM, "合计": ir.OverFn.SUM, "累计": ir.OverFn.SUM,
    "min": ir.OverFn.MIN, "最低": ir.OverFn.MIN, "max": ir.OverFn.MAX, "最高": ir.OverFn.MAX,
    "each": ir.OverFn.EACH, "每年": ir.OverFn.EACH, "每期": ir.OverFn.EACH,
}
GROWTH = ("growth", "增长率")

Node = ir.Expr | ir.Pred
PRED_TYPES = (ir.Compare, ir.Between, ir.InSet, ir.Under, ir.IsNull, ir.Truthy, ir.Const, ir.Within, ir.Growth,
              ir.And, ir.Or, ir.Not)
UNITS = {"years": ir.ElapsedUnit.YEARS, "months": ir.ElapsedUnit.MONTHS, "days": ir.ElapsedUnit.DAYS}
MAX_WINDOW = 10_000  # days, months or years: anything longer is a typo


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = tokenize(text)
        self.i = 0

    # -- token helpers
    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def advance(self) -> Token:
        t = self.toks[self.i]
        self.i += 1
        return t

    def accept(self, type_: T, text: str | None = None) -> Token | None:
        if self.tok.is_(type_, text):
            return self.advance()
        return None

    def fail(self, expected: str, tok: Token | None = None) -> ExpressionError:
        tok = tok or self.tok
        found = "条件末尾" if tok.type is T.EOF else repr(tok.text)
        return ExpressionError(f"此处应为 {expected}，实际是 {found}", self.text, tok.pos, max(1, len(tok.text)))

    def expect(self, type_: T, text: str, expected: str) -> Token:
        tok = self.accept(type_, text)
        if tok is None:
            raise self.fail(expected)
        return tok

    # -- grammar
    def parse(self) -> ir.Pred:
        if self.tok.type is T.EOF:
            raise self.fail("一个条件")
        node = self.as_pred(self.or_())
        if self.tok.type is not T.EOF:
            raise self.fail("and、or 或条件结束")
        return node

    def as_pred(self, node: Node) -> ir.Pred:
        if isinstance(node, PRED_TYPES):
            return node
        if isinstance(node, ir.Tag):
            return ir.Truthy(node, pos=node.pos)
        if isinstance(node, ir.BoolLit):
            return ir.Const(node.value, pos=node.pos)
        raise ExpressionError(
            "此处应为条件（比较或是/否标签），实际是一个值",
            self.text, getattr(node, "pos", 0),
        )

    def as_value(self, node: Node, tok: Token) -> ir.Expr:
        if isinstance(node, PRED_TYPES):
            raise ExpressionError("此处应为值，实际是一个条件", self.text, tok.pos, len(tok.text) or 1)
        return node

    def or_(self) -> Node:
        start = self.tok
        items = [self.and_()]
        while self.accept(T.KEYWORD, "or"):
            items.append(self.and_())
        if len(items) == 1:
            return items[0]
        return ir.Or(tuple(self.as_pred(i) for i in items), pos=start.pos)

    def and_(self) -> Node:
        start = self.tok
        items = [self.not_()]
        while self.accept(T.KEYWORD, "and"):
            items.append(self.not_())
        if len(items) == 1:
            return items[0]
        return ir.And(tuple(self.as_pred(i) for i in items), pos=start.pos)

    def not_(self) -> Node:
        tok = self.accept(T.KEYWORD, "not")
        if tok:
            return ir.Not(self.as_pred(self.not_()), pos=tok.pos)
        return self.test()

    def test(self) -> Node:
        start = self.tok
        left = self.sum_()
        tok = self.tok
        if isinstance(left, ir.Growth):
            return self.growth_test(left, start)
        if tok.type is T.OP and tok.text in ir.COMPARE_OPS:
            self.advance()
            rtok = self.tok
            right = self.as_value(self.sum_(), rtok)
            return ir.Compare(tok.text, self.as_value(left, start), right, pos=start.pos)
        if self.accept(T.KEYWORD, "between"):
            lo_tok = self.tok
            low = self.as_value(self.sum_(), lo_tok)
            self.expect(T.KEYWORD, "and", "两个界限之间的 and")
            hi_tok = self.tok
            high = self.as_value(self.sum_(), hi_tok)
            return ir.Between(self.as_value(left, start), low, high, pos=start.pos)
        if tok.is_(T.KEYWORD, "not") and self.toks[self.i + 1].is_(T.KEYWORD, "in"):
            self.i += 2
            return ir.InSet(self.as_value(left, start), self.value_set(), negated=True, pos=start.pos)
        if self.accept(T.KEYWORD, "in"):
            return ir.InSet(self.as_value(left, start), self.value_set(), pos=start.pos)
        if self.accept(T.KEYWORD, "under"):
            return ir.Under(self.as_value(left, start), self.code_set(), pos=start.pos)
        if self.accept(T.KEYWORD, "is"):
            negated = self.accept(T.KEYWORD, "not") is not None
            self.expect(T.KEYWORD, "null", "is 之后的 null")
            return ir.IsNull(self.as_value(left, start), negated=negated, pos=start.pos)
        if self.accept(T.KEYWORD, "within"):
            num = self.tok
            if num.type is not T.NUMBER or not isinstance(num.value, Decimal) or num.value != num.value.to_integral_value() \
                    or not 0 < num.value <= MAX_WINDOW:
                raise self.fail(f"within 之后 1 到 {MAX_WINDOW} 之间的整数")
            self.advance()
            unit = UNITS.get(self.tok.text) if self.tok.type is T.IDENT else None
            if unit is None:
                raise self.fail("数字之后的 years、months 或 days")
            self.advance()
            return ir.Within(self.as_value(left, start), int(num.value), unit, pos=start.pos)
        return left

    def growth_test(self, g: ir.Growth, start: Token) -> ir.Growth:
        """`growth(...)` `op` a constant rate (20% or 0.2; -10% for a fall of at most 10 %)."""
        tok = self.tok
        if not (tok.type is T.OP and tok.text in ir.COMPARE_OPS):
            raise self.fail("growth(...) 之后的比较（如 >= 20%）")
        self.advance()
        neg = self.accept(T.OP, "-") is not None
        num = self.tok
        if num.type is not T.NUMBER or not isinstance(num.value, Decimal):
            raise self.fail("增长率常数（如 20%）")
        self.advance()
        rate = -num.value if neg else num.value
        if ir.decimal_scale(rate) > 4 or not -1 <= rate <= 100:
            raise ExpressionError("增长率应在 -100% 到 10000% 之间，至多两位小数的百分比", self.text, num.pos,
                                  len(num.text))
        return ir.Growth(tok.text, g.cur, g.base, rate, pos=start.pos)

    def period_arg(self) -> tuple[Relative, Token]:
        tok = self.tok
        if tok.type not in (T.IDENT, T.NUMBER, T.STRING, T.PERIOD):
            raise self.fail("期间（如 上年、前年、2025、2025Q1）")
        self.advance()
        try:
            return parse_relative(str(tok.value) if tok.type in (T.STRING, T.PERIOD) else tok.text), tok
        except ValueError as exc:
            raise ExpressionError(str(exc), self.text, tok.pos, len(tok.text)) from None

    def period_call(self, name: Token) -> Node:
        """sum/min/max/each(tag, 近N年) or growth(tag, period[, base period])."""
        tag_tok = self.tok
        if tag_tok.type is not T.IDENT:
            raise self.fail("按期间报送的标签名")
        self.advance()
        tag = ir.Tag(tag_tok.text, pos=tag_tok.pos)
        self.expect(T.OP, ",", " , 和期间")
        if name.text in GROWTH:
            cur, _ = self.period_arg()
            if self.accept(T.OP, ","):
                base, _ = self.period_arg()
            else:
                base = Relative(cur.kind, cur.offset - 1, cur.fixed.shift(-1) if cur.fixed else None)
            self.expect(T.OP, ")", "结束函数调用的 )")
            return ir.Growth("", ir.Tag(tag.name, pos=tag.pos, period=cur), ir.Tag(tag.name, pos=tag.pos, period=base),
                             Decimal(0), pos=name.pos)
        wtok = self.tok
        if wtok.type is not T.IDENT:
            raise self.fail("期间范围（如 近3年）")
        self.advance()
        try:
            kind, count = parse_window(wtok.text)
        except ValueError as exc:
            raise ExpressionError(str(exc), self.text, wtok.pos, len(wtok.text)) from None
        self.expect(T.OP, ")", "结束函数调用的 )")
        return ir.Over(AGGREGATES[name.text], tag, kind, count, pos=name.pos)

    def sum_(self) -> Node:
        start = self.tok
        left = self.atom()
        while self.tok.type is T.OP and self.tok.text in ("+", "-"):
            op = self.advance().text
            rtok = self.tok
            right = self.as_value(self.atom(), rtok)
            left = ir.Arith(op, self.as_value(left, start), right, pos=start.pos)
        return left

    def atom(self) -> Node:
        tok = self.tok
        if tok.type is T.NUMBER:
            self.advance()
            assert isinstance(tok.value, Decimal)
            return ir.Num(tok.value, pos=tok.pos)
        if tok.is_(T.OP, "-") and self.toks[self.i + 1].type is T.NUMBER:
            self.advance()
            num = self.advance()
            assert isinstance(num.value, Decimal)
            return ir.Num(-num.value, pos=tok.pos)
        if tok.type is T.STRING:
            self.advance()
            return ir.Str(str(tok.value), pos=tok.pos)
        if tok.type is T.DATE:
            self.advance()
            return ir.DateLit(tok.value, pos=tok.pos)  # type: ignore[arg-type]
        if tok.is_(T.KEYWORD, "true") or tok.is_(T.KEYWORD, "false"):
            self.advance()
            return ir.BoolLit(tok.text == "true", pos=tok.pos)
        if tok.type is T.IDENT:
            self.advance()
            if (ptok := self.accept(T.PERIOD)) is not None:
                try:
                    period = parse_relative(str(ptok.value))
                except ValueError as exc:
                    raise ExpressionError(str(exc), self.text, ptok.pos, len(ptok.text)) from None
                return ir.Tag(tok.text, pos=tok.pos, period=period)
            if self.accept(T.OP, "("):
                if tok.text in AGGREGATES or tok.text in GROWTH:
                    return self.period_call(tok)
                unit = FUNCTIONS.get(tok.text)
                if unit is None:
                    raise ExpressionError(
                        f"未知函数 {tok.text!r}", self.text, tok.pos, len(tok.text),
                        hint="可用函数：" + "、".join(sorted([*FUNCTIONS, "sum", "min", "max", "each", "growth"])),
                    )
                atok = self.tok
                arg = self.as_value(self.sum_(), atok)
                self.expect(T.OP, ")", "结束函数调用的 )")
                return ir.Elapsed(unit, arg, pos=tok.pos)
            return ir.Tag(tok.text, pos=tok.pos)
        if self.accept(T.OP, "("):
            inner = self.or_()
            self.expect(T.OP, ")", " )")
            return inner
        raise self.fail("标签、数字、带引号的文字、日期或 (")

    def value_set(self) -> tuple[ir.Str | ir.Num, ...]:
        close = self.open_set()
        items: list[ir.Str | ir.Num] = []
        while True:
            tok = self.tok
            if tok.type is T.STRING:
                items.append(ir.Str(str(tok.value), pos=tok.pos))
            elif tok.type is T.IDENT:  # an unquoted code such as C3911; the binder checks it
                items.append(ir.Str(tok.text, pos=tok.pos))
            elif tok.type is T.NUMBER:
                assert isinstance(tok.value, Decimal)
                items.append(ir.Num(tok.value, pos=tok.pos))
            else:
                raise self.fail("带引号的值或数字")
            self.advance()
            if self.accept(T.OP, close):
                return tuple(items)
            self.expect(T.OP, ",", f" , 或 {close}")

    def code_set(self) -> tuple[str, ...]:
        if self.tok.type in (T.NUMBER, T.STRING, T.IDENT):
            return (self.code(),)
        close = self.open_set()
        codes = [self.code()]
        while not self.accept(T.OP, close):
            self.expect(T.OP, ",", f" , 或 {close}")
            codes.append(self.code())
        return tuple(codes)

    def code(self) -> str:
        tok = self.tok
        if tok.type in (T.NUMBER, T.IDENT):
            self.advance()
            return tok.text
        if tok.type is T.STRING:
            self.advance()
            return str(tok.value)
        raise self.fail("代码（如 340200 或 C39）")

    def open_set(self) -> str:
        for open_, close in (("(", ")"), ("[", "]"), ("{", "}")):
            if self.accept(T.OP, open_):
                return close
        raise self.fail("开始取值列表的 (")


def parse_condition(text: str) -> ir.Pred:
    """Parse one condition into an unbound predicate (names not yet checked)."""
    return _Parser(text).parse()


def parse_value(text: str) -> ir.Expr:
    """Parse a value expression (a formula's base or measure)."""
    p = _Parser(text)
    if p.tok.type is T.EOF:
        raise p.fail("一个值")
    start = p.tok
    node = p.as_value(p.sum_(), start)
    if p.tok.type is not T.EOF:
        raise p.fail("+、- 或值的结尾")
    return node
