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
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, literal, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ..data.values import fmt_yuan
from ..errors import Conflict, EngineError
from . import audit
from .models import AuditEntry, Clawback, OutboxMessage, Payout, PayoutEvent, payout_id
from .workdays import add_working_days, first_working_day

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
STATUS_ZH = {"candidate": "待公示", "publicized": "公示中", "approved": "已审批", "paid": "已支付",
             "failed": "支付失败", "withdrawn": "已撤回", "revoked": "已追回"}
CHUNK = 2000  # ids per IN list: well under SQLite's 32,766 bound parameters


class TransitionError(EngineError):
    """A payout cannot move from its state to the requested one."""

    code = "illegal_transition"


class ConcurrentChange(Conflict, TransitionError):
    """Another operator moved the payout first; this transition was not made."""


def _zh(status: str | None) -> str:
    return STATUS_ZH.get(status or "", status or "无")


def _check(p: Payout, to: str, actor: str, reason: str) -> None:
    if not actor.strip():
        raise TransitionError("每一步状态变更都必须记录操作人")
    if not reason.strip():
        raise TransitionError("每一步状态变更都必须说明理由")
    if (p.status, to) not in TRANSITIONS:
        allowed = "、".join(_zh(t) for (f, t) in sorted(TRANSITIONS) if f == p.status) or "任何状态"
        raise TransitionError(f"兑现记录 {p.reference} 当前为「{_zh(p.status)}」，只能转为{allowed}，不能转为「{_zh(to)}」")


def _move(session: Session, p: Payout, to: str, actor: str, reason: str, now: dt.datetime,
          details: dict[str, Any] | None = None, **values: Any) -> None:
    """Compare-and-set: the row moves only if it is still in the state this session read. A
    second operator who read the same state loses with ConcurrentChange, on every database."""
    _check(p, to, actor, reason)
    frm = p.status
    res = session.execute(update(Payout).where(Payout.id == p.id, Payout.status == frm)
                          .values(status=to, updated_at=now, **values)
                          .execution_options(synchronize_session=False))
    if res.rowcount != 1:  # type: ignore[attr-defined]
        raise ConcurrentChange(f"兑现记录 {p.reference} 已被他人同时处理（不再是「{_zh(frm)}」），本次操作未执行，请刷新后重试")
    for k, v in {"status": to, "updated_at": now, **values}.items():
        set_committed_value(p, k, v)
    session.add(PayoutEvent(payout_id=p.id, from_status=frm, to_status=to, actor=actor, reason=reason, at=now))
    audit.append(session, actor, TRANSITIONS[(frm, to)], p.reference,
                 {"from": frm, "to": to, "reason": reason, **(details or {})}, at=now)


def chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for i in range(0, len(ids), CHUNK):
        yield ids[i:i + CHUNK]


def move_many(session: Session, ids: Sequence[int], frm: str, to: str, actor: str, reason: str, now: dt.datetime,
              details: dict[str, Any] | None = None, **values: Any) -> int:
    """One transition for many payouts, as set-based statements: compare-and-set UPDATEs, one
    INSERT ... SELECT of their events and one audit entry listing them. All or nothing: if
    another operator moved any of them first, ConcurrentChange and the caller's transaction
    rolls back."""
    if (frm, to) not in TRANSITIONS:
        raise TransitionError(f"「{_zh(frm)}」不能转为「{_zh(to)}」")
    if not actor.strip() or not reason.strip():
        raise TransitionError("每一步状态变更都必须记录操作人和理由")
    ids = sorted(ids)
    moved = 0
    for part in chunks(ids):
        res = session.execute(update(Payout).where(Payout.id.in_(part), Payout.status == frm)
                              .values(status=to, updated_at=now, **values)
                              .execution_options(synchronize_session=False))
        moved += res.rowcount  # type: ignore[attr-defined]
        session.execute(insert(PayoutEvent).from_select(
            ["payout_id", "from_status", "to_status", "actor", "reason", "at"],
            select(Payout.id, literal(frm), literal(to), literal(actor), literal(reason), literal(now))
            .where(Payout.id.in_(part))))
    if moved != len(ids):
        raise ConcurrentChange(f"{len(ids) - moved} 笔兑现记录已被他人同时处理，本次批量操作未执行，请刷新后重试")
    if ids:
        audit.append(session, actor, TRANSITIONS[(frm, to)] + "_many", f"{len(ids)} payouts",
                     {"from": frm, "to": to, "reason": reason, "ids": list(ids), **(details or {})}, at=now)
    return moved


def notice_period(start: dt.date) -> tuple[dt.date, dt.date]:
    # the first working day on or after `start` is the notice's first day
    return start, add_working_days(first_working_day(start), NOTICE_WORKING_DAYS - 1)


