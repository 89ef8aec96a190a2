"""Explain one (enterprise, policy) decision: every condition with the values it read,
their source and as-of date, the threshold, the outcome; how the amount was computed;
and near misses (policies failing on exactly one condition, with the gap)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from . import ir
from .ir import Kind, Status
from .reference import Decision, Evaluator, Row, evaluate
from .render_zh import Renderer, fmt_money, fmt_rate
from .tags import TagDictionary
from .values import fmt_value

OUTCOME_ZH = {True: "满足", False: "不满足", None: "无法判断（缺数据）"}
NOT_FIXABLE = {"region_scope", ir.NOT_IN_FORCE}
# facts an enterprise cannot change by what it does next: where and when it was registered, its
# sector and ownership. A condition that reads only these is no near miss ("register 745 days
# later" or "become a farm" is no advice).
IMMUTABLE_TAGS = frozenset({"region", "industry", "registration_date", "ownership", "independent_legal_person"})


@dataclass(frozen=True)
class Provenance:
    source: str  # department
    as_of: dt.date | None


@dataclass(frozen=True)
class ValueUsed:
    tag: str
    label: str
    value: object
    display: str
    source: str
    as_of: dt.date | None


@dataclass(frozen=True)
class ConditionExplanation:
    id: str
    text: str
    zh: str
    label: str
    article: str
    outcome: bool | None
    values: tuple[ValueUsed, ...]
    missing: tuple[str, ...]
    gap: str = ""  # for a failed threshold: how far the enterprise is from it


@dataclass(frozen=True)
class Explanation:
    policy: ir.Policy
    decision: Decision
    as_of: dt.date
    conditions: tuple[ConditionExplanation, ...]
    amount_steps: tuple[str, ...]
    reason: str = ""

    @property
    def status(self) -> Status:
        return self.decision.status

    def to_dict(self) -> dict[str, object]:
        """The explanation as one JSON-ready record (API, ledger, exports): every word Chinese,
        money in integer fen, dates ISO."""
        p, d = self.policy, self.decision
        return {
            "policy": {"id": p.id, "version": p.version, "title": p.title, "tier": p.tier.value,
                       "department": p.department, "contact": p.contact or "",
                       "basis": {"document": p.basis.document, "number": p.basis.number, "article": p.basis.article}},
            "status": d.status.label, "status_zh": d.status.zh,
            "amount_fen": d.amount_fen if d.status is Status.ELIGIBLE else 0,
            "as_of": self.as_of.isoformat(), "reason": self.reason,
            "missing": list(d.missing),
            "conditions": [{
                "id": c.id, "text": c.label or c.zh, "article": c.article or p.basis.article,
                "outcome": c.outcome, "gap": c.gap, "missing": list(c.missing),
                "values": [{"tag": v.tag, "label": v.label, "value": v.display, "source": v.source,
                            "as_of": v.as_of.isoformat() if v.as_of else None} for v in c.values],
            } for c in self.conditions],
            "amount_steps": list(self.amount_steps),
        }

    def to_text(self) -> str:
        p, d = self.policy, self.decision
        lines = [
            f"【{p.title}】{p.id} v{p.version}  {d.status.zh}"
            + (f"  金额 {fmt_money(Decimal(d.amount_fen) / 100)}" if d.status is Status.ELIGIBLE else ""),
            f"  依据：{p.basis.document}（{p.basis.number}）{p.basis.article}",
            f"  兑现方式：{p.tier.value}；主管部门：{p.department}；评估日期：{self.as_of.isoformat()}",
        ]
        if self.reason:
            lines.append(f"  说明：{self.reason}")
        for c in self.conditions:
            mark = {True: "✓", False: "✗", None: "?"}[c.outcome]
            head = f"  {mark} [{c.id}] {c.label or c.zh}"
            if c.article:
                head += f"（{c.article}）"
            lines.append(head)
            for v in c.values:
                when = f"，截至 {v.as_of.isoformat()}" if v.as_of else ""
                lines.append(f"      {v.label} = {v.display}（来源：{v.source}{when}）")
            if c.gap:
                lines.append(f"      差距：{c.gap}")
            if c.missing:
                lines.append(f"      缺少数据：{'、'.join(c.missing)}")
        for s in self.amount_steps:
            lines.append(f"  金额：{s}")
        if d.missing:
            lines.append(f"  待补充：{'、'.join(d.missing)}")
        return "\n".join(lines)


class Explainer:
    def __init__(self, dictionary: TagDictionary) -> None:
        self.d = dictionary
        self.r = Renderer(dictionary)

    def explain(self, policy: ir.Policy, row: Row, as_of: dt.date,
                provenance: Mapping[str, Provenance] | None = None) -> Explanation:
        decision = evaluate(policy, row, as_of)
        provenance = provenance or {}
        if not policy.in_force(as_of):
            end = policy.valid_to.isoformat() if policy.valid_to else "长期"
            reason = f"政策不在有效期内（{policy.valid_from.isoformat()} 至 {end}）"
            return Explanation(policy, decision, as_of, (), (), reason)
        ev = Evaluator(row, as_of)
        outcomes = {o.id: o for o in decision.conditions}
        conds = []
        for c in policy.conditions:
            o = outcomes[c.id]
            values = tuple(self.value_used(t, row, provenance) for t in ir.tags_of(c.pred))
            gap = self.gap(c.pred, ev) if o.outcome is False else ""
            conds.append(ConditionExplanation(
                c.id, c.text, self.r.pred(c.pred), c.label, c.article, o.outcome, values,
                tuple(self.missing_label(m, row) for m in o.missing), gap,
            ))
        reason = ""
        if "region_scope" in decision.failed:
            reason = "注册地不在政策适用区域内"
        steps = tuple(self.amount_steps(policy.benefit, ev)) if decision.status is not Status.NOT_ELIGIBLE else ()
        return Explanation(policy, decision, as_of, tuple(conds), steps, reason)

    def missing_label(self, tag: str, row: Row) -> str:
        """The tag's label; for a code that is present but too coarse, what is known and what is needed."""
        value = row.get(tag)
        tdef = self.d[tag]
        if value is None or tdef.kind is not Kind.CODE:
            return self.r.label(tag)
        level = "行业代码" if tdef.type.hierarchy == "industry" else "行政区划代码"
        return f"{self.r.label(tag)}（现有{level}仅到 {self.r.code(str(value), tdef.type.hierarchy)}，需更细一级）"

    def value_used(self, tag: str, row: Row, provenance: Mapping[str, Provenance]) -> ValueUsed:
        tdef = self.d[tag]
        prov = provenance.get(tag)
        value = row.get(tag)
        display = fmt_value(tdef.type, value)
        if tdef.personal and value is not None:
            from .datasets import mask_text

            display = str(mask_text(value))
        elif tdef.kind is Kind.CODE and value is not None:
            display = self.r.code(str(value), tdef.type.hierarchy)
        return ValueUsed(tag, tdef.label, value, display,
                         prov.source if prov else self.d.source_label(tag), prov.as_of if prov else None)

    def gap(self, pred: ir.Pred, ev: Evaluator) -> str:
        """For `tag op number` that fails: the value, the threshold and the difference."""
        if not isinstance(pred, ir.Compare) or pred.op not in ("<", "<=", ">", ">="):
            return ""
        left, right, op = pred.left, pred.right, pred.op
        if isinstance(left, ir.Num):
            left, right = right, left
            op = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}[op]
        if not isinstance(right, ir.Num):
            return ""
        value = ev.value(left)
        if not isinstance(value, Decimal):
            return ""
        unit = self.r.unit(left)
        diff = right.value - value if op in (">", ">=") else value - right.value
        def show(v: Decimal) -> str:
            return fmt_money(v) if unit == "元" else f"{format(v.normalize(), 'f')}{' ' + unit if unit and unit != '%' else unit}"
        sym = {"<": "<", "<=": "≤", ">": ">", ">=": "≥"}[op]
        return f"{self.r.value(left)} {show(value)}，需 {sym} {show(right.value)}（相差 {show(abs(diff))}）"

    def amount_steps(self, f: ir.Formula, ev: Evaluator, depth: int = 0) -> list[str]:
        """A trace of how the amount was computed, one line per formula node taken."""
        pad = "  " * depth
        amount, _ = ev.amount(f)
        total = fmt_money(amount) if amount is not None else "无法计算（缺数据）"
        match f:
            case ir.Fixed(amount=a):
                return [f"{pad}定额 {fmt_money(a)}"]
            case ir.PerUnit(quantity=q, rate=rate):
                v = ev.value(q)
                return [f"{pad}{self.r.value(q)} {fmt_value(None, v)} × {fmt_money(rate)} = {total}"]
            case ir.Percent(base=b, rate=rate):
                v = ev.value(b)
                shown = fmt_money(v) if isinstance(v, Decimal) else "（缺失）"
                return [f"{pad}{self.r.value(b)} {shown} × {fmt_rate(rate)} = {total}（四舍五入到分）"]
            case ir.Tiers(measure=m):
                v = ev.value(m)
                return [f"{pad}{self.r.value(m)} {fmt_value(None, v)}，按分档 = {total}"]
            case ir.Cases(cases=cases, otherwise=otherwise):
                for c in cases:
                    r = ev.test(c.when)
                    if r is None:
                        return [f"{pad}无法判断适用哪一档：{self.r.pred(c.when)}"]
                    if r:
                        return [f"{pad}适用：{self.r.pred(c.when)}", *self.amount_steps(c.formula, ev, depth + 1)]
                return [f"{pad}适用：其他情形", *self.amount_steps(otherwise, ev, depth + 1)]
            case ir.Sum(parts=parts):
                out = []
                for p in parts:
                    out += self.amount_steps(p, ev, depth + 1)
                return [*out, f"{pad}合计 = {total}"]
            case ir.Clamp(formula=inner, floor=lo, cap=hi):
                inner_amount, _ = ev.amount(inner)
                out = self.amount_steps(inner, ev, depth)
                if inner_amount is not None and hi is not None and inner_amount > hi:
                    out.append(f"{pad}超过上限，按上限 {fmt_money(hi)}")
                if inner_amount is not None and lo is not None and inner_amount < lo:
                    out.append(f"{pad}低于下限，按下限 {fmt_money(lo)}")
                return out
        return []


