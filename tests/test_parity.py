"""The vectorized backend must agree exactly with the per-row reference evaluator."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules_engine import ir
from rules_engine.backends import reference, vectorized
from rules_engine.data import frame
from tests.strategies import AS_OF, DICTIONARY, TAGS, policies, rows, tag


def both(policy: ir.Policy, data: list[dict[str, object]], as_of: dt.date = AS_OF,
         block_rows: int = vectorized.BLOCK_ROWS):
    df = frame.to_frame([{**r, "credit_code": f"E{i}"} for i, r in enumerate(data)], DICTIONARY,
                        columns=["credit_code", *TAGS])
    vec = vectorized.match(df, [policy], as_of, block_rows=block_rows).to_frame()
    for i, row in enumerate(data):
        ref = reference.evaluate(policy, row, as_of)
        got = vec.iloc[i]
        missing = tuple(x for x in str(got["missing"]).split(",") if x)
        failed = tuple(x for x in str(got["failed"]).split(",") if x)
        yield ref, (got["status"], int(got["amount_fen"]), missing, failed)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy=policies(), data=st.lists(rows, min_size=1, max_size=12),
       block_rows=st.sampled_from([2, 5, vectorized.BLOCK_ROWS]))
def test_vectorized_matches_reference(policy: ir.Policy, data: list[dict[str, object]], block_rows: int) -> None:
    """Also in blocks of 2 and 5 rows: results joined across blocks, candidates taken per block."""
    for ref, got in both(policy, data, block_rows=block_rows):
        assert got == (ref.status.label, ref.amount_fen, ref.missing, ref.failed), policy


ONE_YUAN = ir.Fixed(Decimal(1))


def policy_of(pred: ir.Pred, benefit: ir.Formula = ONE_YUAN) -> ir.Policy:
    return ir.Policy("p", 1, "t", "d", ir.LegalBasis("doc", "no"), ir.Tier3.AUTO, dt.date(2000, 1, 1), None, (),
                     (ir.Condition("c", pred, ""),), benefit)


def test_rounding_is_half_up_to_the_fen_on_both_backends() -> None:
    # 0.05 × 0.1 = 0.005 -> 0.01; -12.35 × 0.1 = -1.235 -> -1.24, floored at 0 as a benefit
    p = policy_of(ir.Truthy(tag("b1")), ir.Percent(tag("m1"), Decimal("0.1")))
    data = [{"b1": True, "m1": Decimal("0.05")}, {"b1": True, "m1": Decimal("12345.65")}]
    results = [got for _, got in both(p, data)]
    assert [r[1] for r in results] == [1, 123457]


def test_large_amounts_do_not_overflow() -> None:
    p = policy_of(ir.Truthy(tag("b1")), ir.Percent(tag("m1"), Decimal("0.333333")))
    data = [{"b1": True, "m1": Decimal("99999999999.99")}]
    for ref, got in both(p, data):
        assert got[1] == ref.amount_fen == 3333330000000  # 33,333,299,999.996667 -> 33,333,300,000.00 yuan


def test_unknown_is_not_no() -> None:
    p = policy_of(ir.Compare(">=", tag("n0"), ir.Num(Decimal(3))))
    (ref, got), = both(p, [{"n0": None}])
    assert got[0] == "undetermined" and got[2] == ("n0",)
    assert ref.missing == ("n0",)


def test_missing_names_only_tags_that_matter() -> None:
    # (b1 and n0 > 1) or b2: b1 false short-circuits its branch, so only b2 is missing
    pred = ir.Or((ir.And((ir.Truthy(tag("b1")), ir.Compare(">", tag("n0"), ir.Num(Decimal(1))))),
                  ir.Truthy(tag("b2"))))
    (ref, got), = both(policy_of(pred), [{"b1": False, "n0": None, "b2": None}])
    assert ref.missing == ("b2",) and got[2] == ("b2",)


def test_region_hierarchy() -> None:
    pred = ir.Under(tag("region"), ("340200",))
    data = [{"region": "340202"}, {"region": "340100"}, {"region": "341000"}]
    statuses = [got[0] for _, got in both(policy_of(pred), data)]
    assert statuses == ["eligible", "not_eligible", "not_eligible"]
    pred = ir.Under(tag("region"), ("341000",))  # 黄山市 covers 3410xx only
    statuses = [got[0] for _, got in both(policy_of(pred), [{"region": "341002"}, {"region": "341100"}])]
    assert statuses == ["eligible", "not_eligible"]


def test_elapsed_years_on_leap_day() -> None:
    pred = ir.Compare(">=", ir.Elapsed(ir.ElapsedUnit.YEARS, tag("d1")), ir.Num(Decimal(1)))
    data = [{"d1": dt.date(2024, 2, 29)}, {"d1": dt.date(2023, 2, 28)}, {"d1": dt.date(2024, 3, 1)}]
    out = [got[0] for _, got in both(policy_of(pred), data, dt.date(2025, 2, 28))]
    # 2024-02-29 completes its first year only on 2025-03-01
    assert out == ["not_eligible", "eligible", "not_eligible"]
