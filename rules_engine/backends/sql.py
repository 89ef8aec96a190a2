"""The SQL backend: the policy IR compiled to SQLAlchemy Core, run inside the database.

The walk over the IR is the shared KleeneCompiler's (backends/kleene.py); this module gives it
SQLAlchemy's hooks, PostgreSQL's date functions in `SqlCompiler` and SQLite's in the
`SqliteCompiler` override, and runs the compiled SELECTs. SQL's NULL logic is Kleene's: a
condition is one SQL boolean expression whose NULL means "undetermined".

The table holds storage units (see frame.py): money and numbers as scaled integers, dates
as DATE, booleans, text. Amounts use integer arithmetic with the engine's one rounding
rule (half away from zero, to the fen), split so that no product overflows BIGINT. Missing-
tag sets are BIGINT bit masks, tag bits as in the vectorized backend (one bit per tag of
the run, sorted). Table I/O (write, COPY, reflection, reading rows) is in sql_tables.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement, Grouping

from .. import ir
from ..ir import Status
from ..results import result_frame
from .kleene import EPOCH, KleeneCompiler, decode, decode_failed, tag_bits

Expr = ColumnElement[Any]


def _lit(v: object) -> Expr:
    """Integers as BIGINT: PostgreSQL types a bare literal INTEGER, and 10^8 yuan × 100 overflows it
    (found by the batch-from-PostgreSQL test on the library, not by the small random cases)."""
    if isinstance(v, int) and not isinstance(v, bool):
        return sa.literal(v, sa.BigInteger)
    return sa.literal(v)


class SqlCompiler(KleeneCompiler):
    """PostgreSQL, and the base of every SQL dialect."""

    name = "SQL"

    def __init__(self, table: sa.Table, as_of: dt.date, bits: dict[str, int]) -> None:
        super().__init__(as_of, bits)
        self.t = table

    def col(self, tag: ir.Tag) -> Expr:
        return self.t.c[tag.name] if tag.name in self.t.c else sa.null()

    def long(self, v: int) -> Expr:
        return _lit(v)

    def lit(self, v: str | bool | dt.date) -> Expr:
        if isinstance(v, bool):
            return sa.true() if v else sa.false()
        if isinstance(v, dt.date):
            return self.date(v)
        return _lit(v)

    def date(self, v: dt.date) -> Expr:
        return sa.cast(_lit(v.isoformat()), sa.Date)

    def null_long(self) -> Expr:
        return sa.null()

    def null_bool(self) -> Expr:
        return sa.null()

    def and_(self, items: Sequence[Expr]) -> Expr:
        return sa.and_(*items)

    def or_(self, items: Sequence[Expr]) -> Expr:
        return sa.or_(*items)

    def not_(self, x: Expr) -> Expr:
        return sa.not_(x)

    def is_null(self, x: Expr) -> Expr:
        return x.is_(None)

    def is_unknown(self, pred: Expr) -> Expr:
        # parenthesised: SQLAlchemy renders `NOT a IS NULL`, which SQL reads as `NOT (a IS NULL)`
        return Grouping(pred).is_(None)

    def case(self, whens: Sequence[tuple[Expr, Expr]], else_: Expr) -> Expr:
        return sa.case(*whens, else_=else_)

    def startswith(self, x: Expr, prefix: str) -> Expr:
        return x.startswith(prefix, autoescape=True)

    def isin(self, x: Expr, values: Sequence[str]) -> Expr:
        return x.in_(list(values))

    def epoch_days(self, d: Expr) -> Expr:
        return d - sa.cast(sa.literal(EPOCH.isoformat()), sa.Date)

    def ymd(self, d: Expr) -> tuple[Expr, Expr, Expr]:
        return tuple(sa.cast(sa.extract(part, d), sa.Integer) for part in ("year", "month", "day"))  # type: ignore[return-value]

    def bitor(self, a: Expr, b: Expr) -> Expr:
        return a.op("|")(b)

    def round_div(self, x: Expr, mult: int, den: int) -> Expr:
        if mult % den == 0:
            return x * (mult // den)
        ax = sa.func.abs(x, type_=sa.BigInteger)
        mag = _div(ax, den) * mult + _div(2 * (ax % den) * mult + den, 2 * den)
        return sa.case((x.is_(None), sa.null()), (x < 0, -mag), else_=mag)


class SqliteCompiler(SqlCompiler):
    """SQLite overrides only its date functions and date literals (ISO text)."""

    def date(self, v: dt.date) -> Expr:
        return _lit(v.isoformat())

    def epoch_days(self, d: Expr) -> Expr:
        return sa.cast(sa.func.julianday(d) - 2440587.5, sa.Integer)

    def ymd(self, d: Expr) -> tuple[Expr, Expr, Expr]:
        return tuple(sa.cast(sa.func.strftime(f, d), sa.Integer) for f in ("%Y", "%m", "%d"))  # type: ignore[return-value]


DIALECTS: dict[str, type[SqlCompiler]] = {"postgresql": SqlCompiler, "sqlite": SqliteCompiler}


def compiler(table: sa.Table, dialect: str, as_of: dt.date, bits: dict[str, int]) -> SqlCompiler:
    return DIALECTS.get(dialect, SqlCompiler)(table, as_of, bits)


def _div(a: Expr, b: int) -> Expr:
    """Integer division of a non-negative integer: `/` of two integers truncates in SQLite and
    PostgreSQL. Not SQLAlchemy's `//`, which renders FLOOR(a / b) when a's type is unknown (abs(...)),
    and PostgreSQL's FLOOR(bigint) returns double precision."""
    return Grouping(a).op("/")(_lit(b))


