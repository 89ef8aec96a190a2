"""A batch run pointed at a PostgreSQL table or a Spark data source writes the same ledger
as the default path (the sample data in this process)."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from rules_engine.backends import spark as spark_backend
from rules_engine.backends import sql_tables
from rules_engine.cli import DEFAULT_POLICIES, app
from rules_engine.data.datasets import SAMPLE_MANIFEST, load_dataset, write_storage_parquet
from rules_engine.data.tags import load_dictionary
from rules_engine.errors import EngineError
from rules_engine.ledger.batch import run_batch
from rules_engine.ledger.db import open_ledger
from rules_engine.library.loader import load_library
from rules_engine.sources import FrameSource, SparkSource, SqlSource, backend_of
from tests.conftest import BACKENDS, PG_URL, fresh_url
from tests.test_crash import snapshot

AS_OF = dt.date(2026, 6, 30)
NOW = dt.datetime(2026, 7, 1, 9, 0)


@pytest.fixture(scope="module")
def sample() -> tuple[Any, Any, Any]:
    d = load_dictionary()
    return d, load_library(DEFAULT_POLICIES, d).policies, load_dataset(SAMPLE_MANIFEST, d).frame


def ledger_from(source: Any, url: str, sample: tuple[Any, Any, Any]) -> set[tuple]:
    d, policies, _ = sample
    _, sf = open_ledger(url)
    r = run_batch(sf, source, policies, AS_OF, "tester", d, now=NOW)
    assert r.created > 2000
    return snapshot(url)


def test_postgresql_table_and_spark_parquet_give_the_default_ledger(sample: tuple[Any, Any, Any],
                                                                    tmp_path: Path) -> None:
    if not PG_URL:
        pytest.skip("PostgreSQL: set MIANSHEN_TEST_PG_URL (scripts/test.sh and CI start a server and set it)")
    d, _, df = sample
    default = ledger_from(FrameSource(df), f"sqlite:///{tmp_path / 'default.db'}", sample)

    # the enterprise table lives in PostgreSQL; the ledger beside it, as a province would run it
    pg = fresh_url("postgresql", tmp_path)
    with sa.create_engine(pg).begin() as conn:
        sql_tables.write_table(conn, "enterprises", df, d)
    assert ledger_from(SqlSource(pg, "enterprises", d), pg, sample) == default

    write_storage_parquet(df, tmp_path / "enterprises.parquet")
    spark = spark_backend.local_session(2, "mianshen-tests")
    source = SparkSource(str(tmp_path / "enterprises.parquet"), d, spark=spark)
    assert ledger_from(source, f"sqlite:///{tmp_path / 'spark.db'}", sample) == default


def test_cli_batch_run_reads_a_database_table(tmp_path: Path) -> None:
    runner = CliRunner()
    data_db = f"sqlite:///{tmp_path / 'platform.db'}"
    exported = runner.invoke(app, ["data-export", "--to", data_db, "--table", "qiye"])
    assert exported.exit_code == 0, exported.output
    for name, data in (("default", []), ("sql", ["--data", data_db, "--table", "qiye"])):
        r = runner.invoke(app, ["batch", "run", "--actor", "tester", "--db", f"sqlite:///{tmp_path / name}.db",
                                "--as-of", "2026-06-30", *data])
        assert r.exit_code == 0, r.output
    default, sql = snapshot(f"sqlite:///{tmp_path / 'default.db'}"), snapshot(f"sqlite:///{tmp_path / 'sql.db'}")
    # the same payouts with the same records, except where each value came from: the batch over
    # the department files knows each value's department and date, a database table does not
    # (its payouts explain with the tag dictionary's department, undated)
    assert all(json.loads(r[6])["sources"] for r in default) and not any(json.loads(r[6])["sources"] for r in sql)
    assert len(default) > 2000 and without_sources(sql) == without_sources(default)


def without_sources(snap: set[tuple]) -> set[tuple]:
    return {(*r[:6], json.dumps({k: v for k, v in json.loads(r[6]).items() if k != "sources"}, sort_keys=True,
                                ensure_ascii=False)) for r in snap}


@pytest.mark.parametrize("database", BACKENDS)
def test_cli_match_writes_results_into_the_database(database: str, tmp_path: Path) -> None:
    runner = CliRunner()
    url = fresh_url(database, tmp_path)
    assert runner.invoke(app, ["data-export", "--to", url]).exit_code == 0
    r = runner.invoke(app, ["match", "--data", url, "--as-of", "2026-06-30", "--out-table", "results"])
    assert r.exit_code == 0, r.output
    vec = runner.invoke(app, ["match", "--as-of", "2026-06-30", "--out", str(tmp_path / "vec.csv")])
    assert vec.exit_code == 0, vec.output
    import pandas as pd

    expected = pd.read_csv(tmp_path / "vec.csv", dtype=str, keep_default_na=False)
    with sa.create_engine(url).connect() as conn:
        got = pd.read_sql(sa.text("SELECT credit_code, policy, status, amount_fen, missing FROM results"), conn)
    assert len(got) == len(expected) > 4000
    assert f"已写出 {len(got)} 行到表 results" in r.output
    # the summary, counted inside the database, is the in-process one
    totals = re.compile(r"符合 \d+，待补充数据 \d+；合计 [\d,.]+")
    assert totals.findall(r.output) == totals.findall(vec.output) != []
    # the same date again replaces its rows (SQLite once stored the date as the integer 2026,
    # so the replace missed them)
    again = runner.invoke(app, ["match", "--data", url, "--as-of", "2026-06-30", "--out-table", "results",
                                "--out", str(tmp_path / "back.csv")])
    assert again.exit_code == 0 and f"已写出 {len(got)} 行" in again.output, again.output
    with sa.create_engine(url).connect() as conn:
        assert conn.execute(sa.text("SELECT DISTINCT as_of FROM results")).scalars().all() in (
            ["2026-06-30"], [dt.date(2026, 6, 30)])
    key = ["credit_code", "policy"]
    got = got.astype({"amount_fen": "int64"}).sort_values(key).reset_index(drop=True)
    expected = expected[list(got.columns)].astype({"amount_fen": "int64"}).sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected)
    # --out with --out-table reads the table back: the same rows as the in-process match
    back = pd.read_csv(tmp_path / "back.csv", dtype=str, keep_default_na=False)[list(got.columns)]
    back = back.astype({"amount_fen": "int64"}).sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(back, expected)


def test_bad_backend_choices_are_clear_errors(sample: tuple[Any, Any, Any], tmp_path: Path) -> None:
    d = sample[0]
    with pytest.raises(EngineError, match="是数据库地址，只能用 sql 后端"):
        backend_of("postgresql://x/y", "spark")
    with pytest.raises(EngineError, match="未知的后端 'duckdb'"):
        backend_of("data.yaml", "duckdb")
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    with pytest.raises(EngineError, match="中没有数据表 'enterprises'；现有的表：（无）"):
        SqlSource(empty, "enterprises", d)
    r = CliRunner().invoke(app, ["match", "--data", empty])
    assert r.exit_code == 1 and "没有数据表 'enterprises'" in r.output


def test_every_source_returns_the_one_results_frame(sample: Any, tmp_path: Path, spark: Any) -> None:
    """Was: MatchResult, list[dict] and Decision; `include_not_eligible` and `eligible_only`
    filtering different things; Spark collecting every pair before filtering. Now one frame:
    the same columns, dtypes, order and rows from every source, filtered where the data lives."""
    from rules_engine import ir
    from rules_engine.results import DTYPES

    d, policies, df = sample
    active = [p for p in policies if p.status == "active"][:10]  # Spark plans per call: a few policies keep it quick
    df = df.iloc[:300]
    url = f"sqlite:///{tmp_path / 'data.db'}"
    with sa.create_engine(url).begin() as conn:
        sql_tables.write_table(conn, "enterprises", df, d)
    write_storage_parquet(df, tmp_path / "e.parquet")
    sources = [FrameSource(df), SqlSource(url, "enterprises", d), SparkSource(str(tmp_path / "e.parquet"), d, spark=spark)]
    for statuses in (None, (ir.Status.ELIGIBLE,), (ir.Status.UNDETERMINED, ir.Status.NOT_ELIGIBLE)):
        frames = [s.results(active, AS_OF, statuses) for s in sources]
        for f in frames:
            assert list(f.columns) == list(ir.RESULT_COLUMNS)
            assert {c: str(t) for c, t in f.dtypes.items()} == {c: str(pd.Series([], dtype=t).dtype)
                                                               for c, t in DTYPES.items()}
            wanted = {s.label for s in statuses} if statuses else {s.label for s in ir.Status}
            assert set(f["status"].astype(str)) <= wanted and len(f) > 0
        for f in frames[1:]:
            pd.testing.assert_frame_equal(f, frames[0])
        # results written in place read back as the same frame, the failed conditions included
        sql_source = sources[1]
        assert isinstance(sql_source, SqlSource)
        sql_source.results_into(active, AS_OF, "results", statuses)
        pd.testing.assert_frame_equal(sql_source.read_results("results", active, AS_OF), frames[0])
    assert (frames[0]["failed"] != "").any()  # which conditions refused a row: the CLI's file carries it
