"""The one compiler of the policy IR to column expressions with Kleene (SQL NULL) logic.

`KleeneCompiler` owns the walk over the IR: predicates, code levels, missing-tag masks,
amounts, numeric scaling and comparisons. A backend subclasses it and supplies a small set
of hooks (literals, and/or/not, CASE, IS NULL, startswith, isin, date parts, epoch days,
exact rounding division), as ibis's base SQL compiler leaves dialects only their functions.
SQL (SQLite, PostgreSQL) and Spark are subclasses; a new column engine is one more.

Conventions every subclass keeps: a predicate compiles to a boolean column whose NULL means
unknown, as SQL's and Spark's own three-valued logic; a number compiles to (integer column,
scale), money at scale 2 being fen; an amount compiles to (fen or NULL, missing-tag bits).
The per-row reference evaluator (reference.py) stays independent of this module: it is the
oracle the parity suite checks every subclass against.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from .. import ir
from ..errors import UnsupportedConstruct

Col = Any  # a backend's column expression (SQLAlchemy ColumnElement, PySpark Column, ...)
EPOCH = dt.date(1970, 1, 1)
LITERALS = (ir.Num, ir.Str, ir.DateLit, ir.BoolLit)
FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}


class KleeneCompiler:
    name = "column"  # for error messages

    def __init__(self, as_of: dt.date, bits: dict[str, int]) -> None:
        self.as_of = as_of
        self.bits = bits
        # each distinct sub-condition and mask built once per run and shared by every policy
        # that uses it: on Spark every node is a round trip to the JVM (3,000 per policy,
        # 0.5 s, before sharing)
        self.memo: dict[tuple[str, object], Col] = {}

    def _once(self, kind: str, node: object, build: Any) -> Col:
        key = (kind, node)
        if key not in self.memo:
            self.memo[key] = build(node)
        return self.memo[key]

    # ------------------------------------------------------------------ hooks
    def col(self, tag: ir.Tag) -> Col:
        """The tag's column (dates as dates), NULL when the input lacks it."""
        raise NotImplementedError

    def long(self, v: int) -> Col:
        """A 64-bit integer literal."""
        raise NotImplementedError

    def lit(self, v: str | bool | dt.date) -> Col:
        raise NotImplementedError

    def null_long(self) -> Col:
        raise NotImplementedError

    def null_bool(self) -> Col:
        raise NotImplementedError

    def and_(self, items: Sequence[Col]) -> Col:
        raise NotImplementedError

    def or_(self, items: Sequence[Col]) -> Col:
        raise NotImplementedError

    def not_(self, x: Col) -> Col:
        raise NotImplementedError

    def is_null(self, x: Col) -> Col:
        raise NotImplementedError

    def case(self, whens: Sequence[tuple[Col, Col]], else_: Col) -> Col:
        raise NotImplementedError

    def startswith(self, x: Col, prefix: str) -> Col:
        raise NotImplementedError

    def isin(self, x: Col, values: Sequence[str]) -> Col:
        raise NotImplementedError

    def epoch_days(self, d: Col) -> Col:
        raise NotImplementedError

    def ymd(self, d: Col) -> tuple[Col, Col, Col]:
        raise NotImplementedError

    def round_div(self, x: Col, mult: int, den: int) -> Col:
        """round_half_away_from_zero(x × mult / den) in integers, NULL stays NULL, no overflow."""
        raise NotImplementedError

    def bitor(self, a: Col, b: Col) -> Col:
        raise NotImplementedError

    def is_unknown(self, pred: Col) -> Col:
        """pred IS NULL (a backend may need to parenthesise)."""
        return self.is_null(pred)

    # ------------------------------------------------------------------ numbers
    def num(self, e: ir.Expr) -> tuple[Any, int]:
        """An integer column and its scale."""
        match e:
            case ir.Tag(type=t):
                assert t is not None
                return self.col(e), t.scale
            case ir.Num(value=v):
                s = ir.decimal_scale(v)
                return self.long(ir.scaled_int(v, s)), s
            case ir.Arith(op="*", left=left, right=ir.Num(value=k)):
                a, s = self.num(left)
                return a * self.long(int(k)), s
            case ir.Arith(op=op, left=left, right=right):
                (a, b), s = self.aligned(left, right)
                return (a + b if op == "+" else a - b), s
            case ir.Elapsed(unit=unit, arg=arg):
                if not isinstance(arg, ir.Tag):
                    raise UnsupportedConstruct(f"{self.name} backend: elapsed time of a computed date")
                d, now = self.col(arg), self.as_of
                if unit is ir.ElapsedUnit.DAYS:
                    return self.long((now - EPOCH).days) - self.epoch_days(d), 0
                y, m, day = self.ymd(d)
                if unit is ir.ElapsedUnit.MONTHS:
                    full = self.long(now.year * 12 + now.month) - (y * 12 + m)
                    return full - self.case([(self.long(now.day) < day, self.long(1))], self.long(0)), 0
                before = self.or_([self.long(now.month) < m,
                                   self.and_([self.long(now.month) == m, self.long(now.day) < day])])
                return self.long(now.year) - y - self.case([(before, self.long(1))], self.long(0)), 0
        raise UnsupportedConstruct(f"{self.name} backend: {type(e).__name__} as a number")

    def aligned(self, left: ir.Expr, right: ir.Expr) -> tuple[tuple[Any, Any], int]:
        """Both numbers at their common scale: the one place scales are aligned."""
        a, sa = self.num(left)
        b, sb = self.num(right)
        s = max(sa, sb)
        return (a * 10 ** (s - sa) if s > sa else a, b * 10 ** (s - sb) if s > sb else b), s

    def value(self, e: ir.Expr) -> Col:
        match e:
            case ir.Tag():
                return self.col(e)
            case ir.Str(value=v) | ir.BoolLit(value=v) | ir.DateLit(value=v):
                return self.lit(v)
        raise UnsupportedConstruct(f"{self.name} backend: {type(e).__name__} as a value")

    # ------------------------------------------------------------------ predicates
    def pred(self, p: ir.Pred) -> Col:
        return self._once("pred", p, self._pred)

    def _pred(self, p: ir.Pred) -> Col:
        match p:
            case ir.And(items=items):
                return self.and_([self.pred(i) for i in items])
            case ir.Or(items=items):
                return self.or_([self.pred(i) for i in items])
            case ir.Not(item=item):
                return self.not_(self.pred(item))
            case ir.Const(value=v):
                return self.lit(v)
            case ir.Within() | ir.Growth():
                return self.pred(p.lowered())
            case ir.IsNull(expr=e, negated=neg):
                nulls = [self.is_null(self.col(ir.Tag(t, ir.tag_type(e, t)))) for t in ir.tags_of(e)]
                any_null = self.or_(nulls) if nulls else self.lit(False)
                return self.not_(any_null) if neg else any_null
            case ir.Truthy(expr=ir.Tag() as t):
                return self.col(t) == self.lit(True)
            case ir.Compare(op=op, left=left, right=right):
                return self.compare(op, left, right)
            case ir.Between(expr=e, low=lo, high=hi):
                return self.and_([self.compare(">=", e, lo), self.compare("<=", e, hi)])
            case ir.InSet(expr=e, values=values, negated=neg):
                if ir.expr_kind(e) in ir.NUMERIC_KINDS:
                    hit = self.or_([self.compare("==", e, v) for v in values])
                else:
                    hit = self.isin(self.value(e), [str(v.value) for v in values])
                    if ir.is_code(e):
                        hit = self.code_test(e, hit, tuple(str(v.value) for v in values))
                return self.not_(hit) if neg else hit
            case ir.Under(expr=ir.Tag(type=t) as e, codes=codes):
                assert t is not None
                c = self.col(e)
                hit = self.or_([self.startswith(c, ir.code_prefix(code, t.hierarchy)) for code in codes])
                return self.code_test(e, hit, codes)
        raise UnsupportedConstruct(f"{self.name} backend: predicate {type(p).__name__}")

    def compare(self, op: str, left: ir.Expr, right: ir.Expr) -> Col:
        if isinstance(left, LITERALS) and not isinstance(right, LITERALS):
            left, right, op = right, left, FLIP.get(op, op)  # the tag on the left
        if ir.expr_kind(left) in ir.NUMERIC_KINDS or isinstance(left, ir.Elapsed):
            (a, b), _ = self.aligned(left, right)
        else:
            a, b = self.value(left), self.value(right)
        if op in ("==", "!=") and ir.is_code(left) and isinstance(right, ir.Str):
            hit = self.code_test(left, a == b, (right.value,))
            return hit if op == "==" else self.not_(hit)
        return _OPS[op](a, b)

    def code_test(self, e: ir.Tag, hit: Col, codes: tuple[str, ...]) -> Col:
        """`hit`, or unknown where the value is a level above the codes tested (ir.coarser_codes)."""
        assert e.type is not None
        coarser = ir.coarser_codes(codes, e.type.hierarchy)
        if not coarser:
            return hit
        return self.or_([hit, self.case([(self.isin(self.col(e), list(coarser)), self.null_bool())],
                                         self.lit(False))])

    # ------------------------------------------------------------------ missing-tag masks
    def bits_of(self, node: object) -> int:
        return sum(1 << self.bits[t] for t in ir.tags_of(node))

    def bitor_all(self, parts: Sequence[Col]) -> Col:
        if not parts:
            return self.long(0)
        out = parts[0]
        for p in parts[1:]:
            out = self.bitor(out, p)
        return out

    def nullbits(self, node: object) -> Col:
        return self._once("nullbits", node, self._nullbits)

    def _nullbits(self, node: object) -> Col:
        return self.bitor_all([self.case([(self.is_null(self.col(ir.Tag(t, ir.tag_type(node, t)))),
                                           self.long(1 << self.bits[t]))], self.long(0))
                               for t in ir.tags_of(node)])

    def missing(self, p: ir.Pred) -> Col:
        """The tags whose absence makes p unknown: only through its unknown branches."""
        return self._once("missing", p, self._missing)

    def _missing(self, p: ir.Pred) -> Col:
        match p:
            case ir.And(items=items) | ir.Or(items=items):
                inner = self.bitor_all([self.missing(i) for i in items])
            case ir.Not(item=item):
                inner = self.missing(item)
            case ir.Within() | ir.Growth():
                inner = self.missing(p.lowered())
            case _ if any(ir.is_code(c) for c in ir.children(p)):
                # unknown with nothing missing: a code known too coarsely needs that tag
                nulls = self.nullbits(p)
                inner = self.case([(nulls == self.long(0), self.long(self.bits_of(p)))], nulls)
            case _:
                inner = self.nullbits(p)
        return self.case([(self.is_unknown(self.pred(p)), inner)], self.long(0))

    def masked(self, v: Col, node: object) -> Col:
        return self.case([(self.is_null(v), self.nullbits(node))], self.long(0))

    # ------------------------------------------------------------------ amounts
    def amount(self, f: ir.Formula) -> tuple[Col, Col]:
        """(fen or NULL, missing-tag bits where the amount is unknown)."""
        match f:
            case ir.Fixed(amount=a):
                return self.long(ir.scaled_int(a, 2)), self.long(0)
            case ir.PerUnit(quantity=q, rate=rate):
                v, s = self.num(q)
                return self.round_div(v, ir.scaled_int(rate, 2), 10**s), self.masked(v, q)
            case ir.Percent(base=b, rate=rate):
                v, s = self.num(b)
                mult, den = ir.percent_fraction(rate, s)
                return self.round_div(v, mult, den), self.masked(v, b)
            case ir.Tiers(measure=m, tiers=tiers):
                v, s = self.num(m)
                common = max([s, *(ir.decimal_scale(t.at_least) for t in tiers)])
                scaled = v * 10 ** (common - s) if common > s else v
                steps = [(scaled >= self.long(ir.scaled_int(t.at_least, common)), self.long(ir.scaled_int(t.amount, 2)))
                         for t in tiers]
                return self.case([(self.is_null(v), self.null_long()), *steps], self.long(0)), self.masked(v, m)
            case ir.Cases(cases=cases, otherwise=otherwise):
                whens: list[tuple[Col, Col]] = []
                masks: list[tuple[Col, Col]] = []
                for c in cases:
                    w = self.pred(c.when)
                    fen, mask = self.amount(c.formula)
                    whens += [(self.is_unknown(w), self.null_long()), (w, fen)]
                    masks += [(self.is_unknown(w), self.missing(c.when)), (w, mask)]
                ofen, omask = self.amount(otherwise)
                return self.case(whens, ofen), self.case(masks, omask)
            case ir.Sum(parts=parts):
                pairs = [self.amount(p) for p in parts]
                total = pairs[0][0]
                for fen, _ in pairs[1:]:
                    total = total + fen
                return total, self.bitor_all([self.case([(self.is_null(fen), m)], self.long(0)) for fen, m in pairs])
            case ir.Clamp(formula=inner, floor=lo, cap=hi):
                out, mask = self.amount(inner)
                if lo is not None:
                    lo_f = self.long(ir.scaled_int(lo, 2))
                    out = self.case([(out < lo_f, lo_f)], out)
                if hi is not None:
                    hi_f = self.long(ir.scaled_int(hi, 2))
                    out = self.case([(out > hi_f, hi_f)], out)
                return out, mask
        raise UnsupportedConstruct(f"{self.name} backend: formula {type(f).__name__}")

    # ------------------------------------------------------------------ one policy
    def policy(self, policy: ir.Policy) -> tuple[Col, Col, Col, Col]:
        """(ok, fen, condition mask, amount mask): the expensive part, evaluated once per row."""
        ok, fen, cmask, amask = self.parts(policy)
        return self.all_of(ok), fen, cmask, amask

    def parts(self, policy: ir.Policy) -> tuple[list[Col], Col, Col, Col]:
        """(each condition, fen, condition mask, amount mask): `policy` with its conditions kept
        apart, so that which of them refused a row can be told (`failed`)."""
        if len(policy.conditions) > 63:
            raise UnsupportedConstruct(f"{self.name} backend: more than 63 conditions in one policy (a 64-bit mask)")
        fen, amask = self.amount(policy.benefit)
        return ([self.pred(x.pred) for x in policy.conditions], fen,
                self.bitor_all([self.missing(x.pred) for x in policy.conditions]), amask)

    def all_of(self, conditions: Sequence[Col]) -> Col:
        return self.and_(list(conditions)) if conditions else self.lit(True)

    def failed(self, conditions: Sequence[Col]) -> Col:
        """Bit i set where condition i is false, not unknown: the conditions that refused a row."""
        return self.bitor_all([self.case([(self.not_(c), self.long(1 << i))], self.long(0))
                               for i, c in enumerate(conditions)])


_OPS = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


def tag_bits(policies: Sequence[ir.Policy], backend: str) -> tuple[tuple[str, ...], dict[str, int]]:
    """The run's tags, sorted, and the bit of each in a 64-bit mask."""
    tags = tuple(sorted({t for p in policies for t in ir.policy_tags(p)}))
    if len(tags) > 63:
        raise UnsupportedConstruct(f"{backend} backend: more than 63 distinct tags in one run (a 64-bit mask)")
    return tags, {t: i for i, t in enumerate(tags)}


def decode(mask: int, tags: tuple[str, ...]) -> str:
    return ",".join(t for i, t in enumerate(tags) if mask >> i & 1)


def decode_failed(mask: int, policy: ir.Policy, as_of: dt.date) -> str:
    """The ids of the conditions that refused a row, comma-joined; ir.NOT_IN_FORCE when the
    evaluation date is outside the policy's validity (then no condition was evaluated)."""
    if not policy.in_force(as_of):
        return ir.NOT_IN_FORCE
    return decode(mask, tuple(c.id for c in policy.conditions))
