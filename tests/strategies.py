"""Hypothesis strategies: random bound condition trees, formulas and tag data.

Literals are drawn from the same small pools as the data, so exact boundary
values (equal to a threshold, one fen either side) come up constantly.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import strategies as st

from rules_engine import ir
from rules_engine.data.tags import Source, TagDef, TagDictionary
from rules_engine.ir import Kind, TagType
from rules_engine.periods import Period, PeriodKind, Relative

N0 = TagType(Kind.NUMBER, 0, "人")
N2 = TagType(Kind.NUMBER, 2, "%")
MONEY = TagType(Kind.MONEY, 2, "元")
DATE = TagType(Kind.DATE)
BOOL = TagType(Kind.BOOL)
CAT = TagType(Kind.CATEGORY, values=("大型", "中型", "小型", "微型"))
REGION = TagType(Kind.CODE, hierarchy="region")
INDUSTRY = TagType(Kind.CODE, hierarchy="industry")

TAGS = {
    "n0": N0, "n0b": N0, "n2": N2, "m1": MONEY, "m2": MONEY, "d1": DATE, "d2": DATE,
    "b1": BOOL, "b2": BOOL, "cat": CAT, "region": REGION, "industry": INDUSTRY,
}
# a yearly money fact with four years delivered (the evaluation year 2024 and three before it)
SLOTS = {f"pm@{y}": MONEY for y in (2021, 2022, 2023, 2024)}
DICTIONARY = TagDictionary(
    [TagDef(k, k, t, "test") for k, t in TAGS.items()] + [TagDef("credit_code", "代码", TagType(Kind.TEXT), "test"),
                                                          TagDef("pm", "pm", MONEY, "test", period=PeriodKind.YEAR)],
    {"test": Source("test", "测试", "")},
)
TAGS.update(SLOTS)

AS_OF = dt.date(2024, 2, 29)
INTS = [Decimal(v) for v in (-1, 0, 1, 2, 3, 5, 11, 12, 30, 31, 100)]
DEC2 = [Decimal(v) for v in ("0", "0.01", "1.5", "1.51", "2.99", "3", "3.00", "5.5", "5.51", "-0.01", "20")]
MONEYS = [Decimal(v) for v in ("0", "0.01", "0.05", "0.5", "1", "99.99", "100", "12345.67", "158000.05",
                               "4999999.99", "5000000", "-0.01", "-12.35", "99999999999.99")]
DATES = [dt.date(2024, 2, 29), dt.date(2023, 2, 28), dt.date(2023, 3, 1), dt.date(2023, 2, 28),
         dt.date(2021, 2, 28), dt.date(2024, 1, 31), dt.date(2023, 12, 31), dt.date(2020, 2, 29),
         dt.date(2024, 3, 1), dt.date(1999, 12, 31)]
REGIONS = ["340000", "340100", "340104", "340200", "340202", "341000", "341002", "320100"]
INDUSTRIES = ["C", "C39", "C391", "C3911", "C3913", "C2614", "F", "F51", "I65", "I6513", "A0111"]
PERIODIC_MONEYS = [Decimal(v) for v in ("0", "0.01", "100", "120", "120.01", "125", "1000", "-5")]
GROWTH_RATES = [Decimal(v) for v in ("0.2", "0", "-0.1", "0.25", "0.0001", "1")]
RATES = [Decimal(v) for v in ("0.6", "0.3", "0.1", "0.05", "0.001", "0.333333", "1", "0.125", "2")]


def tag(name: str) -> ir.Tag:
    return ir.Tag(name, TAGS[name])


def value_for(name: str) -> st.SearchStrategy[object]:
    t = TAGS[name]
    if t is N0:
        base: st.SearchStrategy[object] = st.sampled_from(INTS)
    elif name in SLOTS:
        base = st.sampled_from(PERIODIC_MONEYS)
    elif t is N2:
        base = st.sampled_from(DEC2)
    elif t is MONEY:
        base = st.sampled_from(MONEYS)
    elif t is DATE:
        base = st.sampled_from(DATES)
    elif t is BOOL:
        base = st.booleans()
    elif t is CAT:
        base = st.sampled_from(CAT.values)
    elif t is REGION:
        base = st.sampled_from(REGIONS)
    else:
        base = st.sampled_from(INDUSTRIES)
    return st.one_of(st.none(), base, base)  # about a third missing


rows = st.fixed_dictionaries({name: value_for(name) for name in TAGS})

NUMERIC = ["n0", "n0b", "n2"]


@st.composite
def numeric_expr(draw: st.DrawFn) -> tuple[ir.Expr, str]:
    """A numeric value expression and its 'family' (number or money), never a bare literal."""
    choice = draw(st.integers(0, 5))
    if choice == 0:
        return tag(draw(st.sampled_from(NUMERIC))), "number"
    if choice == 1:
        return tag(draw(st.sampled_from(["m1", "m2"]))), "money"
    if choice == 2:
        return ir.Arith(draw(st.sampled_from("+-")), tag("m1"), tag("m2")), "money"
    if choice == 3:
        a, b = draw(st.sampled_from(NUMERIC)), draw(st.sampled_from(NUMERIC))
        return ir.Arith(draw(st.sampled_from("+-")), tag(a), tag(b)), "number"
    if choice == 4:
        unit = draw(st.sampled_from(list(ir.ElapsedUnit)))
        return ir.Elapsed(unit, tag(draw(st.sampled_from(["d1", "d2"])))), "number"
    return ir.Arith("-", tag("m1"), ir.Num(draw(st.sampled_from(MONEYS)))), "money"


@st.composite
def literal_for(draw: st.DrawFn, family: str) -> ir.Num:
    pool = MONEYS if family == "money" else INTS + DEC2
    return ir.Num(draw(st.sampled_from(pool)))


@st.composite
def leaf(draw: st.DrawFn) -> ir.Pred:
    kind = draw(st.integers(0, 24))
    op = draw(st.sampled_from(ir.COMPARE_OPS))
    if kind <= 2:
        e, fam = draw(numeric_expr())
        lit = draw(literal_for(fam))
        return ir.Compare(op, e, lit) if draw(st.booleans()) else ir.Compare(op, lit, e)
    if kind == 3:
        return ir.Compare(op, tag("m1"), tag("m2"))
    if kind == 4:
        e, fam = draw(numeric_expr())
        lo, hi = draw(literal_for(fam)), draw(literal_for(fam))
        return ir.Between(e, lo, hi)
    if kind == 5:
        return ir.Compare(op, tag(draw(st.sampled_from(["d1", "d2"]))), ir.DateLit(draw(st.sampled_from(DATES))))
    if kind == 6:
        return ir.Truthy(tag(draw(st.sampled_from(["b1", "b2"]))))
    if kind == 7:
        values = draw(st.lists(st.sampled_from(CAT.values), min_size=1, max_size=3, unique=True))
        return ir.InSet(tag("cat"), tuple(ir.Str(v) for v in values), negated=draw(st.booleans()))
    if kind == 8:
        codes = draw(st.lists(st.sampled_from(REGIONS), min_size=1, max_size=2, unique=True))
        return ir.Under(tag("region"), tuple(codes))
    if kind == 9:
        codes = draw(st.lists(st.sampled_from(INDUSTRIES), min_size=1, max_size=2, unique=True))
        return ir.Under(tag("industry"), tuple(codes))
    if kind == 10:
        return ir.IsNull(tag(draw(st.sampled_from(list(TAGS)))), negated=draw(st.booleans()))
    if kind == 11:
        values = draw(st.lists(st.sampled_from(INTS), min_size=1, max_size=3, unique=True))
        return ir.InSet(tag("n0"), tuple(ir.Num(v) for v in values), negated=draw(st.booleans()))
    eq = draw(st.sampled_from(["==", "!="]))
    if kind == 12:
        return ir.Compare(eq, tag("cat"), ir.Str(draw(st.sampled_from(CAT.values))))
    if kind == 13:
        return ir.Compare(eq, tag("region"), ir.Str(draw(st.sampled_from(REGIONS))))
    if kind == 14:
        return ir.Compare(eq, tag(draw(st.sampled_from(["b1", "b2"]))), ir.BoolLit(draw(st.booleans())))
    if kind == 15:
        return ir.Compare(op, tag("d1"), tag("d2"))
    if kind == 16:
        return ir.Within(tag(draw(st.sampled_from(["d1", "d2"]))), draw(st.sampled_from([1, 2, 12, 13, 365])),
                         draw(st.sampled_from(list(ir.ElapsedUnit))))
    if kind == 17:  # a code too coarse for the test is unknown, so equality and lists of codes count too
        lit = ir.Str(draw(st.sampled_from(INDUSTRIES)))
        return ir.Compare(eq, tag("industry"), lit) if draw(st.booleans()) else ir.Compare(eq, lit, tag("industry"))
    if kind == 18:
        values = draw(st.lists(st.sampled_from(INDUSTRIES), min_size=1, max_size=3, unique=True))
        return ir.InSet(tag("industry"), tuple(ir.Str(v) for v in values), negated=draw(st.booleans()))
    if kind == 19:
        return ir.Const(draw(st.booleans()))
    if kind == 20:  # one period, relative or fixed; 2020 and 2025 are never delivered
        period = draw(st.sampled_from([Relative(PeriodKind.YEAR, o) for o in (0, -1, -2, -3, -4)]
                                      + [Relative(PeriodKind.YEAR, fixed=Period(PeriodKind.YEAR, 2025))]))
        lit = ir.Num(draw(st.sampled_from(PERIODIC_MONEYS)))
        return ir.Compare(op, ir.Tag("pm", MONEY, period=period), lit)
    if kind == 21:
        fn = draw(st.sampled_from(list(ir.OverFn)))
        over = ir.Over(fn, ir.Tag("pm", MONEY), PeriodKind.YEAR, draw(st.sampled_from([1, 2, 3, 4])))
        ops = ir.COMPARE_OPS if fn in (ir.OverFn.SUM, ir.OverFn.EACH) else (">", ">=", "<", "<=")
        lit = ir.Num(draw(st.sampled_from(PERIODIC_MONEYS)))
        op = draw(st.sampled_from(ops))
        return ir.Compare(op, over, lit) if draw(st.booleans()) else ir.Compare(op, lit, over)
    if kind == 22:
        cur, base = draw(st.sampled_from([(-1, -2), (-1, -3), (0, -1), (-2, -3), (-1, -5)]))
        return ir.Growth(op, ir.Tag("pm", MONEY, period=Relative(PeriodKind.YEAR, cur)),
                         ir.Tag("pm", MONEY, period=Relative(PeriodKind.YEAR, base)), draw(st.sampled_from(GROWTH_RATES)))
    if kind == 23:  # a dated parameter: the value in force on the evaluation date (or none yet)
        values = tuple(ir.ParamValue(d, v) for d, v in sorted(draw(st.lists(
            st.tuples(st.sampled_from([dt.date(2020, 1, 1), AS_OF, dt.date(2024, 3, 1)]),
                      st.sampled_from(PERIODIC_MONEYS)), min_size=1, max_size=3, unique_by=lambda x: x[0]))))
        return ir.Compare(op, tag("m1"), ir.Param("th", values))
    lo, hi = draw(st.sampled_from(DATES)), draw(st.sampled_from(DATES))
    return ir.Between(tag("d1"), ir.DateLit(lo), ir.DateLit(hi))


def preds(depth: int = 3) -> st.SearchStrategy[ir.Pred]:
    return st.recursive(
        leaf(),
        lambda inner: st.one_of(
            st.lists(inner, min_size=2, max_size=3).map(lambda xs: ir.And(tuple(xs))),
            st.lists(inner, min_size=2, max_size=3).map(lambda xs: ir.Or(tuple(xs))),
            inner.map(ir.Not),
        ),
        max_leaves=6,
    )


@st.composite
def base_formula(draw: st.DrawFn) -> ir.Formula:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return ir.Fixed(draw(st.sampled_from([m for m in MONEYS if m >= 0])))
    if kind == 1:
        q = draw(st.sampled_from(["n0", "n2"]))
        return ir.PerUnit(tag(q), draw(st.sampled_from([Decimal("1500"), Decimal("0.01"), Decimal("33.33")])))
    if kind == 2:
        base = draw(st.sampled_from([tag("m1"), ir.Arith("-", tag("m1"), tag("m2")),
                                     ir.Over(ir.OverFn.SUM, ir.Tag("pm", MONEY), PeriodKind.YEAR, 2)]))
        return ir.Percent(base, draw(st.sampled_from(RATES)))
    e, fam = draw(numeric_expr())
    thresholds = draw(st.lists(literal_for(fam), min_size=1, max_size=3, unique_by=lambda n: n.value))
    tiers = tuple(sorted((ir.Tier(t.value, draw(st.sampled_from([Decimal(10), Decimal("0.01"), Decimal(500000)])))
                          for t in thresholds), key=lambda t: t.at_least, reverse=True))
    return ir.Tiers(e, tiers)


def formulas() -> st.SearchStrategy[ir.Formula]:
    return st.recursive(
        base_formula(),
        lambda inner: st.one_of(
            st.builds(lambda cs, o: ir.Cases(tuple(cs), o),
                      st.lists(st.builds(ir.Case, preds(), inner), min_size=1, max_size=2), inner),
            st.lists(inner, min_size=1, max_size=3).map(lambda xs: ir.Sum(tuple(xs))),
            st.builds(lambda f, lo, hi: ir.Clamp(f, lo, hi), inner,
                      st.sampled_from([None, Decimal(0), Decimal("100")]),
                      st.sampled_from([None, Decimal("5000"), Decimal("0.05")])),
        ),
        max_leaves=4,
    )


@st.composite
def policies(draw: st.DrawFn) -> ir.Policy:
    conds = draw(st.lists(preds(), min_size=1, max_size=3))
    valid_from = draw(st.sampled_from([dt.date(2020, 1, 1), AS_OF, dt.date(2024, 3, 1)]))
    valid_to = draw(st.sampled_from([None, AS_OF, dt.date(2024, 2, 28), dt.date(2030, 1, 1)]))
    return ir.Policy(
        id="p", version=1, title="t", department="d", basis=ir.LegalBasis("doc", "no"), tier=ir.Tier3.AUTO,
        valid_from=valid_from, valid_to=valid_to, regions=(),
        conditions=tuple(ir.Condition(f"c{i}", c, "") for i, c in enumerate(conds)),
        benefit=draw(formulas()),
    )
