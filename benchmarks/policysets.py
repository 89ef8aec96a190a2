"""Large policy sets for benchmarks: the library's policies in force, cloned per city."""

from __future__ import annotations

import dataclasses
import datetime as dt

from rules_engine import ir
from rules_engine.codes import regions
from rules_engine.loader import Library


def policy_set(n: int, lib: Library, as_of: dt.date, keep_budgets: bool = True) -> list[ir.Policy]:
    """n policies: the library's active ones in force, then clones with distinct ids and one city
    as region scope each (the same shapes of condition, as real region variants have)."""
    base = [p for p in lib.active() if p.in_force(as_of)]
    cities = [c for c in regions() if c.endswith("00") and not c.endswith("0000")]
    out = list(base)
    k = 0
    while len(out) < n:
        p = base[k % len(base)]
        city = cities[(k // len(base)) % len(cities)]
        clone = dataclasses.replace(p, id=f"{p.id}-{city}-{k}", regions=(city,))
        out.append(clone if keep_budgets else dataclasses.replace(clone, budget=None))
        k += 1
    return out[:n]
