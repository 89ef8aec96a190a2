"""The policy IR: one immutable representation that every backend compiles.

Backends (reference, vectorized, durable-rules, SQL, ...) import this module
and nothing of each other. Nodes are frozen, slotted dataclasses; `pos` fields
are source offsets kept for error messages and excluded from equality.

Numeric literals are Decimals in natural units (yuan for money, the tag's unit
otherwise). Tags carry their bound type, so a backend needs no dictionary.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import TypeGuard

from .periods import PeriodKind, Relative, containing, slot


class Kind(StrEnum):
    NUMBER = "number"  # exact decimal with a fixed scale (integers have scale 0)
    MONEY = "money"  # yuan, scale 2 (stored as integer fen)
    DATE = "date"
    BOOL = "bool"
    CATEGORY = "category"  # one of a closed set of labels
    CODE = "code"  # hierarchical code: region (行政区划) or industry (GB/T 4754)
    TEXT = "text"  # free text: identity fields, never compared by order


NUMERIC_KINDS = (Kind.NUMBER, Kind.MONEY)


@dataclass(frozen=True, slots=True)
class TagType:
    kind: Kind
    scale: int = 0
    unit: str = ""
    values: tuple[str, ...] = ()
    hierarchy: str = ""  # "region" | "industry" for Kind.CODE
    signed: bool = True  # False: a negative value is refused on load (a head count, an amount received)


# --------------------------------------------------------------- value expressions


@dataclass(frozen=True, slots=True)
class Tag:
    """A tag's value. A periodic tag names its period (`tax_paid[上年]`) until `at` resolves it
    to a slot, the tag of one period (`tax_paid@2025`): backends only ever see slots."""

    name: str
    type: TagType | None = None  # None until bound against the dictionary
    pos: int = field(default=-1, compare=False)
    period: Relative | None = None


@dataclass(frozen=True, slots=True)
class Num:
    value: Decimal
    pos: int = field(default=-1, compare=False)


@dataclass(frozen=True, slots=True)
class Str:
    value: str
    pos: int = field(default=-1, compare=False)


@dataclass(frozen=True, slots=True)
class DateLit:
    value: dt.date
    pos: int = field(default=-1, compare=False)


@dataclass(frozen=True, slots=True)
class BoolLit:
    value: bool
    pos: int = field(default=-1, compare=False)


@dataclass(frozen=True, slots=True)
class Arith:
    """left + right or left - right over numbers or money; left * n by a whole number n (only
    lowered growth conditions write it: the scale of the left side is kept)."""

    op: str  # "+" | "-" | "*"
    left: Expr
    right: Expr
    pos: int = field(default=-1, compare=False)


class ElapsedUnit(StrEnum):
    YEARS = "years"
    MONTHS = "months"
    DAYS = "days"


@dataclass(frozen=True, slots=True)
class Elapsed:
    """Whole years / months / days from a date to the evaluation date.

    A year or month is complete on the same day-of-month (a 2024-02-29 date
    completes its first year on 2025-03-01: (month, day) ordering).
    """

    unit: ElapsedUnit
    arg: Expr
    pos: int = field(default=-1, compare=False)


class OverFn(StrEnum):
    SUM = "sum"  # 合计: the periods' values added (unknown if any period is missing)
    MIN = "min"  # 最低: every period's value, in a comparison
    MAX = "max"  # 最高: some period's value, in a comparison
    EACH = "each"  # 每年/每期: the comparison holds for every period


@dataclass(frozen=True, slots=True)
class Over:
    """An aggregate of a periodic tag over the last `count` complete periods before the
    evaluation date's own (`sum(rd_expense, 近3年)`). `at` lowers it: a sum to additions, min,
    max and each (which only stand in a comparison) to and/or of one comparison per period."""

    fn: OverFn
    tag: Tag
    kind: PeriodKind
    count: int
    pos: int = field(default=-1, compare=False)

    def periods(self, as_of: dt.date) -> list[str]:
        here = containing(self.kind, as_of)
        return [slot(self.tag.name, here.shift(-k)) for k in range(self.count, 0, -1)]


@dataclass(frozen=True, slots=True)
class ParamValue:
    start: dt.date  # in force from this date until the next value's start
    value: Decimal
    basis: str = ""  # the document and article that set it


@dataclass(frozen=True, slots=True)
class Param:
    """A dated parameter of the policy (`threshold`): the value in force at the evaluation date."""

    name: str
    values: tuple[ParamValue, ...]  # sorted by start
    pos: int = field(default=-1, compare=False)

    def in_force(self, as_of: dt.date) -> ParamValue | None:
        hit = None
        for v in self.values:
            if v.start <= as_of:
                hit = v
        return hit


Expr = Tag | Num | Str | DateLit | BoolLit | Arith | Elapsed | Over | Param

# --------------------------------------------------------------- predicates

COMPARE_OPS = ("==", "!=", "<", "<=", ">", ">=")


@dataclass(frozen=True, slots=True)
class Compare:
    op: str
    left: Expr
    right: Expr
    pos: int = field(default=-1, compare=False)


@dataclass(frozen=True, slots=True)
class Between:
    """low <= expr <= high, both ends inclusive."""

    expr: Expr
    low: Expr
    high: Expr
    pos: int = field(default=-1, compare=False)


@dataclass(frozen=True, slots=True)
class InSet:
    expr: Expr
    values: tuple[Str | Num, ...]
    negated: bool = False
    pos: int = field(default=-1, compare=False)


@dataclass(frozen=True, slots=True)
class Under:
    """A hierarchical code lies under any of the given codes (region, industry)."""

    expr: Expr
    codes: tuple[str, ...]
    pos: int = field(default=-1, compare=False)


@dataclass(frozen=True, slots=True)
class IsNull:
    expr: Expr
    negated: bool = False
    pos: int = field(default=-1, compare=False)


@dataclass(frozen=True, slots=True)
class Truthy:
    """A boolean tag used as a condition on its own."""

    expr: Expr
    pos: int = field(default=-1, compare=False)


@dataclass(frozen=True, slots=True)
class Const:
    """`true` or `false` as a whole condition: a policy open to every enterprise in its
    scope says `when: true` instead of a tautology over some tag."""

    value: bool
    pos: int = field(default=-1, compare=False)


@dataclass(frozen=True, slots=True)
class Within:
    """A date within the last `count` units, up to the evaluation date:
    as_of − count units < date ≤ as_of. The evaluation date itself is inside; the date
    exactly `count` units earlier (the anniversary, by the (month, day) rule of Elapsed)
    is outside; a date after the evaluation date is outside.

    Backends evaluate `lowered()`, so the construct is defined once, here.
    """

    arg: Expr
    count: int
    unit: ElapsedUnit
    pos: int = field(default=-1, compare=False)

    def lowered(self) -> And:
        return And((
            Compare("<", Elapsed(self.unit, self.arg), Num(Decimal(self.count))),
            Compare(">=", Elapsed(ElapsedUnit.DAYS, self.arg), Num(Decimal(0))),
        ), pos=self.pos)


@dataclass(frozen=True, slots=True)
class Growth:
    """(cur − base) / base `op` rate, from the periodic tag's values of two periods
    (`growth(revenue, 上年, 前年) >= 20%`). Growth is defined only on a positive base: on a base
    of 0 or less the comparison is false. Backends evaluate `lowered()`: with rate = p/q,
    base > 0 and cur·q `op` base·(q + p), exact in integers."""

    op: str
    cur: Tag
    base: Tag
    rate: Decimal
    pos: int = field(default=-1, compare=False)

    def lowered(self) -> And:
        s = decimal_scale(self.rate)
        q, p = 10**s, scaled_int(self.rate, s)
        g = math.gcd(q, abs(p)) or 1
        q, p = q // g, p // g
        return And((
            Compare(">", self.base, Num(Decimal(0))),
            Compare(self.op, Arith("*", self.cur, Num(Decimal(q))), Arith("*", self.base, Num(Decimal(q + p)))),
        ), pos=self.pos)


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Pred, ...]
    pos: int = field(default=-1, compare=False)


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Pred, ...]
    pos: int = field(default=-1, compare=False)


@dataclass(frozen=True, slots=True)
class Not:
    item: Pred
    pos: int = field(default=-1, compare=False)


Pred = Compare | Between | InSet | Under | IsNull | Truthy | Const | Within | Growth | And | Or | Not

# --------------------------------------------------------------- benefit formulas


@dataclass(frozen=True, slots=True)
class Fixed:
    amount: Decimal  # yuan


@dataclass(frozen=True, slots=True)
class PerUnit:
    """quantity × rate (e.g. 1,500 yuan per hire)."""

    quantity: Expr
    rate: Decimal  # yuan per unit


@dataclass(frozen=True, slots=True)
class Percent:
    """rate × base, the base being money."""

    base: Expr
    rate: Decimal  # 0.6 for 60 %


@dataclass(frozen=True, slots=True)
class Tier:
    at_least: Decimal  # threshold on the measure, inclusive
    amount: Decimal  # yuan


@dataclass(frozen=True, slots=True)
class Tiers:
    """阶梯: the amount of the highest tier whose threshold the measure reaches; 0 below all."""

    measure: Expr
    tiers: tuple[Tier, ...]  # sorted by at_least descending


@dataclass(frozen=True, slots=True)
class Case:
    when: Pred
    formula: Formula


@dataclass(frozen=True, slots=True)
class Cases:
    """The first case whose condition holds; `otherwise` if none does."""

    cases: tuple[Case, ...]
    otherwise: Formula


@dataclass(frozen=True, slots=True)
class Sum:
    parts: tuple[Formula, ...]


@dataclass(frozen=True, slots=True)
class Clamp:
    """Bound a formula: never below `floor`, never above `cap` (yuan)."""

    formula: Formula
    floor: Decimal | None = None
    cap: Decimal | None = None


Formula = Fixed | PerUnit | Percent | Tiers | Cases | Sum | Clamp

# --------------------------------------------------------------- policies


class Tier3(StrEnum):
    """Delivery tier (兑现方式)."""

    AUTO = "免申即享"
    CONFIRM = "即申即享"
    APPLY = "申报"


class Limit(StrEnum):
    ONCE = "once"
    ONCE_PER_YEAR = "once_per_year"
    UNLIMITED = "unlimited"


class Allocation(StrEnum):
    PRO_RATA = "pro_rata"
    PRIORITY = "priority"


@dataclass(frozen=True, slots=True)
class LegalBasis:
    document: str
    number: str
    article: str = ""


@dataclass(frozen=True, slots=True)
class Condition:
    """One numbered item of a policy's conditions; the policy needs all of them."""

    id: str
    pred: Pred
    text: str  # the source expression, as written
    label: str = ""  # the official's own wording, if given
    article: str = ""


