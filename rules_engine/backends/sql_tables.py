"""Enterprise tables in a database: the layout of a storage frame, writing it (COPY on
PostgreSQL), reflecting an existing table, and reading some enterprises' rows back. The
compiler (sql.py) knows none of this; it reads whatever table it is given."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa

from ..data.frame import conform, storage_columns, to_records
from ..data.tags import TagDictionary
from ..errors import EngineError
from ..ir import Kind

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
        raise EngineError(f"{conn.engine.url.render_as_string(hide_password=True)} 中没有数据表 {name!r}；"
                          f"现有的表：{'、'.join(have) or '（无）'}") from None


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
