"""Data-quality report: coverage of each tag, staleness by source, rejects, conflicts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from .datasets import Dataset
from .frame import KEY, storage_order
from .tags import TagDictionary


@dataclass
class QualityReport:
    coverage: pd.DataFrame  # tag, label, source, filled, coverage
    sources: pd.DataFrame  # file, source, as_of, age_days, rows, rejected
    rejects: pd.DataFrame  # file, row, credit_code, column, raw, reason (column empty: the row)
    conflicts: pd.DataFrame  # credit_code, tag, kept, kept_from, dropped, dropped_from
    normalised: pd.DataFrame  # file, row, credit_code, column, raw, reason: money read as the nearest fen
    by_column: pd.DataFrame  # file, column, normalised, rejected, conflicting: per column of each file


def quality_report(ds: Dataset, dictionary: TagDictionary, as_of: dt.date) -> QualityReport:
    n = max(len(ds.frame), 1)
    cov = []
    for key in [KEY, *storage_order(dictionary, [*ds.frame.columns, *(t.key for t in dictionary if not t.periodic)])]:
        t = dictionary[key]  # a periodic tag: one row per period delivered (2025年度营业收入)
        filled = int(ds.frame[key].notna().sum()) if key in ds.frame else 0
        cov.append({"tag": key, "label": t.label, "source": dictionary.sources[t.source].label,
                    "filled": filled, "coverage": filled / n})
    rejected = pd.Series([r.file for r in ds.rejects], dtype=object).value_counts()
    src = [{"file": f.name, "source": dictionary.sources[f.source].label, "as_of": f.as_of,
            "age_days": (as_of - f.as_of).days, "rows": ds.read_rows.get(f.name, 0),
            "rejected": int(rejected.get(f.name, 0))} for f in ds.files]
    return QualityReport(
        pd.DataFrame(cov),
        pd.DataFrame(src),
        pd.DataFrame([r.__dict__ for r in ds.rejects], columns=["file", "row", "credit_code", "column", "raw", "reason"]),
        pd.DataFrame([c.__dict__ for c in ds.conflicts],
                     columns=["credit_code", "tag", "kept", "kept_from", "dropped", "dropped_from"]),
        pd.DataFrame([r.__dict__ for r in ds.normalised],
                     columns=["file", "row", "credit_code", "column", "raw", "reason"]),
        _by_column(ds),
    )


def _by_column(ds: Dataset) -> pd.DataFrame:
    """Per column of each file: cells normalised, rejected, and in conflict (counted against the
    file whose value was dropped; 平台计算 for a derivation that lost to a delivered value)."""
    counts: dict[tuple[str, str], list[int]] = {}
    for kind, items in ((0, ds.normalised), (1, [r for r in ds.rejects if r.column])):
        for r in items:
            counts.setdefault((r.file, r.column), [0, 0, 0])[kind] += 1
    for c in ds.conflicts:
        counts.setdefault((c.dropped_from.split(" (")[0], c.tag), [0, 0, 0])[2] += 1
    return pd.DataFrame([{"file": f, "column": c, "normalised": n, "rejected": x, "conflicting": k}
                         for (f, c), (n, x, k) in sorted(counts.items())],
                        columns=["file", "column", "normalised", "rejected", "conflicting"])
