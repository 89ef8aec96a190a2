"""The explanation record a payout carries, one shape whatever created the payout (a batch, an
event, an enterprise's confirmation, an official's acceptance of an application), and reading it
back as the same `Explanation` the calculator shows.

The record keeps what the decision read (the input values, as text), the legal basis and the
amounts (formula and granted, with the allocation note); the conditions themselves are in the
policy's versioned file, so reading a record back re-evaluates that version on those inputs.
Re-evaluation is also a check: a record (or a payout amount) edited in the database no longer
agrees with its policy, and the explanation says so."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from . import ir
from .data import legacy
from .data.tags import TagDictionary
from .data.values import coerce, yuan_text
from .explain import Explainer, Explanation, Grant, Provenance
from .ir import Status

# The record's keys, in the order every writer writes them (the batch builds the JSON text itself).
KEYS = ("title", "department", "contact", "as_of", "basis", "conditions_met", "inputs", "sources",
        "formula_fen", "granted_fen", "allocation", "origin")
BATCH = {"kind": "batch"}


def input_text(value: object) -> str | None:
    """The one text form of an input value (the batch's `Inputs` writes the same:
    decimals as written, dates ISO, booleans True/False)."""
    return None if value is None else str(value)


def inputs_of(policy: ir.Policy, row: Mapping[str, object], as_of: dt.date) -> dict[str, str | None]:
    return {t: input_text(row.get(t)) for t in ir.policy_tags(policy, as_of)}


def policy_part(p: ir.Policy, as_of: dt.date) -> dict[str, Any]:
    """The keys that are the same for every payout of a policy version on a date."""
    return {
        "title": p.title, "department": p.department, "contact": p.contact, "as_of": as_of.isoformat(),
        "basis": {"document": p.basis.document, "number": p.basis.number, "article": p.basis.article},
        "conditions_met": [c.id for c in p.conditions],
    }


def record(policy: ir.Policy, as_of: dt.date, inputs: Mapping[str, str | None], formula_fen: int,
           granted_fen: int, allocation: str = "", origin: Mapping[str, Any] = BATCH,
           sources: Mapping[str, Provenance] | None = None, part: dict[str, Any] | None = None) -> dict[str, Any]:
    """A payout's explanation record. `sources`: where each input came from (department and
    date), where the writer knows it; where it does not (a batch over a database table), the
    department is the tag dictionary's and no date is given."""
    return {**(part or policy_part(policy, as_of)), "inputs": dict(inputs),
            "sources": {t: [v.source, v.as_of.isoformat() if v.as_of else None] for t, v in (sources or {}).items()},
            "formula_fen": formula_fen, "granted_fen": granted_fen, "allocation": allocation, "origin": dict(origin)}


def record_texts(part: dict[str, Any], inputs_json: Sequence[str], amounts: Sequence[tuple[int, int, str]],
                 sources_json: Sequence[str]) -> list[str]:
    """`record` of many payouts of one policy version as JSON text, the policy part serialised
    once (json.dumps of 10^5 whole records took 2.2 s of a batch). `inputs_json`, `sources_json`:
    each payout's inputs and their sources as JSON object text; `amounts`: (formula_fen,
    granted_fen, allocation) of each."""
    head = json.dumps(part, ensure_ascii=False)[:-1] + ', "inputs": '
    origin = json.dumps(BATCH)
    notes = {note: json.dumps(note, ensure_ascii=False) for note in {a[2] for a in amounts}}
    return [f'{head}{i}, "sources": {src}, "formula_fen": {f}, "granted_fen": {g}, "allocation": {notes[n]}, '
            f'"origin": {origin}}}' for i, (f, g, n), src in zip(inputs_json, amounts, sources_json, strict=True)]


# ------------------------------------------------------------------ reading a record back


def _origin(rec: Mapping[str, Any]) -> dict[str, Any]:
    """The record's origin; records written before it had one said so in other keys."""
    if isinstance(rec.get("origin"), dict):
        return dict(rec["origin"])
    if isinstance(rec.get("trigger"), dict):
        return {"kind": "event", **rec["trigger"]}
    if rec.get("application"):
        return {"kind": "application", "reference": rec["application"]}
    return dict(BATCH)


