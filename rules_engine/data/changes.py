"""Change sets: what a data delivery changed, so a batch re-evaluates only those enterprises.

A change set is storage-format Parquet holding the after-image of every enterprise whose record
changed or that is new (the change-data-capture a data platform publishes), marked with the
digest of the data before and after and the tags that changed. An incremental batch
(`mianshen batch run --changes`) matches those rows against every policy that reads a changed
tag; the ledger's unique key and the budgets' committed totals do the rest, so the ledger ends as
a full batch over the new data would leave it. It is bound to the data of the ledger's last
batch: a change set computed from other data is refused."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import EngineError
from .frame import KEY, frame_digest

CHANGES_KEY = b"mianshen.changes"


@dataclass(frozen=True)
class ChangeSet:
    frame: pd.DataFrame  # after-images of the changed and new enterprises (storage frame)
    base: str  # frame_digest of the data before (what the ledger's last batch read)
    new: str  # frame_digest of the data after
    tags: frozenset[str]  # every column that changed in at least one row
    added: int  # enterprises not in the data before
    removed: int  # enterprises no longer in the data (nothing to match: noted only)


def _null(s: pd.Series) -> np.ndarray:
    return s.isna().to_numpy(dtype=bool)


def _changed(before: pd.Series, after: pd.Series) -> np.ndarray:
    """Row by row: the value differs, or is missing on one side only."""
    nb, na = _null(before), _null(after)
    kind = before.dtype.kind
    if before.dtype == after.dtype and kind in "iubM" and not isinstance(before.dtype, pd.CategoricalDtype):
        if kind == "M":  # NaT where missing, masked below
            differs = before.to_numpy(dtype="datetime64[ns]") != after.to_numpy(dtype="datetime64[ns]")
        elif kind == "b":
            differs = before.to_numpy(dtype=bool, na_value=False) != after.to_numpy(dtype=bool, na_value=False)
        else:
            differs = before.to_numpy(dtype=np.int64, na_value=0) != after.to_numpy(dtype=np.int64, na_value=0)
    else:  # categories, texts and nullable types compare as Python values where both are present
        b, a = before.to_numpy(dtype=object, copy=True), after.to_numpy(dtype=object, copy=True)
        b[nb], a[na] = None, None  # NA would not compare to a bool
        differs = np.fromiter((x != y for x, y in zip(b.tolist(), a.tolist(), strict=True)), dtype=bool,
                              count=len(b))
    return (nb != na) | (differs & ~nb & ~na)


def changes(before: pd.DataFrame, after: pd.DataFrame) -> ChangeSet:
    """The change set from one delivery's storage frame to the next one's."""
    keys_before = pd.Index(before[KEY].astype(str))
    keys_after = pd.Index(after[KEY].astype(str))
    if not keys_after.is_unique or not keys_before.is_unique:
        raise EngineError("数据中有重复的统一社会信用代码：无法计算变更")
    at = keys_before.get_indexer(keys_after)
    known = at >= 0
    old = before.iloc[np.where(known, at, 0)].reset_index(drop=True)
    row_changed = ~known
    tags: set[str] = set()
    for col in after.columns:
        if col == KEY:
            continue
        new_col = after[col].reset_index(drop=True)
        if col not in old.columns:
            hit = ~_null(new_col)
        else:
            hit = _changed(old[col], new_col) & known
        hit_new = ~known & ~_null(new_col)
        if hit.any() or hit_new.any():
            tags.add(col)
        row_changed |= hit
    for col in before.columns:  # a column no longer delivered: its values are gone where there were some
        if col != KEY and col not in after.columns and (~_null(old[col]) & known).any():
            tags.add(col)
            row_changed |= ~_null(old[col]) & known
    removed = int((~keys_before.isin(keys_after)).sum())
    return ChangeSet(after[row_changed].reset_index(drop=True), frame_digest(before), frame_digest(after),
                     frozenset(tags), int((~known).sum()), removed)


def write_changes(cs: ChangeSet, path: Path | str) -> None:
    """Storage-format Parquet with the change set's marks in the file's metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .datasets import STORAGE_FORMAT_KEY

    table = pa.Table.from_pandas(cs.frame, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[STORAGE_FORMAT_KEY] = b"storage-v1"
    meta[CHANGES_KEY] = json.dumps({"base": cs.base, "new": cs.new, "tags": sorted(cs.tags), "added": cs.added,
                                    "removed": cs.removed, "rows": len(cs.frame)}).encode()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.replace_schema_metadata(meta), path)


def read_changes(path: Path | str, dictionary: object) -> ChangeSet:
    """A change set written by write_changes; anything else is refused, naming the file."""
    import pyarrow.parquet as pq

    from .frame import conform

    path = Path(path)
    try:
        meta = (pq.read_schema(path).metadata or {}).get(CHANGES_KEY)
    except (OSError, ValueError) as exc:
        raise EngineError(f"{path}：无法读取变更集（{type(exc).__name__}）") from None
    if meta is None:
        raise EngineError(f"{path} 不是变更集（缺少 {CHANGES_KEY.decode()} 标记）：请用 mianshen data changes 生成")
    try:
        m = json.loads(meta)
        frame = conform(pd.read_parquet(path), dictionary)  # type: ignore[arg-type]
        if len(frame) != int(m["rows"]):
            raise EngineError(f"{path}：变更集应有 {m['rows']} 行，实有 {len(frame)} 行")
        return ChangeSet(frame, str(m["base"]), str(m["new"]), frozenset(map(str, m["tags"])), int(m["added"]),
                         int(m["removed"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise EngineError(f"{path}：变更集标记不完整（{type(exc).__name__}: {exc}）") from None