@dataclass(frozen=True, slots=True)
class Budget:
    total: Decimal
    allocation: Allocation
    priority: tuple[str, ...] = ()  # tag keys, for Allocation.PRIORITY (descending)


@dataclass(frozen=True, slots=True)
class Exclusive:
    group: str
    precedence: int | None  # higher wins a tie in amount (就高不重复); None when not stated


POLICY_STATUS_ZH = {"active": "有效", "draft": "草稿", "retired": "已废止"}


def exclusive_rank(policy: Policy, amount_fen: int) -> tuple[int, int, tuple[int, ...]]:
    """就高不重复: within an exclusivity group the award with the larger key wins: the higher
    amount, then the higher precedence, then the policy id that sorts first. One rule for the
    ledger's allocation and the calculator's total."""
    prec = policy.exclusive.precedence if policy.exclusive else None
    return amount_fen, prec if prec is not None else -(10**9), tuple(-ord(ch) for ch in policy.id) + (0,)


@dataclass(frozen=True, slots=True)
class PolicyCase:
    """An OpenFisca-style test case: given tags as of a date, expect status and amount."""

    name: str
    as_of: dt.date
    tags: tuple[tuple[str, object], ...]
    status: str
    amount: Decimal | None = None
    missing: tuple[str, ...] | None = None
    line: int = 0


