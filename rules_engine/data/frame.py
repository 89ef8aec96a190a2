"""The enterprise frame: one row per enterprise, one typed column per tag.

Storage units are exact and fixed by the tag dictionary:
  money   -> Int64, fen              number -> Int64, value × 10^scale
  date    -> datetime64[s]           bool   -> boolean
  category/code -> category          text   -> str
A missing value is <NA>/NaT. `to_frame` builds it from natural values
(Decimal yuan, date, ...) and `row_of` gives one row back in natural units.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import cast

import numpy as np
import pandas as pd
import pyarrow as pa

from ..ir import Kind, TagType
from .tags import TagDictionary

KEY = "credit_code"


def storage_dtype(t: TagType) -> object:
    if t.kind in (Kind.NUMBER, Kind.MONEY):
        return "Int64"
    if t.kind is Kind.DATE:
        return "datetime64[s]"
    if t.kind is Kind.BOOL:
        return "boolean"
    if t.kind is Kind.CATEGORY:
        return pd.CategoricalDtype(list(t.values))
    if t.kind is Kind.CODE:
        return "category"
    return "str"


def to_storage(t: TagType, value: object) -> object:
    """One natural value in its storage unit (None stays None)."""
    if value is None:
        return None
    if t.kind in (Kind.NUMBER, Kind.MONEY):
        assert isinstance(value, Decimal)
        scaled = value.scaleb(t.scale)
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{value} 的小数超过 {t.scale} 位")
        return int(scaled)
    return value


def to_frame(rows: Iterable[Mapping[str, object]], dictionary: TagDictionary,
             columns: Iterable[str] | None = None) -> pd.DataFrame:
    """A storage frame from natural-valued rows; tags absent from a row are missing."""
    rows = list(rows)
    present = {k for r in rows for k in r}
    keys = list(columns) if columns is not None else [KEY] * (KEY in present) + storage_order(dictionary, present)
    data: dict[str, pd.Series] = {}
    for key in keys:
        t = dictionary[key].type
        values = [to_storage(t, r.get(key)) for r in rows]
        if t.kind is Kind.DATE:
            values = [pd.Timestamp(cast(dt.date, v)) if v is not None else pd.NaT for v in values]
        data[key] = pd.Series(values, dtype=storage_dtype(t))  # type: ignore[call-overload]
    return pd.DataFrame(data, index=pd.RangeIndex(len(rows)))


def natural(t: TagType, value: object) -> object:
    """A storage value back in natural units."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if t.kind in (Kind.NUMBER, Kind.MONEY):
        return Decimal(int(value)).scaleb(-t.scale)  # type: ignore[call-overload]
    if t.kind is Kind.DATE:
        if isinstance(value, dt.datetime) or hasattr(value, "date"):
            return value.date()  # type: ignore[union-attr]
        return value
    if t.kind is Kind.BOOL:
        return bool(value)
    return str(value)


def row_of(df: pd.DataFrame, i: int, dictionary: TagDictionary) -> dict[str, object]:
    """Row `i` (by position) in natural units, for the reference evaluator and explanations."""
    out: dict[str, object] = {}
    for col in df.columns:
        if col in dictionary:
            out[col] = natural(dictionary[col].type, df[col].iat[i])
    return out


def conform(df: pd.DataFrame, dictionary: TagDictionary) -> pd.DataFrame:
    """Cast a frame's tag columns to their storage dtypes (e.g. after reading Parquet or CSV)."""
    out = {}
    for col in df.columns:
        if col not in dictionary:
            out[col] = df[col]
            continue
        t = dictionary[col].type
        want = storage_dtype(t)
        s = df[col]
        if t.kind is Kind.CODE:
            s = s.astype("str").where(s.notna()) if not isinstance(s.dtype, pd.CategoricalDtype) else s
        out[col] = s.astype(want) if str(s.dtype) != str(want) else s  # type: ignore[call-overload]
    return pd.DataFrame(out, index=df.index)


