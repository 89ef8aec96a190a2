"""Milestones decided, paid and recovered (合同履约), in the caller's transaction: the service's
`contracts.check` (batches, the command line, the pages) and the event worker both come here, so
a delivery decides a milestone the same way whichever path carries it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import grant, ir
from ..data.tags import TagDictionary
from ..data.values import yuan_text
from ..errors import Conflict
from ..explain import Explainer, Explanation, Provenance
from ..ir import Status
from ..library import contracts as lang
from . import audit
from .allocation import Candidate, allocate
from .batch import load_existing, supersede
from .models import Contract as ContractRow
from .models import MilestoneCheck, Payout, PayoutEvent, RecoveryClaim

STATE_ZH = {"met": "已达成", "pending": "履约中", "missed": "未达成", "undetermined": "待补充数据"}



def loaded(row: ContractRow, d: TagDictionary) -> lang.Contract:
    """The registered text read back (its hash checked: a text edited in the database is refused)."""
    if lang.digest(row.text) != row.sha256:
        raise Conflict(f"合同 {row.number} 第 {row.version} 版的文本与登记时的哈希不符（数据库被改动），请核查")
    return lang.load_contract_text(row.text, d, f"{row.number}-v{row.version}.yaml")


def signed_codes(s: Session) -> set[str]:
    """Enterprises with a contract in force."""
    return set(s.scalars(select(ContractRow.credit_code).where(ContractRow.status == "signed")))


def check_enterprise(s: Session, code: str, prof: dict[str, object], prov: dict[str, Provenance], d: TagDictionary,
                     actor: str, today: dt.date, now: dt.datetime, explainer: Explainer | None = None,
                     policies: Sequence[ir.Policy] = ()) -> list[MilestoneState]:
    """Every milestone of `code`'s contracts in force, decided on `prof` and recorded. `policies`:
    the library in force, for 就高不重复 where a contract names a group (a policy's unpublished
    candidate of the group then competes with the stage payment, as in a batch)."""
    out: list[MilestoneState] = []
    ex = explainer or Explainer(d)
    rows = s.scalars(select(ContractRow).where(ContractRow.status == "signed", ContractRow.credit_code == code)
                     .order_by(ContractRow.number).with_for_update())
    for row in list(rows):
        c = loaded(row, d)
        for m, e, state in evaluate(c, prof, prov, d, today, ex):
            out.append(_record(s, c, m, e, state, prof, prov, actor, now, policies))
    return out


@dataclass(frozen=True)
class MilestoneState:
    number: str
    version: int
    credit_code: str
    milestone: str
    name: str
    due: dt.date
    deadline: dt.date
    state: str
    explanation: dict[str, Any]
    amount_fen: int
    payout: str | None = None
    claim_fen: int = 0
    unpaid: str = ""  # why a met milestone has no payout (就高不重复, the total used up)

    @property
    def state_zh(self) -> str:
        return STATE_ZH[self.state]


def decide(m: lang.Milestone, e: Explanation, today: dt.date) -> str:
    """The one decision rule (batch, event worker, the pages): met when the data proves it;
    missed only once the due date and the grace period have passed on a proven no; unknown stays
    undetermined whatever the date (the missing data is listed, never taken as a no)."""
    if e.status is Status.ELIGIBLE:
        return "met"
    if e.status is Status.UNDETERMINED:
        return "undetermined"
    return "missed" if today > m.deadline else "pending"


def evaluate(c: lang.Contract, row: dict[str, object], prov: dict[str, Provenance], d: TagDictionary,
             today: dt.date, explainer: Explainer | None = None) -> list[tuple[lang.Milestone, Explanation, str]]:
    ex = explainer or Explainer(d)
    out = []
    for m in c.milestones:
        e = ex.explain(lang.milestone_policy(c, m), row, m.due, prov)
        out.append((m, e, decide(m, e, today)))
    return out


def _paid_under(s: Session, number: str) -> int:
    """What the contract's milestones have paid (bank-confirmed): the base a recovery share is
    taken of. Approved or pending payments are not money the enterprise holds."""
    return int(s.scalar(select(func.coalesce(func.sum(Payout.amount_fen), 0))
                        .where(Payout.policy_id.like(f"{number}#%"), Payout.source == "contract",
                               Payout.status.in_(("paid",)))) or 0)


def _record(s: Session, c: lang.Contract, m: lang.Milestone, e: Explanation, state: str, prof: dict[str, object],
            prov: dict[str, Provenance], actor: str, now: dt.datetime,
            policies: Sequence[ir.Policy] = ()) -> MilestoneState:
    detail = e.to_dict()
    amount = e.decision.amount_fen if state == "met" else 0
    check_row = s.get(MilestoneCheck, (c.number, m.id), with_for_update=True)
    before = check_row.state if check_row is not None else None
    if check_row is None:
        check_row = MilestoneCheck(number=c.number, milestone=m.id, version=c.version, state=state, detail=detail,
                                   checked_at=now, payout_id=None)
        s.add(check_row)
    elif before in ("met", "missed"):  # decided: a later delivery does not undo a payment or a claim
        state, detail = before, check_row.detail
    else:
        check_row.state, check_row.version, check_row.detail, check_row.checked_at = state, c.version, detail, now
    payout_ref, claim_fen = None, 0
    if state == "met" and check_row.payout_id is None and before != "met":
        p, unpaid = _pay(s, c, m, e, prof, prov, actor, now, policies)
        if p is not None:
            check_row.payout_id = p.id
            payout_ref = p.reference
        else:
            check_row.detail = detail = {**detail, "unpaid": unpaid}
    if state == "missed" and m.recovery is not None and s.scalar(
            select(RecoveryClaim.id).where(RecoveryClaim.number == c.number, RecoveryClaim.milestone == m.id)) is None:
        claim_fen = _claim(s, c, m, actor, now)  # once something was paid: a claim is never of more than that
    if state != before:
        audit.append(s, actor, "milestone_checked", f"{c.number}#{m.id}",
                     {"version": c.version, "from": before, "to": state, "missing": list(e.decision.missing),
                      "amount_fen": amount, "payout": payout_ref, "why": detail.get("unpaid", "")}, at=now)
    s.flush()
    return MilestoneState(c.number, c.version, c.credit_code, m.id, m.name, m.due, m.deadline, state, detail, amount,
                          payout_ref or (f"MS{check_row.payout_id:010d}" if check_row.payout_id else None), claim_fen,
                          str(detail.get("unpaid", "")))


def _pay(s: Session, c: lang.Contract, m: lang.Milestone, e: Explanation, prof: dict[str, object],
         prov: dict[str, Provenance], actor: str, now: dt.datetime,
         policies: Sequence[ir.Policy] = ()) -> tuple[Payout | None, str]:
    """The stage payment's candidate, or None and why not: paid once (under any version), never
    beyond the contract's total, and 就高不重复 where the contract names a group."""
    policy = lang.milestone_policy(c, m)
    formula = e.decision.amount_fen
    pid = policy.id
    paid_so_far = int(s.scalar(select(func.coalesce(func.sum(Payout.amount_fen), 0)).where(
        Payout.policy_id.like(f"{c.number}#%"), Payout.source == "contract",
        Payout.status.not_in(("revoked", "withdrawn")))) or 0)
    granted = max(0, min(formula, c.total_fen - paid_so_far))
    if granted <= 0:
        return None, f"合同支持资金总额 {yuan_text(c.total_fen)} 已全部安排"
    # the allocation a batch makes: the key (milestone, enterprise, once) exists in any state, or a
    # group award of the due year is higher (a policy's unpublished lower candidate is withdrawn)
    cand = Candidate(policy, c.credit_code, granted)
    outcome = allocate([cand], load_existing(s, [*policies, policy], [c.credit_code]), m.due)
    if not outcome.granted:
        return None, outcome.skipped[0][1]
    supersede(s, outcome, actor, now)
    note = "" if granted == formula else f"按合同支持资金总额封顶：公式金额 {yuan_text(formula)}，实发 {yuan_text(granted)}"
    rec = grant.record(policy, m.due, grant.inputs_of(policy, prof, m.due), formula, granted, note,
                       {"kind": "contract", "reference": f"{c.number}@{c.version}", "milestone": m.id},
                       {t: prov[t] for t in grant.inputs_of(policy, prof, m.due) if t in prov})

    def text(v: object) -> str | None:
        return None if v is None else str(v)

    p = Payout(policy_id=pid, policy_version=c.version, credit_code=c.credit_code, period="once",
               benefit_year=m.due.year, exclusive_group=c.exclusive.group if c.exclusive else None, amount_fen=granted, status="candidate", batch_id=None,
               source="contract", enterprise_name=text(prof.get("name")) or c.enterprise_name,
               region=text(prof.get("region")), bank_account=text(prof.get("bank_account")), explanation=rec,
               created_at=now, updated_at=now)
    s.add(p)
    s.flush()
    s.add(PayoutEvent(payout_id=p.id, from_status=None, to_status="candidate", actor=actor,
                      reason=f"合同 {c.number} 履约节点「{m.name}」达成", at=now))
    from ..ledger.verify import created_record

    audit.append(s, actor, "event_candidate", p.reference, created_record(p, "contract"), at=now)
    return p, ""


