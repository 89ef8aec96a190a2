"""Enterprise data: credit codes, loaders, validation, merging, masking, generation."""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import Workbook

from rules_engine.data import creditcode, generate
from rules_engine.data.datasets import SourceFile, load_dataset, masked
from rules_engine.data.derive import enterprise_size
from rules_engine.data.frame import row_of
from rules_engine.data.quality import quality_report
from rules_engine.data.tags import load_dictionary
from rules_engine.errors import DataError

D = load_dictionary()
A = creditcode.make("340202", 1001)
B = creditcode.make("340104", 2002)
C = creditcode.make("341002", 3003)


def test_credit_code_check_character() -> None:
    assert creditcode.problem("91350100M000100Y43") is None  # the example printed in GB 32100-2015
    assert "校验码错误" in creditcode.problem("91350100M000100Y44")
    assert "应为 18 位" in creditcode.problem("91350100M000100Y4")
    assert "不允许出现字符" in creditcode.problem("91350100M000100YI3")
    assert all(creditcode.is_valid(creditcode.make("340100", s)) for s in range(0, 5000, 7))


def src(path: Path, source: str = "tax", as_of: str = "2026-05-31", **kw) -> SourceFile:
    return SourceFile(path.name, source, dt.date.fromisoformat(as_of), path=path, **kw)


def test_csv_rows_are_validated_and_good_rows_load(tmp_path: Path) -> None:
    bad_code = A[:-1] + ("0" if A[-1] != "0" else "1")
    (tmp_path / "tax.csv").write_text(
        "credit_code,revenue[2025],tax_credit_rating\n"
        f"{A},1234567.89,A\n"
        f"{bad_code},100,B\n"
        f"{B},一百万,B\n"
        f"{C},100.123,B\n"
        f"{A},1234567.89,A\n",
        encoding="utf-8",
    )
    ds = load_dataset([src(tmp_path / "tax.csv")], D)
    # a bad key or a duplicate rejects the row; a bad cell rejects only itself: the row loads
    # with that value missing, and its other cells (the credit rating here) are kept
    f = ds.frame.set_index("credit_code").loc[[A, B, C]]
    assert len(ds.frame) == 3
    assert f["revenue@2025"].iloc[0] == 123456789  # fen, exactly
    assert f["revenue@2025"].iloc[1:].isna().all()
    assert list(f["tax_credit_rating"].astype(str)) == ["A", "B", "B"]
    reasons = {(r.row, r.column, r.raw, r.reason.split("：")[0].split(":")[0]) for r in ds.rejects}
    assert reasons == {(3, "", "", "统一社会信用代码"), (4, "revenue[2025]", "一百万", "revenue@2025（2025年度营业收入）"),
                       (5, "revenue[2025]", "100.123", "revenue@2025（2025年度营业收入）"), (6, "", "", "与第 2 行重复（内容相同）")}


def test_gbk_csv_gets_one_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "market.csv"
    path.write_bytes(f"统一社会信用代码,企业名称\n{A},安徽某某科技有限公司\n".encode("gbk"))
    with pytest.raises(DataError, match="能按 GBK 解码"):
        load_dataset([src(path, "market")], D)
    ds = load_dataset([src(path, "market", encoding="gbk")], D)  # and it loads when declared
    assert ds.frame["name"].iloc[0] == "安徽某某科技有限公司"