@dataclass(frozen=True, slots=True)
class Policy:
    id: str
    version: int
    title: str
    department: str
    basis: LegalBasis
    tier: Tier3
    valid_from: dt.date
    valid_to: dt.date | None
    regions: tuple[str, ...]  # region scope; empty means no restriction
    conditions: tuple[Condition, ...]
    benefit: Formula
    exclusive: Exclusive | None = None
    limit: Limit = Limit.ONCE_PER_YEAR
    budget: Budget | None = None
    status: str = "active"  # active | draft | retired
    summary: str = ""
    contact: str = ""
    cases: tuple[PolicyCase, ...] = ()
    source: str = ""  # file the policy was loaded from
    params: tuple[Param, ...] = ()  # dated parameters (a threshold that changes by date)
    time_limit: int | None = None  # 兑现时限: working days from eligibility (or confirmation, or application) to payment

    @property
    def key(self) -> str:
        return f"{self.id}@{self.version}"

    def in_force(self, as_of: dt.date) -> bool:
        return self.valid_from <= as_of and (self.valid_to is None or as_of <= self.valid_to)


# --------------------------------------------------------------- traversal helpers


def children(node: object) -> tuple[object, ...]:
    """Direct sub-nodes of any IR node (expressions, predicates, formulas)."""
    match node:
        case Arith(left=l, right=r) | Compare(left=l, right=r):
            return (l, r)
        case Elapsed(arg=a) | Within(arg=a):
            return (a,)
        case Over(tag=t):
            return (t,)
        case Growth(cur=cur, base=base):
            return (cur, base)
        case Between(expr=e, low=lo, high=hi):
            return (e, lo, hi)
        case InSet(expr=e) | Under(expr=e) | IsNull(expr=e) | Truthy(expr=e):
            return (e,)
        case And(items=items) | Or(items=items):
            return items
        case Not(item=i):
            return (i,)
        case PerUnit(quantity=q):
            return (q,)
        case Percent(base=b):
            return (b,)
        case Tiers(measure=m):
            return (m,)
        case Cases(cases=cs, otherwise=o):
            out: list[object] = []
            for c in cs:
                out += [c.when, c.formula]
            return (*out, o)
        case Sum(parts=ps):
            return ps
        case Clamp(formula=f):
            return (f,)
    return ()


