"""Enterprise data: read department files, validate rows, merge into one profile per enterprise.

A dataset is described by a manifest (YAML) listing department files, each with
its source and as-of date:

    files:
      - {path: market.csv, source: market, as_of: 2025-06-30}
      - {path: tax.parquet, source: tax, as_of: 2025-05-31}
      - {sql: "SELECT * FROM hr_tags", url: "sqlite:///hr.db", source: hrss, as_of: 2025-06-01}

Bad rows go to `rejects` with file, row number and reason; good rows load.
Where two files give one tag for one enterprise, the newer as-of date wins and
a differing value is reported in `conflicts`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import yaml

from ..errors import DataError, os_reason
from ..ir import Kind, TagType
from ..periods import Period, parse_period, slot
from . import creditcode, legacy
from .frame import KEY, storage_dtype, storage_order, to_storage
from .tags import TagDef, TagDictionary
from .values import FULL_WIDTH_NUMBER, FULL_WIDTH_NUMBERS, coerce, parse_decimal

SAMPLE_MANIFEST = Path(__file__).resolve().parents[2] / "enterprises" / "sample" / "manifest.yaml"


@dataclass(frozen=True)
class SourceFile:
    name: str  # path or a label for a SQL source
    source: str  # department key in the tag dictionary
    as_of: dt.date
    path: Path | None = None
    sql: str | None = None
    url: str | None = None
    encoding: str = "utf-8"
    periods: tuple[tuple[str, str], ...] = ()  # column -> period of its values (manifest `columns:`)
    tags: tuple[tuple[str, str], ...] = ()  # column -> the tag it delivers, where its header is no tag name

    def columns(self) -> dict[str, dict[str, str]]:
        """The manifest's `columns:` of this file (what _column_specs reads back)."""
        cols: dict[str, dict[str, str]] = {}
        for c, p in self.periods:
            cols.setdefault(c, {})["period"] = p
        for c, t in self.tags:
            cols.setdefault(c, {})["tag"] = t
        return cols


@dataclass(frozen=True)
class Reject:
    """A row (bad key, duplicate) or a single cell that could not be used. A bad cell costs
    only itself: it becomes a missing value and the rest of its row loads."""

    file: str
    row: int  # 1-based line/row number in the file, header included
    credit_code: str
    reason: str
    column: str = ""  # the file's column, for a cell reject
    raw: str = ""  # the cell's text as delivered
    tag: str = ""  # the tag the column delivers, for a cell reject

@dataclass(frozen=True)
class Conflict:
    credit_code: str
    tag: str
    kept: object
    kept_from: str
    dropped: object
    dropped_from: str


@dataclass
class Dataset:
    """Merged enterprise profiles in storage units, with per-cell provenance."""

    frame: pd.DataFrame  # one row per enterprise, KEY first
    files: list[SourceFile]
    provenance: dict[str, np.ndarray]  # tag -> int16 index into `files` per row (-1: no value)
    rejects: list[Reject] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    read_rows: dict[str, int] = field(default_factory=dict)
    normalised: list[Reject] = field(default_factory=list)  # cells read as the nearest fen (reason: to what)

    def index_of(self, credit_code: str) -> int:
        """Row position of a credit code (a dict built on first use: the calculator and the API
        look enterprises up one at a time)."""
        index = self.__dict__.get("_index")
        if index is None or len(index) > len(self.frame):
            keys = self.frame[KEY].to_numpy(dtype=object)
            index = {}
            for n, k in enumerate(keys):
                index.setdefault(k, n)
            self.__dict__["_index"] = index
        return int(index[credit_code])

    def provenance_of(self, i: int) -> dict[str, tuple[str, dt.date, str]]:
        """Per tag (slot) of row i: the department, the delivery date and the file it came from."""
        out = {}
        for tag, idx in self.provenance.items():
            k = int(idx[i])
            if k >= 0:
                out[tag] = (self.files[k].source, self.files[k].as_of, self.files[k].name)
        return out


# ------------------------------------------------------------------ reading


