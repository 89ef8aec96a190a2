"""Enterprises of the bundled sample picked by what the data says about them, not by a code
written down: the sample is regenerated when the data model changes, and a test that needs
"an enterprise waiting for one missing value" must still find one."""

from __future__ import annotations

import datetime as dt
from functools import cache

from rules_engine.backends import vectorized
from rules_engine.cli import DEFAULT_POLICIES
from rules_engine.data.datasets import SAMPLE_MANIFEST, load_dataset
from rules_engine.data.tags import load_dictionary
from rules_engine.library.loader import load_library

SAMPLE_AS_OF = dt.date(2026, 6, 30)


@cache
def undetermined_for(policy_id: str, tag: str) -> str:
    """The first credit code (in code order) whose only gap for `policy_id` is `tag`."""
    d = load_dictionary()
    frame = load_dataset(SAMPLE_MANIFEST, d).frame
    res = vectorized.match(frame, [load_library(DEFAULT_POLICIES, d).get(policy_id)], SAMPLE_AS_OF).to_frame()
    hit = res[(res.status == "undetermined") & (res.missing == tag)].sort_values("credit_code")
    assert len(hit), f"the sample has no enterprise waiting only for {tag} on {policy_id}"
    return str(hit.credit_code.iloc[0])