def tags_of(node: object) -> tuple[str, ...]:
    """Tag names a node reads, sorted and unique."""
    seen: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, Tag):
            seen.add(n.name)
        stack.extend(children(n))
    return tuple(sorted(seen))


def tag_type(node: object, name: str) -> TagType | None:
    """The bound type of tag `name` somewhere in a node."""
    stack: list[object] = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, Tag) and n.name == name:
            return n.type
        stack.extend(children(n))
    return None


def policy_tags(policy: Policy, as_of: dt.date | None = None) -> tuple[str, ...]:
    """The tags a policy reads; with `as_of`, the slots it reads on that date (tax_paid@2025)."""
    if as_of is not None:
        policy = at(policy, as_of)
    names: set[str] = set()
    for c in policy.conditions:
        names.update(tags_of(c.pred))
    names.update(tags_of(policy.benefit))
    return tuple(sorted(names))


def expr_kind(e: Expr) -> Kind:
    """The kind of value a bound expression yields."""
    match e:
        case Tag(type=t):
            assert t is not None, f"unbound tag {e.name}"
            return t.kind
        case Arith(left=left):
            return expr_kind(left)
        case Over(tag=t):
            return expr_kind(t)
        case Elapsed() | Num() | Param():
            return Kind.NUMBER
        case DateLit():
            return Kind.DATE
        case BoolLit():
            return Kind.BOOL
    return Kind.TEXT


def region_prefix(code: str) -> str:
    """340000 -> '34', 340200 -> '3402', 340202 -> '340202' (trailing 00 pairs are levels)."""
    out = code
    while len(out) > 2 and out.endswith("00"):
        out = out[:-2]
    return out


def code_prefix(code: str, hierarchy: str) -> str:
    """The prefix a code covers in its hierarchy (industry codes are already prefixes)."""
    return region_prefix(code) if hierarchy == "region" else code


def coarser_codes(codes: tuple[str, ...] | list[str], hierarchy: str) -> tuple[str, ...]:
    """The codes strictly above any of `codes` in its hierarchy, sorted.

    A value known only at one of these levels cannot decide a test against `codes`: an
    enterprise known only as C (制造业) may or may not be in C39, and 340100 (合肥市) may or
    may not be in 340104. Such a test is unknown, not false (`under`, `==`, `in`).
    Industry levels: section C, division C39, group C391, class C3911.
    Region levels: province 340000, city 340100, county 340104.
    """
    out: set[str] = set()
    for code in codes:
        if hierarchy == "region":
            if len(code) == 6:
                out.update(c for c in (code[:2] + "0000", code[:4] + "00") if c != code)
        else:
            out.update(code[:n] for n in (1, 3, 4) if n < len(code))
    return tuple(sorted(out))