def _read_csv(path: Path, encoding: str) -> pd.DataFrame:
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError(f"{path}：文件是空的")
    try:
        text = raw.decode("utf-8-sig" if encoding.lower() in ("utf-8", "utf8") else encoding)
    except UnicodeDecodeError:
        hint = ""
        try:
            raw.decode("gbk")
            hint = "；它能按 GBK 解码：请在清单中为该文件写 `encoding: gbk`（或上传时选择 GBK），或另存为 UTF-8"
        except UnicodeDecodeError:
            pass
        raise DataError(f"{path}：不是 {encoding} 编码的文本{hint}") from None
    import io

    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


def _read_excel(path: Path, dictionary: TagDictionary) -> tuple[pd.DataFrame, int]:
    """An .xlsx sheet; the header is the row (of the first 5) that names the most tags,
    so a title row or merged group headers above it are skipped."""
    try:
        grid = pd.read_excel(path, header=None, dtype=str, engine="openpyxl")
    except Exception as exc:  # openpyxl raises many types for a non-xlsx file
        raise DataError(f"{path}：无法读取的 .xlsx 文件（{exc.__class__.__name__}：{exc}）") from None
    if grid.empty:
        raise DataError(f"{path}：工作表是空的")
    _mark_uncached_formulas(path, grid)
    best, best_hits = 0, -1
    for r in range(min(5, len(grid))):
        hits = sum(1 for v in grid.iloc[r] if isinstance(v, str) and  # 营业收入（万元）[2025] names a tag too
                   dictionary.resolve(HEADER_UNIT.sub(r"\1", HEADER_PERIOD.sub(r"\1", v.strip()))))
        if hits > best_hits:
            best, best_hits = r, hits
    header = [str(v).strip() if isinstance(v, str) else "" for v in grid.iloc[best]]
    blanks = [i + 1 for i, h in enumerate(header) if not h]
    body = grid.iloc[best + 1 :].fillna("")
    if blanks and any(body.iloc[:, i - 1].astype(str).str.strip().ne("").any() for i in blanks):
        raise DataError(
            f"{path}：表头第 {best + 1} 行的第 {blanks} 列有数据却没有列名（表头单元格被合并？）；"
            "请在每一列的表头单元格写一个标签名"
        )
    keep = [i for i, h in enumerate(header) if h]
    body = body.iloc[:, keep]
    body.columns = [header[i] for i in keep]
    return body.reset_index(drop=True), best + 2  # data starts on this 1-based row


UNCACHED = "\x00uncached-formula:"  # no real cell starts with NUL (values.CONTROL refuses it)


