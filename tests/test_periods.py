"""Periodic facts and dated parameters: a condition reads the year it names and no other, a
missing year is unknown and named, every backend agrees, data files must state the period."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from rules_engine import ir
from rules_engine.backends import reference, vectorized
from rules_engine.data import creditcode, frame
from rules_engine.data.datasets import SourceFile, load_dataset
from rules_engine.data.derive import enterprise_size
from rules_engine.data.tags import load_dictionary
from rules_engine.errors import DataError, PolicyLoadError
from rules_engine.explain import Explainer, Provenance
from rules_engine.library.lint import lint
from rules_engine.library.loader import Library, load_policy_text
from rules_engine.periods import Period, PeriodKind, parse_period, parse_relative, parse_window

D = load_dictionary()


def code(i: int) -> str:
    return creditcode.make("340104", 1000 + i)


A, B = code(900), code(901)


POLICY = """\
id: zengzhang
version: 1
title: 纳税增长奖励
department: 演示局
basis: {document: 关于支持企业做大做强的若干政策（示例）, number: 合政〔2026〕6号, article: 第九条}
tier: 免申即享
valid_from: 2026-01-01
valid_to: 2028-12-31
params:
  threshold:
    - {from: 2026-01-01, value: 100万, basis: 合政〔2026〕6号 第九条}
    - {from: 2027-01-01, value: 120万, basis: 合政〔2026〕18号 第二条（调整）}
conditions:
  - id: scale
    when: tax_paid[上年] >= threshold
  - id: growing
    when: growth(tax_paid, 上年, 前年) >= 20%
  - id: three_years
    when: 每年(tax_paid, 近3年) > 0
benefit:
  percent: {of: "tax_paid[上年] - tax_paid[前年]", rate: 10%}
  cap: 500000
