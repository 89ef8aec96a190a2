"""Matching every enterprise against every policy without the ledger (`mianshen match`): the
summary a user reads, and the result rows written to a file.

The summary asks the engine for decisions and amounts only; the missing-tag and
failed-condition lists are computed only when rows are written, and then only for the rows
written (`statuses`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

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