def origin_zh(rec: Mapping[str, Any], d: TagDictionary) -> str:
    o = _origin(rec)
    kind = o.get("kind")
    if kind == "event":
        tag = str(o.get("tag", ""))
        label = d[tag].label if tag in d else tag
        source = d.sources[o["source"]].label if o.get("source") in d.sources else str(o.get("source", ""))
        return f"数据更新触发（{label} = {o.get('value')}，来源 {source}，截至 {o.get('as_of')}），免申即享"
    if kind == "invitation":
        return f"企业确认享受（即申即享，邀请 {o.get('reference', '')}）"
    if kind == "contract":
        return f"合同履约节点达成（合同 {o.get('reference', '')}，节点 {o.get('milestone', '')}）"
    if kind == "application":
        return f"申报审核通过（申报 {o.get('reference', '')}）"
    return "批次匹配（免申即享）"


def _row(rec: Mapping[str, Any], d: TagDictionary) -> tuple[dict[str, object], list[str]]:
    row: dict[str, object] = {}
    bad = []
    for tag, text in (rec.get("inputs") or {}).items():
        if tag not in d:
            bad.append(f"记录中的数据项 {tag} 不在标签字典中")
            continue
        try:
            row[tag] = coerce(d[tag].type, text)
        except ValueError as exc:
            bad.append(f"记录中的 {d[tag].label} 不能读取：{exc}")
    return row, bad


def _fen(v: object) -> int | None:
    return v if type(v) is int else None


def explain(rec: Mapping[str, Any], policy: ir.Policy, amount_fen: int, d: TagDictionary,
            explainer: Explainer | None = None) -> Explanation:
    """The payout's explanation: `policy` (the version the payout names) re-evaluated on the
    recorded inputs as of the recorded date, with the grant (formula and granted amounts, the
    allocation, how the payout came to be) and every way the record disagrees with its policy or
    with the payout's amount (`amount_fen`, the amount the ledger will pay)."""
    problems: list[str] = []
    try:
        as_of = dt.date.fromisoformat(str(rec.get("as_of")))
    except ValueError:
        as_of = policy.valid_from
        problems.append(f"记录的评估日期不能读取：{str(rec.get('as_of'))[:40]}")
    # a record written before periods names `tax_paid`/`tax_paid_prev`: the years they meant then
    rec = {**rec, "inputs": {legacy.slot_of(k, as_of): v for k, v in (rec.get("inputs") or {}).items()},
           "sources": {legacy.slot_of(k, as_of): v for k, v in (rec.get("sources") or {}).items()}}
    row, bad = _row(rec, d)
    problems = bad + problems
    sources = {}
    for tag, pair in (rec.get("sources") or {}).items():
        if isinstance(pair, list) and len(pair) == 2:
            try:
                sources[tag] = Provenance(str(pair[0]), dt.date.fromisoformat(pair[1]) if pair[1] else None)
            except (TypeError, ValueError):
                problems.append(f"记录中 {tag} 的来源日期不能读取")
    e = (explainer or Explainer(d)).explain(policy, row, as_of, sources)
    formula = _fen(rec.get("formula_fen", rec.get("amount_fen")))
    granted = _fen(rec.get("granted_fen", rec.get("amount_fen")))
    if e.status is not Status.ELIGIBLE:
        problems.append(f"按记录的数据重算，结果为「{e.status.zh}」，不是「符合」")
    elif formula is not None and e.decision.amount_fen != formula:
        problems.append(f"按记录的数据重算，金额为 {yuan_text(e.decision.amount_fen)}，记录为 {yuan_text(formula)}")
    if formula is None or granted is None:
        problems.append("记录缺少公式金额或实发金额")
    elif granted > formula:
        problems.append(f"实发金额 {yuan_text(granted)} 高于公式金额 {yuan_text(formula)}")
    if granted is not None and granted != amount_fen:
        problems.append(f"兑现金额 {yuan_text(amount_fen)} 与记录的实发金额 {yuan_text(granted)} 不一致")
    met = rec.get("conditions_met")
    if isinstance(met, list) and met != [c.id for c in policy.conditions]:
        problems.append("记录的条件与该版本政策的条件不一致")
    if rec.get("title") not in (None, policy.title):
        problems.append("记录的政策名称与该版本政策不一致")
    grant = Grant(formula if formula is not None else 0, granted if granted is not None else 0,
                  str(rec.get("allocation") or ""), origin_zh(rec, d), tuple(problems))
    return Explanation(e.policy, e.decision, e.as_of, e.conditions, e.amount_steps, e.reason, grant)