def _mark_uncached_formulas(path: Path, grid: pd.DataFrame) -> None:
    """A formula cell saved without its computed value (written by a program, never opened in
    Excel) reads as empty, which would make the value unknown without a word. Mark each such
    cell, so that it becomes a cell reject naming the formula. The second read happens only
    when the first sheet holds a formula at all."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            sheets = sorted(n for n in z.namelist() if n.startswith("xl/worksheets/sheet") and n.endswith(".xml"))
            xml = z.read(sheets[0]) if sheets else b""
            if b"<f>" not in xml and b"<f " not in xml:
                return
    except (OSError, zipfile.BadZipFile):
        return
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        for row in wb.worksheets[0].iter_rows():
            for c in row:
                if c.data_type == "f" and isinstance(c.value, str):
                    r, k = (c.row or 0) - 1, (c.column or 0) - 1
                    if 0 <= r < grid.shape[0] and 0 <= k < grid.shape[1] and pd.isna(cast(Any, grid.iat[r, k])):
                        grid.iat[r, k] = UNCACHED + c.value[:100]
    finally:
        wb.close()


def read_table(f: SourceFile, dictionary: TagDictionary) -> tuple[pd.DataFrame, int]:
    """A raw table of text cells and the 1-based row number of its first data row."""
    if f.sql is not None:
        import sqlalchemy as sa

        engine = sa.create_engine(f.url or "sqlite://")
        with engine.connect() as conn:
            df = pd.read_sql_query(sa.text(f.sql), conn)
        return df.astype(object).where(df.notna(), ""), 1
    assert f.path is not None
    if not f.path.exists():
        raise DataError(f"{f.path}：文件不存在")
    suffix = f.path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(f.path, f.encoding), 2
    if suffix in (".xlsx", ".xlsm"):
        return _read_excel(f.path, dictionary)
    if suffix == ".parquet":
        try:
            df = pd.read_parquet(f.path)
        except Exception as exc:
            raise DataError(f"{f.path}：无法读取的 Parquet 文件（{exc}）") from None
        return df, 1
    raise DataError(f"{f.path}：不支持的文件类型 {suffix!r}（支持 csv、xlsx、parquet 或 sql）")


# ------------------------------------------------------------------ validation


HEADER_UNIT = re.compile(r"^(.+?)\s*[（(]\s*([^()（）]+?)\s*[)）]$")
MONEY_UNITS = {"元": Decimal(1), "万元": Decimal(10000), "亿元": Decimal(100000000)}


def _header(col: str, dictionary: TagDictionary, f: SourceFile) -> tuple[str | None, Decimal]:
    """A header's tag key and the multiplier its stated unit implies: "营业收入（万元）" -> revenue × 10^4."""
    name = col.strip()
    t = dictionary.resolve(name)
    if t is not None:
        return t.key, Decimal(1)
    m = HEADER_UNIT.match(name)
    if not m:
        return None, Decimal(1)
    t = dictionary.resolve(m.group(1))
    if t is None:
        return None, Decimal(1)
    unit = m.group(2)
    if t.kind is Kind.MONEY and unit in MONEY_UNITS:
        return t.key, MONEY_UNITS[unit]
    if t.kind is Kind.NUMBER and unit == t.type.unit:
        return t.key, Decimal(1)
    raise DataError(f"{f.name}：列 {col!r} 的单位是 {unit!r}，但 {t.key}（{t.label}）的单位是 "
                    f"{t.unit_label() or '无单位'}")


PERIOD_COLUMNS = ("period", "所属期", "期间", "所属期间", "统计期")
HEADER_PERIOD = re.compile(r"^(.+?)\s*(?:\[([^\]]+)\]|@(.+))$")


def _header_slot(col: str, dictionary: TagDictionary, f: SourceFile) -> tuple[str | None, Decimal]:
    """A header's tag, or the slot of a periodic tag when the header or the manifest names the
    period: `tax_paid[2025]`, `tax_paid@2025`, or `tax_paid` with `columns: {tax_paid: {period: 2025}}`."""
    declared = dict(f.periods).get(col.strip())
    m = HEADER_PERIOD.match(col.strip())
    name, written = (m.group(1), m.group(2) or m.group(3)) if m else (col, None)
    if (renamed := dict(f.tags).get(col.strip())) is not None:  # the manifest names the tag; a unit stays
        unit = HEADER_UNIT.match(name.strip())
        name = f"{renamed}（{unit.group(2)}）" if unit else renamed
    key, mult = _header(name, dictionary, f)
    period_text = written or declared
    if key is None or period_text is None:
        return key, mult
    t = dictionary[key]
    if not t.periodic:
        raise DataError(f"{f.name}：列 {col!r}：{t.key}（{t.label}）不分期间，不能指定期间")
    try:
        return dictionary.delivered_slot(t, period_text, f.as_of), mult
    except ValueError as exc:
        raise DataError(f"{f.name}：列 {col!r}：{exc}") from None


def _period_col(df: pd.DataFrame) -> str | None:
    return next((str(c) for c in df.columns if str(c).strip().lower() in PERIOD_COLUMNS), None)


