"""The life of a payout, as a state machine. Every transition names an actor and a reason,
is recorded as an event and in the audit log, and an illegal one raises TransitionError.

    candidate ──publish──▶ publicized ──approve──▶ approved ──mark_paid──▶ paid ──revoke──▶ revoked
        │                     │  (after the notice        │  ▲                         (clawback
        └──withdraw──▶ withdrawn ◀─withdraw (objection)   mark_failed  retry              recorded)
                                                          ▼  │
                                                          failed
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from ..errors import EngineError
from ..values import fmt_yuan
from . import audit
from .models import Clawback, OutboxMessage, Payout, PayoutEvent
from .workdays import add_working_days

TRANSITIONS: dict[tuple[str, str], str] = {
    ("candidate", "publicized"): "publish",
    ("candidate", "withdrawn"): "withdraw",
    ("publicized", "withdrawn"): "withdraw",
    ("publicized", "approved"): "approve",
    ("approved", "paid"): "mark_paid",
    ("approved", "failed"): "mark_failed",
    ("failed", "approved"): "retry",
    ("paid", "revoked"): "revoke",
}
ACTIVE = ("candidate", "publicized", "approved", "paid", "failed")  # hold budget and block exclusivity
NOTICE_WORKING_DAYS = 5


class TransitionError(EngineError):
    """A payout cannot move from its state to the requested one."""


def _move(session: Session, p: Payout, to: str, actor: str, reason: str, now: dt.datetime,
          details: dict[str, Any] | None = None) -> None:
    if not actor.strip():
        raise TransitionError("every transition needs a named actor")
    if not reason.strip():
        raise TransitionError("every transition needs a reason")
    if (p.status, to) not in TRANSITIONS:
        allowed = sorted(t for (f, t) in TRANSITIONS if f == p.status) or ["nothing"]
        raise TransitionError(f"payout {p.reference} is {p.status}; it can move to {', '.join(allowed)}, not {to}")
    session.add(PayoutEvent(payout_id=p.id, from_status=p.status, to_status=to, actor=actor, reason=reason, at=now))
    audit.append(session, actor, TRANSITIONS[(p.status, to)], p.reference,
                 {"from": p.status, "to": to, "reason": reason, **(details or {})}, at=now)
    p.status = to
    p.updated_at = now


def publish(session: Session, p: Payout, actor: str, start: dt.date, reason: str = "列入公示名单",
            now: dt.datetime | None = None) -> None:
    """Put on the public notice list for NOTICE_WORKING_DAYS working days from `start`."""
    now = now or dt.datetime.now()
    p.notice_start = start
    p.notice_end = add_working_days(start, NOTICE_WORKING_DAYS - 1)
    _move(session, p, "publicized", actor, reason, now, {"notice": [str(p.notice_start), str(p.notice_end)]})


def withdraw(session: Session, p: Payout, actor: str, reason: str, now: dt.datetime | None = None) -> None:
    """Withdraw before approval: an objection upheld, or no longer eligible."""
    _move(session, p, "withdrawn", actor, reason, now or dt.datetime.now())


def approve(session: Session, p: Payout, actor: str, today: dt.date, reason: str = "公示期满无异议，审批通过",
            now: dt.datetime | None = None) -> None:
    if p.status == "publicized" and p.notice_end is not None and today <= p.notice_end:
        raise TransitionError(f"payout {p.reference} is on notice until {p.notice_end}; approve after that")
    _move(session, p, "approved", actor, reason, now or dt.datetime.now())
    enqueue_approval_notice(session, p, now or dt.datetime.now())


def mark_paid(session: Session, p: Payout, actor: str, bank_reference: str, reason: str = "银行回单：支付成功",
              now: dt.datetime | None = None) -> None:
    if not bank_reference.strip():
        raise TransitionError("a paid payout needs the bank's reference")
    _move(session, p, "paid", actor, reason, now or dt.datetime.now(), {"bank_reference": bank_reference})
    p.bank_reference = bank_reference


def mark_failed(session: Session, p: Payout, actor: str, reason: str, now: dt.datetime | None = None) -> None:
    _move(session, p, "failed", actor, reason, now or dt.datetime.now())


def retry(session: Session, p: Payout, actor: str, reason: str = "重新发起支付", now: dt.datetime | None = None) -> None:
    _move(session, p, "approved", actor, reason, now or dt.datetime.now())
    p.payment_file = None  # free it for the next payment file


def revoke(session: Session, p: Payout, actor: str, reason: str, clawback_fen: int | None = None,
           now: dt.datetime | None = None) -> Clawback:
    now = now or dt.datetime.now()
    amount = p.amount_fen if clawback_fen is None else clawback_fen
    if not 0 < amount <= p.amount_fen:
        raise TransitionError(f"a clawback is between 0.01 and {p.amount_fen / 100:.2f} yuan")
    _move(session, p, "revoked", actor, reason, now, {"clawback_fen": amount})
    c = Clawback(payout_id=p.id, amount_fen=amount, reason=reason, actor=actor, at=now)
    session.add(c)
    return c


def enqueue_approval_notice(session: Session, p: Payout, now: dt.datetime) -> None:
    """The transactional outbox: the notice is queued in the approval's own transaction."""
    exp = p.explanation or {}
    title = exp.get("title", p.policy_id)
    dept = exp.get("department", "主管部门")
    contact = exp.get("contact") or "政务服务热线12345"
    amount = fmt_yuan(p.amount_fen)
    text = (f"【免申即享】{p.enterprise_name or p.credit_code}：贵单位符合《{title}》兑现条件，"
            f"经公示无异议并审批通过，拟兑现 {amount} 元，资金将直接拨付至贵单位备案的对公账户。"
            f"如对兑现结果有异议，请于收到本通知之日起 5 个工作日内向{dept}提出（联系方式：{contact}）。")
    key = f"approved:{p.policy_id}:{p.credit_code}:{p.period}"
    session.add(OutboxMessage(payout_id=p.id, kind="approved", dedupe_key=key, status="pending", attempts=0,
                              next_attempt_at=now, payload={"dedupe_key": key, "credit_code": p.credit_code,
                                                            "reference": p.reference, "amount_fen": p.amount_fen,
                                                            "policy_id": p.policy_id, "text": text}))
