"""Every backend on the same random cases: they must agree exactly.

Backends: the per-row reference evaluator, the vectorized engine, durable-rules, SQL on
SQLite and on PostgreSQL, and Spark in local mode. What a backend cannot express is listed
in GAPS below, and each gap is pinned by a test that it raises a clear error, not a wrong
answer.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from rules_engine import ir
from rules_engine.backends import reference, sql_tables, vectorized
from rules_engine.backends import spark as spark_backend
from rules_engine.backends import sql as sql_backend
from rules_engine.backends.durable import DurableEngine, DurableLimitError
from rules_engine.data import frame
from rules_engine.errors import UnsupportedConstruct
from rules_engine.ir import Kind
from rules_engine.ledger.decide import decide
from tests.conftest import PG_URL
from tests.strategies import AS_OF, DICTIONARY, MONEYS, RATES, TAGS, policies, rows, tag

# The constructs a backend refuses, with the words of its error. The suite checks each below.
GAPS: dict[str, list[tuple[str, str]]] = {
    "reference": [],
    "vectorized": [],
    "durable-rules": [("a condition of more than 32 expressions in one rule (durable-rules error 113)",
                       "error 113"),
                      ("the amount: durable-rules decides the status; the amount is the shared evaluator's", "")],
    "sql": [("elapsed time of a computed date", "elapsed time of a computed date"),
            ("more than 63 distinct tags in one run", "more than 63 distinct tags")],
    "spark": [("elapsed time of a computed date", "elapsed time of a computed date"),
              ("more than 63 distinct tags in one run", "more than 63 distinct tags")],
}

SPARK_TYPE = {Kind.NUMBER: "long", Kind.MONEY: "long", Kind.DATE: "date", Kind.BOOL: "boolean"}
DURABLE = DurableEngine()


def storage(data: list[dict[str, object]]) -> pd.DataFrame:
    return frame.to_frame([{**r, "credit_code": f"E{i:03d}"} for i, r in enumerate(data)], DICTIONARY,
                          columns=["credit_code", *TAGS])


def spark_frame(spark: Any, df: pd.DataFrame) -> Any:
    schema = ", ".join(f"`{c}` {SPARK_TYPE.get(DICTIONARY[c].kind, 'string')}" for c in df.columns)
    records = frame.to_records(df, DICTIONARY)
    return spark.createDataFrame([tuple(r.values()) for r in records], schema)


def tidy(rows_: list[dict[str, Any]]) -> list[tuple]:
    return sorted((r["credit_code"], r["status"], r["amount_fen"], r["missing"], r["failed"]) for r in rows_)


def run_all(policy: ir.Policy, data: list[dict[str, object]], spark: Any, engines: dict[str, sa.Engine]
            ) -> dict[str, list[tuple]]:
    df = storage(data)
    out: dict[str, list[tuple]] = {}
    out["reference"] = sorted(
        (f"E{i:03d}", d.status.label, d.amount_fen, ",".join(d.missing), ",".join(d.failed))
        for i, d in enumerate(reference.evaluate(policy, r, AS_OF) for r in data))
    vec = vectorized.match(df, [policy], AS_OF).to_frame()
    out["vectorized"] = sorted((r.credit_code, r.status, int(r.amount_fen), r.missing, r.failed)
                               for r in vec.itertuples())
    for name, engine in engines.items():
        with engine.begin() as conn:
            table = sql_tables.write_table(conn, "cases", df, DICTIONARY)
            out[name] = tidy(sql_backend.results(conn, table, [policy], AS_OF).to_dict("records"))
    out["spark"] = tidy(spark_backend.results(spark_frame(spark, df), [policy], AS_OF).to_dict("records"))
    return out


def test_every_backend_agrees_on_random_cases(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("backends")
    engines = {"sql-sqlite": sa.create_engine(f"sqlite:///{tmp / 'cases.db'}")}
    if PG_URL:  # CI always sets it; a developer without a server still runs the rest
        engines["sql-postgresql"] = sa.create_engine(PG_URL)

    @settings(max_examples=45, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(policy=policies(), data=st.lists(rows, min_size=1, max_size=8))
    def check(policy: ir.Policy, data: list[dict[str, object]]) -> None:
        got = run_all(policy, data, spark, engines)
        expected = got["reference"]
        for name, result in got.items():
            assert result == expected, (name, policy)
        # durable-rules decides status; the amount comes from the shared evaluator
        try:
            durable = sorted((f"E{i:03d}", d.status.label, d.amount_fen) for i, d in
                             enumerate(decide(DURABLE, policy, r, AS_OF, sid=f"E{i}") for i, r in enumerate(data)))
        except DurableLimitError as exc:
            assert "error 113" in str(exc) or "expression nodes" in str(exc), exc
            event("durable-rules: documented gap")
            return
        assert durable == [(c, s, a) for c, s, a, _, _ in expected], ("durable-rules", policy)

    check()


@pytest.mark.parametrize("rate", RATES)
def test_every_backend_rounds_the_same_on_every_money_value(rate: Decimal, spark: Any, tmp_path: Path) -> None:
    """Percent of every money value in the pools, ties included (12.35 × 0.1 = 1.235): random
    cases reach a tie only now and then, so a rounding bug needs this grid to be seen."""
    policy = _policy(ir.Compare(">=", tag("n0"), ir.Num(Decimal(0))), ir.Percent(tag("m1"), rate))
    data: list[dict[str, object]] = [{"n0": Decimal(1), "m1": m} for m in MONEYS]
    data += [{"n0": Decimal(1), "m1": Decimal(f"{k}.{c:02d}")} for k in (0, 7, 12) for c in range(0, 100, 7)]
    got = run_all(policy, data, spark, {"sql-sqlite": sa.create_engine(f"sqlite:///{tmp_path / 'r.db'}")})
    for name, result in got.items():
        assert result == got["reference"], name


# ------------------------------------------------------------------ the gaps, each a clear error

def _policy(pred: ir.Pred, benefit: ir.Formula | None = None) -> ir.Policy:
    from tests.test_parity import policy_of

    return policy_of(pred, benefit or ir.Fixed(Decimal(1)))


def test_gaps_are_listed_for_every_backend() -> None:
    assert set(GAPS) == {"reference", "vectorized", "durable-rules", "sql", "spark"}


def test_sql_and_spark_refuse_elapsed_time_of_a_computed_date(spark: Any, tmp_path: Path) -> None:
    computed = ir.Elapsed(ir.ElapsedUnit.DAYS, ir.Arith("+", tag("n0"), ir.Num(Decimal(1))))
    policy = _policy(ir.Compare(">", computed, ir.Num(Decimal(3))))
    df = storage([{"n0": Decimal(1)}])
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'gap.db'}")
    with engine.begin() as conn:
        table = sql_tables.write_table(conn, "cases", df, DICTIONARY)
        with pytest.raises(UnsupportedConstruct, match=GAPS["sql"][0][1]):
            sql_backend.results(conn, table, [policy], AS_OF).to_dict("records")
    with pytest.raises(UnsupportedConstruct, match=GAPS["spark"][0][1]):
        spark_backend.results(spark_frame(spark, df), [policy], AS_OF).to_dict("records")


def test_sql_and_spark_refuse_more_than_63_tags_in_one_run(spark: Any, tmp_path: Path) -> None:
    from rules_engine.data.tags import Source, TagDef, TagDictionary

    many = {f"x{i:02d}": ir.TagType(Kind.NUMBER, 0, "个") for i in range(64)}
    d = TagDictionary([TagDef(k, k, t, "test") for k, t in many.items()]
                      + [TagDef("credit_code", "代码", ir.TagType(Kind.TEXT), "test")],
                      {"test": Source("test", "测试", "")})
    preds = tuple(ir.Compare(">", ir.Tag(k, t), ir.Num(Decimal(0))) for k, t in many.items())
    policy = _policy(ir.Or(preds))
    df = frame.to_frame([{"credit_code": "E1", "x00": Decimal(1)}], d, columns=["credit_code", *many])
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'gap.db'}")
    with engine.begin() as conn:
        table = sql_tables.write_table(conn, "wide", df, d)
        with pytest.raises(UnsupportedConstruct, match=GAPS["sql"][1][1]):
            sql_backend.results(conn, table, [policy], AS_OF).to_dict("records")
    schema = ", ".join(f"`{c}` {'long' if c != 'credit_code' else 'string'}" for c in df.columns)
    sdf = spark.createDataFrame([tuple(r.values()) for r in frame.to_records(df, d)], schema)
    with pytest.raises(UnsupportedConstruct, match=GAPS["spark"][1][1]):
        spark_backend.results(sdf, [policy], AS_OF).to_dict("records")
    # the engines without the limit answer, and agree
    assert vectorized.match(df, [policy], AS_OF).to_frame()["status"].tolist() == ["eligible"]


def test_durable_rules_refuses_a_condition_beyond_error_113() -> None:
    pairs = tuple(ir.And((ir.Compare(">", tag("n0"), ir.Num(Decimal(i))), ir.Compare("<", tag("n0b"),
                                                                                     ir.Num(Decimal(i)))))
                  for i in range(20))
    with pytest.raises(DurableLimitError, match=GAPS["durable-rules"][0][1]):
        decide(DURABLE, _policy(ir.Or(pairs)), {"n0": Decimal(1), "n0b": Decimal(2)}, AS_OF, sid="gap")


# ------------------------------------------------------------------ the whole library on the sample

def test_the_library_on_the_sample_on_spark(spark: Any, tmp_path: Path) -> None:
    from rules_engine.cli import DEFAULT_POLICIES
    from rules_engine.data.datasets import SAMPLE_MANIFEST, load_dataset, write_storage_parquet
    from rules_engine.data.tags import load_dictionary
    from rules_engine.library.loader import load_library

    d = load_dictionary()
    lib = load_library(DEFAULT_POLICIES, d)
    df = load_dataset(SAMPLE_MANIFEST, d).frame
    as_of = dt.date(2026, 6, 30)
    write_storage_parquet(df, tmp_path / "sample.parquet")
    sdf = spark.read.parquet(str(tmp_path / "sample.parquet"))  # the real path: a Spark data source
    expected = vectorized.match(df, lib.policies, as_of).to_frame()
    exp = {(r.credit_code, r.policy, int(r.version)): (r.status, int(r.amount_fen), r.missing, r.failed)
           for r in expected.itertuples()}
    got = spark_backend.results(sdf, lib.policies, as_of).to_dict("records")
    assert len(got) == len(exp) == 3000 * len(lib.policies)
    for r in got:
        assert (r["status"], r["amount_fen"], r["missing"], r["failed"]) == \
            exp[(r["credit_code"], r["policy"], r["version"])], r


# ------------------------------------------------------------------ constructs, stated by hand
    # the province job (#34 item 4): the executors write the eligible and undetermined rows as
    # Parquet, the same rows, in the same columns, as the vectorized engine streams into its file
    from rules_engine.service import matching

    spark_backend.write_results(sdf, lib.active(), as_of, str(tmp_path / "spark-rows.parquet"))
    sink = matching.ParquetResults(tmp_path / "rows.parquet")
    matching.stream([df.iloc[:1234], df.iloc[1234:]], lib.active(), as_of,
                    (ir.Status.ELIGIBLE, ir.Status.UNDETERMINED), sink)
    sink.close()
    on_spark, here = (pd.read_parquet(tmp_path / f).sort_values(["policy", "credit_code"], ignore_index=True)
                      for f in ("spark-rows.parquet", "rows.parquet"))
    assert len(here) > 1000 and list(on_spark.columns) == list(here.columns)
    assert on_spark.astype(str).equals(here.astype(str))
    assert matching.parquet_counts(tmp_path / "spark-rows.parquet").sort_values(["policy", "status"], ignore_index=True) \
        .equals(matching.parquet_counts(tmp_path / "rows.parquet").sort_values(["policy", "status"], ignore_index=True))

def _statuses(pred: ir.Pred, data: list[dict[str, object]], spark: Any, tmp_path: Path) -> list[tuple[str, str]]:
    """(status, missing) per row, the same on every backend (durable-rules: the status)."""
    policy = _policy(pred)
    got = run_all(policy, data, spark, {"sql-sqlite": sa.create_engine(f"sqlite:///{tmp_path / 'c.db'}")})
    for name, result in got.items():
        assert result == got["reference"], name
    durable = [decide(DURABLE, policy, r, AS_OF, sid=f"E{i}").status.label for i, r in enumerate(data)]
    assert durable == [s for _, s, _, _, _ in got["reference"]]
    return [(s, m) for _, s, _, m, _ in got["reference"]]


CODES = ["C", "C39", "C391", "C3911", "C3913", "F", None]


@pytest.mark.parametrize(("pred", "expected"), [
    # an enterprise known only as C (制造业) is undetermined for C39 and eligible for C
    (ir.Under(tag("industry"), ("C39",)), ["undetermined", "eligible", "eligible", "eligible", "eligible",
                                           "not_eligible", "undetermined"]),
    (ir.Under(tag("industry"), ("C",)), ["eligible"] * 5 + ["not_eligible", "undetermined"]),
    (ir.Under(tag("industry"), ("C3911",)), ["undetermined"] * 3 + ["eligible", "not_eligible", "not_eligible",
                                                                     "undetermined"]),
    (ir.Compare("==", tag("industry"), ir.Str("C3911")), ["undetermined"] * 3 + ["eligible", "not_eligible",
                                                                                  "not_eligible", "undetermined"]),
    (ir.Compare("!=", ir.Str("C3911"), tag("industry")), ["undetermined"] * 3 + ["not_eligible", "eligible",
                                                                                  "eligible", "undetermined"]),
    (ir.InSet(tag("industry"), (ir.Str("C3913"), ir.Str("F")), negated=True),
     ["undetermined"] * 3 + ["eligible", "not_eligible", "not_eligible", "undetermined"]),
])
def test_codes_coarser_than_the_condition_are_undetermined(pred: ir.Pred, expected: list[str], spark: Any,
                                                           tmp_path: Path) -> None:
    got = _statuses(pred, [{"industry": c} for c in CODES], spark, tmp_path)
    assert [s for s, _ in got] == expected
    # an undetermined row asks for the industry: missing, or known too coarsely
    assert all(m == "industry" for s, m in got if s == "undetermined")


def test_regions_coarser_than_the_condition_are_undetermined(spark: Any, tmp_path: Path) -> None:
    data: list[dict[str, object]] = [{"region": r} for r in ("340000", "340100", "340104", "340102", "320100")]
    got = _statuses(ir.Under(tag("region"), ("340104",)), data, spark, tmp_path)
    assert [s for s, _ in got] == ["undetermined", "undetermined", "eligible", "not_eligible", "not_eligible"]


@pytest.mark.parametrize(("unit", "count", "inside", "outside"), [
    # AS_OF is 2024-02-29: the evaluation day is inside, the anniversary and any later date are outside
    (ir.ElapsedUnit.MONTHS, 12, [dt.date(2024, 2, 29), dt.date(2023, 3, 1)],
     [dt.date(2023, 2, 28), dt.date(2024, 3, 1), dt.date(2025, 1, 1)]),
    (ir.ElapsedUnit.DAYS, 1, [dt.date(2024, 2, 29)], [dt.date(2024, 2, 28), dt.date(2024, 3, 1)]),
    (ir.ElapsedUnit.YEARS, 3, [dt.date(2021, 3, 1), dt.date(2024, 1, 31)], [dt.date(2021, 2, 28), dt.date(2024, 3, 1)]),
])
def test_within_counts_back_from_the_evaluation_date_only(unit: ir.ElapsedUnit, count: int, inside: list[dt.date],
                                                          outside: list[dt.date], spark: Any, tmp_path: Path) -> None:
    data: list[dict[str, object]] = [{"d1": d} for d in inside + outside] + [{"d1": None}]
    got = _statuses(ir.Within(tag("d1"), count, unit), data, spark, tmp_path)
    assert got == [("eligible", "")] * len(inside) + [("not_eligible", "")] * len(outside) + [("undetermined", "d1")]


@pytest.mark.parametrize("value", [True, False])
def test_true_and_false_are_conditions(value: bool, spark: Any, tmp_path: Path) -> None:
    got = _statuses(ir.Const(value), [{"n0": Decimal(1)}, {}], spark, tmp_path)
    assert got == [("eligible" if value else "not_eligible", "")] * 2