def is_code(e: object) -> TypeGuard[Tag]:
    """A bound tag of a hierarchical code (region, industry)."""
    return isinstance(e, Tag) and e.type is not None and e.type.kind is Kind.CODE


def decimal_scale(value: Decimal) -> int:
    """Digits after the point a Decimal needs (0 for integers)."""
    exp = value.normalize().as_tuple().exponent
    assert isinstance(exp, int)
    return max(0, -exp)


def scaled_int(value: Decimal, scale: int) -> int:
    """value × 10^scale as an exact integer (the caller picks a scale that makes it whole)."""
    scaled = value.scaleb(scale)
    assert scaled == scaled.to_integral_value()
    return int(scaled)


def percent_fraction(rate: Decimal, base_scale: int) -> tuple[int, int]:
    """(mult, den) with fen = base × mult / den, for a base stored at `base_scale`: the integer
    form of a percent formula that the SQL and Spark backends round with one division."""
    rs = decimal_scale(rate)
    mult, den = scaled_int(rate, rs), 10**rs
    if base_scale >= 2:
        den *= 10 ** (base_scale - 2)
    else:
        mult *= 10 ** (2 - base_scale)
    return mult, den


# --------------------------------------------------------------- results


class Status(IntEnum):
    """Order matters: Kleene AND is min, OR is max over these values."""

    NOT_ELIGIBLE = 0
    UNDETERMINED = 1
    ELIGIBLE = 2

    @property
    def label(self) -> str:
        return self.name.lower()

    @property
    def zh(self) -> str:
        return {0: "不符合", 1: "待补充数据", 2: "符合"}[self.value]


# The tidy result row every backend returns (the vectorized frame adds `failed`).
RESULT_COLUMNS = ("credit_code", "policy", "version", "status", "amount_fen", "missing", "failed")
NOT_IN_FORCE = "not_in_force"  # pseudo condition id when the evaluation date is outside validity


# --------------------------------------------------------------- periods resolved


