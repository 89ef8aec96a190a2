"""The Spark backend: the policy IR compiled to PySpark column expressions, run on a cluster.

The walk over the IR is the shared KleeneCompiler's (backends/kleene.py); this module gives it
PySpark's hooks and runs the plan. Spark SQL's NULL logic is Kleene's, as in the SQL backend:
a condition is one boolean column whose NULL means "undetermined".

The input DataFrame holds storage units (see frame.py): money and numbers as scaled longs,
dates as DATE (a TIMESTAMP column is cast to DATE, the session time zone being UTC),
booleans, strings. The one division goes through DECIMAL(38,0), because Spark's `/` on longs
returns a double. All policies are evaluated in one pass over the data: each row yields an
array of one struct per policy, exploded into tidy rows, and filtered on the cluster.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from .. import ir
from ..ir import Kind, Status
from ..results import result_frame
from .kleene import KleeneCompiler, decode, decode_failed, tag_bits

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession


def _F() -> Any:
    from pyspark.sql import functions

    return functions


class SparkCompiler(KleeneCompiler):
    name = "Spark"

    def __init__(self, df: DataFrame, as_of: dt.date, bits: dict[str, int]) -> None:
        super().__init__(as_of, bits)
        self.columns = set(df.columns)

    def col(self, tag: ir.Tag) -> Column:
        return self._once("col", tag, self._col)

    def _col(self, tag: ir.Tag) -> Column:
        F = _F()
        if tag.name not in self.columns:
            return F.lit(None)
        c = F.col(f"`{tag.name}`")  # backticks: a slot (revenue@2025) is no plain identifier
        return c.cast("date") if tag.type is not None and tag.type.kind is Kind.DATE else c

    def long(self, v: int) -> Column:
        return self._once("long", v, lambda x: _F().lit(x).cast("long"))

    def lit(self, v: str | bool | dt.date) -> Column:
        return self._once("lit", (type(v), v), lambda x: _F().lit(x[1]))

    def null_long(self) -> Column:
        return _F().lit(None).cast("long")

    def null_bool(self) -> Column:
        return _F().lit(None).cast("boolean")

    def and_(self, items: Sequence[Column]) -> Column:
        out = items[0]
        for i in items[1:]:
            out = out & i
        return out

    def or_(self, items: Sequence[Column]) -> Column:
        out = items[0]
        for i in items[1:]:
            out = out | i
        return out

    def not_(self, x: Column) -> Column:
        return ~x

    def is_null(self, x: Column) -> Column:
        return x.isNull()

    def case(self, whens: Sequence[tuple[Column, Column]], else_: Column) -> Column:
        out: Any = _F()
        for cond, then in whens:
            out = out.when(cond, then)
        return out.otherwise(else_)

    def startswith(self, x: Column, prefix: str) -> Column:
        return x.startswith(prefix)

    def isin(self, x: Column, values: Sequence[str]) -> Column:
        return x.isin(list(values))

    def epoch_days(self, d: Column) -> Column:
        return _F().datediff(d, _F().lit(dt.date(1970, 1, 1))).cast("long")

    def ymd(self, d: Column) -> tuple[Column, Column, Column]:
        F = _F()
        return F.year(d), F.month(d), F.dayofmonth(d)

    def bitor(self, a: Column, b: Column) -> Column:
        return a.bitwiseOR(b)

    def round_div(self, x: Column, mult: int, den: int) -> Column:
        F = _F()
        if mult % den == 0:
            return x * (mult // den)
        ax = F.abs(x)
        r = ax % den
        q = ((ax - r).cast("decimal(38,0)") / F.lit(den).cast("decimal(38,0)")).cast("long")  # exact: ax - r divides
        num = r * (2 * mult) + den
        extra = ((num - num % (2 * den)).cast("decimal(38,0)") / F.lit(2 * den).cast("decimal(38,0)")).cast("long")
        mag = q * mult + extra
        return F.when(x.isNull(), F.lit(None).cast("long")).when(x < 0, -mag).otherwise(mag)


def policy_columns(c: SparkCompiler, policy: ir.Policy, n: int, failed: bool = False) -> list[Column]:
    """The expensive part of policy n, evaluated once per row: its conditions (ok), amount
    (fen) and missing-tag masks, as columns p{n}_ok, p{n}_fen, p{n}_cmask, p{n}_amask; with
    `failed`, also p{n}_fmask (bit i: condition i is false), which evaluates each condition once
    more, so only the results contract asks for it."""
    F = _F()
    policy = ir.at(policy, c.as_of)
    if not policy.in_force(c.as_of):
        return [F.lit(False).alias(f"p{n}_ok"), c.long(0).alias(f"p{n}_fen"), c.long(0).alias(f"p{n}_cmask"),
                c.long(0).alias(f"p{n}_amask")] + ([c.long(0).alias(f"p{n}_fmask")] if failed else [])
    conds, fen, cmask, amask = c.parts(policy)
    return [c.all_of(conds).alias(f"p{n}_ok"), fen.alias(f"p{n}_fen"), cmask.alias(f"p{n}_cmask"),
            amask.alias(f"p{n}_amask")] + ([c.failed(conds).cast("long").alias(f"p{n}_fmask")] if failed else [])


def policy_struct(policy: ir.Policy, n: int, failed: bool = False) -> Column:
    """status (0/1/2), amount_fen, missing bits and failed bits (0 unless asked for) of policy
    n, from its columns, as one struct."""
    F = _F()
    zero = F.lit(0).cast("long")
    ok, fen = F.col(f"p{n}_ok"), F.col(f"p{n}_fen")
    status = F.when(~ok, F.lit(0)).when(ok.isNotNull() & fen.isNotNull(), F.lit(2)).otherwise(F.lit(1))
    amount = F.when(status == 0, zero).when(fen.isNull(), zero).when(fen < 0, zero).otherwise(fen)
    missing = F.when(status == 1, F.col(f"p{n}_cmask").bitwiseOR(
        F.when(fen.isNull(), F.col(f"p{n}_amask")).otherwise(zero))).otherwise(zero)
    return F.struct(F.lit(policy.id).alias("policy"), F.lit(policy.version).alias("version"),
                    status.alias("status"), amount.alias("amount_fen"), missing.alias("missing"),
                    (F.col(f"p{n}_fmask") if failed else zero).alias("failed"))


def match_frame(df: DataFrame, policies: list[ir.Policy], as_of: dt.date,
                key: str = "credit_code", *, failed: bool = False) -> tuple[DataFrame, tuple[str, ...]]:
    """A lazy Spark DataFrame of (credit_code, policy, version, status, amount_fen, missing bits,
    failed bits), every row × every policy, and the tag of each missing bit.

    Two steps, as in the SQL backend: a projection evaluates each policy's conditions, amount
    and masks once per row (generated code); the explode then derives status, amount and missing
    from those columns. With the whole tree inside the explode, Spark evaluated it interpreted,
    and status, amount and missing each re-evaluated the conditions and the amount."""
    F = _F()
    policies = [ir.at(p, as_of) for p in policies]
    tags, bits = tag_bits(policies, "Spark")
    c = SparkCompiler(df, as_of, bits)
    evaluated = df.select(F.col(key).alias("credit_code"),
                          *(col for n, p in enumerate(policies) for col in policy_columns(c, p, n, failed)))
    structs = [policy_struct(p, n, failed) for n, p in enumerate(policies)]
    exploded = evaluated.select("credit_code", F.explode(F.array(*structs)).alias("r"))
    return exploded.select("credit_code", "r.policy", "r.version", "r.status", "r.amount_fen", "r.missing",
                           "r.failed"), tags


def results(df: DataFrame, policies: list[ir.Policy], as_of: dt.date, statuses: Sequence[Status] | None = None,
            key: str = "credit_code") -> pd.DataFrame:
    """The results contract (ir.RESULT_COLUMNS, ir.result_frame), filtered on the cluster: only
    the wanted rows reach the driver."""
    F = _F()
    out_df, tags = match_frame(df, policies, as_of, key, failed=True)
    if statuses is not None and len(statuses) < len(Status):
        out_df = out_df.where(F.col("status").isin([int(s) for s in statuses]))
    by_key = {(p.id, p.version): ir.at(p, as_of) for p in policies}
    return result_frame([(r[0], r[1], int(r[2]), Status(int(r[3])).label, int(r[4]), decode(int(r[5]), tags),
                          decode_failed(int(r[6]), by_key[r[1], int(r[2])], as_of)) for r in out_df.collect()])


def write_results(df: DataFrame, policies: list[ir.Policy], as_of: dt.date, path: str,
                  key: str = "credit_code") -> None:
    """The eligible and undetermined rows, in the columns `mianshen match -o` writes, written as
    Parquet by the executors (a directory of part files): nothing reaches the driver, so the
    job runs at any size. Missing tags are named on the cluster from the run's bits."""
    F = _F()
    out_df, tags = match_frame(df, policies, as_of, key)
    out_df = out_df.where(F.col("status").isin([int(Status.ELIGIBLE), int(Status.UNDETERMINED)]))
    fen = F.col("amount_fen")
    named = [F.when(F.col("missing").bitwiseAND(F.lit(1 << i).cast("long")) != 0, F.lit(t)) for i, t in enumerate(tags)]
    out_df.select(
        "credit_code", "policy", F.col("version").cast("long").alias("version"),
        F.when(F.col("status") == int(Status.ELIGIBLE), F.lit(Status.ELIGIBLE.label))
        .otherwise(F.lit(Status.UNDETERMINED.label)).alias("status"),
        F.format_string("%d.%02d", F.floor(fen / 100).cast("long"), (fen % 100).cast("long")).alias("amount_yuan"),
        fen.cast("long").alias("amount_fen"),
        (F.concat_ws(",", *named) if named else F.lit("")).alias("missing"),
        F.lit("").alias("failed"),
    ).write.mode("overwrite").parquet(path)


