"""Everything `audit verify` checks, in one report:

1. the hash chain (audit.verify): edits, deletions, insertions, reordering inside the log;
2. the signed checkpoints outside the database (anchor.py): a rewritten tail, a truncated or
   recomputed chain;
3. the ledger against the log: every payout was created by an audited batch or event with the
   amount, key and account it has now, and is in the state its last audited transition left
   it in; every payment file still has the bytes whose hash was audited when it was issued.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from json.encoder import encode_basestring as _json_str
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import anchor, audit, lifecycle, mode
from .models import AuditEntry, Clawback, Invitation, PaymentFile, PaymentLine, Payout, PayoutEvent


def payout_line(policy_id: str, version: int, credit_code: str, period: str, amount_fen: int, account: str | None,
                name: str | None) -> str:
    """One payout (or invitation) as a batch's digest covers it: who is paid, how much, where.
    The text json.dumps([...], ensure_ascii=False) writes, put together without it (2.5 s of a
    batch of 10^6 payouts)."""
    return (f"[{_json_str(policy_id)}, {int(version)}, {_json_str(credit_code)}, {_json_str(period)}, "
            f"{int(amount_fen)}, {_json_str(account or '')}, {_json_str(name or '')}]")


def payouts_digest(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def account_digest(account: str | None) -> str:
    return hashlib.sha256((account or "").encode()).hexdigest()[:16]


def created_record(p: Payout, trigger: str) -> dict[str, Any]:
    """What the audit entry of a payout made one at a time (an event, a confirmation, an accepted
    application) records, so that verify can compare every column that decides the payment."""
    return {"policy": f"{p.policy_id}@{p.policy_version}", "credit_code": p.credit_code, "period": p.period,
            "amount_fen": p.amount_fen, "account": account_digest(p.bank_account),
            "name_digest": account_digest(p.enterprise_name), "trigger": trigger}


def payment_line(payout: int, amount_fen: int, account: str) -> str:
    return f"{payout}|{amount_fen}|{account}"


@dataclass
class Report:
    entries: int = 0
    head: tuple[int, str] = (0, audit.GENESIS)
    chain: list[audit.Break] = field(default_factory=list)
    anchors: list[str] = field(default_factory=list)
    ledger: list[str] = field(default_factory=list)
    checkpoints: int = 0
    mode: str = "production"
    notes: list[str] = field(default_factory=list)  # not problems: what a reader should know (a test ledger)

    @property
    def problems(self) -> list[str]:
        return [str(b) for b in self.chain] + self.anchors + self.ledger

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_ledger(s: Session) -> Report:
    r = Report()
    r.entries, r.chain = audit.verify(s)
    r.head = audit.head(s)
    entries = {e.seq: e for e in s.scalars(select(AuditEntry).order_by(AuditEntry.seq))}
    r.anchors, r.checkpoints = _against_checkpoints(ledger_name(s), entries)
    r.mode = mode.mode(s)
    r.ledger = _mode_and_clock(r, list(entries.values())) + _replay(s, list(entries.values()))
    return r


def _mode_and_clock(r: Report, entries: list[AuditEntry]) -> list[str]:
    """The stored mode must be the audited one; on a production ledger no transition may have
    been made under a simulated clock, and on a test or demo ledger every such one is listed."""
    problems: list[str] = []
    audited = None
    overridden: list[str] = []
    for e in entries:
        if e.action == "ledger_mode":
            audited = _details(e).get("mode")
        elif '"clock_override"' in e.details:
            day = _details(e).get("clock_override")
            if day:
                overridden.append(f"第 {e.seq} 条（{e.action}，模拟日期 {day}）")
    if audited is None:
        problems.append("审计日志中没有账本用途（生产/测试/演示）的记录")
    elif audited != r.mode:
        problems.append(f"账本用途被改动：审计日志记录为「{mode.MODES.get(audited, audited)}」，"
                        f"数据库中为「{mode.MODES.get(r.mode, r.mode)}」")
    if overridden and audited == "production":
        problems += [f"{o}：生产账本上的操作使用了模拟时钟" for o in overridden]
    elif overridden:
        r.notes.append(f"{mode.MODES.get(r.mode, r.mode)}账本：{len(overridden)} 次操作使用了模拟时钟"
                       f"（{'、'.join(overridden[:5])}{' 等' if len(overridden) > 5 else ''}）")
    return problems


def _details(e: AuditEntry) -> dict[str, Any]:
    try:
        d = json.loads(e.details)
    except ValueError:
        return {}
    return d if isinstance(d, dict) else {}


def ledger_name(s: Session) -> str:
    return s.get_bind().engine.url.render_as_string(hide_password=True)


def _against_checkpoints(ledger: str, entries: dict[int, AuditEntry]) -> tuple[list[str], int]:
    checkpoints, problems = anchor.read(ledger)
    if any(e.action != "ledger_mode" for e in entries.values()) and not checkpoints:
        problems.append(f"审计日志有 {len(entries)} 条记录，但没有找到签名锚点（{anchor.checkpoints_path(ledger)}）："
                        "无法证明日志没有被整体改写或截断")
    for c in checkpoints:
        e = entries.get(c.seq)
        if e is None:
            problems.append(f"签名锚点（{c.at}）记录第 {c.seq} 条，但审计日志中已没有这一条（日志尾部被截断或删除）")
        elif e.hash != c.hash:
            problems.append(f"签名锚点（{c.at}）记录的第 {c.seq} 条哈希与日志不符（日志被改写或整条链被重算）")
    return problems, len(checkpoints)


COVERED = ("policy_id", "policy_version", "credit_code", "period", "amount_fen", "bank_account", "enterprise_name",
           "status", "notice_start", "notice_end", "payment_file", "bank_reference")


@dataclass
class _Log:
    """What the audit log says the tables must be, replayed entry by entry."""

    status: dict[int, str] = field(default_factory=dict)
    transitions: dict[int, int] = field(default_factory=dict)  # payout -> audited events (creation included)
    created: dict[int, dict[str, Any]] = field(default_factory=dict)
    batch: dict[int, dict[str, Any]] = field(default_factory=dict)
    files: dict[int, tuple[int, str, str]] = field(default_factory=dict)  # id -> (seq, sha256, lines digest)
    paid: dict[int, str] = field(default_factory=dict)  # payout -> bank reference
    answers: dict[tuple[str, int], tuple[str, str | None]] = field(default_factory=dict)  # (file, payout) -> answer
    retried: dict[int, int] = field(default_factory=dict)  # payout -> seq of its last retry
    clawback: dict[int, int] = field(default_factory=dict)

    def moved(self, pid: int, to: str) -> None:
        self.status[pid] = to
        self.transitions[pid] = self.transitions.get(pid, 1) + 1


def _read_log(entries: list[AuditEntry]) -> _Log:
    log = _Log()
    for e in entries:
        try:
            d = json.loads(e.details)
        except ValueError:
            continue  # the chain check already names an unreadable entry
        if not isinstance(d, dict):
            continue
        if e.action == "batch_run" and e.subject.startswith("batch "):
            log.batch[int(e.subject.split()[1])] = d
        elif e.action == "event_candidate" and e.subject.startswith("MS"):
            pid = int(e.subject[2:])
            log.created[pid] = d
            log.status[pid] = "candidate"
            log.transitions[pid] = 1
        elif e.action.endswith("_many") and isinstance(d.get("ids"), list):
            for pid in d["ids"]:
                log.moved(int(pid), d["to"])
        elif e.subject.startswith("MS") and "to" in d:
            pid = int(e.subject[2:])
            log.moved(pid, d["to"])
            if e.action == "mark_paid":
                log.paid[pid] = d.get("bank_reference", "")
            if e.action in ("mark_paid", "mark_failed") and d.get("payment_file"):
                log.answers[(d["payment_file"], pid)] = (d["to"], d.get("bank_reference"))
            if e.action == "retry":
                log.retried[pid] = e.seq
            if e.action == "revoke":
                log.clawback[pid] = int(d.get("clawback_fen", 0))
        elif e.action == "export_payment_file" and "file_id" in d:
            log.files[int(d["file_id"])] = (e.seq, d.get("sha256", ""), d.get("lines_digest", ""))
    return log


def _replay(s: Session, entries: list[AuditEntry]) -> list[str]:
    """Every column of payouts, payment_lines, payout_events and clawbacks that decides who is
    paid, how much, where or when, against what the log says (docs/LEDGER.md lists them)."""
    log = _read_log(entries)
    problems: list[str] = []
    # payment files and their lines: the export entry holds the bytes' hash and a digest of the lines
    lines: dict[int, list[PaymentLine]] = {}
    for line in s.scalars(select(PaymentLine).order_by(PaymentLine.id)):
        lines.setdefault(line.file_id, []).append(line)
    expected_file: dict[int, tuple[int, str]] = {}  # payout -> (seq of the export, file reference)
    for f in s.scalars(select(PaymentFile).order_by(PaymentFile.id)):
        digest = hashlib.sha256(f.content).hexdigest()
        mine = lines.get(f.id, [])
        if f.id not in log.files:
            problems.append(f"支付文件 {f.reference} 在审计日志中没有导出记录")
            continue
        seq, sha, lines_digest = log.files[f.id]
        if not digest == f.sha256 == sha:
            problems.append(f"支付文件 {f.reference} 的内容或哈希与审计日志中导出时的记录不符")
        if payouts_digest([payment_line(x.payout_id, x.amount_fen, x.account) for x in mine]) != lines_digest:
            problems.append(f"支付文件 {f.reference} 的支付明细（兑现记录、金额或收款账号，payment_lines）与审计日志中导出时的记录不符")
        for x in mine:
            expected_file[x.payout_id] = (seq, f.reference)
            answer = log.answers.get((f.reference, x.payout_id), ("open", None))
            want = ("paid" if answer[0] == "paid" else "failed" if answer[0] == "failed" else "open", answer[1])
            if (x.status, x.bank_reference) != want:
                problems.append(f"支付文件 {f.reference} 中 MS{x.payout_id:010d} 的回单状态或银行流水号（{x.status}，"
                                f"{x.bank_reference or '无'}）与审计日志（{want[0]}，{want[1] or '无'}）不符")
    by_batch: dict[int, list[str]] = {}
    notices = lifecycle.notices_in(entries)  # the entries verify_ledger read already
    events = dict(s.execute(select(PayoutEvent.payout_id, func.count()).group_by(PayoutEvent.payout_id)).all())
    clawbacks = dict(s.execute(select(Clawback.payout_id, func.sum(Clawback.amount_fen)).group_by(Clawback.payout_id)).all())
    wrong_events: list[str] = []
    for p in s.scalars(select(Payout).order_by(Payout.id)):
        digest_line = payout_line(p.policy_id, p.policy_version, p.credit_code, p.period, p.amount_fen, p.bank_account,
                                  p.enterprise_name)
        if p.batch_id is not None:
            by_batch.setdefault(p.batch_id, []).append(digest_line)
            log.status.setdefault(p.id, "candidate")
            log.transitions.setdefault(p.id, 1)
        elif p.id in log.created:
            c = log.created[p.id]
            now = created_record(p, c.get("trigger", ""))
            wrong = [k for k in ("policy", "credit_code", "period", "amount_fen", "account", "name_digest") if c.get(k) != now[k]]
            if wrong:
                problems.append(f"兑现记录 {p.reference} 的{'、'.join(FIELD_ZH[k] for k in wrong)}与审计日志中生成时的记录不符")
        else:
            problems.append(f"兑现记录 {p.reference} 在审计日志中没有生成记录（直接写入数据库）")
            continue
        if log.status.get(p.id) != p.status:
            problems.append(f"兑现记录 {p.reference} 状态为「{p.status}」，审计日志中最后一次变更后应为「{log.status.get(p.id)}」")
        if (p.notice_start, p.notice_end) != notices.get(p.id, (None, None)):
            recorded = "至 {1}".format(*notices[p.id]) if p.id in notices else "无"
            problems.append(f"兑现记录 {p.reference} 的公示期（{p.notice_start} 至 {p.notice_end}）与审计日志中公示时的记录"
                            f"（{recorded}）不符")
        exported = expected_file.get(p.id)
        want_file = exported[1] if exported and exported[0] > log.retried.get(p.id, 0) else None
        if p.payment_file != want_file:
            problems.append(f"兑现记录 {p.reference} 的支付文件（{p.payment_file or '无'}）与审计日志（{want_file or '无'}）不符")
        if (p.bank_reference or None) != (log.paid.get(p.id) or None):
            problems.append(f"兑现记录 {p.reference} 的银行流水号（{p.bank_reference or '无'}）与审计日志中支付成功时的记录"
                            f"（{log.paid.get(p.id) or '无'}）不符")
        if int(clawbacks.get(p.id) or 0) != log.clawback.get(p.id, 0):
            problems.append(f"兑现记录 {p.reference} 的追回金额与审计日志中追回时的记录不符")
        if events.get(p.id, 0) != log.transitions.get(p.id, 0):
            wrong_events.append(f"{p.reference}（{events.get(p.id, 0)} 条，应为 {log.transitions.get(p.id, 0)} 条）")
    if wrong_events:
        problems.append(f"{len(wrong_events)} 笔兑现记录的状态变更记录（payout_events）与审计日志不符（被删除、插入或改动）："
                        + "、".join(wrong_events[:10]) + (" 等" if len(wrong_events) > 10 else ""))
    for bid, batch_lines in sorted(by_batch.items()):
        if bid not in log.batch:
            problems.append(f"批次 {bid} 在审计日志中没有记录")
        elif payouts_digest(batch_lines) != log.batch[bid].get("payouts_digest"):
            problems.append(f"批次 {bid} 的兑现记录（政策、企业、期间、金额、账号、收款单位或笔数）与审计日志中该批次的摘要不符")
    invited: dict[int, list[str]] = {}
    for i in s.scalars(select(Invitation).where(Invitation.batch_id.is_not(None)).order_by(Invitation.id)):
        invited.setdefault(i.batch_id or 0, []).append(payout_line(i.policy_id, i.policy_version, i.credit_code, i.period,
                                                                   i.amount_fen, i.bank_account, i.enterprise_name))
    for bid, d in sorted(log.batch.items()):
        if "invitations_digest" in d and payouts_digest(invited.get(bid, [])) != d["invitations_digest"]:
            problems.append(f"批次 {bid} 的即申即享邀约（政策、企业、期间、金额、账号、收款单位或笔数）与审计日志中该批次的摘要不符")
    return problems


FIELD_ZH = {"policy": "政策或版本", "credit_code": "企业", "period": "期间", "amount_fen": "金额", "account": "账号",
            "name_digest": "收款单位名称"}