def storage_columns(df: pd.DataFrame, dictionary: TagDictionary) -> dict[str, list[object]]:
    """Columns as lists of plain Python storage values (int, bool, date, str, None): what a
    database driver or Spark takes. Columns outside the dictionary pass as text."""
    cols: dict[str, list[object]] = {}
    for col in df.columns:
        s = df[col]
        null = s.isna().to_numpy()
        t = dictionary[col].type if col in dictionary else None
        if t is not None and t.kind in (Kind.NUMBER, Kind.MONEY):
            values: list[object] = [int(v) for v in s.to_numpy(dtype=np.int64, na_value=0)]
        elif t is not None and t.kind is Kind.DATE:
            values = [v.date() if not n else None for v, n in zip(s.tolist(), null)]
        elif t is not None and t.kind is Kind.BOOL:
            values = [bool(v) for v in s.to_numpy(dtype=bool, na_value=False)]
        else:
            values = [str(v) for v in s.astype(object).tolist()]
        cols[col] = [None if n else v for v, n in zip(values, null)]
    return cols


def to_records(df: pd.DataFrame, dictionary: TagDictionary) -> list[dict[str, object]]:
    """Rows as dicts of plain Python storage values (see storage_columns)."""
    cols = storage_columns(df, dictionary)
    names = list(cols)
    return [dict(zip(names, row)) for row in zip(*cols.values())] if names else [{} for _ in range(len(df))]


def storage_order(dictionary: TagDictionary, present: Iterable[str]) -> list[str]:
    """Columns in dictionary order, each periodic tag's slots after it, oldest period first."""
    from ..periods import parse_period, split_slot

    present = set(present)
    slots: dict[str, list[str]] = {}
    for k in present:
        tag, period = split_slot(k)
        if period:
            slots.setdefault(tag, []).append(k)
    out: list[str] = []
    for t in dictionary:
        if t.key == KEY:
            continue
        if t.key in present:
            out.append(t.key)
        out += sorted(slots.get(t.key, ()), key=lambda s: parse_period(split_slot(s)[1]))
    return out


def frame_digest(frame: pd.DataFrame) -> str:
    """SHA-256 of a frame's content: column names, each column's missing-value mask and its
    values as fixed-width bytes (numbers, dates) or length-prefixed UTF-8 text (everything
    else). Five times faster than hashing pandas' per-cell hashes (0.5 s for 1.85×10^5 rows)."""
    h = hashlib.sha256("\x1f".join(map(str, frame.columns)).encode())
    for name in frame.columns:
        s = frame[name]
        null = s.isna().to_numpy()
        h.update(np.packbits(null).tobytes())
        if isinstance(s.dtype, pd.CategoricalDtype):
            h.update(s.cat.codes.to_numpy(dtype=np.int64).tobytes())
            s = pd.Series(s.cat.categories)
            null = np.zeros(len(s), dtype=bool)
        kind = s.dtype.kind
        arrow = getattr(s.array, "_pa_array", None)
        if arrow is not None and (pa.types.is_string(arrow.type) or pa.types.is_large_string(arrow.type)):
            for chunk in arrow.chunks:  # offsets and bytes of the chunk's own slice
                width = np.int32 if pa.types.is_string(chunk.type) else np.int64
                offsets = np.frombuffer(chunk.buffers()[1], dtype=width)[chunk.offset:chunk.offset + len(chunk) + 1]
                h.update(np.diff(offsets).astype(np.int64).tobytes())
                h.update(memoryview(chunk.buffers()[2])[offsets[0]:offsets[-1]])
        elif kind in "iub":
            h.update(s.to_numpy(dtype=np.int64, na_value=0).tobytes())
        elif kind == "f":
            h.update(s.to_numpy(dtype=np.float64, na_value=0.0).tobytes())
        elif kind == "M":
            h.update(s.to_numpy(dtype="datetime64[ns]").view(np.int64).tobytes())
        else:
            text = ["" if n else str(v) for v, n in zip(s.tolist(), null.tolist(), strict=True)]
            h.update(np.fromiter(map(len, text), dtype=np.int64, count=len(text)).tobytes())
            h.update("".join(text).encode())
    return h.hexdigest()