def publish(session: Session, p: Payout, actor: str, start: dt.date, reason: str = "列入公示名单",
            now: dt.datetime | None = None, details: dict[str, Any] | None = None) -> None:
    """Put on the public notice list for NOTICE_WORKING_DAYS working days from `start`."""
    first, last = notice_period(start)
    _move(session, p, "publicized", actor, reason, now or dt.datetime.now(),
          {"notice": [str(first), str(last)], **(details or {})}, notice_start=first, notice_end=last)


def publish_many(session: Session, ids: Sequence[int], actor: str, start: dt.date, reason: str = "列入公示名单",
                 now: dt.datetime | None = None, details: dict[str, Any] | None = None) -> int:
    first, last = notice_period(start)
    return move_many(session, ids, "candidate", "publicized", actor, reason, now or dt.datetime.now(),
                     {"notice": [str(first), str(last)], **(details or {})}, notice_start=first, notice_end=last)


def withdraw(session: Session, p: Payout, actor: str, reason: str, now: dt.datetime | None = None,
             details: dict[str, Any] | None = None) -> None:
    """Withdraw before approval: an objection upheld, or no longer eligible."""
    _move(session, p, "withdrawn", actor, reason, now or dt.datetime.now(), details)


PUBLISH = ("publish", "publish_many")


def audited_notices(session: Session, ids: Iterable[int] | None = None) -> dict[int, tuple[dt.date, dt.date]]:
    """Each payout's notice period as its publication's audit entry recorded it: the columns
    notice_start/notice_end are a copy that approval and `audit verify` check against this."""
    entries = session.scalars(select(AuditEntry).where(AuditEntry.action.in_(PUBLISH)).order_by(AuditEntry.seq))
    return notices_in(entries, ids)


def notices_in(entries: Iterable[AuditEntry], ids: Iterable[int] | None = None) -> dict[int, tuple[dt.date, dt.date]]:
    """The notice periods the publication entries among `entries` (in log order) recorded. An
    entry whose own hash does not match vouches for nothing."""
    want = None if ids is None else set(ids)
    out: dict[int, tuple[dt.date, dt.date]] = {}
    for e in entries:
        if e.action not in PUBLISH:
            continue
        if audit.entry_hash(e.seq, e.at, e.actor, e.action, e.subject, e.details, e.prev_hash) != e.hash:
            continue
        try:
            d = json.loads(e.details)
            first, last = (dt.date.fromisoformat(x) for x in d["notice"])
            targets = [int(i) for i in d["ids"]] if e.action == "publish_many" else [payout_id(e.subject)]
        except (ValueError, KeyError, TypeError):
            continue
        for pid in targets:
            if pid is not None and (want is None or pid in want):
                out[pid] = (first, last)
    return out


def _check_notices(session: Session, payouts: Sequence[Due], today: dt.date) -> None:
    """Approval judges the notice period its publication recorded, not the table's copy: a
    notice_end edited in the database approves nothing."""
    audited = audited_notices(session, [p.id for p in payouts])
    forged = [p for p in payouts if p.status == "publicized" and (p.id not in audited or audited[p.id][1] != p.notice_end)]
    if forged:
        p = forged[0]
        recorded = f"公示记录为至 {audited[p.id][1]}" if p.id in audited else "审计日志中没有它的公示记录"
        raise TransitionError(f"{len(forged)} 笔兑现记录的公示期与公示时的审计记录不符（例：{p.reference} 数据库中公示期至 "
                              f"{p.notice_end}，{recorded}），本次未审批任何一笔；请先运行审计核验")
    early = [p for p in payouts if p.status == "publicized" and today <= audited[p.id][1]]
    if early:
        raise TransitionError(f"{len(early)} 笔兑现记录仍在公示期内（例：{early[0].reference} 公示期至 "
                              f"{audited[early[0].id][1]}），公示期满后方可审批")


@dataclass(frozen=True)
class Due:
    """What approval needs of a payout: read as plain columns, so that approving 10^4 payouts
    does not build 10^4 ORM objects or decode 10^4 explanations."""

    id: int
    policy_id: str
    credit_code: str
    period: str
    amount_fen: int
    enterprise_name: str | None
    status: str
    notice_end: dt.date | None
    title: str | None
    department: str | None
    contact: str | None

    @property
    def reference(self) -> str:
        return f"MS{self.id:010d}"

    @classmethod
    def columns(cls) -> tuple[Any, ...]:
        return (Payout.id, Payout.policy_id, Payout.credit_code, Payout.period, Payout.amount_fen,
                Payout.enterprise_name, Payout.status, Payout.notice_end,
                Payout.explanation["title"].as_string(), Payout.explanation["department"].as_string(),
                Payout.explanation["contact"].as_string())

    @classmethod
    def of(cls, p: Payout) -> Due:
        e = p.explanation or {}
        return cls(p.id, p.policy_id, p.credit_code, p.period, p.amount_fen, p.enterprise_name, p.status,
                   p.notice_end, e.get("title"), e.get("department"), e.get("contact"))