@dataclass
class NearMiss:
    policy: ir.Policy
    condition: ConditionExplanation
    potential_fen: int


@dataclass
class CheckUp:
    """政策体检: everything one enterprise meets, might meet, and nearly meets."""

    as_of: dt.date
    eligible: list[Explanation] = field(default_factory=list)
    undetermined: list[Explanation] = field(default_factory=list)
    near_misses: list[NearMiss] = field(default_factory=list)
    not_eligible: list[Explanation] = field(default_factory=list)

    @property
    def total_fen(self) -> int:
        return sum(e.decision.amount_fen for e in self.eligible)


def check_up(policies: list[ir.Policy], row: Row, as_of: dt.date, dictionary: TagDictionary,
             provenance: Mapping[str, Provenance] | None = None) -> CheckUp:
    ex = Explainer(dictionary)
    out = CheckUp(as_of)
    for p in policies:
        e = ex.explain(p, row, as_of, provenance)
        if e.status is Status.ELIGIBLE:
            out.eligible.append(e)
        elif e.status is Status.UNDETERMINED:
            out.undetermined.append(e)
        else:
            out.not_eligible.append(e)
            nm = near_miss(e, row, as_of)
            if nm is not None:
                out.near_misses.append(nm)
    out.eligible.sort(key=lambda e: -e.decision.amount_fen)
    return out


def near_miss(e: Explanation, row: Row, as_of: dt.date) -> NearMiss | None:
    """A policy that fails on exactly one fixable condition while every other one holds."""
    failed = [c for c in e.conditions if c.outcome is False]
    if len(failed) != 1 or failed[0].id in NOT_FIXABLE:
        return None
    if any(c.outcome is None for c in e.conditions):
        return None
    cond = next(c for c in e.policy.conditions if c.id == failed[0].id)
    if set(ir.tags_of(cond.pred)) <= IMMUTABLE_TAGS:
        return None
    amount, _ = Evaluator(row, as_of).amount(e.policy.benefit)
    fen = int(max(amount, Decimal(0)) * 100) if amount is not None else 0
    if fen <= 0:
        return None  # meeting the condition would pay nothing: not worth the enterprise's effort
    return NearMiss(e.policy, failed[0], fen)
