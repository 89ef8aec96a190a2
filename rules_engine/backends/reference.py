"""The per-row reference evaluator: plain Python over natural values.

It is deliberately simple and written independently of the vectorized
backend, which the property tests compare against it. It also produces the
per-condition trace that explanations are built from.

Three-valued logic (Kleene): a test over a missing tag is unknown (None);
AND is false if any item is false, else unknown if any is unknown; OR dually.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from .. import ir
from ..ir import Status

Row = Mapping[str, object]  # tag key -> natural value (Decimal, date, bool, str) or None
Tri = bool | None
FEN = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class ConditionOutcome:
    id: str
    outcome: Tri
    missing: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Decision:
    policy: str  # id
    version: int
    status: Status
    amount_fen: int  # eligible: the amount; undetermined: the potential amount if computable; else 0
    missing: tuple[str, ...]  # tags whose absence leaves the decision undetermined
    failed: tuple[str, ...]  # ids of conditions that do not hold
    conditions: tuple[ConditionOutcome, ...]


def round_fen(value: Decimal) -> Decimal:
    """Round half up (away from zero) to the fen: the one rounding rule of the engine."""
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


def elapsed(unit: ir.ElapsedUnit, since: dt.date, as_of: dt.date) -> int:
    if unit is ir.ElapsedUnit.DAYS:
        return (as_of - since).days
    if unit is ir.ElapsedUnit.MONTHS:
        months = (as_of.year - since.year) * 12 + (as_of.month - since.month)
        return months - (1 if as_of.day < since.day else 0)
    years = as_of.year - since.year
    return years - (1 if (as_of.month, as_of.day) < (since.month, since.day) else 0)


def covers(code: str, parent: str, hierarchy: str) -> bool:
    if hierarchy == "region":
        # 340000 covers 34xxxx; 340200 covers 3402xx; a district covers only itself
        significant = parent.rstrip("0")
        significant += "0" * (len(significant) % 2)  # zeros come in pairs: 341000 -> 3410
        return code.startswith(significant if len(significant) >= 2 else parent[:2])
    return code.startswith(parent)


def _too_coarse(tag: ir.Tag, value: str, codes: tuple[str, ...]) -> bool:
    """The value is a level above one of `codes`: the test cannot be decided."""
    assert tag.type is not None
    return value in ir.coarser_codes(codes, tag.type.hierarchy)


class Evaluator:
    def __init__(self, row: Row, as_of: dt.date) -> None:
        self.row = row
        self.as_of = as_of

    # ---------------------------------------------------------------- values
    def value(self, e: ir.Expr) -> object:
        match e:
            case ir.Tag(name=name):
                return self.row.get(name)
            case ir.Num(value=v) | ir.Str(value=v) | ir.DateLit(value=v) | ir.BoolLit(value=v):
                return v
            case ir.Arith(op=op, left=left, right=right):
                a, b = self.value(left), self.value(right)
                if a is None or b is None:
                    return None
                assert isinstance(a, Decimal) and isinstance(b, Decimal)
                return a + b if op == "+" else a - b if op == "-" else a * b
            case ir.Elapsed(unit=unit, arg=arg):
                d = self.value(arg)
                if d is None:
                    return None
                assert isinstance(d, dt.date)
                return Decimal(elapsed(unit, d, self.as_of))
        raise TypeError(f"not a value: {e!r}")

    def null_tags(self, node: object) -> set[str]:
        return {t for t in ir.tags_of(node) if self.row.get(t) is None}

    # ---------------------------------------------------------------- predicates
    def test(self, p: ir.Pred) -> Tri:
        match p:
            case ir.And(items=items):
                results = [self.test(i) for i in items]
                if False in results:
                    return False
                return None if None in results else True
            case ir.Or(items=items):
                results = [self.test(i) for i in items]
                if True in results:
                    return True
                return None if None in results else False
            case ir.Not(item=item):
                r = self.test(item)
                return None if r is None else not r
            case ir.IsNull(expr=e, negated=neg):
                return (self.value(e) is None) != neg
            case ir.Truthy(expr=e):
                v = self.value(e)
                return None if v is None else bool(v)
            case ir.Const(value=v):
                return v
            case ir.Within() | ir.Growth():
                return self.test(p.lowered())
            case ir.Compare(op=op, left=left, right=right):
                a, b = self.value(left), self.value(right)
                if a is None or b is None:
                    return None
                tag, lit = (left, right) if ir.is_code(left) else (right, left)
                if ir.is_code(tag) and isinstance(lit, ir.Str) and _too_coarse(tag, str(self.value(tag)), (lit.value,)):
                    return None
                return _compare(op, a, b)
            case ir.Between(expr=e, low=lo, high=hi):
                v, a, b = self.value(e), self.value(lo), self.value(hi)
                if v is None or a is None or b is None:
                    return None
                return bool(a <= v <= b)  # type: ignore[operator]
            case ir.InSet(expr=e, values=values, negated=neg):
                v = self.value(e)
                if v is None:
                    return None
                hit = any(v == x.value for x in values)
                if not hit and ir.is_code(e) and _too_coarse(e, str(v), tuple(str(x.value) for x in values)):
                    return None
                return hit != neg
            case ir.Under(expr=e, codes=codes):
                v = self.value(e)
                if v is None:
                    return None
                assert isinstance(e, ir.Tag) and e.type is not None
                if any(covers(str(v), c, e.type.hierarchy) for c in codes):
                    return True
                return None if _too_coarse(e, str(v), codes) else False
        raise TypeError(f"not a predicate: {p!r}")

    def missing(self, p: ir.Pred) -> set[str]:
        """Tags whose absence makes `p` unknown (only through its unknown branches)."""
        if self.test(p) is not None:
            return set()
        match p:
            case ir.And(items=items) | ir.Or(items=items):
                out: set[str] = set()
                for i in items:
                    out |= self.missing(i)
                return out
            case ir.Not(item=item):
                return self.missing(item)
            case ir.Within() | ir.Growth():
                return self.missing(p.lowered())
        # an unknown test with nothing missing is a code known too coarsely: it needs that tag
        return self.null_tags(p) or set(ir.tags_of(p))

    # ---------------------------------------------------------------- amounts
    def amount(self, f: ir.Formula) -> tuple[Decimal | None, set[str]]:
        """The amount in yuan (exact, rounded to fen where a rate applies), or None and what is missing."""
        match f:
            case ir.Fixed(amount=a):
                return a, set()
            case ir.PerUnit(quantity=q, rate=rate):
                v = self.value(q)
                if v is None:
                    return None, self.null_tags(q)
                assert isinstance(v, Decimal)
                return round_fen(v * rate), set()
            case ir.Percent(base=b, rate=rate):
                v = self.value(b)
                if v is None:
                    return None, self.null_tags(b)
                assert isinstance(v, Decimal)
                return round_fen(v * rate), set()
            case ir.Tiers(measure=m, tiers=tiers):
                v = self.value(m)
                if v is None:
                    return None, self.null_tags(m)
                for t in tiers:  # highest threshold first
                    if v >= t.at_least:  # type: ignore[operator]
                        return t.amount, set()
                return Decimal(0), set()
            case ir.Cases(cases=cases, otherwise=otherwise):
                for c in cases:
                    r = self.test(c.when)
                    if r is None:
                        return None, self.missing(c.when)
                    if r:
                        return self.amount(c.formula)
                return self.amount(otherwise)
            case ir.Sum(parts=parts):
                total, missing, known = Decimal(0), set(), True
                for part in parts:
                    v, miss = self.amount(part)
                    if v is None:
                        known = False
                        missing |= miss
                    else:
                        total += v
                return (total if known else None), missing
            case ir.Clamp(formula=inner, floor=lo, cap=hi):
                v, miss = self.amount(inner)
                if v is None:
                    return None, miss
                if lo is not None and v < lo:
                    v = lo
                if hi is not None and v > hi:
                    v = hi
                return v, set()
        raise TypeError(f"not a formula: {f!r}")


def _compare(op: str, a: object, b: object) -> bool:
    if op == "==":
        return a == b
    if op == "!=":
        return a != b
    if op == "<":
        return a < b  # type: ignore[operator]
    if op == "<=":
        return a <= b  # type: ignore[operator]
    if op == ">":
        return a > b  # type: ignore[operator]
    return a >= b  # type: ignore[operator]


def evaluate(policy: ir.Policy, row: Row, as_of: dt.date) -> Decision:
    """Decide one enterprise against one policy as of a date."""
    policy = ir.at(policy, as_of)
    if not policy.in_force(as_of):
        return Decision(policy.id, policy.version, Status.NOT_ELIGIBLE, 0, (), (ir.NOT_IN_FORCE,), ())
    ev = Evaluator(row, as_of)
    outcomes = []
    for c in policy.conditions:
        r = ev.test(c.pred)
        # missing() is empty unless the test is unknown; it re-runs the test, so only then
        outcomes.append(ConditionOutcome(c.id, r, tuple(sorted(ev.missing(c.pred))) if r is None else ()))
    results = [o.outcome for o in outcomes]
    failed = tuple(o.id for o in outcomes if o.outcome is False)
    if failed:
        return Decision(policy.id, policy.version, Status.NOT_ELIGIBLE, 0, (), failed, tuple(outcomes))
    amount, amount_missing = ev.amount(policy.benefit)
    fen = int(max(amount, Decimal(0)) * 100) if amount is not None else 0
    if None in results or amount is None:
        missing: set[str] = set(amount_missing)
        for o in outcomes:
            missing.update(o.missing)
        return Decision(policy.id, policy.version, Status.UNDETERMINED, fen, tuple(sorted(missing)), (), tuple(outcomes))
    return Decision(policy.id, policy.version, Status.ELIGIBLE, fen, (), (), tuple(outcomes))
