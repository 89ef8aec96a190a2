"""Malformed policy files fail with file, line, column, field and what was expected."""

from pathlib import Path

import pytest

from rules_engine.data.tags import load_dictionary
from rules_engine.errors import PolicyLoadError
from rules_engine.library.loader import load_library, load_policy_text

D = load_dictionary()

GOOD = """\
id: demo
version: 1
title: 演示政策
department: 演示局
basis: {document: 演示文件, number: 演示〔2026〕1号, article: 第一条}
tier: 免申即享
valid_from: 2026-01-01
valid_to: 2026-12-31
regions: [340200]
conditions:
  - revenue[上年] >= 100万
  - id: credit
    when: not serious_dishonest
benefit:
  fixed: 1000
"""


def problems(text: str) -> list:
    with pytest.raises(PolicyLoadError) as exc:
        load_policy_text(text, D, "demo.yaml")
    return exc.value.problems


def test_good_policy_loads() -> None:
    p = load_policy_text(GOOD, D, "demo.yaml")
    assert p.key == "demo@1"
    assert [c.id for c in p.conditions] == ["region_scope", "c1", "credit"]


def test_condition_error_points_at_file_line_and_column() -> None:
    text = GOOD.replace("  - revenue[上年] >= 100万", "  - revenu[上年] >= 100万")
    (p,) = problems(text)
    assert (p.file, p.line, p.column, p.field) == ("demo.yaml", 11, 5, "conditions[1]")
    assert "未知标签 'revenu'" in p.message and "revenue（营业收入）" in p.hint
    assert str(p).splitlines()[1].strip() == "- revenu[上年] >= 100万"
    assert str(p).splitlines()[2].strip() == "^^^^^^"


def test_error_inside_quoted_and_block_conditions() -> None:
    text = GOOD.replace("    when: not serious_dishonest", '    when: "not serious_dishonest and revenue[上年] >"')
    (p,) = problems(text)
    assert (p.line, p.column) == (13, 51)  # just past the ">", inside the quotes
    text = GOOD.replace("    when: not serious_dishonest", "    when: |\n      not serious_dishonest\n      and revenu[上年] > 1")
    (p,) = problems(text)
    assert (p.line, p.column) == (15, 11)


def test_every_problem_in_a_file_is_reported() -> None:
    text = GOOD.replace("version: 1", "version: one").replace("tier: 免申即享", "tier: 自动").replace(
        "  fixed: 1000", "  fixed: -5")
    found = {(p.field, p.line) for p in problems(text)}
    assert found == {("version", 2), ("tier", 6), ("benefit.fixed", 15)}


def test_missing_field_and_unknown_field() -> None:
    text = GOOD.replace("title: 演示政策\n", "titel: 演示政策\n")
    msgs = {(p.field, p.message, p.hint) for p in problems(text)}
    assert ("title", "缺少必填字段 'title'", "") in msgs
    assert ("titel", "未知字段 'titel'", "是否指 'title'？") in msgs


def test_money_must_be_exact_fen() -> None:
    (p,) = problems(GOOD.replace("  fixed: 1000", "  fixed: 1000.005"))
    assert p.field == "benefit.fixed" and "最多两位小数" in p.message


def test_yaml_syntax_error_has_a_line() -> None:
    (p,) = problems(GOOD.replace("regions: [340200]", "regions: [340200"))
    assert p.field == "yaml" and p.line >= 9


def test_one_bad_file_does_not_stop_the_others(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(GOOD.replace("id: demo", "id: other").replace(">= 100万", ">="),
                                     encoding="utf-8")
    (tmp_path / "c.yaml").write_text(GOOD.replace("id: demo", "id: third").replace("tier: 免申即享", "tier: x"),
                                     encoding="utf-8")
    lib = load_library(tmp_path, D)
    assert [p.id for p in lib.policies] == ["demo"]
    assert sorted(Path(p.file).name for p in lib.problems) == ["b.yaml", "c.yaml"]


def test_duplicate_version_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(GOOD, encoding="utf-8")
    lib = load_library(tmp_path, D)
    assert len(lib.problems) == 1 and "中也有定义" in lib.problems[0].message


def test_test_case_with_unknown_tag_is_a_load_error() -> None:
    text = GOOD + """tests:
  - as_of: 2026-06-30
    tags: {revenu: 100}
    expect: {status: eligible}
"""
    (p,) = problems(text)
    assert p.field == "tests[1].tags.revenu" and p.line == 18


def test_true_is_a_condition_and_within_is_a_window() -> None:
    import datetime as dt

    from rules_engine.backends import reference

    text = GOOD.replace("  - revenue[上年] >= 100万\n", "  - true\n  - id: fresh\n    when: registration_date within 3 years\n")
    p = load_policy_text(text, D, "demo.yaml")
    row = {"region": "340202", "serious_dishonest": False}
    as_of = dt.date(2026, 6, 30)
    assert reference.evaluate(p, {**row, "registration_date": dt.date(2023, 7, 1)}, as_of).status.label == "eligible"
    assert reference.evaluate(p, {**row, "registration_date": dt.date(2023, 6, 30)}, as_of).status.label == "not_eligible"
    # a date after the evaluation date is not "within the last 3 years" (years_since(d) < 3 said yes)
    assert reference.evaluate(p, {**row, "registration_date": dt.date(2026, 7, 1)}, as_of).status.label == "not_eligible"


@pytest.mark.parametrize(("cond", "expected"), [
    ("registration_date within 0 months", "within 之后 1 到"),
    ("registration_date within 12 weeks", "years、months 或 days"),
    ("revenue[上年] within 12 months", "within 只能用于日期"),
    ("industry under Z12", "没有门类 Z"),
    ("industry under A39", "门类 A 下没有大类 39"),
    ("industry == 'C1'", "不是国民经济行业代码"),
])
def test_bad_windows_and_codes_are_located(cond: str, expected: str) -> None:
    probs = problems(GOOD.replace("revenue[上年] >= 100万", cond))
    assert len(probs) == 1 and expected in str(probs[0]), probs
    assert probs[0].line == 11 and probs[0].field == "conditions[1]"


def test_every_industry_level_is_a_condition() -> None:
    for code in ("C", "C39", "C391", "C3911"):
        load_policy_text(GOOD.replace("revenue[上年] >= 100万", f"industry under {code}"), D, "demo.yaml")
