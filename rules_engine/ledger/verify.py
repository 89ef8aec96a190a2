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
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import anchor, audit, lifecycle, mode
from .models import AuditEntry, PaymentFile, Payout


def payout_line(policy_id: str, credit_code: str, period: str, amount_fen: int, account: str | None) -> str:
    return f"{policy_id}|{credit_code}|{period}|{amount_fen}|{account or ''}"


def payouts_digest(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def account_digest(account: str | None) -> str:
    return hashlib.sha256((account or "").encode()).hexdigest()[:16]


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


def _replay(s: Session, entries: list[AuditEntry]) -> list[str]:
    problems: list[str] = []
    status: dict[int, str] = {}
    created: dict[int, dict[str, Any]] = {}
    batch_digest: dict[int, str] = {}
    files: dict[int, str] = {}
    for e in entries:
        try:
            d = json.loads(e.details)
        except ValueError:
            continue  # the chain check already names an unreadable entry
        if e.action == "batch_run" and e.subject.startswith("batch "):
            batch_digest[int(e.subject.split()[1])] = d.get("payouts_digest", "")
        elif e.action == "event_candidate" and e.subject.startswith("MS"):
            pid = int(e.subject[2:])
            created[pid] = d
            status[pid] = "candidate"
        elif e.action.endswith("_many") and isinstance(d.get("ids"), list):
            for pid in d["ids"]:
                status[int(pid)] = d["to"]
        elif e.subject.startswith("MS") and "to" in d:
            status[int(e.subject[2:])] = d["to"]
        elif e.action == "export_payment_file" and "file_id" in d:
            files[int(d["file_id"])] = d.get("sha256", "")
    by_batch: dict[int, list[str]] = {}
    notices = lifecycle.audited_notices(s)
    for p in s.scalars(select(Payout).order_by(Payout.id)):
        if (p.notice_start, p.notice_end) != notices.get(p.id, (None, None)):
            recorded = "至 {1}".format(*notices[p.id]) if p.id in notices else "无"
            problems.append(f"兑现记录 {p.reference} 的公示期（{p.notice_start} 至 {p.notice_end}）与审计日志中公示时的记录"
                            f"（{recorded}）不符")
        line = payout_line(p.policy_id, p.credit_code, p.period, p.amount_fen, p.bank_account)
        if p.batch_id is not None:
            by_batch.setdefault(p.batch_id, []).append(line)
            status.setdefault(p.id, "candidate")
        elif p.id in created:
            c = created[p.id]
            if (c.get("credit_code"), c.get("period"), c.get("amount_fen"), c.get("account")) != (
                    p.credit_code, p.period, p.amount_fen, account_digest(p.bank_account)):
                problems.append(f"兑现记录 {p.reference} 的企业、期间、金额或账号与审计日志中生成时的记录不符")
        else:
            problems.append(f"兑现记录 {p.reference} 在审计日志中没有生成记录（直接写入数据库）")
            continue
        if status.get(p.id) != p.status:
            problems.append(f"兑现记录 {p.reference} 状态为「{p.status}」，审计日志中最后一次变更后应为「{status.get(p.id)}」")
    for bid, lines in sorted(by_batch.items()):
        if bid not in batch_digest:
            problems.append(f"批次 {bid} 在审计日志中没有记录")
        elif payouts_digest(lines) != batch_digest[bid]:
            problems.append(f"批次 {bid} 的兑现记录（金额、账号、企业或笔数）与审计日志中该批次的摘要不符")
    for f in s.scalars(select(PaymentFile)):
        digest = hashlib.sha256(f.content).hexdigest()
        if f.id not in files:
            problems.append(f"支付文件 {f.reference} 在审计日志中没有导出记录")
        elif not digest == f.sha256 == files[f.id]:
            problems.append(f"支付文件 {f.reference} 的内容或哈希与审计日志中导出时的记录不符")
    return problems