def test_wrong_columns_and_empty_file(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("code,revenue[2025]\n1,2\n", encoding="utf-8")
    with pytest.raises(DataError, match="没有 credit_code") as no_key:
        load_dataset([src(tmp_path / "x.csv")], D)
    # was (#37 item 14): 「现有列 ['code', 'revenue[2025]']」, a Python list in a user's message
    assert "现有列：code、revenue[2025]" in str(no_key.value) and "['" not in str(no_key.value)
    (tmp_path / "m.yaml").write_text("as_of: '2026-06-30'\nfiles:\n- source: tax\n  as_of: '2026-05-01'\n",
                                     encoding="utf-8")
    with pytest.raises(DataError, match="第 1 个文件条目缺少 path") as entry:
        load_dataset(tmp_path / "m.yaml", D)
    assert "KeyError" not in str(entry.value)
    (tmp_path / "y.csv").write_text(f"credit_code,revenu\n{A},2\n", encoding="utf-8")
    with pytest.raises(DataError, match="未知的列：revenu（是否指 revenue"):
        load_dataset([src(tmp_path / "y.csv")], D)
    (tmp_path / "z.csv").write_text("", encoding="utf-8")
    with pytest.raises(DataError, match="空的"):
        load_dataset([src(tmp_path / "z.csv")], D)


def test_excel_with_title_row_and_merged_group_header(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["2026年企业纳税信息（税务局）"])
    ws.merge_cells("A1:C1")
    ws.append(["主体", "税务", None])
    ws.merge_cells("B2:C2")
    ws.append(["统一社会信用代码", "营业收入[2025]", "纳税信用等级"])
    ws.append([A, "5000000", "A"])
    ws.append([B, "12.5", "M"])
    wb.save(tmp_path / "tax.xlsx")
    ds = load_dataset([src(tmp_path / "tax.xlsx")], D)
    assert ds.frame.set_index("credit_code")["revenue@2025"].to_dict() == {A: 500000000, B: 1250}
    assert ds.rejects == []


def test_excel_with_merged_cells_in_the_header_row_is_refused_clearly(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["统一社会信用代码", "营业收入", None])
    ws.merge_cells("B1:C1")
    ws.append([A, "5000000", "A"])
    wb.save(tmp_path / "tax.xlsx")
    with pytest.raises(DataError, match=r"第 \[3\] 列有数据却没有列名"):
        load_dataset([src(tmp_path / "tax.xlsx")], D)


def test_parquet_and_sql_sources(tmp_path: Path) -> None:
    import sqlalchemy as sa

    pd.DataFrame({"credit_code": [A], "employees": ["12"]}).to_parquet(tmp_path / "stats.parquet")
    url = f"sqlite:///{tmp_path / 'hr.db'}"
    engine = sa.create_engine(url)
    pd.DataFrame({"credit_code": [A, B], "insured_staff": [10, 3]}).to_sql("hr", engine, index=False)
    files = [src(tmp_path / "stats.parquet", "stats"),
             SourceFile("hr", "hrss", dt.date(2026, 6, 1), sql="SELECT credit_code, insured_staff FROM hr", url=url)]
    ds = load_dataset(files, D)
    assert list(ds.frame["credit_code"]) == sorted([A, B])
    assert ds.frame.set_index("credit_code")["insured_staff"].to_dict() == {A: 10, B: 3}


def test_merge_newer_wins_and_conflicts_are_reported(tmp_path: Path) -> None:
    (tmp_path / "old.csv").write_text(f"credit_code,employees\n{A},10\n{B},5\n", encoding="utf-8")
    (tmp_path / "new.csv").write_text(f"credit_code,employees\n{A},12\n{B},5\n", encoding="utf-8")
    ds = load_dataset([src(tmp_path / "new.csv", "stats", "2026-06-01"),
                       src(tmp_path / "old.csv", "hrss", "2026-03-01")], D)
    assert ds.frame.set_index("credit_code")["employees"].to_dict() == {A: 12, B: 5}
    (c,) = ds.conflicts
    assert (c.credit_code, c.tag, c.kept, c.dropped) == (A, "employees", Decimal(12), Decimal(10))
    i = ds.index_of(A)
    assert ds.provenance_of(i)["employees"] == ("stats", dt.date(2026, 6, 1), "new.csv")


def test_enterprise_size_by_the_2011_rules() -> None:
    df = pd.DataFrame({
        "industry": ["C3911", "C3911", "C3911", "C3911", "F5212", "I6513", "C3911", None],
        "employees": pd.array([1000, 300, 20, 19, 50, 99, None, 5], dtype="Int64"),
        "revenue@2025": pd.array([4 * 10**10, 2 * 10**9, 3 * 10**8, 3 * 10**8, 5 * 10**8, 10**9, 10**9, 1],
                            dtype="Int64"),  # fen: 40000万, 2000万, 300万, 300万, 500万, 1000万
    })
    sizes = [None if pd.isna(x) else x for x in enterprise_size(df)]
    assert sizes == ["大型", "中型", "小型", "微型", "中型", "小型", None, None]


def test_enterprise_size_of_a_code_too_coarse_to_pick_the_sector_is_unknown() -> None:
    # F is wholesale (F51) or retail (F52), whose thresholds differ; C is industry whatever its division
    df = pd.DataFrame({"industry": ["F", "F52", "G", "C", "I", "K70"],
                       "employees": pd.array([60] * 6, dtype="Int64"),
                       "revenue@2025": pd.array([6 * 10**8] * 6, dtype="Int64"),
                       "total_assets@2025": pd.array([10**9] * 6, dtype="Int64")})
    sizes = [None if pd.isna(x) else x for x in enterprise_size(df)]
    assert sizes == [None, "中型", None, "小型", None, None]


def test_generator_is_reproducible_and_realistic() -> None:
    a = generate.generate(2000, seed=7)
    b = generate.generate(2000, seed=7)
    pd.testing.assert_frame_equal(a, b)
    assert all(creditcode.is_valid(c) for c in a["credit_code"])
    assert a["credit_code"].is_unique
    rev = a["revenue@2025"].to_numpy(dtype=float)
    emp = a["employees"].to_numpy(dtype=float)
    assert np.corrcoef(np.log(rev), np.log(emp))[0, 1] > 0.5  # revenue grows with staff
    hitech = a["is_hitech"].to_numpy(dtype=bool)
    ratio = a["rd_ratio@2025"].to_numpy(dtype=float)
    assert ratio[hitech].mean() > 2 * ratio[~hitech].mean()  # R&D goes with high-tech status
    assert (a["region"].astype(str).str[:2] == "34").all()
    gaps = generate.with_gaps(a, seed=7)
    assert 0.02 < gaps["revenue@2025"].isna().mean() < 0.15


def test_chunks_are_bounded_and_distinct() -> None:
    parts = list(generate.chunks(2500, chunk=1000, seed=3))
    assert [len(p) for p in parts] == [1000, 1000, 500]
    codes = pd.concat([p["credit_code"] for p in parts])
    assert codes.is_unique


def test_personal_fields_are_masked(tmp_path: Path) -> None:
    df = pd.DataFrame({"credit_code": [A], "legal_rep_name": ["王小明"], "legal_rep_id": ["340202199001011234"],
                       "contact_phone": ["13912345678"], "name": ["某公司"]})
    out = masked(df, D)
    assert out.loc[0, "legal_rep_name"] == "王*明"
    assert out.loc[0, "legal_rep_id"] == "340***********1234"
    assert out.loc[0, "contact_phone"] == "139****5678"
    assert out.loc[0, "name"] == "某公司" and out.loc[0, "credit_code"] == A


def test_sample_dataset_and_quality_report() -> None:
    from rules_engine.data.datasets import SAMPLE_MANIFEST

    ds = load_dataset(SAMPLE_MANIFEST, D)
    assert len(ds.frame) == 3000
    assert len(ds.rejects) == 3  # the planted flaws, each reported
    rep = quality_report(ds, D, dt.date(2026, 6, 30))
    cov = rep.coverage.set_index("tag")["coverage"]
    assert cov["credit_code"] == 1.0 and 0.8 < cov["revenue@2025"] < 1.0
    assert set(rep.sources["age_days"]) >= {1, 35}
    row = row_of(ds.frame, 0, D)
    assert isinstance(row["revenue@2025"], (Decimal, type(None)))


def test_units_stated_in_headers(tmp_path: Path) -> None:
    (tmp_path / "tax.csv").write_text(
        f"统一社会信用代码,营业收入（万元）[2025],研发费用占营业收入比例(%)[2025]\n{A},123.4567,3.5\n", encoding="utf-8")
    ds = load_dataset([src(tmp_path / "tax.csv")], D)
    assert ds.frame["revenue@2025"].iloc[0] == 123456700  # 1,234,567.00 yuan in fen
    assert ds.frame["rd_ratio@2025"].iloc[0] == 350
    (tmp_path / "bad.csv").write_text(f"credit_code,从业人员数（万元）\n{A},3\n", encoding="utf-8")
    with pytest.raises(DataError, match="单位是 '万元'，但 employees（从业人员数）的单位是 人"):
        load_dataset([src(tmp_path / "bad.csv", "stats")], D)
    (tmp_path / "fine.csv").write_text(f"credit_code,营业收入（万元）[2025]\n{A},0.000001\n", encoding="utf-8")
    ds = load_dataset([src(tmp_path / "fine.csv")], D)  # 0.01 yuan exactly
    assert ds.frame["revenue@2025"].iloc[0] == 1
    (tmp_path / "toofine.csv").write_text(f"credit_code,营业收入（万元）[2025]\n{A},0.0000001\n", encoding="utf-8")
    ds = load_dataset([src(tmp_path / "toofine.csv")], D)
    assert "小数位数超过 2 位" in ds.rejects[0].reason


def test_money_through_a_float_pipeline_is_read_as_the_fen_it_meant(tmp_path: Path) -> None:
    """Was: 4999999.99000000022351741790771484375 and 2000000.0099999998 were refused, and
    100000.0000000000000000000000001 loaded as 100000 without a word. Now a value within
    10^-6 yuan of a fen is that fen, counted as normalised per column; anything else with too
    many decimals is a cell reject quoting the raw text."""
    from rules_engine.data.quality import quality_report

    (tmp_path / "tax.csv").write_text(
        "credit_code,revenue[2025],tax_paid[2025]\n"
        f"{A},4999999.99000000022351741790771484375,2000000.0099999998\n"
        f"{B},100000.0000000000000000000000001,1.005\n"
        f"{C},12.34,7\n", encoding="utf-8")
    ds = load_dataset([src(tmp_path / "tax.csv")], D)
    f = ds.frame.set_index("credit_code")
    assert f.loc[A, "revenue@2025"] == 499999999 and f.loc[A, "tax_paid@2025"] == 200000001
    assert f.loc[B, "revenue@2025"] == 10000000 and pd.isna(f.loc[B, "tax_paid@2025"])
    assert [(r.credit_code, r.column) for r in ds.rejects] == [(B, "tax_paid[2025]")]
    assert "'1.005'" in ds.rejects[0].reason  # the raw cell, not a rounded number
    assert sorted((r.credit_code, r.column) for r in ds.normalised) == sorted([(A, "revenue[2025]"), (A, "tax_paid[2025]"), (B, "revenue[2025]")])
    by = quality_report(ds, D, dt.date(2026, 6, 30)).by_column.set_index("column")
    assert (by.loc["revenue[2025]", "normalised"], by.loc["tax_paid[2025]", "normalised"], by.loc["tax_paid[2025]", "rejected"]) == (2, 1, 1)


def test_a_delivered_enterprise_size_is_kept_and_a_disagreement_reported(tmp_path: Path) -> None:
    """Was: a delivered 企业划型 was overwritten by the derivation, or by nothing when an input
    was missing."""
    (tmp_path / "stats.csv").write_text(
        "credit_code,industry,employees,revenue[2025],total_assets[2025]\n"
        f"{A},C3911,20,3000000,5000000\n", encoding="utf-8")
    derived_only = load_dataset([src(tmp_path / "stats.csv", "stats")], D)
    computed = str(derived_only.frame.set_index("credit_code").loc[A, "enterprise_size"])
    other = next(v for v in ("大型", "中型", "小型", "微型") if v != computed)
    (tmp_path / "sizes.csv").write_text(
        f"credit_code,企业划型\n{A},{other}\n{B},中型\n", encoding="utf-8")
    ds = load_dataset([src(tmp_path / "stats.csv", "stats"), src(tmp_path / "sizes.csv", "stats", "2026-06-01")], D)
    f = ds.frame.set_index("credit_code")
    assert str(f.loc[A, "enterprise_size"]) == other  # delivered wins (tags.yaml: prefer: delivered)
    assert str(f.loc[B, "enterprise_size"]) == "中型"  # no inputs to derive from: the delivered value stays
    (c,) = [c for c in ds.conflicts if c.tag == "enterprise_size"]
    assert (c.credit_code, c.kept, c.dropped, c.kept_from, c.dropped_from) == (A, other, computed, "sizes.csv", "平台计算")
    from rules_engine.data.quality import quality_report

    by = quality_report(ds, D, dt.date(2026, 6, 30)).by_column.set_index(["file", "column"])
    assert by.loc[("平台计算", "enterprise_size"), "conflicting"] == 1


def test_a_dirty_delivery_loses_no_row_and_changes_only_decisions_it_must(tmp_path: Path) -> None:
    """`mianshen generate --dirty` against the same enterprises delivered clean
    (benchmarks/dirty_data.py prints the full-size figures): a bad non-key cell costs only
    itself, float-artefact money is read as the fen it meant, and every decision that differs
    reads a rejected cell or an industry code delivered at section level only."""
    from benchmarks.dirty_data import compare

    out = compare(800, 7, tmp_path)
    assert out["rows_lost"] == 0 and out["row_rejects"] == 0
    assert out["cells_rejected"] > 0 and out["cells_normalised"] > 0 and out["section_only_codes"] > 0
    assert out["delivered_sizes"] > 0
    assert out["unexplained"] == [] and out["decisions_differing"] > 0


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet", "sql"])
def test_the_rules_hold_for_every_source_format(fmt: str, tmp_path: Path) -> None:
    """The same messy delivery as CSV text, Excel cells, Parquet columns and a SQL table:
    a bad cell costs only itself, float-artefact money is normalised, section codes load,
    a delivered 企业划型 is kept."""
    import sqlalchemy as sa

    frame = pd.DataFrame({
        "credit_code": [A, B, C],
        "revenue": [4999999.99 + 2**-30, 2000000.0099999998, 12.5],  # floats, as a spreadsheet holds them
        "employees": ["12", "约20", "7"],
        "industry": ["C", "F51", "C3911"],
        "enterprise_size": ["小型", None, None],
    })
    path = tmp_path / f"stats.{fmt}"
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "xlsx":
        frame.to_excel(path, index=False)
    elif fmt == "parquet":
        frame.to_parquet(path)
    if fmt == "sql":
        url = f"sqlite:///{tmp_path / 'stats.db'}"
        frame.to_sql("stats", sa.create_engine(url), index=False)
        source = SourceFile("stats", "stats", dt.date(2026, 6, 1), sql="SELECT * FROM stats", url=url,
                            periods=(("revenue", "2025"),))
    else:
        source = src(path, "stats", periods=(("revenue", "2025"),))  # the manifest's `columns:` period
    ds = load_dataset([source], D)
    f = ds.frame.set_index("credit_code")
    assert list(f.loc[[A, B, C], "revenue@2025"]) == [499999999, 200000001, 1250]
    assert pd.isna(f.loc[B, "employees"]) and f.loc[A, "employees"] == 12
    assert [(r.credit_code, r.column, r.raw) for r in ds.rejects] == [(B, "employees", "约20")]
    # B's float may round-trip as 2000000.01 (Excel keeps the shortest repr): normalised or exact, the same fen
    assert A in {r.credit_code for r in ds.normalised} <= {A, B}
    assert list(f.loc[[A, B, C], "industry"].astype(str)) == ["C", "F51", "C3911"]
    assert str(f.loc[A, "enterprise_size"]) == "小型"  # delivered, though the derivation has no sector for C