def _columns(f: SourceFile, df: pd.DataFrame, dictionary: TagDictionary) -> dict[str, tuple[str, Decimal]]:
    """Map the file's column names (tag keys or Chinese labels, with an optional unit and period)
    to tag keys or slots. A periodic tag's column needs its period: in the header, in the
    manifest, or from the file's period column (then its key stays the tag's, and each row's
    period picks the slot)."""
    mapping: dict[str, tuple[str, Decimal]] = {}
    unknown = []
    period_col = _period_col(df)
    for col in df.columns:
        if str(col) == period_col:
            continue
        key, mult = _header_slot(str(col), dictionary, f)
        if key is None:
            unknown.append(str(col))
        elif key in (k for k, _ in mapping.values()):
            raise DataError(f"{f.name}：有两列都对应标签 {key}")
        else:
            mapping[str(col)] = (key, mult)
    if KEY not in (k for k, _ in mapping.values()):
        raise DataError(
            f"{f.name}：没有 {KEY}（统一社会信用代码）列；现有列：{'、'.join(map(str, list(df.columns)[:8]))}"
            + ("等" if len(df.columns) > 8 else "")
        )
    if unknown:
        hints = [f"{u}（是否指 {dictionary.suggest(u)}？）" if dictionary.suggest(u) else u for u in unknown]
        old = [u for u in unknown if legacy.column_spec(u, f.as_of, {}) is not None]
        raise DataError(f"{f.name}：未知的列：{'、'.join(hints)}" + (
            f"。其中 {'、'.join(old)} 是按期间建模之前的列名：请运行 mianshen data-upgrade，在清单中为其写明年度"
            if old else ""))
    if period_col is None:
        bare = [(c, dictionary[k]) for c, (k, _) in mapping.items() if "@" not in k and dictionary[k].periodic]
        if bare:
            c, t = bare[0]
            raise DataError(
                f"{f.name}：列 {c!r}（{t.label}）按{t.period.zh}报送，但没有写明数据所属的期间：请在文件中加一列 "
                f"period（所属期，如 2025），或在清单中为该列写 columns: {{{c}: {{period: 2025}}}}，或把列名写成 {t.key}[2025]")
    return mapping


FEN_TOLERANCE = Decimal("0.000001")  # yuan: money within this of a fen came through a float pipeline


def fen_artefact(raw: object, mult: Decimal) -> Decimal | None:
    """A money cell with more than two decimals that is within 10^-6 yuan of a fen, such as
    4999999.99000000022351741790771484375 or 2000000.0099999998 (a spreadsheet's, an ETL
    tool's or JSON's binary float): the fen it meant. None for anything else. The check is
    made on the exact text, before any rounding."""
    from decimal import InvalidOperation, localcontext

    text = str(raw).strip().replace(",", "") if isinstance(raw, str) else repr(raw) if isinstance(raw, float) else None
    if not text or len(text) > 100:
        return None
    with localcontext() as ctx:
        ctx.prec = 120  # exact for any text this long: nothing is rounded before the check
        try:
            value = Decimal(text) * mult
        except (InvalidOperation, ValueError):
            return None
        if not value.is_finite() or abs(value) >= Decimal(10) ** 15:
            return None
        fen = value.quantize(Decimal("0.01"))
        if value != fen and abs(value - fen) <= FEN_TOLERANCE:
            return fen
    return None


MEMO_CELLS = 500_000  # distinct (column, cell) pairs remembered per file


def _cell(t: TagType, raw: object, mult: Decimal) -> tuple[object, str | None, str | None]:
    """One cell read as its tag's natural value: (value, why it was refused, how it was
    normalised). The same cell always reads the same, so validate() remembers it."""
    note = None
    if isinstance(raw, str) and raw.startswith(UNCACHED):
        return None, f"Excel 公式没有保存计算结果（{raw[len(UNCACHED):]}）：请在 Excel 中打开、重新计算并保存后再上传", None
    try:
        if t.kind in (Kind.NUMBER, Kind.MONEY) and isinstance(raw, str) and FULL_WIDTH_NUMBER.search(raw):
            ascii_ = raw.translate(FULL_WIDTH_NUMBERS)  # ５０００ typed on a Chinese keyboard is 5000
            note, raw = f"全角数字读作 {ascii_.strip()}", ascii_
        if t.kind is Kind.MONEY and (fen := fen_artefact(raw, mult)) is not None:
            raw, mult, note = fen, Decimal(1), f"按最接近的分读作 {fen}"
        if mult != 1 and str(raw).strip():
            raw = parse_decimal(raw) * mult
        return coerce(t, raw), None, note
    except (ValueError, ArithmeticError) as exc:
        return None, str(exc), note  # a cell read as the nearest fen can still be refused after