"""


def policy(text: str = POLICY) -> ir.Policy:
    return load_policy_text(text, D, "zengzhang.yaml")


def both(p: ir.Policy, rows: list[dict[str, object]], as_of: dt.date) -> list[tuple[str, int, tuple[str, ...]]]:
    """Reference and vectorized decisions (status, fen, missing), which must agree."""
    df = frame.to_frame([{**r, "credit_code": code(i)} for i, r in enumerate(rows)], D)
    vec = vectorized.match(df, [p], as_of).to_frame()
    out = []
    for i, row in enumerate(rows):
        ref = reference.evaluate(p, row, as_of)
        got = vec.iloc[i]
        missing = tuple(x for x in str(got["missing"]).split(",") if x)
        assert (got["status"], int(got["amount_fen"]), missing) == (ref.status.label, ref.amount_fen, ref.missing)
        out.append((ref.status.label, ref.amount_fen, ref.missing))
    return out


def years(**values: object) -> dict[str, object]:
    return {f"tax_paid@{y[1:]}": None if v is None else Decimal(str(v)) for y, v in values.items()}


# ------------------------------------------------------------------ the calendar


def test_periods_are_read_exactly_and_relative_words_are_refused_in_data() -> None:
    assert parse_period("2025") == parse_period("2025年度") == parse_period(" 2025年 ") == Period(PeriodKind.YEAR, 2025)
    assert parse_period("2025Q1") == parse_period("2025年第1季度") == parse_period("２０２５Ｑ１") \
        == Period(PeriodKind.QUARTER, 2025, 1)
    assert parse_period("2025-03") == parse_period("2025年3月") == Period(PeriodKind.MONTH, 2025, 3)
    for bad, why in (("去年", "相对说法"), ("2025Q5", "1 到 4"), ("2025-13", "1 到 12"), ("", "不是期间"),
                     ("1800", "超出范围")):
        with pytest.raises(ValueError, match=why):
            parse_period(bad)
    assert Period(PeriodKind.QUARTER, 2026, 1).shift(-1) == Period(PeriodKind.QUARTER, 2025, 4)
    assert Period(PeriodKind.MONTH, 2026, 1).shift(-13) == Period(PeriodKind.MONTH, 2024, 12)
    assert parse_relative("上年").at(dt.date(2026, 3, 1)) == Period(PeriodKind.YEAR, 2025)
    assert parse_relative("上季度").at(dt.date(2026, 3, 1)) == Period(PeriodKind.QUARTER, 2025, 4)
    assert parse_window("近三年") == parse_window("近3年") == (PeriodKind.YEAR, 3)
    assert parse_window("近12个月") == (PeriodKind.MONTH, 12)


# ------------------------------------------------------------------ evaluation


def test_a_condition_reads_the_year_it_names_and_a_missing_year_is_unknown_never_another() -> None:
    """Was: `tax_paid` meant whatever the last delivery held; on 2026-03-01 (汇算清缴 not over)
    last year's figure for 2024 would be read as 2025's. Now 上年 on 2026-03-01 is 2025: with
    only 2024 delivered the policy is undetermined and names 2025年度纳税总额."""
    p = policy()
    only_2024 = years(y2022=1, y2023=1_000_000, y2024=2_000_000)
    ((status, fen, missing),) = both(p, [only_2024], dt.date(2026, 3, 1))
    assert (status, missing) == ("undetermined", ("tax_paid@2025",))
    e = Explainer(D).explain(p, only_2024, dt.date(2026, 3, 1))
    assert "2025年度纳税总额" in [m for c in e.conditions for m in c.missing]
    # a year later the same data decides 2024 against 2023
    ((status, fen, _),) = both(p, [only_2024], dt.date(2025, 6, 30))
    assert status == "not_eligible"  # in force only from 2026-01-01


def test_growth_sum_each_and_min_at_their_boundaries() -> None:
    p = policy()
    day = dt.date(2026, 6, 30)  # 上年 2025, 前年 2024, 近3年 2023-2025
    rows = [
        years(y2023=1, y2024=1_000_000, y2025=1_200_000),  # exactly +20 %, exactly 120万 > 100万: eligible
        years(y2023=1, y2024=1_000_000, y2025="1199999.99"),  # a fen short of +20 %
        years(y2023=0, y2024=1_000_000, y2025=1_200_000),  # 2023 was 0: not > 0 every year
        years(y2023=1, y2024=0, y2025=1_200_000),  # growth from 0 is undefined: false
        years(y2023=None, y2024=1_000_000, y2025=1_200_000),  # 2023 missing: unknown, named
    ]
    got = both(p, rows, day)
    assert got[0] == ("eligible", 2_000_000, ())  # (120万 − 100万) × 10 %
    assert [g[0] for g in got[1:4]] == ["not_eligible"] * 3
    assert got[4][0] == "undetermined" and got[4][2] == ("tax_paid@2023",)
    text = load_policy_text(POLICY.replace("每年(tax_paid, 近3年) > 0", "sum(tax_paid, 近3年) >= 220万")
                            .replace("growth(tax_paid, 上年, 前年) >= 20%", "min(tax_paid, 近2年) >= 100万"), D, "x")
    sums = both(text, [years(y2023=0, y2024=1_000_000, y2025=1_200_000),
                       years(y2023=0, y2024="999999.99", y2025="1200000.01")], day)
    assert [s[0] for s in sums] == ["eligible", "not_eligible"]  # 220万 exactly; min a fen under 100万


def test_a_dated_parameter_uses_the_value_in_force_and_the_explanation_names_its_basis() -> None:
    p = policy()
    row = years(y2024=1_000_000, y2025=1_200_000, y2026=1_440_000, y2023=1)
    row |= {"tax_paid@2027": Decimal(1)}
    # 2026: threshold 100万; 2027: 120万 (2026 paid 144万 ≥ 120万 and +20 %)
    assert both(p, [row], dt.date(2026, 6, 30))[0][0] == "eligible"
    assert both(p, [years(y2024=1_000_000, y2025="1190000", y2026="1190000", y2023=1)
                    | {"tax_paid@2023": Decimal(1)}], dt.date(2027, 6, 30))[0][0] == "not_eligible"
    e = Explainer(D).explain(p, row, dt.date(2027, 6, 30))
    scale = next(c for c in e.conditions if c.id == "scale")
    assert "2026年度纳税总额不低于120万元" in scale.zh
    text = e.to_text()
    assert "threshold = 120万" in text and "合政〔2026〕18号 第二条（调整）" in text and "2027-01-01" in text


def test_every_backend_reads_the_same_slots() -> None:
    """SQL (SQLite) and durable-rules give the reference's statuses on a period policy."""
    import sqlalchemy as sa

    from rules_engine.backends import sql as sqlb
    from rules_engine.backends.durable import DurableEngine
    from rules_engine.backends.sql_tables import write_table
    from rules_engine.ledger.decide import decide

    p = policy()
    day = dt.date(2026, 6, 30)
    rows = [years(y2023=1, y2024=1_000_000, y2025=1_200_000), years(y2023=1, y2024=1_000_000, y2025="1199999.99"),
            years(y2023=None, y2024=1_000_000, y2025=1_200_000), years(y2023=1, y2024=0, y2025=5)]
    expected = both(p, rows, day)
    df = frame.to_frame([{**r, "credit_code": code(i)} for i, r in enumerate(rows)], D)
    engine = sa.create_engine("sqlite://")
    with engine.begin() as conn:
        table = write_table(conn, "ent", df, D)
        got = sqlb.results(conn, table, [p], day).sort_values("credit_code")
    by_code = {code(i): e for i, e in enumerate(expected)}
    for r in got.itertuples():
        assert (r.status, int(r.amount_fen)) == by_code[r.credit_code][:2]
    durable = DurableEngine()
    for i, row in enumerate(rows):
        assert decide(durable, p, row, day, f"s{i}").status.label == expected[i][0]