def policy_select(table: sa.Table, policy: ir.Policy, as_of: dt.date, dialect: str, bits: dict[str, int],
                  key: str = "credit_code", *, failed: bool = False) -> sa.Select[Any]:
    """One SELECT: key, policy, version, status (0/1/2), amount_fen, missing bits and, with
    `failed`, the failed bits (bit i: condition i is false; else 0), for every row.

    Two layers, each fenced with OFFSET 0: the inner one evaluates the conditions, the amount and
    the masks once per row; the outer one derives status, amount and missing from those columns.
    Without the fence both databases inline a subquery's expressions at every reference, and the
    missing-tag decoding of match_into referenced `missing` once per tag (measured: 8.4 s for 4
    policies at 2×10^5 rows on PostgreSQL before, see benchmarks/RESULTS.md#backends). The
    failed bits evaluate each condition once more, so only the callers that report them (the
    results contract) ask: a batch reads eligible pairs at the old cost."""
    policy = ir.at(policy, as_of)
    if not policy.in_force(as_of):
        return sa.select(table.c[key].label("credit_code"), _lit(policy.id).label("policy"),
                         _lit(policy.version).label("version"), _lit(int(Status.NOT_ELIGIBLE)).label("status"),
                         _lit(0).label("amount_fen"), _lit(0).label("missing"), _lit(0).label("failed"))
    c = compiler(table, dialect, as_of, bits)
    conds, fen, cmask, amask = c.parts(policy)
    cond, fmask = c.all_of(conds), c.failed(conds) if failed else _lit(0)
    inner = sa.select(table.c[key].label("credit_code"), Grouping(cond).label("ok"), fen.label("fen"),
                      cmask.label("cmask"), amask.label("amask"), fmask.label("fmask")).offset(0).subquery("evaluated")
    ok, fen_ = inner.c.ok, inner.c.fen
    refused = ok.is_(False) if dialect != "sqlite" else ok == 0
    status = sa.case((refused, _lit(0)), (sa.and_(ok.is_not(None), fen_.is_not(None)), _lit(2)), else_=_lit(1))
    amount = sa.case((refused, _lit(0)), (fen_.is_(None), _lit(0)), (fen_ < 0, _lit(0)), else_=fen_)
    missing = sa.case((status == 1, inner.c.cmask.op("|")(sa.case((fen_.is_(None), inner.c.amask), else_=_lit(0)))),
                      else_=_lit(0))
    return sa.select(inner.c.credit_code, _lit(policy.id).label("policy"), _lit(policy.version).label("version"),
                     status.label("status"), amount.label("amount_fen"), missing.label("missing"),
                     inner.c.fmask.label("failed")).offset(0)


def _statuses(statuses: Sequence[Status] | None) -> list[int]:
    return [int(s) for s in (statuses if statuses is not None else list(Status))]


def results(conn: sa.Connection, table: sa.Table, policies: list[ir.Policy], as_of: dt.date,
            statuses: Sequence[Status] | None = None, key: str = "credit_code") -> pd.DataFrame:
    """The results contract (ir.RESULT_COLUMNS, ir.result_frame), filtered inside the database."""
    policies = [ir.at(p, as_of) for p in policies]
    tags, bits = tag_bits(policies, "SQL")
    wanted = _statuses(statuses)
    rows: list[tuple[Any, ...]] = []
    for p in policies:
        q = policy_select(table, p, as_of, conn.dialect.name, bits, key, failed=True).subquery()
        sel = sa.select(q)
        if len(wanted) < len(Status):
            sel = sel.where(q.c.status.in_(wanted))
        rows += [(r[0], r[1], int(r[2]), Status(int(r[3])).label, int(r[4]), decode(int(r[5] or 0), tags),
                  decode_failed(int(r[6] or 0), p, as_of)) for r in conn.execute(sel)]
    return result_frame(rows)