def local_session(partitions: int = 2, app: str = "mianshen") -> SparkSession:
    """A local-mode session for tests, the CLI and benchmarks: UTC, no UI, quiet."""
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master(f"local[{partitions}]").appName(app)
             .config("spark.ui.enabled", "false").config("spark.sql.session.timeZone", "UTC")
             .config("spark.sql.shuffle.partitions", str(partitions))
             .config("spark.ui.showConsoleProgress", "false")
             # one projection holds every policy. Whole-stage code generation outgrew the JVM's
             # 64 KB method limit with the earlier plan (Spark fell back, logging a stack trace per
             # task); with the current one it compiles but is no faster (19.8 s against 17.9 s,
             # 10^6 × 29 on one core), and a bigger library would approach the limit again
             .config("spark.sql.codegen.wholeStage", "false")
             # PySpark 4 records the Python call site of every Column operation for error
             # messages: five JVM round trips per operation, most of the time of building a large
             # library's plan (1,000 policies: minutes). Errors keep the JVM's message.
             .config("spark.python.sql.dataFrameDebugging.enabled", "false")
             # constraint propagation infers filters from every expression of a projection: on
             # 1,000 policies (4,000 columns) the optimizer ran for more than 12 minutes in it
             # (InferFiltersFromConstraints) before a row was read. The plan has no filter to infer.
             .config("spark.sql.constraintPropagation.enabled", "false")
             .config("spark.driver.memory", "2g").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    return spark
