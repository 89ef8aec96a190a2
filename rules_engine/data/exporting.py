"""Every table that leaves the platform as a spreadsheet or CSV goes through here.

* Text cells are neutralised (OWASP CSV injection): a cell that begins with = + - @, a tab or a
  carriage return (or their full-width forms, which some spreadsheets also evaluate) gets a
  leading apostrophe, so Excel and WPS show it as text instead of running it as a formula.
  An enterprise name comes from department data, that is, from outside.
* Money columns hold Decimal yuan: CSV writes them with two decimals; Excel gets numeric cells
  (SUM works) with the format #,##0.00, written from the Decimal's text, never via float.
* Files are written to a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import Invalid
from .values import yuan

__all__ = ["neutralise", "safe_frame", "table_bytes", "write_atomic", "fmt_of", "yuan"]

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
MONEY_FORMAT = "#,##0.00"


def neutralise(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def safe_frame(df: pd.DataFrame, money: Iterable[str] = ()) -> pd.DataFrame:
    money = set(money)
    out = df.copy()
    for c in out.columns:
        if c in money:
            out[c] = pd.Series([None if v is None or (isinstance(v, float) and v != v)
                                else Decimal(v).quantize(Decimal("0.01")) for v in out[c]], index=out.index, dtype=object)
        elif out[c].dtype == object or pd.api.types.is_string_dtype(out[c]):
            out[c] = pd.Series([neutralise(v) for v in out[c]], index=out.index, dtype=object)
    return out


def table_bytes(df: pd.DataFrame, fmt: str, money: Iterable[str] = (),
                sheets: dict[str, tuple[pd.DataFrame, Iterable[str]]] | None = None, main_sheet: str = "明细") -> bytes:
    """The file's bytes: `fmt` csv (UTF-8 with BOM, which Excel reads as Chinese) or xlsx (the
    main sheet 明细 plus `sheets`, each with its own money columns)."""
    money = list(money)
    main = safe_frame(df, money)
    if fmt == "csv":
        return main.to_csv(index=False).encode("utf-8-sig")
    if fmt != "xlsx":
        raise Invalid(f"导出格式应为 csv 或 xlsx，而不是 {fmt!r}")
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        for name, (frame, cols) in {main_sheet: (df, money), **(sheets or {})}.items():
            cols = list(cols)
            safe = main if name == main_sheet else safe_frame(frame, cols)
            safe.to_excel(xw, sheet_name=name, index=False)
            ws = xw.sheets[name]
            for j, col in enumerate(safe.columns, start=1):
                width = max([len(str(col)) * 2] + [len(str(v)) for v in safe[col].head(200)])
                ws.column_dimensions[ws.cell(1, j).column_letter].width = min(max(width + 2, 8), 60)
                if col in cols:
                    for i in range(2, len(safe) + 2):
                        ws.cell(i, j).number_format = MONEY_FORMAT
        book = xw.book
        book.properties.creator = "mianshen"
    return buf.getvalue()


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, fsync, rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def fmt_of(path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in ("csv", "xlsx"):
        raise Invalid(f"{path.name}：请导出为 .csv 或 .xlsx 文件")
    return suffix
