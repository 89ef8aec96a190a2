"""Matching every enterprise against every policy without the ledger (`mianshen match`): the
summary a user reads, and the result rows written to a file.

The summary asks the engine for decisions and amounts only; the missing-tag and
failed-condition lists are computed only when rows are written, and then only for the rows
written (`statuses`)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import ir
from ..backends import vectorized
from ..sources import FrameSource, MatchSource

COUNTS = ["policy", "status", "n", "amount_fen"]


def counts_of(result: pd.DataFrame) -> pd.DataFrame:
    """Result rows (the contract of results.py) → (policy, status, n, amount_fen)."""
    if result.empty:
        return pd.DataFrame(columns=COUNTS)
    g = result.groupby(["policy", "status"], sort=False, observed=True)
    return g.size().rename("n").to_frame().join(g["amount_fen"].sum()).reset_index()


def _engine_counts(frame: pd.DataFrame, policies: list[ir.Policy], as_of: dt.date) -> pd.DataFrame:
    res = vectorized.match(frame, policies, as_of, explain_failures=False, missing=False)
    rows = []
    for r in res.results:
        eligible = r.status_sparse == ir.Status.ELIGIBLE
        e, u, _ = r.counts()
        rows.append((r.policy.id, ir.Status.ELIGIBLE.label, e, int(r.amount_sparse[eligible].sum())))
        rows.append((r.policy.id, ir.Status.UNDETERMINED.label, u, int(r.amount_sparse[~eligible].sum())))
    return pd.DataFrame(rows, columns=COUNTS).astype({"n": np.int64, "amount_fen": np.int64})


def summary(source: MatchSource, policies: list[ir.Policy], as_of: dt.date) -> pd.DataFrame:
    """Per policy and status: how many enterprises, and the sum of their amounts (fen)."""
    if isinstance(source, FrameSource):
        return _engine_counts(source.frame, policies, as_of)
    return counts_of(source.results(policies, as_of, (ir.Status.ELIGIBLE, ir.Status.UNDETERMINED)))


def results(source: MatchSource, policies: list[ir.Policy], as_of: dt.date,
            statuses: Sequence[ir.Status] | None) -> pd.DataFrame:
    """The result rows with these statuses (None: all), explained: missing tags of undetermined
    rows, failed conditions of not-eligible ones."""
    return source.results(policies, as_of, statuses)


def yuan_column(fen: Any) -> Any:
    """Fen (an Arrow or numpy integer column) as yuan text, 1234.56 (fmt_yuan(grouped=False)),
    computed by Arrow for the whole column."""
    import pyarrow as pa
    import pyarrow.compute as pc

    fen = pa.array(fen, pa.int64())
    magnitude = pc.abs(fen)
    whole = pc.cast(pc.divide(magnitude, 100), pa.string())  # integer division of non-negative ints
    cents = pc.utf8_lpad(pc.cast(pc.subtract(magnitude, pc.multiply(pc.divide(magnitude, 100), 100)), pa.string()),
                         width=2, padding="0")
    sign = pc.if_else(pc.less(fen, 0), "-", "")
    return pc.binary_join_element_wise(sign, whole, ".", cents, "")


class ParquetResults:
    """Result rows appended to one Parquet file a slice at a time (the columns `write_results`
    writes), so a province's rows never sit in memory together."""

    def __init__(self, out: Path) -> None:
        self.out, self.rows = out, 0
        self.writer: Any = None

    def write(self, rows: Any) -> None:
        """Rows as an Arrow table (FrameSource.arrow_results)."""
        import pyarrow.parquet as pq

        at = rows.column_names.index("amount_fen")
        table = rows.add_column(at, "amount_yuan", yuan_column(rows["amount_fen"])).select(SCHEMA.names).cast(SCHEMA)
        if self.writer is None:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(self.out, SCHEMA)
        self.writer.write_table(table)
        self.rows += table.num_rows

    def close(self) -> None:
        if self.writer is None:  # nothing matched: still a file with the columns
            import pyarrow.parquet as pq

            self.out.parent.mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(self.out, SCHEMA)
        self.writer.close()


def _schema():  # type: ignore[no-untyped-def]
    import pyarrow as pa

    return pa.schema([("credit_code", pa.string()), ("policy", pa.string()), ("version", pa.int64()),
                      ("status", pa.string()), ("amount_yuan", pa.string()), ("amount_fen", pa.int64()),
                      ("missing", pa.string()), ("failed", pa.string())])


SCHEMA = _schema()


def _arrow_counts(table: Any) -> pd.DataFrame:
    got = table.group_by(["policy", "status"]).aggregate([("amount_fen", "count"), ("amount_fen", "sum")])
    return pd.DataFrame({"policy": got["policy"].to_pylist(), "status": got["status"].to_pylist(),
                         "n": got["amount_fen_count"].to_numpy(), "amount_fen": got["amount_fen_sum"].to_numpy()})


@dataclass
class Streamed:
    """What a streamed match did: enterprises, counts per policy and status, rows written, and
    the seconds spent reading the data and matching it."""

    enterprises: int = 0
    counts: list[pd.DataFrame] = field(default_factory=list)
    written: int = 0
    read_s: float = 0.0
    match_s: float = 0.0
    write_s: float = 0.0

    def summary(self) -> pd.DataFrame:
        if not self.counts:
            return pd.DataFrame(columns=COUNTS)
        return pd.concat(self.counts, ignore_index=True).groupby(["policy", "status"], sort=False,
                                                                 observed=True)[["n", "amount_fen"]].sum().reset_index()


def stream(parts: Iterable[pd.DataFrame], policies: list[ir.Policy], as_of: dt.date,
           statuses: Sequence[ir.Status] | None, out: ParquetResults | None) -> Streamed:
    """Match slice by slice: the summary only (out None), or the rows with `statuses` appended to
    a Parquet file. Memory holds one slice and its results, whatever the number of enterprises."""
    done = Streamed()
    it = iter(parts)
    while True:
        t = time.perf_counter()
        part = next(it, None)
        done.read_s += time.perf_counter() - t
        if part is None:
            return done
        t = time.perf_counter()
        source = FrameSource(part)
        if out is None:
            done.counts.append(summary(source, policies, as_of))
            done.match_s += time.perf_counter() - t
        else:
            rows = source.arrow_results(policies, as_of, statuses)
            done.counts.append(_arrow_counts(rows))
            done.match_s += time.perf_counter() - t
            t = time.perf_counter()
            out.write(rows)
            done.written += rows.num_rows
            done.write_s += time.perf_counter() - t
        done.enterprises += len(part)


def parquet_counts(path: Path) -> pd.DataFrame:
    """(policy, status, n, amount_fen) of result rows written as Parquet (a file or a directory
    of parts), read column-wise."""
    import pyarrow.dataset as pads

    return _arrow_counts(pads.dataset(str(path), format="parquet").to_table(columns=["policy", "status", "amount_fen"]))