def approve(session: Session, p: Payout, actor: str, today: dt.date, reason: str = "公示期满无异议，审批通过",
            now: dt.datetime | None = None, details: dict[str, Any] | None = None) -> None:
    """`today` is the server's date (service.clock), never a user's; the notice period is the
    one its publication recorded (_check_notices)."""
    _check_notices(session, [Due.of(p)], today)
    now = now or dt.datetime.now()
    _move(session, p, "approved", actor, reason, now, details)
    session.add(OutboxMessage(**approval_notice(Due.of(p), now)))


def approve_many(session: Session, payouts: Sequence[Due], actor: str, today: dt.date,
                 reason: str = "公示期满无异议，审批通过", now: dt.datetime | None = None,
                 details: dict[str, Any] | None = None) -> int:
    """Approve many publicized payouts whose notice has ended, with their notifications, set-based."""
    from .db import insert_many

    _check_notices(session, payouts, today)
    now = now or dt.datetime.now()
    n = move_many(session, [p.id for p in payouts], "publicized", "approved", actor, reason, now, details)
    insert_many(session.connection(), OutboxMessage.__table__, [approval_notice(p, now) for p in payouts])  # type: ignore[arg-type]
    return n


def mark_paid(session: Session, p: Payout, actor: str, bank_reference: str, reason: str = "银行回单：支付成功",
              now: dt.datetime | None = None, details: dict[str, Any] | None = None) -> None:
    if not bank_reference.strip():
        raise TransitionError("支付成功的记录必须有银行流水号")
    _move(session, p, "paid", actor, reason, now or dt.datetime.now(),
          {"bank_reference": bank_reference, **(details or {})}, bank_reference=bank_reference)


def mark_failed(session: Session, p: Payout, actor: str, reason: str, now: dt.datetime | None = None,
                details: dict[str, Any] | None = None) -> None:
    _move(session, p, "failed", actor, reason, now or dt.datetime.now(), details)


def retry(session: Session, p: Payout, actor: str, reason: str = "重新发起支付", now: dt.datetime | None = None,
          details: dict[str, Any] | None = None) -> None:
    # payment_file is cleared: the payout may enter the next payment file, and only that one
    _move(session, p, "approved", actor, reason, now or dt.datetime.now(), details, payment_file=None)


def revoke(session: Session, p: Payout, actor: str, reason: str, clawback_fen: int | None = None,
           now: dt.datetime | None = None, details: dict[str, Any] | None = None) -> Clawback:
    now = now or dt.datetime.now()
    amount = p.amount_fen if clawback_fen is None else clawback_fen
    if not 0 < amount <= p.amount_fen:
        raise TransitionError(f"追回金额应在 0.01 元至 {fmt_yuan(p.amount_fen)} 元之间")
    _move(session, p, "revoked", actor, reason, now, {"clawback_fen": amount, **(details or {})})
    c = Clawback(payout_id=p.id, amount_fen=amount, reason=reason, actor=actor, at=now)
    session.add(c)
    return c


def approval_notice(p: Due, now: dt.datetime) -> dict[str, Any]:
    """The transactional outbox row: the notice is queued in the approval's own transaction."""
    title = p.title or p.policy_id
    dept = p.department or "主管部门"
    contact = p.contact or "政务服务热线12345"
    amount = fmt_yuan(p.amount_fen)
    text = (f"【免申即享】{p.enterprise_name or p.credit_code}：贵单位符合《{title}》兑现条件，"
            f"经公示无异议并审批通过，拟兑现 {amount} 元，资金将直接拨付至贵单位备案的对公账户。"
            f"如对兑现结果有异议，请于收到本通知之日起 5 个工作日内向{dept}提出（联系方式：{contact}）。")
    key = f"approved:{p.policy_id}:{p.credit_code}:{p.period}"
    return dict(payout_id=p.id, kind="approved", dedupe_key=key, status="pending", attempts=0, next_attempt_at=now,
                last_error=None, sent_at=None,
                payload={"dedupe_key": key, "credit_code": p.credit_code, "reference": p.reference,
                         "amount_fen": p.amount_fen, "policy_id": p.policy_id, "text": text})