def _objects(s: pd.Series) -> list[object]:
    """A column's cells as Python objects, None where missing. Arrow-backed columns (pandas'
    strings) convert in one call: iterating them cell by cell cost a third of a load."""
    arrow = getattr(s.array, "__arrow_array__", None)
    if arrow is not None:
        return cast(list[object], arrow().to_pylist())
    return [None if v is None or (isinstance(v, float) and v != v) else v for v in s.to_numpy(dtype=object)]


def validate(f: SourceFile, df: pd.DataFrame, first_row: int, dictionary: TagDictionary,
             normalised: list[Reject] | None = None, codes: dict[str, str] | None = None
             ) -> tuple[dict[str, dict[str, object]], list[Reject]]:
    """Validated rows as {credit_code: {tag: natural value}} and the rejects; money cells read
    as the nearest fen are appended to `normalised`. `codes`: credit codes already checked (each
    enterprise is in every department's file), with their problem ("" for none)."""
    codes = {} if codes is None else codes
    mapping = _columns(f, df, dictionary)
    key_col = _key_col(mapping)
    period_col = _period_col(df)
    periods: dict[object, tuple[Period | None, str]] = {}  # a period cell read once: (period, why refused)
    # a column holds few distinct values (flags, categories, codes, dates): each is read once
    memo: dict[tuple[str, object], tuple[object, str | None, str | None]] = {}
    rows: dict[str, dict[str, object]] = {}
    first_seen: dict[str, int] = {}
    seen_values: dict[str, dict[str, object]] = {}
    rejects: list[Reject] = []
    cols = list(mapping.items())
    names = list(df.columns)  # the header as plain strings, not an Arrow-backed index iterated per row
    for offset, rec in enumerate(zip(*(_objects(df[c]) for c in names), strict=True)):
        rowno = first_row + offset
        cells = dict(zip(names, rec))
        code = str(cells[key_col] or "").strip().upper()
        why = codes.get(code)
        if why is None:
            why = codes[code] = creditcode.problem(code) or ""
        if why:
            rejects.append(Reject(f.name, rowno, code, f"统一社会信用代码：{why}"))
            continue
        values: dict[str, object] = {}
        period: Period | None = None
        row_key = code
        if period_col is not None:
            raw_period = cells[period_col]
            if raw_period not in periods:
                try:
                    p = parse_period(raw_period)
                    periods[raw_period] = (p, f"期间 {p.zh} 晚于数据日期 {f.as_of}（尚未开始的期间）"
                                           if p.start > f.as_of else "")
                except ValueError as exc:
                    periods[raw_period] = (None, str(exc))
            period, why_period = periods[raw_period]
            if why_period:
                rejects.append(Reject(f.name, rowno, code, f"所属期：{why_period}；本行按期间报送的值不能使用",
                                      period_col, str(raw_period)[:200], "period"))
                period = None
            row_key = f"{code}|{period.text if period else raw_period}"
        for col, (key, mult) in cols:
            if key == KEY:
                continue
            tdef = dictionary[key]
            if tdef.periodic and "@" not in key:  # the row's period picks the slot
                if period is None:
                    continue
                if period.kind is not tdef.period:
                    rejects.append(Reject(f.name, rowno, code, f"{key}（{tdef.label}）按{tdef.period.zh}报送，"
                                          f"本行的所属期 {period.text} 是{period.kind.zh}", str(col),
                                          str(cells[col])[:200], key))
                    continue
                key = slot(key, period)
            raw = cells[col]
            try:
                cell = memo[(col, raw)]
            except (KeyError, TypeError):  # not seen yet, or not hashable
                cell = _cell(dictionary[key].type, raw, mult)
                if len(memo) < MEMO_CELLS and not (isinstance(raw, float) and raw != raw):  # each NaN differs
                    with contextlib.suppress(TypeError):  # an unhashable cell is read each time
                        memo[(col, raw)] = cell
            value, error, note = cell
            values[key] = value
            if note is not None and normalised is not None:
                normalised.append(Reject(f.name, rowno, code, note, str(col), str(raw)[:200], key))
            if error is not None:
                rejects.append(Reject(f.name, rowno, code, f"{key}（{dictionary[key].label}）：{error}", str(col),
                                      str(raw)[:200], key))
        if row_key in first_seen:
            rejects.append(Reject(
                f.name, rowno, code,
                f"与第 {first_seen[row_key]} 行重复" + ("（内容相同）" if seen_values[row_key] == values
                                                      else "，内容不同；保留第一行"),
            ))
            continue
        seen_values[row_key] = values
        first_seen[row_key] = rowno
        if code in rows:  # another period of the same enterprise: its instant values were read already
            rows[code].update({k: v for k, v in values.items() if "@" in k or rows[code].get(k) is None})
        else:
            rows[code] = dict(values)
    return rows, rejects


