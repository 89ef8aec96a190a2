"""The SQL backend: the policy IR compiled to SQLAlchemy Core, run inside the database.

The compiler imports only the IR (and SQLAlchemy); the table helpers at the end
(write_table, read_rows) know the storage frame's layout. SQL's NULL logic is Kleene's three-valued logic:
a comparison with NULL is NULL (unknown), `false AND NULL` is false, `true OR NULL` is true.
So a condition compiles to one SQL boolean expression whose NULL means "undetermined".

The table holds storage units (see frame.py): money and numbers as scaled integers, dates
as DATE, booleans, text. Amounts use integer arithmetic with the engine's one rounding
rule (half away from zero, to the fen), split so that no product overflows BIGINT.
Missing-tag sets are BIGINT bit masks built with CASE, tag bits as in the vectorized
backend (one bit per tag of the run, sorted).

Dialects: SQLite and PostgreSQL. What this backend cannot express raises
UnsupportedConstruct naming the construct.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement, Grouping

from . import ir
from .errors import EngineError, UnsupportedConstruct
from .frame import conform, storage_columns, to_records
from .ir import Kind, Status
from .tags import TagDictionary

EPOCH = dt.date(1970, 1, 1)


def _lit(v: object) -> ColumnElement[Any]:
    """Integers as BIGINT: PostgreSQL types a bare literal INTEGER, and 10^8 yuan × 100 overflows it
    (found by the batch-from-PostgreSQL test on the library, not by the small random cases)."""
    if isinstance(v, int) and not isinstance(v, bool):
        return sa.literal(v, sa.BigInteger)
    return sa.literal(v)


def _unknown(pred: ColumnElement[Any]) -> ColumnElement[Any]:
    """pred IS NULL, with pred in parentheses: SQLAlchemy renders `NOT a IS NULL`, which SQL
    reads as `NOT (a IS NULL)` (found by the parity test)."""
    return Grouping(pred).is_(None)


class _Compiler:
    def __init__(self, table: sa.Table, dialect: str, as_of: dt.date, bits: dict[str, int]) -> None:
        self.t = table
        self.dialect = dialect
        self.as_of = as_of
        self.bits = bits

    def col(self, name: str) -> ColumnElement[Any]:
        if name not in self.t.c:
            return sa.null()
        return self.t.c[name]

    # ---------------------------------------------------------------- dates
    def days(self, e: ColumnElement[Any]) -> ColumnElement[Any]:
        if self.dialect == "sqlite":
            return sa.cast(sa.func.julianday(e) - 2440587.5, sa.Integer)
        return e - sa.cast(sa.literal(EPOCH.isoformat()), sa.Date)

    def part(self, e: ColumnElement[Any], what: str) -> ColumnElement[Any]:
        if self.dialect == "sqlite":
            fmt = {"year": "%Y", "month": "%m", "day": "%d"}[what]
            return sa.cast(sa.func.strftime(fmt, e), sa.Integer)
        return sa.cast(sa.extract(what, e), sa.Integer)

    # ---------------------------------------------------------------- values
    def num(self, e: ir.Expr) -> tuple[ColumnElement[Any], int]:
        """A numeric SQL expression and its scale."""
        match e:
            case ir.Tag(name=name, type=t):
                assert t is not None
                return self.col(name), t.scale
            case ir.Num(value=v):
                s = ir.decimal_scale(v)
                return _lit(ir.scaled_int(v, s)), s
            case ir.Arith(op=op, left=left, right=right):
                a, sa_ = self.num(left)
                b, sb = self.num(right)
                s = max(sa_, sb)
                a = a * 10 ** (s - sa_) if s > sa_ else a
                b = b * 10 ** (s - sb) if s > sb else b
                return (a + b if op == "+" else a - b), s
            case ir.Elapsed(unit=unit, arg=arg):
                if not isinstance(arg, ir.Tag):
                    raise UnsupportedConstruct("SQL backend: elapsed time of a computed date")
                d = self.col(arg.name)
                now = self.as_of
                if unit is ir.ElapsedUnit.DAYS:
                    return _lit((now - EPOCH).days) - self.days(d), 0
                y, m, day = self.part(d, "year"), self.part(d, "month"), self.part(d, "day")
                if unit is ir.ElapsedUnit.MONTHS:
                    full = (now.year * 12 + now.month) - (y * 12 + m)
                    return full - sa.case((_lit(now.day) < day, 1), else_=0), 0
                before = sa.or_(_lit(now.month) < m, sa.and_(_lit(now.month) == m, _lit(now.day) < day))
                return (now.year - y) - sa.case((before, 1), else_=0), 0
        raise UnsupportedConstruct(f"SQL backend: {type(e).__name__} as a number")

    def value(self, e: ir.Expr) -> ColumnElement[Any]:
        match e:
            case ir.Tag(name=name):
                return self.col(name)
            case ir.Str(value=v):
                return _lit(v)
            case ir.BoolLit(value=v):
                return sa.true() if v else sa.false()
            case ir.DateLit(value=v):
                return sa.cast(_lit(v.isoformat()), sa.Date) if self.dialect != "sqlite" else _lit(v.isoformat())
        raise UnsupportedConstruct(f"SQL backend: {type(e).__name__} as a value")

    # ---------------------------------------------------------------- predicates
    def pred(self, p: ir.Pred) -> ColumnElement[Any]:
        match p:
            case ir.And(items=items):
                return sa.and_(*(self.pred(i) for i in items))
            case ir.Or(items=items):
                return sa.or_(*(self.pred(i) for i in items))
            case ir.Not(item=item):
                return sa.not_(self.pred(item))
            case ir.IsNull(expr=e, negated=neg):
                nulls = [self.col(t).is_(None) for t in ir.tags_of(e)]
                any_null = sa.or_(*nulls) if nulls else sa.false()
                return sa.not_(any_null) if neg else any_null
            case ir.Truthy(expr=ir.Tag(name=name)):
                return self.col(name) == sa.true()
            case ir.Const(value=v):
                return sa.true() if v else sa.false()
            case ir.Within():
                return self.pred(p.lowered())
            case ir.Compare(op=op, left=left, right=right):
                return self.compare(op, left, right)
            case ir.Between(expr=e, low=lo, high=hi):
                return sa.and_(self.compare(">=", e, lo), self.compare("<=", e, hi))
            case ir.InSet(expr=e, values=values, negated=neg):
                if ir.expr_kind(e) in ir.NUMERIC_KINDS:
                    tests = [self.compare("==", e, v) for v in values]
                    hit = sa.or_(*tests)
                else:
                    hit = self.value(e).in_([str(v.value) for v in values])
                if ir.is_code(e):
                    hit = self.code_test(e, hit, tuple(str(v.value) for v in values))
                return sa.not_(hit) if neg else hit
            case ir.Under(expr=ir.Tag(name=name, type=t) as e, codes=codes):
                assert t is not None
                c = self.col(name)
                hit = sa.or_(*(c.startswith(ir.code_prefix(code, t.hierarchy), autoescape=True) for code in codes))
                return self.code_test(e, hit, codes)
        raise UnsupportedConstruct(f"SQL backend: predicate {type(p).__name__}")

    def compare(self, op: str, left: ir.Expr, right: ir.Expr) -> ColumnElement[Any]:
        kind = ir.expr_kind(left) if not isinstance(left, (ir.Num, ir.Str, ir.DateLit, ir.BoolLit)) else ir.expr_kind(right)
        if kind in ir.NUMERIC_KINDS or isinstance(left, ir.Elapsed) or isinstance(right, ir.Elapsed):
            a, sa_ = self.num(left)
            b, sb = self.num(right)
            s = max(sa_, sb)
            a = a * 10 ** (s - sa_) if s > sa_ else a
            b = b * 10 ** (s - sb) if s > sb else b
        else:
            a, b = self.value(left), self.value(right)
        tag, lit = (left, right) if ir.is_code(left) else (right, left)
        if op in ("==", "!=") and ir.is_code(tag) and isinstance(lit, ir.Str):
            hit = self.code_test(tag, a == b, (lit.value,))
            return hit if op == "==" else sa.not_(hit)
        if op == "==":
            return a == b
        if op == "!=":
            return a != b
        if op == "<":
            return a < b
        if op == "<=":
            return a <= b
        if op == ">":
            return a > b
        return a >= b

    def code_test(self, e: ir.Expr, hit: ColumnElement[Any], codes: tuple[str, ...]) -> ColumnElement[Any]:
        """`hit`, or unknown (NULL) where the value is a level above the codes tested."""
        assert isinstance(e, ir.Tag) and e.type is not None
        coarser = ir.coarser_codes(codes, e.type.hierarchy)
        if not coarser:
            return hit
        return sa.or_(hit, sa.case((self.col(e.name).in_(coarser), sa.null()), else_=sa.false()))

    # ---------------------------------------------------------------- missing-tag masks
    def nullbits(self, node: object) -> ColumnElement[Any]:
        parts = [sa.case((self.col(t).is_(None), _lit(1 << self.bits[t])), else_=_lit(0)) for t in ir.tags_of(node)]
        return _bitor(parts)

    def missing(self, p: ir.Pred) -> ColumnElement[Any]:
        """The tags whose absence makes p unknown: only through its unknown branches."""
        unknown = _unknown(self.pred(p))
        match p:
            case ir.And(items=items) | ir.Or(items=items):
                inner = _bitor([self.missing(i) for i in items])
            case ir.Not(item=item):
                inner = self.missing(item)
            case ir.Within():
                inner = self.missing(p.lowered())
            case _ if any(ir.is_code(c) for c in ir.children(p)):
                # unknown with nothing missing: a code known too coarsely needs that tag
                nulls = self.nullbits(p)
                inner = sa.case((nulls == 0, _lit(sum(1 << self.bits[t] for t in ir.tags_of(p)))), else_=nulls)
            case _:
                inner = self.nullbits(p)
        return sa.case((unknown, inner), else_=_lit(0))

    # ---------------------------------------------------------------- amounts (fen, NULL if unknown)
    def amount(self, f: ir.Formula) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
        """(fen or NULL, missing bits where the amount is unknown)."""
        match f:
            case ir.Fixed(amount=a):
                return _lit(ir.scaled_int(a, 2)), _lit(0)
            case ir.PerUnit(quantity=q, rate=rate):
                v, s = self.num(q)
                return _round_div(v, ir.scaled_int(rate, 2), 10**s), self.masked(v, q)
            case ir.Percent(base=b, rate=rate):
                v, s = self.num(b)
                mult, den = ir.percent_fraction(rate, s)
                return _round_div(v, mult, den), self.masked(v, b)
            case ir.Tiers(measure=m, tiers=tiers):
                v, s = self.num(m)
                common = max([s, *(ir.decimal_scale(t.at_least) for t in tiers)])
                scaled = v * 10 ** (common - s) if common > s else v
                steps = [(scaled >= _lit(ir.scaled_int(t.at_least, common)), _lit(ir.scaled_int(t.amount, 2))) for t in tiers]
                return sa.case((v.is_(None), sa.null()), *steps, else_=_lit(0)), self.masked(v, m)
            case ir.Cases(cases=cases, otherwise=otherwise):
                whens: list[tuple[ColumnElement[Any], ColumnElement[Any]]] = []
                masks: list[tuple[ColumnElement[Any], ColumnElement[Any]]] = []
                for c in cases:
                    w = self.pred(c.when)
                    fen, mask = self.amount(c.formula)
                    whens += [(_unknown(w), sa.null()), (w, fen)]
                    masks += [(_unknown(w), self.missing(c.when)), (w, mask)]
                ofen, omask = self.amount(otherwise)
                return sa.case(*whens, else_=ofen), sa.case(*masks, else_=omask)
            case ir.Sum(parts=parts):
                pairs = [self.amount(p) for p in parts]
                total = pairs[0][0]
                for fen, _ in pairs[1:]:
                    total = total + fen
                mask = _bitor([sa.case((fen.is_(None), m), else_=_lit(0)) for fen, m in pairs])
                return total, mask
            case ir.Clamp(formula=inner, floor=lo, cap=hi):
                fen, mask = self.amount(inner)
                out = fen
                if lo is not None:
                    lo_f = _lit(ir.scaled_int(lo, 2))
                    out = sa.case((out < lo_f, lo_f), else_=out)
                if hi is not None:
                    hi_f = _lit(ir.scaled_int(hi, 2))
                    out = sa.case((out > hi_f, hi_f), else_=out)
                return out, mask
        raise UnsupportedConstruct(f"SQL backend: formula {type(f).__name__}")

    def masked(self, v: ColumnElement[Any], node: object) -> ColumnElement[Any]:
        return sa.case((v.is_(None), self.nullbits(node)), else_=_lit(0))


def _bitor(parts: Sequence[ColumnElement[Any]]) -> ColumnElement[Any]:
    if not parts:
        return _lit(0)
    out = parts[0]
    for p in parts[1:]:
        out = out.op("|")(p)
    return out


def _div(a: ColumnElement[Any], b: int) -> ColumnElement[Any]:
    """Integer division of a non-negative integer: `/` of two integers truncates in SQLite and
    PostgreSQL. Not SQLAlchemy's `//`, which renders FLOOR(a / b) when a's type is unknown (abs(...)),
    and PostgreSQL's FLOOR(bigint) returns double precision."""
    return Grouping(a).op("/")(_lit(b))