def recovery_fen(r: lang.Recovery, paid: int, claimed: int) -> int:
    """The claim: a share of what was paid (half-up to the fen) or a fixed sum, never more than
    what was paid and is not yet claimed."""
    want = int((Decimal(paid) * r.share).quantize(Decimal(1), ROUND_HALF_UP)) if r.share is not None else r.fixed_fen or 0
    return max(0, min(want, paid - claimed))


def _claim(s: Session, c: lang.Contract, m: lang.Milestone, actor: str, now: dt.datetime) -> int:
    assert m.recovery is not None
    paid = _paid_under(s, c.number)
    claimed = int(s.scalar(select(func.coalesce(func.sum(RecoveryClaim.amount_fen), 0))
                           .where(RecoveryClaim.number == c.number)) or 0)
    fen = recovery_fen(m.recovery, paid, claimed)
    if fen <= 0:
        return 0
    reason = f"履约节点「{m.name}」截至 {m.deadline}（含宽限期）未达成：{m.recovery.zh()}"
    s.add(RecoveryClaim(number=c.number, milestone=m.id, credit_code=c.credit_code, amount_fen=fen, settled_fen=0,
                        status="open", reason=reason, created_at=now, settlements=[], write_off_by=None,
                        write_off_reason=None))
    try:
        s.flush()
    except IntegrityError:
        raise Conflict(f"合同 {c.number} 节点 {m.id} 已有追回记录") from None
    audit.append(s, actor, "recovery_claimed", f"{c.number}#{m.id}",
                 {"credit_code": c.credit_code, "amount_fen": fen, "paid_fen": paid, "claimed_before_fen": claimed},
                 at=now)
    return fen