def _key_col(mapping: dict[str, tuple[str, Decimal]]) -> str:
    return next(c for c, (k, _) in mapping.items() if k == KEY)


# ------------------------------------------------------------------ merge


def load_manifest(path: Path | str) -> list[SourceFile]:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(f"{path}：无法读取清单（{os_reason(exc)}）") from None
    except yaml.YAMLError as exc:
        raise DataError(f"{path}：清单不是有效的 YAML：{exc}") from None
    out = []
    for i, item in enumerate((raw or {}).get("files") or []):
        try:
            as_of = item["as_of"]
            as_of = as_of if isinstance(as_of, dt.date) else dt.date.fromisoformat(str(as_of))
            if "sql" in item:
                out.append(SourceFile(item.get("name", f"sql#{i + 1}"), item["source"], as_of,
                                      sql=item["sql"], url=item.get("url")))
            else:
                p = (path.parent / item["path"]).resolve()
                periods, tags = _column_specs(item)
                out.append(SourceFile(item["path"], item["source"], as_of, path=p,
                                      encoding=item.get("encoding", "utf-8"), periods=periods, tags=tags))
        except KeyError as exc:
            raise DataError(f"{path}：第 {i + 1} 个文件条目缺少 {exc.args[0]}") from None
        except (ValueError, TypeError) as exc:
            raise DataError(f"{path}：第 {i + 1} 个文件条目：{exc}") from None
    if not out:
        raise DataError(f"{path}：清单中没有列出文件")
    return out


def _column_specs(item: dict[str, Any]) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    """`columns: {tax_paid: {period: 2025}, tax_paid_prev: {tag: tax_paid, period: 2024}}` in a manifest
    entry: the period of a column's values, and the tag it delivers where its header is no tag."""
    cols = item.get("columns") or {}
    if not isinstance(cols, dict):
        raise ValueError("columns 应为 列名: {period: 期间} 的映射")
    periods, tags = [], []
    for col, spec in cols.items():
        if not isinstance(spec, dict) or not set(spec) & {"period", "tag"} or set(spec) - {"period", "tag"}:
            raise ValueError(f"columns.{col} 应写作 {{period: 2025}} 或 {{tag: tax_paid, period: 2024}}")
        if "period" in spec:
            periods.append((str(col), str(spec["period"])))
        if "tag" in spec:
            tags.append((str(col), str(spec["tag"])))
    return tuple(periods), tuple(tags)


