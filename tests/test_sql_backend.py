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
from rules_engine.ir import Kind
from tests.conftest import PG_URL
from tests.strategies import AS_OF, DICTIONARY, TAGS, policies, rows

SQL_TYPE = {Kind.NUMBER: sa.BigInteger, Kind.MONEY: sa.BigInteger, Kind.DATE: sa.Date, Kind.BOOL: sa.Boolean,
            Kind.CATEGORY: sa.Text, Kind.CODE: sa.Text, Kind.TEXT: sa.Text}


def engines(tmp: Path) -> list[sa.Engine]:
    out = [sa.create_engine(f"sqlite:///{tmp / 'sql.db'}")]
    if PG_URL:
        out.append(sa.create_engine(PG_URL))
    return out


def load(engine: sa.Engine, data: list[dict]) -> sa.Table:
    md = sa.MetaData()
    table = sa.Table("enterprises_t", md, sa.Column("credit_code", sa.Text, primary_key=True),
                     *(sa.Column(k, SQL_TYPE[t.kind]) for k, t in TAGS.items()))
    df = frame.to_frame([{**r, "credit_code": f"E{i:03d}"} for i, r in enumerate(data)], DICTIONARY,
                        columns=["credit_code", *TAGS])
    records = []
    for i in range(len(df)):
        rec = {}
        for k in df.columns:
            v = df[k].iat[i]
            if pd.isna(v):
                rec[k] = None
            elif TAGS.get(k) is not None and TAGS[k].kind is Kind.DATE:
                rec[k] = v.date()
            elif TAGS.get(k) is not None and TAGS[k].kind is Kind.BOOL:
                rec[k] = bool(v)
            elif TAGS.get(k) is not None and TAGS[k].kind in (Kind.NUMBER, Kind.MONEY):
                rec[k] = int(v)
            else:
                rec[k] = str(v)
        records.append(rec)
    with engine.begin() as conn:
        md.drop_all(conn)
        md.create_all(conn)
        conn.execute(table.insert(), records)
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
    md = sa.MetaData()
    cols = [c for c in df.columns if c in d]
    table = sa.Table("sample", md, *(sa.Column(c, SQL_TYPE[d[c].kind], primary_key=(c == "credit_code")) for c in cols))
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'sample.db'}")
    md.create_all(engine)
    records = []
    for rec in df[cols].astype(object).to_dict("records"):
        out = {}
        for c, v in rec.items():
            if pd.isna(v):
                out[c] = None
            elif d[c].kind is Kind.DATE:
                out[c] = v.date()
            elif d[c].kind in (Kind.NUMBER, Kind.MONEY):
                out[c] = int(v)
            elif d[c].kind is Kind.BOOL:
                out[c] = bool(v)
            else:
                out[c] = str(v)
        records.append(out)
    with engine.begin() as conn:
        conn.execute(table.insert(), records)
    expected = vectorized.match(df, lib.policies, as_of).to_frame()
    exp = {(r.credit_code, r.policy, int(r.version)): (r.status, int(r.amount_fen), r.missing)
           for r in expected.itertuples()}
    with engine.connect() as conn:
        got = sql_backend.match(conn, table, lib.policies, as_of)
    assert len(got) == len(exp) == 3000 * len(lib.policies)
    for r in got:
        assert (r["status"], r["amount_fen"], r["missing"]) == exp[(r["credit_code"], r["policy"], r["version"])], r
