"""durable-rules decides exactly as the vectorized engine, and each of its limits is handled."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules_engine import frame, ir, vectorized
from rules_engine.durable_backend import (
    DurableEngine,
)
from tests.strategies import AS_OF, DICTIONARY, TAGS, policies, rows, value_for

ENGINE = DurableEngine()  # one engine for the whole module, as a worker would have


def vectorized_decisions(policy: ir.Policy, data: list[dict[str, object]], as_of: dt.date) -> list[tuple]:
    df = frame.to_frame([{**r, "credit_code": f"E{i}"} for i, r in enumerate(data)], DICTIONARY,
                        columns=["credit_code", *TAGS])
    out = vectorized.match(df, [policy], as_of).to_frame()
    return [(s, int(a)) for s, a in zip(out["status"], out["amount_fen"])]


@st.composite
def event_sequences(draw: st.DrawFn) -> list[dict[str, object]]:
    """A starting profile, then the profile after each of a few random tag updates (or removals)."""
    row = dict(draw(rows))
    seq = [dict(row)]
    for _ in range(draw(st.integers(1, 6))):
        name = draw(st.sampled_from(list(TAGS)))
        row[name] = draw(value_for(name))
        seq.append(dict(row))
    return seq


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy=policies(), profiles=event_sequences())
def test_durable_rules_decides_like_the_vectorized_engine(policy: ir.Policy, profiles: list[dict]) -> None:
    expected = vectorized_decisions(policy, profiles, AS_OF)
    got = []
    for i, row in enumerate(profiles):
        d = ENGINE.decide(policy, row, AS_OF, sid=f"E{i}")
        got.append((d.status.label, d.amount_fen))
    assert got == expected