# ------------------------------------------------------------------ the language and the loader


def test_a_periodic_tag_without_a_period_is_refused_where_it_is_written() -> None:
    with pytest.raises(PolicyLoadError) as exc:
        policy(POLICY.replace("tax_paid[上年] >= threshold", "tax_paid >= threshold"))
    (prob,) = exc.value.problems
    assert "按年度报送，须写明期间" in prob.message and prob.line == 15 and "tax_paid[上年]" in prob.hint


def test_parameters_are_checked_and_lint_flags_a_gap_in_the_validity() -> None:
    with pytest.raises(PolicyLoadError, match="从早到晚"):
        policy(POLICY.replace("from: 2027-01-01", "from: 2025-01-01"))
    late = policy(POLICY.replace("from: 2026-01-01, value: 100万", "from: 2026-03-01, value: 100万"))
    lib = Library([late], [])
    found = [f for f in lint(lib, dt.date(2026, 6, 30)) if f.rule == "param-gap"]
    assert len(found) == 1 and "threshold" in found[0].message and "2026-01-01" in found[0].message
    assert not [f for f in lint(Library([policy()], []), dt.date(2026, 6, 30)) if f.rule == "param-gap"]


# ------------------------------------------------------------------ data files


def src(path: Path, as_of: str = "2026-05-31", **kw: object) -> SourceFile:
    return SourceFile(path.name, "tax", dt.date.fromisoformat(as_of), path=path, **kw)  # type: ignore[arg-type]


def test_a_file_must_state_the_period_of_a_periodic_column(tmp_path: Path) -> None:
    (tmp_path / "tax.csv").write_text(f"credit_code,tax_paid,tax_credit_rating\n{A},100,A\n", encoding="utf-8")
    with pytest.raises(DataError, match="tax.csv：列 'tax_paid'（纳税总额）按年度报送，但没有写明数据所属的期间"):
        load_dataset([src(tmp_path / "tax.csv")], D)
    # the manifest states it, or the header does, or a period column does: all three load the same slot
    ds = load_dataset([src(tmp_path / "tax.csv", periods=(("tax_paid", "2025"),))], D)
    assert ds.frame["tax_paid@2025"].iloc[0] == 10000
    (tmp_path / "h.csv").write_text(f"credit_code,纳税总额[2025年度],tax_paid[2024]\n{A},100,90\n", encoding="utf-8")
    ds = load_dataset([src(tmp_path / "h.csv")], D)
    assert (ds.frame["tax_paid@2025"].iloc[0], ds.frame["tax_paid@2024"].iloc[0]) == (10000, 9000)
    assert ds.provenance_of(0)["tax_paid@2024"] == ("tax", dt.date(2026, 5, 31), "h.csv")