def _round_div(x: ColumnElement[Any], mult: int, den: int) -> ColumnElement[Any]:
    """round_half_away_from_zero(x × mult / den) in integers, without overflowing BIGINT."""
    if mult % den == 0:
        return x * (mult // den)
    ax = sa.func.abs(x, type_=sa.BigInteger)
    mag = _div(ax, den) * mult + _div(2 * (ax % den) * mult + den, 2 * den)
    return sa.case((x.is_(None), sa.null()), (x < 0, -mag), else_=mag)


def policy_select(table: sa.Table, policy: ir.Policy, as_of: dt.date, dialect: str, bits: dict[str, int],
                  key: str = "credit_code") -> sa.Select[Any]:
    """One SELECT: key, policy, version, status (0/1/2), amount_fen, missing bits, for every row.

    Two layers, each fenced with OFFSET 0: the inner one evaluates the conditions, the amount and
    the masks once per row; the outer one derives status, amount and missing from those columns.
    Without the fence both databases inline a subquery's expressions at every reference, and the
    missing-tag decoding of match_into referenced `missing` once per tag (measured: 8.4 s for 4
    policies at 2×10^5 rows on PostgreSQL before, see benchmarks/RESULTS.md#backends)."""
    if not policy.in_force(as_of):
        return sa.select(table.c[key].label("credit_code"), _lit(policy.id).label("policy"),
                         _lit(policy.version).label("version"), _lit(int(Status.NOT_ELIGIBLE)).label("status"),
                         _lit(0).label("amount_fen"), _lit(0).label("missing"))
    c = _Compiler(table, dialect, as_of, bits)
    cond = sa.and_(*(c.pred(x.pred) for x in policy.conditions)) if policy.conditions else sa.true()
    fen, amask = c.amount(policy.benefit)
    cmask = _bitor([c.missing(x.pred) for x in policy.conditions])
    inner = sa.select(table.c[key].label("credit_code"), Grouping(cond).label("ok"), fen.label("fen"),
                      cmask.label("cmask"), amask.label("amask")).offset(0).subquery("evaluated")
    ok, fen_ = inner.c.ok, inner.c.fen
    refused = ok.is_(False) if dialect != "sqlite" else ok == 0
    status = sa.case((refused, _lit(0)), (sa.and_(ok.is_not(None), fen_.is_not(None)), _lit(2)), else_=_lit(1))
    amount = sa.case((refused, _lit(0)), (fen_.is_(None), _lit(0)), (fen_ < 0, _lit(0)), else_=fen_)
    missing = sa.case((status == 1, inner.c.cmask.op("|")(sa.case((fen_.is_(None), inner.c.amask), else_=_lit(0)))),
                      else_=_lit(0))
    return sa.select(inner.c.credit_code, _lit(policy.id).label("policy"), _lit(policy.version).label("version"),
                     status.label("status"), amount.label("amount_fen"), missing.label("missing")).offset(0)


def _bits(policies: list[ir.Policy]) -> tuple[tuple[str, ...], dict[str, int]]:
    tags = tuple(sorted({t for p in policies for t in ir.policy_tags(p)}))
    if len(tags) > 63:
        raise UnsupportedConstruct("SQL backend: more than 63 distinct tags in one run (a BIGINT mask)")
    return tags, {t: i for i, t in enumerate(tags)}


def match(conn: sa.Connection, table: sa.Table, policies: list[ir.Policy], as_of: dt.date,
          key: str = "credit_code", include_not_eligible: bool = True) -> list[dict[str, Any]]:
    """Run every policy inside the database; tidy rows with missing tags decoded."""
    tags, bits = _bits(policies)
    out: list[dict[str, Any]] = []
    for p in policies:
        sel = policy_select(table, p, as_of, conn.dialect.name, bits, key)
        if not include_not_eligible:
            q = sel.subquery()
            sel = sa.select(q).where(q.c.status != int(Status.NOT_ELIGIBLE))
        for row in conn.execute(sel).mappings():
            mask = int(row["missing"] or 0)
            out.append({"credit_code": row["credit_code"], "policy": row["policy"], "version": int(row["version"]),
                        "status": Status(int(row["status"])).label, "amount_fen": int(row["amount_fen"]),
                        "missing": ",".join(t for t in tags if mask >> bits[t] & 1)})
    return out


def eligible(conn: sa.Connection, table: sa.Table, policies: list[ir.Policy], as_of: dt.date,
             key: str = "credit_code") -> pd.DataFrame:
    """Only the eligible pairs with a positive amount (credit_code, policy, amount_fen): the
    filter runs in the database, so a batch moves candidates, not the whole table."""
    _, bits = _bits(policies)
    parts = []
    for p in policies:
        q = policy_select(table, p, as_of, conn.dialect.name, bits, key).subquery()
        sel = sa.select(q.c.credit_code, q.c.policy, q.c.amount_fen).where(
            q.c.status == int(Status.ELIGIBLE), q.c.amount_fen > 0)
        parts.append(pd.DataFrame(conn.execute(sel).all(), columns=["credit_code", "policy", "amount_fen"]))
    if not parts:
        return pd.DataFrame(columns=["credit_code", "policy", "amount_fen"])
    out = pd.concat(parts, ignore_index=True)
    out["amount_fen"] = out["amount_fen"].astype("int64")
    return out


def results_table(name: str, metadata: sa.MetaData | None = None) -> sa.Table:
    return sa.Table(name, metadata or sa.MetaData(),
                    sa.Column("credit_code", sa.Text, nullable=False), sa.Column("policy", sa.Text, nullable=False),
                    sa.Column("version", sa.Integer, nullable=False), sa.Column("as_of", sa.Date, nullable=False),
                    sa.Column("status", sa.Text, nullable=False), sa.Column("amount_fen", sa.BigInteger, nullable=False),
                    sa.Column("missing", sa.Text, nullable=False),
                    sa.PrimaryKeyConstraint("credit_code", "policy", "version", "as_of"))


def match_into(conn: sa.Connection, table: sa.Table, policies: list[ir.Policy], as_of: dt.date, out: str,
               key: str = "credit_code", include_not_eligible: bool = False) -> int:
    """Run every policy inside the database and INSERT ... SELECT the tidy results into table
    `out` (created if absent; rows of the same date are replaced). No row leaves the database."""
    _, bits = _bits(policies)
    target = results_table(out)
    target.create(conn, checkfirst=True)
    conn.execute(target.delete().where(target.c.as_of == as_of,
                                       target.c.policy.in_([p.id for p in policies])))
    for p in policies:
        q = policy_select(table, p, as_of, conn.dialect.name, bits, key).subquery()
        # Only this policy's tags can be set in its mask.
        names = [sa.case((q.c.missing.op("&")(1 << bits[t]) != 0, _lit(t + ",")), else_=_lit(""))
                 for t in sorted(ir.policy_tags(p))]
        joined = names[0] if names else _lit("")
        for n in names[1:]:
            joined = joined + n
        status = sa.case(*((q.c.status == int(s), _lit(s.label)) for s in Status))
        sel = sa.select(q.c.credit_code, q.c.policy, q.c.version, sa.literal(as_of, sa.Date), status,
                        q.c.amount_fen, sa.func.rtrim(joined, ","))
        if not include_not_eligible:
            sel = sel.where(q.c.status != int(Status.NOT_ELIGIBLE))
        conn.execute(target.insert().from_select(
            ["credit_code", "policy", "version", "as_of", "status", "amount_fen", "missing"], sel))
    # Counted, not summed from rowcount: psycopg reports -1 for INSERT ... SELECT through SQLAlchemy.
    return int(conn.execute(sa.select(sa.func.count()).select_from(target).where(
        target.c.as_of == as_of, target.c.policy.in_([p.id for p in policies]))).scalar_one())


def read_results(conn: sa.Connection, out: str, policies: list[ir.Policy], as_of: dt.date) -> pd.DataFrame:
    """The tidy rows match_into wrote for one date (no match is run again)."""
    t = results_table(out)
    q = (sa.select(*(t.c[c] for c in ir.RESULT_COLUMNS))
         .where(t.c.as_of == as_of, t.c.policy.in_([p.id for p in policies])).order_by(t.c.policy, t.c.credit_code))
    return pd.DataFrame(conn.execute(q).all(), columns=list(ir.RESULT_COLUMNS))


def counts(conn: sa.Connection, out: str, policies: list[ir.Policy], as_of: dt.date) -> pd.DataFrame:
    """(policy, status, n, amount_fen) of the results table `out` for one date, counted in the database."""
    t = results_table(out)
    q = (sa.select(t.c.policy, t.c.status, sa.func.count().label("n"), sa.func.sum(t.c.amount_fen).label("amount_fen"))
         .where(t.c.as_of == as_of, t.c.policy.in_([p.id for p in policies])).group_by(t.c.policy, t.c.status))
    return pd.DataFrame(conn.execute(q).all(), columns=["policy", "status", "n", "amount_fen"])


# ---------------------------------------------------------------- enterprise tables

_SQL_TYPE = {Kind.NUMBER: sa.BigInteger, Kind.MONEY: sa.BigInteger, Kind.DATE: sa.Date, Kind.BOOL: sa.Boolean}


def enterprise_table(name: str, columns: Sequence[str], dictionary: TagDictionary,
                     metadata: sa.MetaData | None = None, key: str = "credit_code") -> sa.Table:
    """The table layout of a storage frame: scaled integers, DATE, BOOLEAN, TEXT."""
    cols: list[sa.Column[Any]] = [sa.Column(c, _SQL_TYPE.get(dictionary[c].kind, sa.Text) if c in dictionary else sa.Text,
                      primary_key=(c == key)) for c in columns]
    return sa.Table(name, metadata or sa.MetaData(), *cols)


def write_table(conn: sa.Connection, name: str, df: pd.DataFrame, dictionary: TagDictionary,
                chunk: int = 20_000) -> sa.Table:
    """Create (or replace) table `name` holding the storage frame `df`."""
    table = enterprise_table(name, list(df.columns), dictionary)
    table.drop(conn, checkfirst=True)
    table.create(conn)
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        _copy(conn, table, df, dictionary, chunk)
        return table
    for start in range(0, len(df), chunk):
        conn.execute(table.insert(), to_records(df.iloc[start : start + chunk], dictionary))
    return table


def _copy(conn: sa.Connection, table: sa.Table, df: pd.DataFrame, dictionary: TagDictionary, chunk: int) -> None:
    """COPY ... FROM STDIN through psycopg: 10× the rows per second of executemany INSERT
    (see benchmarks/RESULTS.md#backends). Names are quoted by psycopg.sql, not pasted."""
    from psycopg import sql

    stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(c) for c in df.columns))
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur, cur.copy(stmt) as copy:
        for start in range(0, len(df), chunk):
            cols = storage_columns(df.iloc[start : start + chunk], dictionary)
            for row in zip(*cols.values()):
                copy.write_row(row)


def reflect(conn: sa.Connection, name: str) -> sa.Table:
    """An existing enterprise table, or EngineError naming what exists."""
    try:
        return sa.Table(name, sa.MetaData(), autoload_with=conn)
    except sa.exc.NoSuchTableError:
        have = sa.inspect(conn).get_table_names()
        raise EngineError(f"no table {name!r} in {conn.engine.url.render_as_string(hide_password=True)}; "
                          f"tables there: {', '.join(have) or '(none)'}") from None


def read_rows(conn: sa.Connection, table: sa.Table, codes: Sequence[str], dictionary: TagDictionary,
              key: str = "credit_code", chunk: int = 5_000) -> pd.DataFrame:
    """The rows of the given enterprises as a storage frame (for explanations and payouts)."""
    parts = []
    for start in range(0, len(codes), chunk):
        q = sa.select(table).where(table.c[key].in_(list(codes[start : start + chunk])))
        parts.append(pd.DataFrame(conn.execute(q).mappings().all(), columns=list(table.c.keys())))
    df = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(table.c.keys()))
    for c in df.columns:
        if c in dictionary and dictionary[c].kind is Kind.DATE:
            df[c] = pd.to_datetime(df[c])
    return conform(df, dictionary)
