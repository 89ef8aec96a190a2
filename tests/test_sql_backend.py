"""The SQL backend, run inside SQLite and PostgreSQL, agrees exactly with the vectorized engine."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules_engine import ir
from rules_engine.backends import sql as sql_backend
from rules_engine.backends import sql_tables, vectorized
from rules_engine.backends.kleene import tag_bits
from rules_engine.data import frame
from tests.conftest import PG_URL
from tests.strategies import AS_OF, DICTIONARY, TAGS, policies, rows


def load(engine: sa.Engine, data: list[dict]) -> tuple[sa.Table, pd.DataFrame]:
    df = frame.to_frame([{**r, "credit_code": f"E{i:03d}"} for i, r in enumerate(data)], DICTIONARY,
                        columns=["credit_code", *TAGS])
    with engine.begin() as conn:
        table = sql_tables.write_table(conn, "enterprises_t", df, DICTIONARY)
    return table, df


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_sql_matches_the_vectorized_engine(backend: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    if backend == "postgresql" and not PG_URL:
        pytest.skip("PostgreSQL: set MIANSHEN_TEST_PG_URL (scripts/test.sh and CI start a server and set it)")
    tmp = tmp_path_factory.mktemp("sql")
    engine = sa.create_engine(f"sqlite:///{tmp / 'sql.db'}") if backend == "sqlite" else sa.create_engine(PG_URL)

    @settings(max_examples=80 if backend == "sqlite" else 40, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(policy=policies(), data=st.lists(rows, min_size=1, max_size=10))
    def check(policy: ir.Policy, data: list[dict]) -> None:
        table, df = load(engine, data)
        expected = vectorized.match(df, [policy], AS_OF).to_frame()
        with engine.connect() as conn:
            got = sql_backend.results(conn, table, [policy], AS_OF).to_dict("records")
        got.sort(key=lambda r: r["credit_code"])
        exp = [{"credit_code": r.credit_code, "policy": r.policy, "version": int(r.version), "status": r.status,
                "amount_fen": int(r.amount_fen), "missing": r.missing, "failed": r.failed}
               for r in expected.itertuples()]
        assert got == exp

    check()


def test_the_library_on_the_sample_in_sqlite(tmp_path: Path) -> None:
    from rules_engine.cli import DEFAULT_POLICIES
    from rules_engine.data.datasets import SAMPLE_MANIFEST, load_dataset
    from rules_engine.data.tags import load_dictionary
    from rules_engine.library.loader import load_library

    d = load_dictionary()
    lib = load_library(DEFAULT_POLICIES, d)
    df = load_dataset(SAMPLE_MANIFEST, d).frame
    as_of = dt.date(2026, 6, 30)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'sample.db'}")
    with engine.begin() as conn:
        table = sql_tables.write_table(conn, "sample", df, d)
    expected = vectorized.match(df, lib.policies, as_of).to_frame()
    exp = {(r.credit_code, r.policy, int(r.version)): (r.status, int(r.amount_fen), r.missing, r.failed)
           for r in expected.itertuples()}
    with engine.connect() as conn:
        got = sql_backend.results(conn, table, lib.policies, as_of).to_dict("records")
    assert len(got) == len(exp) == 3000 * len(lib.policies)
    for r in got:
        assert (r["status"], r["amount_fen"], r["missing"], r["failed"]) == \
            exp[(r["credit_code"], r["policy"], r["version"])], r


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_amounts_are_integers_inside_the_database(backend: str, tmp_path: Path) -> None:
    """Not just equal after int(): on a reflected table SQLAlchemy's `//` rendered FLOOR(abs(x) / n),
    which PostgreSQL computes in double precision; the parity tests could not see it (exact below
    2^53, and their tables are not reflected)."""
    from rules_engine.cli import DEFAULT_POLICIES
    from rules_engine.data.datasets import SAMPLE_MANIFEST, load_dataset
    from rules_engine.data.tags import load_dictionary
    from rules_engine.library.loader import load_library

    if backend == "postgresql" and not PG_URL:
        pytest.skip("PostgreSQL: set MIANSHEN_TEST_PG_URL (scripts/test.sh and CI start a server and set it)")
    d = load_dictionary()
    policies = load_library(DEFAULT_POLICIES, d).active()
    df = load_dataset(SAMPLE_MANIFEST, d).frame
    engine = sa.create_engine(f"sqlite:///{tmp_path / 's.db'}" if backend == "sqlite" else PG_URL)
    typeof = sa.func.typeof if backend == "sqlite" else sa.func.pg_typeof
    with engine.begin() as conn:
        sql_tables.write_table(conn, "typed", df, d)
        table = sql_tables.reflect(conn, "typed")  # as a batch sees a province's table
        _, bits = tag_bits([ir.at(p, dt.date(2026, 6, 30)) for p in policies], "SQL")  # the slots read that day
        for p in policies:
            q = sql_backend.policy_select(table, p, dt.date(2026, 6, 30), backend, bits).subquery()
            types = set(conn.execute(sa.select(sa.cast(typeof(q.c.amount_fen), sa.Text)).distinct()).scalars())
            assert types == ({"integer"} if backend == "sqlite" else {"bigint"}), (p.id, types)
        table.drop(conn)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_write_table_round_trips_awkward_values(backend: str, tmp_path: Path) -> None:
    """write_table (COPY on PostgreSQL) and read_rows give back what went in: text that COPY's
    text format would have to escape, NULL in every kind, extreme money and dates."""
    if backend == "postgresql" and not PG_URL:
        pytest.skip("PostgreSQL: set MIANSHEN_TEST_PG_URL (scripts/test.sh and CI start a server and set it)")
    awkward = ["tab\there", "new\nline", "back\\slash", "\\N", "引号'\"", "", "  空格 "]
    data = [{"credit_code": code, "region": code, "n0": Decimal(-(2**40)) if i % 2 else None, "m1": Decimal("99999999999.99"),
             "d1": dt.date(1999, 12, 31) if i % 3 else None, "b1": [True, False, None][i % 3],
             "cat": "中型" if i % 2 else None} for i, code in enumerate(awkward)]
    df = frame.to_frame(data, DICTIONARY, columns=["credit_code", *TAGS])
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'rt.db'}" if backend == "sqlite" else PG_URL)
    with engine.begin() as conn:
        sql_tables.write_table(conn, "round_trip", df, DICTIONARY)
        table = sql_tables.reflect(conn, "round_trip")
        back = sql_tables.read_rows(conn, table, awkward, DICTIONARY)
        table.drop(conn)
    back = back.set_index("credit_code").loc[awkward].reset_index()
    assert back.astype(object).where(back.notna(), None).to_dict("records") == \
        df.astype(object).where(df.notna(), None).to_dict("records")


def test_a_results_table_written_by_an_older_version_gains_the_failed_column(tmp_path: Path) -> None:
    """results_into appends to an existing table; one made before the contract carried `failed`
    has no such column: it is added (empty for the old rows), not a crash."""
    from rules_engine.cli import DEFAULT_POLICIES
    from rules_engine.data.datasets import SAMPLE_MANIFEST, load_dataset
    from rules_engine.data.tags import load_dictionary
    from rules_engine.library.loader import load_library

    d = load_dictionary()
    policy = load_library(DEFAULT_POLICIES, d).get("faming-zhuanli")
    df = load_dataset(SAMPLE_MANIFEST, d).frame.iloc[:50]
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as conn:
        table = sql_tables.write_table(conn, "sample", df, d)
        conn.exec_driver_sql("CREATE TABLE results (credit_code TEXT NOT NULL, policy TEXT NOT NULL, version INTEGER "
                             "NOT NULL, as_of DATE NOT NULL, status TEXT NOT NULL, amount_fen BIGINT NOT NULL, missing "
                             "TEXT NOT NULL, PRIMARY KEY (credit_code, policy, version, as_of))")
        conn.exec_driver_sql("INSERT INTO results VALUES ('old', 'faming-zhuanli', 1, '2026-01-01', 'eligible', 1, '')")
        assert sql_backend.results_into(conn, table, [policy], AS_OF, "results") == 50
        got = sql_backend.read_results(conn, "results", [policy], AS_OF)
        assert got.equals(sql_backend.results(conn, table, [policy], AS_OF))
        assert conn.exec_driver_sql("SELECT failed FROM results WHERE credit_code = 'old'").scalar_one() == ""