def eligible(conn: sa.Connection, table: sa.Table, policies: list[ir.Policy], as_of: dt.date,
             key: str = "credit_code") -> pd.DataFrame:
    """Only the eligible pairs with a positive amount (credit_code, policy, amount_fen): the
    filter runs in the database, so a batch moves candidates, not the whole table."""
    policies = [ir.at(p, as_of) for p in policies]
    _, bits = tag_bits(policies, "SQL")
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
                    sa.Column("failed", sa.Text, nullable=False, server_default=""),
                    sa.PrimaryKeyConstraint("credit_code", "policy", "version", "as_of"))


def results_into(conn: sa.Connection, table: sa.Table, policies: list[ir.Policy], as_of: dt.date, out: str,
                 statuses: Sequence[Status] | None = None, key: str = "credit_code") -> int:
    """Run every policy inside the database and INSERT ... SELECT the tidy results into table
    `out` (created if absent; rows of the same date are replaced). No row leaves the database."""
    policies = [ir.at(p, as_of) for p in policies]
    _, bits = tag_bits(policies, "SQL")
    wanted = _statuses(statuses)
    target = results_table(out)
    target.create(conn, checkfirst=True)
    if "failed" not in {c["name"] for c in sa.inspect(conn).get_columns(out)}:  # written by an older version
        conn.execute(sa.schema.DDL(f"ALTER TABLE {conn.dialect.identifier_preparer.quote(out)} "
                                   "ADD COLUMN failed TEXT NOT NULL DEFAULT ''"))
    conn.execute(target.delete().where(target.c.as_of == as_of,
                                       target.c.policy.in_([p.id for p in policies])))
    for p in policies:
        q = policy_select(table, p, as_of, conn.dialect.name, bits, key, failed=True).subquery()
        # Only this policy's tags can be set in its mask.
        joined = _joined([sa.case((q.c.missing.op("&")(1 << bits[t]) != 0, _lit(t + ",")), else_=_lit(""))
                          for t in sorted(ir.policy_tags(p))])
        failed_ids: Expr
        if p.in_force(as_of):
            failed_ids = sa.func.rtrim(_joined([sa.case((q.c.failed.op("&")(1 << i) != 0, _lit(c.id + ",")),
                                                        else_=_lit("")) for i, c in enumerate(p.conditions)]), ",")
        else:
            failed_ids = _lit(ir.NOT_IN_FORCE)
        status = sa.case(*((q.c.status == int(s), _lit(s.label)) for s in Status))
        sel = sa.select(q.c.credit_code, q.c.policy, q.c.version, sa.literal(as_of, sa.Date), status,
                        q.c.amount_fen, sa.func.rtrim(joined, ","), failed_ids)
        if len(wanted) < len(Status):
            sel = sel.where(q.c.status.in_(wanted))
        conn.execute(target.insert().from_select(
            ["credit_code", "policy", "version", "as_of", "status", "amount_fen", "missing", "failed"], sel))
    # Counted, not summed from rowcount: psycopg reports -1 for INSERT ... SELECT through SQLAlchemy.
    return int(conn.execute(sa.select(sa.func.count()).select_from(target).where(
        target.c.as_of == as_of, target.c.policy.in_([p.id for p in policies]))).scalar_one())


def _joined(parts: Sequence[Expr]) -> Expr:
    """a || b || ...: the text of each part, in order ('' for none)."""
    out = parts[0] if parts else _lit("")
    for part in parts[1:]:
        out = out + part
    return out


def read_results(conn: sa.Connection, out: str, policies: list[ir.Policy], as_of: dt.date) -> pd.DataFrame:
    """The tidy rows results_into wrote for one date (no match is run again)."""
    t = results_table(out)
    q = (sa.select(*(t.c[c] for c in ir.RESULT_COLUMNS))
         .where(t.c.as_of == as_of, t.c.policy.in_([p.id for p in policies])).order_by(t.c.policy, t.c.credit_code))
    return result_frame(conn.execute(q).all())


def counts(conn: sa.Connection, out: str, policies: list[ir.Policy], as_of: dt.date) -> pd.DataFrame:
    """(policy, status, n, amount_fen) of the results table `out` for one date, counted in the database."""
    t = results_table(out)
    q = (sa.select(t.c.policy, t.c.status, sa.func.count().label("n"), sa.func.sum(t.c.amount_fen).label("amount_fen"))
         .where(t.c.as_of == as_of, t.c.policy.in_([p.id for p in policies])).group_by(t.c.policy, t.c.status))
    return pd.DataFrame(conn.execute(q).all(), columns=["policy", "status", "n", "amount_fen"])