def load_dataset(files: list[SourceFile] | Path | str, dictionary: TagDictionary,
                 derive: bool = True) -> Dataset:
    """Read, validate and merge department files into one storage frame."""
    if not isinstance(files, list):
        files = load_manifest(files)
    for f in files:
        if f.source not in dictionary.sources:
            raise DataError(f"{f.name}：未知数据来源 {f.source!r}")
    merged: dict[str, dict[str, object]] = {}
    origin: dict[str, dict[str, int]] = {}
    rejects: list[Reject] = []
    normalised: list[Reject] = []
    conflicts: list[Conflict] = []
    read_rows: dict[str, int] = {}
    checked: dict[str, str] = {}  # credit codes checked, across the files
    disputed: set[tuple[str, str]] = set()  # (credit code, slot) two deliveries disagree on: unknown
    for fi, f in enumerate(files):
        df, first_row = read_table(f, dictionary)
        rows, bad = validate(f, df, first_row, dictionary, normalised, checked)
        read_rows[f.name] = len(df)
        rejects += bad
        for code, values in rows.items():
            prof = merged.setdefault(code, {})
            orig = origin.setdefault(code, {})
            for key, value in values.items():
                if value is None or (code, key) in disputed:
                    continue
                if key in prof and "@" in key and prof[key] != value:
                    # one period's value is one fact: two deliveries that disagree on it are a
                    # conflict to resolve, not a race the later file wins; until then it is unknown
                    other = files[orig[key]]
                    conflicts.append(Conflict(code, key, None, "两份数据不一致，均暂不采用（待核实）",
                                              value, f"{f.name} ({f.as_of})；另一份：{prof[key]}，{other.name} ({other.as_of})"))
                    disputed.add((code, key))
                    del prof[key], orig[key]
                    continue
                if key in prof:
                    other = files[orig[key]]
                    newer = f.as_of > other.as_of
                    if prof[key] != value:
                        kept, dropped = (value, prof[key]) if newer else (prof[key], value)
                        kf, df_ = (f, other) if newer else (other, f)
                        conflicts.append(Conflict(code, key, kept, f"{kf.name} ({kf.as_of})",
                                                  dropped, f"{df_.name} ({df_.as_of})"))
                    if not newer:
                        continue
                prof[key] = value
                orig[key] = fi
    codes = sorted(merged)
    profs = [merged[c] for c in codes]
    origins = [origin[c] for c in codes]
    present = {k for prof in profs for k in prof}
    keys = storage_order(dictionary, present)
    data: dict[str, Any] = {KEY: pd.Series(codes, dtype="str")}
    provenance: dict[str, np.ndarray] = {}
    for key in keys:
        t = dictionary[key].type
        data[key] = pd.Series(_stored(t, [prof.get(key) for prof in profs]),
                              dtype=storage_dtype(t))  # type: ignore[call-overload]
        provenance[key] = np.array([o.get(key, -1) for o in origins], dtype=np.int16)
    frame = pd.DataFrame(data)
    ds = Dataset(frame, files, provenance, rejects, conflicts, read_rows, normalised)
    if derive:
        apply_derivations(ds, dictionary)
    return ds


def _stored(t: TagType, values: list[object]) -> list[object]:
    """Natural values in their storage unit, each distinct value converted once."""
    if t.kind is Kind.DATE:
        def convert(v: object) -> object:
            return pd.Timestamp(cast(dt.date, v))
        missing: object = pd.NaT
    elif t.kind in (Kind.NUMBER, Kind.MONEY):
        def convert(v: object) -> object:
            return to_storage(t, v)
        missing = None
    else:
        return values
    done: dict[object, object] = {}
    out: list[object] = []
    for v in values:
        if v is None:
            out.append(missing)
        elif (r := done.get(v)) is not None:
            out.append(r)
        else:
            out.append(done.setdefault(v, convert(v)))
    return out


def apply_derivations(ds: Dataset, dictionary: TagDictionary) -> None:
    """Derived tags (企业划型) are computed only where no source delivered them. A delivered value
    is kept with its source and date (统计局 often delivers 企业划型); where the derivation
    disagrees, the tag dictionary's `prefer` decides (delivered by default) and the
    disagreement is a reported conflict with both values. The event worker applies the same rule."""
    from .derive import DERIVATIONS

    for t in dictionary:
        if t.derived:
            _derive(ds, t, DERIVATIONS[t.key])