def has_periods(node: object) -> bool:
    """Whether a node names a period, a window or a dated parameter (needs `at` before use)."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, Over | Growth | Param) or (isinstance(n, Tag) and n.period is not None):
            return True
        stack.extend(children(n))
    return False


UNSET_PARAM = "@无生效值"  # the name of a parameter with no value in force, read as a tag: `threshold@无生效值`


def _unknown_param(p: Param) -> Tag:
    # no value in force on this date: a tag no frame holds, so the condition is unknown and the
    # missing list names the parameter (`mianshen lint` flags the gap beforehand)
    return Tag(p.name + UNSET_PARAM, TagType(Kind.NUMBER), pos=p.pos)


SPREAD: dict[tuple[OverFn, str], type[And] | type[Or]] = {  # how a comparison of min/max over periods spreads to the periods: all (And) or any (Or)
    (OverFn.MIN, ">="): And, (OverFn.MIN, ">"): And, (OverFn.MIN, "<="): Or, (OverFn.MIN, "<"): Or,
    (OverFn.MAX, ">="): Or, (OverFn.MAX, ">"): Or, (OverFn.MAX, "<="): And, (OverFn.MAX, "<"): And,
}
FLIP = {">": "<", ">=": "<=", "<": ">", "<=": ">=", "==": "==", "!=": "!="}


class _At:
    """Rewrites a bound node for one evaluation date: periods to slots, windows to their periods,
    parameters to the value in force."""

    def __init__(self, as_of: dt.date) -> None:
        self.as_of = as_of

    def e(self, node: Expr) -> Expr:
        match node:
            case Tag(period=p) if p is not None:
                return Tag(slot(node.name, p.at(self.as_of)), node.type, pos=node.pos)
            case Over(fn=OverFn.SUM):
                tags = [Tag(s, node.tag.type, pos=node.pos) for s in node.periods(self.as_of)]
                out: Expr = tags[0]
                for t in tags[1:]:
                    out = Arith("+", out, t, pos=node.pos)
                return out
            case Over():
                raise ValueError("min/max/每期 over periods stands only in a comparison")  # binder-enforced
            case Param():
                v = node.in_force(self.as_of)
                return Num(v.value, pos=node.pos) if v is not None else _unknown_param(node)
            case Arith(op=op, left=left, right=right):
                return Arith(op, self.e(left), self.e(right), pos=node.pos)
            case Elapsed(unit=unit, arg=arg):
                return Elapsed(unit, self.e(arg), pos=node.pos)
        return node

    def p(self, node: Pred) -> Pred:
        match node:
            case Compare(op=op, left=Over(fn=fn) as over, right=right) if fn is not OverFn.SUM:
                return self.spread(op, over, self.e(right), node.pos)
            case Compare(op=op, left=left, right=Over(fn=fn) as over) if fn is not OverFn.SUM:
                return self.spread(FLIP[op], over, self.e(left), node.pos)
            case Compare(op=op, left=left, right=right):
                return Compare(op, self.e(left), self.e(right), pos=node.pos)
            case Growth(op=op, cur=cur, base=base, rate=rate):
                c, b = self.e(cur), self.e(base)
                assert isinstance(c, Tag) and isinstance(b, Tag)
                return Growth(op, c, b, rate, pos=node.pos)
            case Between(expr=x, low=lo, high=hi):
                return Between(self.e(x), self.e(lo), self.e(hi), pos=node.pos)
            case InSet(expr=x, values=vs, negated=neg):
                return InSet(self.e(x), vs, negated=neg, pos=node.pos)
            case Under(expr=x, codes=codes):
                return Under(self.e(x), codes, pos=node.pos)
            case IsNull(expr=x, negated=neg):
                return IsNull(self.e(x), negated=neg, pos=node.pos)
            case Truthy(expr=x):
                return Truthy(self.e(x), pos=node.pos)
            case Within(arg=arg, count=n, unit=u):
                return Within(self.e(arg), n, u, pos=node.pos)
            case And(items=items):
                return And(tuple(self.p(i) for i in items), pos=node.pos)
            case Or(items=items):
                return Or(tuple(self.p(i) for i in items), pos=node.pos)
            case Not(item=item):
                return Not(self.p(item), pos=node.pos)
        return node

    def spread(self, op: str, over: Over, other: Expr, pos: int) -> Pred:
        tags = [Tag(s, over.tag.type, pos=over.pos) for s in over.periods(self.as_of)]
        items = tuple(Compare(op, t, other, pos=pos) for t in tags)
        if len(items) == 1:
            return items[0]
        joiner: type[And] | type[Or] = And if over.fn is OverFn.EACH else SPREAD[(over.fn, op)]
        return joiner(items, pos=pos)

    def f(self, node: Formula) -> Formula:
        match node:
            case PerUnit(quantity=q, rate=r):
                return PerUnit(self.e(q), r)
            case Percent(base=b, rate=r):
                return Percent(self.e(b), r)
            case Tiers(measure=m, tiers=ts):
                return Tiers(self.e(m), ts)
            case Cases(cases=cs, otherwise=o):
                return Cases(tuple(Case(self.p(c.when), self.f(c.formula)) for c in cs), self.f(o))
            case Sum(parts=ps):
                return Sum(tuple(self.f(x) for x in ps))
            case Clamp(formula=inner, floor=lo, cap=hi):
                return Clamp(self.f(inner), lo, hi)
        return node


_AT: dict[tuple[int, dt.date], tuple[Policy, Policy]] = {}


def at(policy: Policy, as_of: dt.date) -> Policy:
    """The policy as evaluated on `as_of`: every period named relative to the evaluation date
    resolved to its slot (`tax_paid[上年]` on 2026-03-01 reads `tax_paid@2025`, never another
    year), windows to their periods, dated parameters to the value in force. A policy without
    periods is returned as is. Every backend evaluates `at(policy, as_of)`, so they agree."""
    key = (id(policy), as_of)
    hit = _AT.get(key)
    if hit is not None and hit[0] is policy:
        return hit[1]
    out = policy
    if any(has_periods(c.pred) for c in policy.conditions) or has_periods(policy.benefit):
        r = _At(as_of)
        out = replace(policy, conditions=tuple(replace(c, pred=r.p(c.pred)) for c in policy.conditions),
                      benefit=r.f(policy.benefit))
    if len(_AT) > 50_000:
        _AT.clear()
    _AT[key] = (policy, out)
    return out