def test_bad_periods_in_a_period_column_are_located_rejects_and_lose_nothing_else(tmp_path: Path) -> None:
    (tmp_path / "q.csv").write_text(
        "credit_code,所属期,tax_paid,tax_credit_rating\n"
        f"{A},2025年度,100,A\n"
        f"{A},2024,90,A\n"
        f"{A},去年,80,A\n"
        f"{B},2025Q5,70,B\n"
        f"{B},2027,60,B\n"
        f"{B},2025Q1,50,B\n"
        f"{B},2023,40,B\n"
        f"{A},2024,91,A\n", encoding="utf-8")
    ds = load_dataset([src(tmp_path / "q.csv")], D)
    f = ds.frame.set_index("credit_code")
    assert (f.loc[A, "tax_paid@2025"], f.loc[A, "tax_paid@2024"], f.loc[B, "tax_paid@2023"]) == (10000, 9000, 4000)
    assert str(f.loc[B, "tax_credit_rating"]) == "B"  # the instant cells of refused rows still load
    by_row = {r.row: r for r in ds.rejects}
    assert "相对说法" in by_row[4].reason and by_row[4].column == "所属期" and by_row[4].raw == "去年"
    assert "1 到 4" in by_row[5].reason
    assert "晚于数据日期" in by_row[6].reason
    assert "按年度报送" in by_row[7].reason and by_row[7].column == "tax_paid"  # a quarter for a yearly tag
    assert "与第 3 行重复" in by_row[9].reason and "内容不同" in by_row[9].reason


