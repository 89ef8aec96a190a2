"""The SQL backend, run inside SQLite and PostgreSQL, agrees exactly with the vectorized engine."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules_engine import frame, ir, sql_backend, vectorized
from tests.conftest import PG_URL
from tests.strategies import AS_OF, DICTIONARY, TAGS, policies, rows


def load(engine: sa.Engine, data: list[dict]) -> tuple[sa.Table, pd.DataFrame]:
    df = frame.to_frame([{**r, "credit_code": f"E{i:03d}"} for i, r in enumerate(data)], DICTIONARY,
                        columns=["credit_code", *TAGS])
    with engine.begin() as conn:
        table = sql_backend.write_table(conn, "enterprises_t", df, DICTIONARY)
    return table, df


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_sql_matches_the_vectorized_engine(backend: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    if backend == "postgresql" and not PG_URL:
        pytest.skip("PostgreSQL: set MIANSHEN_TEST_PG_URL (scripts/test.sh and CI start a server and set it)")
    tmp = tmp_path_factory.mktemp("sql")
    engine = sa.create_engine(f"sqlite:///{tmp / 'sql.db'}") if backend == "sqlite" else sa.create_engine(PG_URL)

    @settings(max_examples=150 if backend == "sqlite" else 60, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(policy=policies(), data=st.lists(rows, min_size=1, max_size=10))
    def check(policy: ir.Policy, data: list[dict]) -> None:
        table, df = load(engine, data)
        expected = vectorized.match(df, [policy], AS_OF).to_frame()
        with engine.connect() as conn:
            got = sql_backend.match(conn, table, [policy], AS_OF)
        got.sort(key=lambda r: r["credit_code"])
        exp = [{"credit_code": r.credit_code, "policy": r.policy, "version": int(r.version), "status": r.status,
                "amount_fen": int(r.amount_fen), "missing": r.missing} for r in expected.itertuples()]
        assert got == exp

    check()


def test_the_library_on_the_sample_in_sqlite(tmp_path: Path) -> None:
    from rules_engine.cli import DEFAULT_POLICIES
    from rules_engine.datasets import SAMPLE_MANIFEST, load_dataset
    from rules_engine.loader import load_library
    from rules_engine.tags import load_dictionary

    d = load_dictionary()
    lib = load_library(DEFAULT_POLICIES, d)
    df = load_dataset(SAMPLE_MANIFEST, d).frame
    as_of = dt.date(2026, 6, 30)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'sample.db'}")
    with engine.begin() as conn:
        table = sql_backend.write_table(conn, "sample", df, d)
    expected = vectorized.match(df, lib.policies, as_of).to_frame()
    exp = {(r.credit_code, r.policy, int(r.version)): (r.status, int(r.amount_fen), r.missing)
           for r in expected.itertuples()}
    with engine.connect() as conn:
        got = sql_backend.match(conn, table, lib.policies, as_of)
    assert len(got) == len(exp) == 3000 * len(lib.policies)
    for r in got:
        assert (r["status"], r["amount_fen"], r["missing"]) == exp[(r["credit_code"], r["policy"], r["version"])], r
