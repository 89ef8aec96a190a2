"""Library lint: problems a policy file can have that loading alone does not catch."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd

from .. import ir
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


FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}


def open_windows(pred: ir.Pred) -> list[tuple[ir.Expr, ir.ElapsedUnit]]:
    """Elapsed-time tests with an upper bound and no lower bound on the same date
    (`months_since(d) < 12` alone also holds for a date after the evaluation date)."""
    upper: dict[ir.Expr, ir.ElapsedUnit] = {}
    lower: set[ir.Expr] = set()
    stack: list[object] = [pred]
    while stack:
        node = stack.pop()
        stack.extend(ir.children(node))
        match node:
            case ir.Compare(op=op, left=ir.Num(), right=ir.Elapsed() as e):
                op = FLIP.get(op, op)  # 12 > months_since(d) reads as months_since(d) < 12
            case ir.Compare(op=op, left=ir.Elapsed() as e, right=ir.Num()):
                pass
            case ir.Between(expr=ir.Elapsed(arg=a)):
                lower.add(a)
                continue
            case _:
                continue
        if op in ("<", "<="):
            upper[e.arg] = e.unit
        elif op in (">", ">="):
            lower.add(e.arg)
    return [(a, u) for a, u in upper.items() if a not in lower]


def lint(library: Library, today: dt.date, data: pd.DataFrame | None = None) -> list[Finding]:
    out: list[Finding] = []
    seen: dict[tuple[str, int], ir.Policy] = {}
    for p in library.policies:
        k = (p.id, p.version)
        if k in seen:
            out.append(Finding("duplicate-version", p.key, p.source, f"与 {seen[k].source} 中的版本号重复"))
        seen[k] = p

    groups: dict[str, list[ir.Policy]] = defaultdict(list)
    for p in library.active():
        if p.exclusive:
            groups[p.exclusive.group].append(p)
    for group, members in groups.items():
        unstated = [m.key for m in members if m.exclusive and m.exclusive.precedence is None]
        if unstated and len(members) > 1:
            out.append(Finding("exclusive-precedence", group, members[0].source,
                               f"以下成员未写明优先顺序（precedence）：{'、'.join(unstated)}"))
        precs = [m.exclusive.precedence for m in members if m.exclusive and m.exclusive.precedence is not None]
        dupes = sorted({x for x in precs if precs.count(x) > 1})
        if dupes:
            out.append(Finding("exclusive-precedence", group, members[0].source,
                               f"成员的优先顺序相同（{dupes}）：金额相同时无法决出就高者"))
        if len(members) == 1:
            out.append(Finding("exclusive-alone", group, members[0].source,
                               f"{members[0].key} 是该“就高不重复”组中唯一生效的政策"))

    for p in library.active():
        for param in p.params:  # a dated parameter must have a value throughout the policy's validity
            first = param.values[0].start
            if first > p.valid_from:
                out.append(Finding("param-gap", p.key, p.source,
                                   f"参数 {param.name} 的第一个取值自 {first.isoformat()} 起生效，而政策自 "
                                   f"{p.valid_from.isoformat()} 起有效：其间条件无法判断"))
        if p.valid_to is not None and p.valid_to < today:
            out.append(Finding("expired-active", p.key, p.source,
                               f"已于 {p.valid_to} 到期，但仍标为生效（请设 status: retired）"))
        if p.budget is not None:
            bound = max_amount(p.benefit)
            if bound is None:
                out.append(Finding("amount-over-budget", p.key, p.source,
                                   f"金额没有上限，单个企业可能超过预算 {p.budget.total} 元"))
            elif bound > p.budget.total:
                out.append(Finding("amount-over-budget", p.key, p.source,
                                   f"单个企业最多可得 {bound} 元，超过预算 {p.budget.total} 元"))
        for cond in p.conditions:
            for arg, unit in open_windows(cond.pred):
                label = arg.name if isinstance(arg, ir.Tag) else "该日期"
                out.append(Finding("open-window", p.key, p.source,
                                   f"条件 {cond.id} 只限定了距今时长的上限：晚于评价日的{label}也会满足；"
                                   f"请写成 `{label} within N {unit.value}`（截至评价日）"))
        if data is not None:
            empty = [t for t in ir.policy_tags(p, today) if t not in data.columns or not data[t].notna().any()]
            if empty:
                out.append(Finding("tag-never-filled", p.key, p.source,
                                   f"读取的标签在数据中从未有值：{'、'.join(empty)}"))
    return out
