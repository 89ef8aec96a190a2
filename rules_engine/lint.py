"""Library lint: problems a policy file can have that loading alone does not catch."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd

from . import ir
from .loader import Library


@dataclass(frozen=True)
class Finding:
    rule: str
    policy: str  # id@version, or the group name
    source: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: [{self.rule}] {self.policy}: {self.message}"


def max_amount(f: ir.Formula) -> Decimal | None:
    """The most a formula can pay one enterprise, or None when it is unbounded."""
    match f:
        case ir.Fixed(amount=a):
            return a
        case ir.PerUnit() | ir.Percent():
            return None
        case ir.Tiers(tiers=tiers):
            return max(t.amount for t in tiers)
        case ir.Cases(cases=cases, otherwise=otherwise):
            bounds = [max_amount(c.formula) for c in cases] + [max_amount(otherwise)]
            return None if any(b is None for b in bounds) else max(b for b in bounds if b is not None)
        case ir.Sum(parts=parts):
            bounds = [max_amount(p) for p in parts]
            return None if any(b is None for b in bounds) else sum((b for b in bounds if b is not None), Decimal(0))
        case ir.Clamp(formula=inner, cap=cap):
            inner_max = max_amount(inner)
            if cap is None:
                return inner_max
            return cap if inner_max is None else min(cap, inner_max)
    return None


def lint(library: Library, today: dt.date, data: pd.DataFrame | None = None) -> list[Finding]:
    out: list[Finding] = []
    seen: dict[tuple[str, int], ir.Policy] = {}
    for p in library.policies:
        k = (p.id, p.version)
        if k in seen:
            out.append(Finding("duplicate-version", p.key, p.source, f"also defined in {seen[k].source}"))
        seen[k] = p

    groups: dict[str, list[ir.Policy]] = defaultdict(list)
    for p in library.active():
        if p.exclusive:
            groups[p.exclusive.group].append(p)
    for group, members in groups.items():
        unstated = [m.key for m in members if m.exclusive and m.exclusive.precedence is None]
        if unstated and len(members) > 1:
            out.append(Finding("exclusive-precedence", group, members[0].source,
                               f"members without a stated precedence: {', '.join(unstated)}"))
        precs = [m.exclusive.precedence for m in members if m.exclusive and m.exclusive.precedence is not None]
        dupes = sorted({x for x in precs if precs.count(x) > 1})
        if dupes:
            out.append(Finding("exclusive-precedence", group, members[0].source,
                               f"members share precedence {dupes}: a tie in amount has no winner"))
        if len(members) == 1:
            out.append(Finding("exclusive-alone", group, members[0].source,
                               f"{members[0].key} is the only active member of its exclusivity group"))

    for p in library.active():
        if p.valid_to is not None and p.valid_to < today:
            out.append(Finding("expired-active", p.key, p.source,
                               f"ended {p.valid_to} but is still marked active (set status: retired)"))
        if p.budget is not None:
            bound = max_amount(p.benefit)
            if bound is None:
                out.append(Finding("amount-over-budget", p.key, p.source,
                                   f"the amount has no cap, so one enterprise could exceed the budget {p.budget.total}"))
            elif bound > p.budget.total:
                out.append(Finding("amount-over-budget", p.key, p.source,
                                   f"one enterprise can receive {bound}, more than the budget {p.budget.total}"))
        if data is not None:
            empty = [t for t in ir.policy_tags(p) if t not in data.columns or not data[t].notna().any()]
            if empty:
                out.append(Finding("tag-never-filled", p.key, p.source,
                                   f"reads tags the data never fills: {', '.join(empty)}"))
    return out
