"""The bundled policy library: loads, its own cases pass, the lint is clean, the sample exercises it."""

import datetime as dt
from collections import Counter

import pytest

from rules_engine import ir
from rules_engine.backends import vectorized
from rules_engine.cli import DEFAULT_POLICIES
from rules_engine.data.datasets import SAMPLE_MANIFEST, load_dataset
from rules_engine.data.tags import load_dictionary
from rules_engine.library.lint import lint
from rules_engine.library.loader import load_library
from rules_engine.library.policytests import run_case

D = load_dictionary()
LIB = load_library(DEFAULT_POLICIES, D)
SAMPLE_AS_OF = dt.date(2026, 6, 30)
CASES = [(p, c) for p in LIB.policies for c in p.cases]


def test_library_loads_cleanly() -> None:
    assert LIB.problems == []
    assert len(LIB.policies) >= 30


@pytest.mark.parametrize("policy,case", CASES, ids=[f"{p.key}:{c.name}" for p, c in CASES])
def test_policy_case(policy: ir.Policy, case: ir.PolicyCase) -> None:
    result = run_case(policy, case, D)
    assert result.ok, result.problems


def test_each_policy_has_the_three_kinds_of_case() -> None:
    for p in LIB.policies:
        kinds = Counter(c.status for c in p.cases)
        assert kinds["eligible"] and kinds["not_eligible"] and kinds["undetermined"], p.key


def test_library_covers_the_shapes_the_domain_needs() -> None:
    tiers = {p.tier for p in LIB.policies}
    assert tiers == set(ir.Tier3)
    scopes = {len(r) for p in LIB.policies for r in (p.regions[0].rstrip("0"),)}
    assert {2, 4, 6} <= scopes  # province, city, district
    assert sum(p.budget is not None for p in LIB.policies) >= 3
    assert any(p.valid_to and p.valid_to < SAMPLE_AS_OF for p in LIB.policies)
    assert any(p.valid_from > SAMPLE_AS_OF for p in LIB.policies)
    groups = Counter(p.exclusive.group for p in LIB.active() if p.exclusive)
    assert max(groups.values()) >= 2


def test_lint_is_clean_at_the_sample_date() -> None:
    ds = load_dataset(SAMPLE_MANIFEST, D)
    assert lint(LIB, SAMPLE_AS_OF, ds.frame) == []


def test_lint_finds_what_it_should() -> None:
    import dataclasses

    p = LIB.get("keji-zhongxiao")
    bad = [
        dataclasses.replace(p, budget=ir.Budget(p.budget.total / 1000, ir.Allocation.PRO_RATA)),  # fixed 50,000 > 2,000
        dataclasses.replace(LIB.get("xiaojuren"), exclusive=ir.Exclusive("专精特新认定奖励", None)),
        LIB.get("zhuanjing-shengji"),
        dataclasses.replace(LIB.get("canji-jiuye"), valid_to=dt.date(2026, 1, 1)),
    ]
    lib = type(LIB)(bad + [bad[0]], [])
    rules = Counter(f.rule for f in lint(lib, SAMPLE_AS_OF, None))
    assert rules == {"duplicate-version": 1, "amount-over-budget": 2, "exclusive-precedence": 1, "expired-active": 1}


def test_every_policy_reaches_some_and_not_all_of_the_sample() -> None:
    ds = load_dataset(SAMPLE_MANIFEST, D)
    for p in LIB.policies:
        # judge each policy on a day it is in force
        when = min(max(SAMPLE_AS_OF, p.valid_from), p.valid_to or SAMPLE_AS_OF)
        r = vectorized.match(ds.frame, [p], when).results[0]
        counts = Counter(ir.Status(s).label for s in r.status)
        later = sorted({t for t in ir.policy_tags(p, when) if "@" in t and t not in ds.frame})
        if later:  # in force only after the sample's date, reading a year the sample cannot hold yet:
            # nobody is eligible on data that does not exist, and the missing year is named
            assert counts["eligible"] == 0 and counts["undetermined"] >= 1, (p.key, counts)
            frame = vectorized.match(ds.frame, [p], when).to_frame()
            assert frame[frame.status == "undetermined"].missing.str.contains(later[0]).all(), p.key
            continue
        assert counts["eligible"] >= 1 and counts["not_eligible"] >= 1, (p.key, counts)


def test_sample_oversubscribes_at_least_three_budgets() -> None:
    ds = load_dataset(SAMPLE_MANIFEST, D)
    over = []
    for p in LIB.active():
        if p.budget is None:
            continue
        r = vectorized.match(ds.frame, [p], SAMPLE_AS_OF).results[0]
        demand = int(r.amount_fen[r.status == ir.Status.ELIGIBLE].sum())
        if demand > int(p.budget.total * 100):
            over.append(p.id)
    assert len(over) >= 3, over


def test_lint_flags_an_elapsed_time_with_no_lower_bound() -> None:
    import dataclasses

    from rules_engine.data.tags import load_dictionary
    from rules_engine.language.binder import bind_condition
    from rules_engine.language.parser import parse_condition

    d = load_dictionary()
    p = LIB.get("gaoqi-shouci")

    def with_cond(text: str) -> ir.Policy:
        pred = bind_condition(parse_condition(text), d, text)
        return dataclasses.replace(p, conditions=(ir.Condition("certified", pred, ""),))

    open_ = [with_cond("is_hitech and months_since(hitech_cert_date) < 12"),
             with_cond("12 > months_since(hitech_cert_date)")]
    closed = [with_cond("hitech_cert_date within 12 months"),
              with_cond("months_since(hitech_cert_date) < 12 and days_since(hitech_cert_date) >= 0"),
              with_cond("months_since(hitech_cert_date) between 0 and 11")]
    for pol in open_:
        found = [f for f in lint(type(LIB)([pol], []), SAMPLE_AS_OF, None) if f.rule == "open-window"]
        assert len(found) == 1 and "hitech_cert_date within N months" in found[0].message
    for pol in closed:
        assert [f for f in lint(type(LIB)([pol], []), SAMPLE_AS_OF, None) if f.rule == "open-window"] == []


def test_the_comments_an_official_reads_in_the_policy_editor_are_chinese() -> None:
    """Was (#37 item 14): the sandbox's YAML editor showed the library files' English comments."""
    import re
    from pathlib import Path

    english = []
    for f in sorted(Path("policies").rglob("*.y*ml")):
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            m = re.match(r"\s*#(.*)", line) or re.search(r"\s#\s(.*)$", line)
            if m and re.search(r"[A-Za-z]{3,}", re.sub(r"qiye\d+|HT-\d{4}-\d{4}", "", m[1])):
                english.append(f"{f}:{n}: {line.strip()}")
    assert not english, english