def _derive(ds: Dataset, t: TagDef, derivation: Callable[[pd.DataFrame], pd.Categorical]) -> None:
    if t.key not in ds.frame:
        ds.frame[t.key] = derivation(ds.frame)
        return
    derived = pd.Series(derivation(ds.frame), index=ds.frame.index).astype(object)
    delivered = ds.frame[t.key].astype(object)
    prefer_derived = t.prefer == "derived"
    out = []
    codes = ds.frame[KEY].astype(str).tolist()
    prov = ds.provenance.get(t.key)
    for i, (got, calc) in enumerate(zip(delivered, derived, strict=True)):
        got_v = None if got is None or (isinstance(got, float) and got != got) or got is pd.NA else str(got)
        calc_v = None if calc is None or (isinstance(calc, float) and calc != calc) or calc is pd.NA else str(calc)
        if got_v is None:
            out.append(calc_v)
            continue
        if calc_v is not None and calc_v != got_v:
            src = ds.files[int(prov[i])].name if prov is not None and int(prov[i]) >= 0 else "部门数据"
            kept, dropped = (calc_v, got_v) if prefer_derived else (got_v, calc_v)
            ds.conflicts.append(Conflict(codes[i], t.key, kept,
                                         "平台计算" if prefer_derived else src, dropped,
                                         src if prefer_derived else "平台计算"))
            out.append(kept)
        else:
            out.append(got_v)
    ds.frame[t.key] = pd.Categorical(out, categories=list(t.type.values))


# ------------------------------------------------------------------ storage-format Parquet

STORAGE_FORMAT_KEY = b"mianshen.format"


def write_storage_parquet(df: pd.DataFrame, path: Path | str) -> None:
    """Write a storage frame (money in fen, ...) marked as such, so no reader mistakes fen for yuan."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[STORAGE_FORMAT_KEY] = b"storage-v1"
    pq.write_table(table.replace_schema_metadata(meta), path)


def is_storage_parquet(path: Path) -> bool:
    import pyarrow.parquet as pq

    files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
    if not files:
        return False
    meta = pq.read_schema(files[0]).metadata or {}
    return meta.get(STORAGE_FORMAT_KEY) == b"storage-v1"


def load_storage_parquet(path: Path | str, dictionary: TagDictionary) -> Dataset:
    """Storage-format Parquet (a file or a directory of parts): trusted types, no row validation."""
    from .frame import conform

    path = Path(path)
    frame = conform(pd.read_parquet(path), dictionary)
    return Dataset(frame, [], {}, read_rows={str(path): len(frame)})


def iter_storage_parquet(path: Path | str, dictionary: TagDictionary, rows: int) -> Iterator[pd.DataFrame]:
    """Storage-format Parquet `rows` enterprises at a time (at most; a part file's remainder is a
    smaller frame), each conformed as load_storage_parquet conforms the whole: what a province's
    data is matched in, so memory holds one slice, not the data."""
    import pyarrow.parquet as pq

    from .frame import conform

    path = Path(path)
    for f in sorted(path.glob("*.parquet")) if path.is_dir() else [path]:
        for batch in pq.ParquetFile(f).iter_batches(batch_size=rows):
            yield conform(batch.to_pandas(), dictionary)


# ------------------------------------------------------------------ privacy


def mask_text(value: object) -> object:
    """Keep the first and last character of a name, the first 3 and last 4 of a number."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return value
    s = str(value)
    if len(s) <= 2:
        return s[:1] + "*"
    if s.isdigit() or (len(s) >= 11 and s[:-1].isdigit()):
        return s[:3] + "*" * (len(s) - 7) + s[-4:] if len(s) > 7 else s[:1] + "*" * (len(s) - 1)
    return s[0] + "*" * (len(s) - 2) + s[-1]


def masked(df: pd.DataFrame, dictionary: TagDictionary) -> pd.DataFrame:
    """A copy with every personal tag masked (legal representative, ID number, phone, account)."""
    out = df.copy()
    for col in df.columns:
        t = dictionary.resolve(str(col))
        if t is not None and t.personal:
            out[col] = df[col].astype(object).map(mask_text)
    return out