def test_two_deliveries_that_disagree_on_one_period_are_a_conflict_and_neither_wins(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(f"credit_code,tax_paid[2025]\n{A},100\n{B},7\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text(f"credit_code,tax_paid[2025]\n{A},120\n{B},7\n", encoding="utf-8")
    (tmp_path / "c.csv").write_text(f"credit_code,tax_paid[2025]\n{A},100\n", encoding="utf-8")
    ds = load_dataset([src(tmp_path / "a.csv"), src(tmp_path / "b.csv", "2026-06-15"),
                       src(tmp_path / "c.csv", "2026-06-20")], D)
    f = ds.frame.set_index("credit_code")
    assert pd.isna(f.loc[A, "tax_paid@2025"]) and f.loc[B, "tax_paid@2025"] == 700
    (c,) = ds.conflicts
    assert (c.credit_code, c.tag) == (A, "tax_paid@2025") and "不采用" in c.kept_from


# ------------------------------------------------------------------ 企业划型


def test_enterprise_size_uses_one_year_and_the_finance_rule_for_finance() -> None:
    """Was: 金融业 (J) fell into 其他未列明行业 and got a size from its head count."""
    yi = 10**8 * 100  # 1 亿元 in fen
    df = pd.DataFrame({
        "industry": ["J6620", "J6620", "J6710", "J6810", "J6635", "J6911", "J", "S9221", "C3911", "C3911"],
        "employees": pd.array([5] * 8 + [300, 300], dtype="Int64"),
        "revenue@2024": pd.array([None] * 8 + [4 * 10**10, 4 * 10**10], dtype="Int64"),
        "revenue@2025": pd.array([None] * 8 + [2 * 10**9, None], dtype="Int64"),
        "total_assets@2025": pd.array([6000 * yi, 49 * yi, 100 * yi, 19 * yi, 200 * yi, 10**6 * yi, 10 * yi,
                                       yi, None, None], dtype="Int64"),
    })
    sizes = [None if pd.isna(x) else x for x in enterprise_size(df)]
    # 存款类 ≥5000亿 中型, <50亿 微型; 证券 ≥100亿 中型; 保险 <20亿 微型; 小贷 ≥200亿 中型; 信托公司 (信托资产),
    # a bare J, 公共管理 (S): no rule; industry: 2025's revenue 2000万 with 300 staff is 中型, and a
    # missing 2025 revenue is unknown (2024's 40000万 never stands in for it)
    assert sizes == ["中型", "微型", "中型", "微型", "中型", None, None, None, "中型", None]


# ------------------------------------------------------------------ records of the snapshot era

OLD_WAIMAO = """\
id: jiu-waimao
version: 1
title: 外贸出口增长奖励（旧版）
department: 安徽省商务厅
basis: {document: 安徽省促进外贸稳规模优结构若干措施（示例）, number: 皖商贸〔2026〕10号, article: 第三条}
tier: 即申即享
valid_from: 2026-01-01
valid_to: 2026-12-31
regions: [340000]
conditions:
  - id: scale
    when: export_value >= 500万
  - id: growth
    when: export_value > export_value_prev
  - export_value - export_value_prev >= 0
benefit:
  percent: {of: export_value - export_value_prev, rate: 2%}
  cap: 500000
tests:
  - name: 增长300万元
    as_of: 2026-06-30
    tags: {region: 340207, export_value: 8000000, export_value_prev: 5000000}
    expect: {status: eligible, amount: 60000}
  - name: 缺少前年出口额
    as_of: 2026-06-30
    tags: {region: 340207, export_value: 8000000}
    expect: {status: undetermined, missing: [export_value_prev]}
"""


def test_a_policy_published_before_periods_states_the_same_rule_in_periods() -> None:
    from rules_engine.data.legacy import upgrade_policy_text
    from rules_engine.library.policytests import run_policy_tests

    with pytest.raises(PolicyLoadError, match="须写明期间"):
        load_policy_text(OLD_WAIMAO, D, "old.yaml")
    p = load_policy_text(upgrade_policy_text(OLD_WAIMAO), D, "old.yaml")
    results = run_policy_tests([p], D)
    assert len(results) == 2 and all(r.ok for r in results), results
    assert ir.policy_tags(p, dt.date(2026, 6, 30)) == ("export_value@2024", "export_value@2025", "region")


def test_a_payout_recorded_before_periods_explains_itself(ledger_url: str) -> None:
    """Its policy version is in the history in the old syntax and its record names `export_value`
    and `export_value_prev`: read as 2025 and 2024 of its evaluation date, it is consistent."""
    from rules_engine import grant, service
    from rules_engine.data.legacy import upgrade_policy_text
    from rules_engine.ledger.models import Payout, PolicyVersion
    from rules_engine.service.actors import Actor

    sf = service.open_ledger(ledger_url)
    now = dt.datetime(2026, 7, 1, 9, 0)
    new = load_policy_text(upgrade_policy_text(OLD_WAIMAO), D, "old.yaml")
    rec = grant.record(new, dt.date(2026, 6, 30), {"region": "340207", "export_value": "8000000.00",
                                                    "export_value_prev": "5000000.00"}, 6000000, 6000000,
                       sources={"export_value": Provenance("商务局", dt.date(2026, 5, 1))})
    with sf.begin() as s:
        s.add(PolicyVersion(policy_id="jiu-waimao", version=1, file="jiu-waimao.yaml", sha256="0" * 64,
                            text=OLD_WAIMAO, published_by="官员", published_at=now))
        s.add(Payout(policy_id="jiu-waimao", policy_version=1, credit_code=A, period="2026", benefit_year=2026,
                     amount_fen=6000000, status="candidate", source="batch", explanation=rec,
                     created_at=now, updated_at=now))
    with sf() as s:
        ref = s.scalars(sa.select(Payout)).one().reference
    _, e = service.explain_payout(sf, Actor("审计", "auditor"), ref, [], D)
    assert e.grant is not None and e.grant.discrepancies == (), e.grant.discrepancies
    values = {v.label: (v.display, v.source) for c in e.conditions for v in c.values}
    assert values["2025年度出口额"][1] == "商务局" and "2024年度出口额" in values


def test_a_data_store_of_the_snapshot_era_is_upgraded_to_name_its_years(ledger_url: str, tmp_path: Path) -> None:
    """Department files delivered before periods (`tax_paid`, `tax_paid_prev`, `上年营业收入（万元）`)
    are refused now; `mianshen data-upgrade` writes into the manifest the year each column
    meant (the year before the file's date, 前年 two before) and the same values load as slots."""
    import csv
    import shutil

    import yaml
    from typer.testing import CliRunner

    from rules_engine.cli import app
    from rules_engine.data.datasets import SAMPLE_MANIFEST

    old = tmp_path / "old"
    shutil.copytree(SAMPLE_MANIFEST.parent, old)
    renames = {"tax.csv": {"revenue[2025]": "上年营业收入", "tax_paid[2025]": "tax_paid", "tax_paid[2024]": "tax_paid_prev",
                           "rd_expense[2025]": "rd_expense", "rd_expense[2024]": "前年研发费用", "rd_ratio[2025]": "rd_ratio"},
               "commerce.csv": {"export_value[2025]": "export_value", "export_value[2024]": "export_value_prev"},
               "stats.csv": {"total_assets[2025]": "资产总额", "output_value[2025]": "上年工业总产值"},
               "economy.csv": {"tech_renovation_investment[2025]": "tech_renovation_investment"}}
    for name, ren in renames.items():
        rows = list(csv.reader((old / name).open(encoding="utf-8")))
        keep = [i for i, h in enumerate(rows[0]) if "[" not in h or h in ren]
        with (old / name).open("w", encoding="utf-8", newline="") as fh:
            csv.writer(fh).writerows([[ren.get(r[i], r[i]) if n == 0 else r[i] for i in keep] for n, r in enumerate(rows)])
    manifest = old / "manifest.yaml"
    raw = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    raw["files"] = [f for f in raw["files"] if f["path"] != "tax_quarterly.csv"]
    manifest.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(DataError, match="tax_paid_prev、前年研发费用 是按期间建模之前的列名：请运行 mianshen data-upgrade"):
        load_dataset(manifest, D)

    out = CliRunner().invoke(app, ["data-upgrade", "--actor", "管理员", "-d", str(manifest), "--db", ledger_url])
    assert out.exit_code == 0, out.output
    assert "tax.csv：列 tax_paid_prev 为 2024 年度的 纳税总额（tax_paid）" in out.output
    assert "已写明 11 列的年度" in out.output, out.output
    upgraded = load_dataset(manifest, D).frame.set_index("credit_code")
    today = load_dataset(SAMPLE_MANIFEST, D).frame.set_index("credit_code")
    for col in ("revenue@2025", "tax_paid@2025", "tax_paid@2024", "rd_expense@2024", "rd_ratio@2025", "export_value@2024",
                "total_assets@2025", "output_value@2025", "tech_renovation_investment@2025"):
        pd.testing.assert_series_equal(upgraded[col], today[col], check_names=False)
    assert "revenue@2024" not in upgraded  # never delivered as such: not invented
    assert list(old.glob("manifest.yaml.*.bak"))  # the old manifest kept
    again = CliRunner().invoke(app, ["data-upgrade", "--actor", "管理员", "-d", str(manifest), "--db", ledger_url])
    assert "没有需要写明年度的列" in again.output


def test_an_excel_sheet_with_a_title_row_finds_its_periodic_header(tmp_path: Path) -> None:
    """The header row is the one naming the most tags: `营业收入（万元）[2025]` counts as naming one."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["2026年企业纳税信息（税务局）"])
    ws.append(["统一社会信用代码", "营业收入（万元）[2025]", "纳税总额[2024]", "纳税总额[2025]"])
    ws.append([A, "12.5", "90", "100"])
    wb.save(tmp_path / "tax.xlsx")
    ds = load_dataset([src(tmp_path / "tax.xlsx")], D)
    row = ds.frame.set_index("credit_code").loc[A]
    assert (row["revenue@2025"], row["tax_paid@2024"], row["tax_paid@2025"]) == (12500000, 9000, 10000)


def test_a_parameter_without_a_value_in_force_leaves_the_policy_undetermined_and_says_why() -> None:
    """`mianshen lint` flags the gap; if a policy is evaluated in it all the same, the condition
    is unknown (never a guessed number) and the explanation names the parameter."""
    late = policy(POLICY.replace("from: 2026-01-01, value: 100万", "from: 2026-03-01, value: 100万"))
    row = years(y2023=1, y2024=1_000_000, y2025=1_200_000)
    ((status, _, missing),) = both(late, [row], dt.date(2026, 2, 1))
    assert (status, missing) == ("undetermined", ("threshold@无生效值",))
    e = Explainer(D).explain(late, row, dt.date(2026, 2, 1))
    scale = next(c for c in e.conditions if c.id == "scale")
    assert scale.outcome is None and scale.missing == ("参数 threshold（评价日无生效值）",)
    assert "threshold 在 2026-02-01 无生效值" in e.to_text()
