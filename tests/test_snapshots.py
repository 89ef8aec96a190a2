"""Golden snapshots of the compiled SQL (SQLite, PostgreSQL) and Spark column expressions for a
fixed set of library policies, as ibis keeps per-dialect SQL snapshots: a change to the shared
compiler (rules_engine/backends/kleene.py) or to a dialect shows up here as a readable diff.

Regenerate after an intended change: MIANSHEN_UPDATE_SNAPSHOTS=1 pytest tests/test_snapshots.py
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from rules_engine import ir
from rules_engine.backends import sql, sql_tables
from rules_engine.backends.kleene import tag_bits
from rules_engine.cli import DEFAULT_POLICIES
from rules_engine.data.tags import load_dictionary
from rules_engine.library.loader import load_library

D = load_dictionary()
LIB = load_library(DEFAULT_POLICIES, D)
AS_OF = dt.date(2026, 6, 30)
HERE = Path(__file__).resolve().parent / "golden" / "compiled"
# a fixed date, a window, money tiers, a percent with cases, a code test, per-unit, a null check
POLICIES = ["gaoqi-shouci", "xiaojuren", "chanzhi-tupo", "wengang-fanhuan", "nongye-longtou", "xina-jiuye",
            "chukou-xinbao"]
UPDATE = os.environ.get("MIANSHEN_UPDATE_SNAPSHOTS") == "1"


def _check(path: Path, text: str) -> None:
    if UPDATE or not path.exists():
        assert UPDATE, f"{path} is missing: run with MIANSHEN_UPDATE_SNAPSHOTS=1 to write it"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == text, f"{path.name} changed: compare, then regenerate if intended"


def _columns() -> list[str]:
    """Every tag, and the periods of the periodic ones that the library reads on AS_OF."""
    slots = sorted({t for p in LIB.active() for t in ir.policy_tags(p, AS_OF) if "@" in t})
    return [t.key for t in D] + slots


def _bits(backend: str) -> dict[str, int]:
    return tag_bits([ir.at(p, AS_OF) for p in LIB.active()], backend)[1]


def _table() -> sa.Table:
    return sql_tables.enterprise_table("enterprises", _columns(), D)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
@pytest.mark.parametrize("pid", POLICIES)
def test_compiled_sql_is_the_snapshot(pid: str, dialect: str) -> None:
    policy = LIB.get(pid)
    bits = _bits("SQL")
    sel = sql.policy_select(_table(), policy, AS_OF, dialect, bits)
    d = sqlite.dialect() if dialect == "sqlite" else postgresql.dialect()
    text = str(sel.compile(dialect=d, compile_kwargs={"literal_binds": True})) + "\n"
    _check(HERE / dialect / f"{pid}.sql", text)


def test_spark_columns_are_the_snapshot(spark: Any) -> None:
    from rules_engine.backends import spark as spark_backend

    df = spark.createDataFrame([], ", ".join(f"`{c}` string" for c in _columns()))
    bits = _bits("Spark")
    c = spark_backend.SparkCompiler(df, AS_OF, bits)
    for pid in POLICIES:
        cols = spark_backend.policy_columns(c, LIB.get(pid), 0)
        _check(HERE / "spark" / f"{pid}.txt", "\n".join(str(col) for col in cols) + "\n")
