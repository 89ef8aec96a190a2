"""Ledger operations: batch runs, 公示, approval, withdrawal, retry, revocation, the notice list,
payment files, bank results and audit verification."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer, sessionmaker, with_expression

from .. import grant, ir
from ..data import legacy
from ..data.changes import ChangeSet
from ..data.datasets import Dataset
from ..data.frame import KEY
from ..data.tags import TagDictionary
from ..errors import Invalid, NotFound, PolicyLoadError
from ..explain import Explanation
from ..ledger import anchor, audit, exports, history, lifecycle, payments
from ..ledger import batch as batch_mod
from ..ledger import db as ledger_db
from ..ledger.models import BatchRun, PaymentFile, Payout, PolicyVersion, payout_id
from ..ledger.verify import Report, ledger_name, verify_ledger
from ..library.loader import load_policy_text
from ..sources import MatchSource, frame_digest
from . import clock
from .actors import Actor, require

Progress = Callable[[int, int], None]


def open_ledger(url: str | None = None) -> sessionmaker[Session]:
    return ledger_db.open_ledger(url)[1]


@contextmanager
def writing(sf: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction; after it commits, the audit head is signed and anchored outside the
    database (a checkpoint never names an entry that was rolled back). Without the signing key
    nothing starts: an operation must never commit and then fail to anchor."""
    anchor.signing_key()
    with sf.begin() as s:
        yield s
        seq, head = audit.head(s)
        name = ledger_name(s)
    if seq:
        anchor.record(name, seq, head)


def _payout(s: Session, ref: str) -> Payout:
    pid = payout_id(ref)
    p = s.get(Payout, pid) if pid is not None else None
    if p is None:
        raise NotFound(f"没有兑现记录 {ref!r}（编号为 MS 加数字）")
    return p


# ------------------------------------------------------------------ batch


def run_batch(sf: sessionmaker[Session], actor: Actor, data: Dataset | pd.DataFrame | MatchSource | ChangeSet,
              policies: list[ir.Policy], as_of: dt.date, dictionary: TagDictionary) -> batch_mod.BatchResult:
    """A batch over loaded data (a Dataset: every payout's record names the department and date of
    each value it read), a bare frame, or a source where the data lives (a database, Spark); or an
    incremental batch over a change set (data/changes.py), only the enterprises a delivery changed."""
    require(actor, "batch.run")
    changes = None
    if isinstance(data, ChangeSet):
        changes = batch_mod.Incremental(data.base, data.new, data.tags)
        data = data.frame
    anchor.signing_key()
    dataset = data if isinstance(data, Dataset) else None
    from .budget import sync_from_policies
    from .tiers import SELF_DECLARED, overlay_frame

    with sf.begin() as s:
        sync_from_policies(s, [p for p in policies if p.status == "active"], actor.name)
    sources = None
    data_files = data.files if isinstance(data, Dataset) and data.files else None
    delivered_frame = None
    if isinstance(data, (Dataset, pd.DataFrame)):  # verified self-declared values fill what departments did not
        delivered_frame = data.frame if isinstance(data, Dataset) else data
        frame, declared = overlay_frame(delivered_frame, sf, dictionary)
        if isinstance(data, Dataset):
            sources = batch_mod.CellSources(
                pd.Index(data.frame[KEY].astype(str)), data.provenance,
                [(dictionary.sources[f.source].label, f.as_of) for f in data.files], declared, SELF_DECLARED)
        data = frame
    files = history.file_entries(data_files) if data_files is not None else None
    delivered = None  # the digest of the data as delivered, where self-declared values changed it
    if isinstance(data, pd.DataFrame) and delivered_frame is not None and data is not delivered_frame:
        delivered = frame_digest(delivered_frame)
    r = batch_mod.run_batch(sf, data, policies, as_of, actor.name, dictionary, sources=sources, data_files=files,
                            input_hash=delivered, changes=changes)
    with sf() as s:
        seq, head = audit.head(s)
        name = ledger_name(s)
    anchor.record(name, seq, head)
    if dataset is not None:  # the same delivery re-decides every contract's milestones (合同履约)
        from .contracts import check

        check(sf, actor, dataset, dictionary, policies=policies)
    return r


# ------------------------------------------------------------------ reading


@dataclass(frozen=True)
class PayoutFilter:
    status: tuple[str, ...] = ()
    policy: str | None = None
    region_prefix: str | None = None
    credit_code: str | None = None
    batch_id: int | None = None

    def apply(self, q: Any) -> Any:
        if self.status:
            q = q.where(Payout.status.in_(self.status))
        if self.policy:
            q = q.where(Payout.policy_id == self.policy)
        if self.region_prefix:
            q = q.where(Payout.region.startswith(self.region_prefix, autoescape=True))
        if self.credit_code:
            q = q.where(Payout.credit_code == self.credit_code)
        if self.batch_id is not None:
            q = q.where(Payout.batch_id == self.batch_id)
        return q


def _visible(actor: Actor, f: PayoutFilter) -> PayoutFilter:
    """An enterprise sees its own payouts, whatever filter it asked for."""
    if actor.role == "enterprise":
        require(actor, "payout.read", actor.credit_code)
        return PayoutFilter(f.status, f.policy, f.region_prefix, actor.credit_code, f.batch_id)
    require(actor, "payout.read")
    return f


def list_payouts(sf: sessionmaker[Session], actor: Actor, f: PayoutFilter = PayoutFilter(),
                 limit: int | None = 5000) -> list[Payout]:
    f = _visible(actor, f)
    with sf() as s:  # a list shows the title, not the record (decoding thousands of records was most of a page's time)
        q = f.apply(select(Payout)).options(
            defer(Payout.explanation, raiseload=True),
            with_expression(Payout.title, Payout.explanation["title"].as_string())).order_by(Payout.id)
        return list(s.scalars(q.limit(limit) if limit else q))


def explain_payout(sf: sessionmaker[Session], actor: Actor, reference: str, policies: list[ir.Policy],
                   dictionary: TagDictionary) -> tuple[Payout, Explanation]:
    """Why a payout exists and why it is this amount, as the calculator explains a policy: the
    version of the policy the payout names (among `policies`, else from the version history),
    re-evaluated on the inputs its record kept, with the grant (formula and granted amounts,
    allocation, origin) and every disagreement between the record, its policy and the payout's
    amount. An enterprise reads its own payouts only."""
    with sf() as s:
        pay = _payout(s, reference)
        if actor.role == "enterprise":
            require(actor, "payout.read", pay.credit_code)
        else:
            require(actor, "payout.read")
        s.expunge(pay)
        policy = next((x for x in policies if x.id == pay.policy_id and x.version == pay.policy_version), None)
        if policy is None and pay.source == "contract":  # a contract's milestone: the signed text says it
            from .contracts import milestone_of

            policy = milestone_of(s, pay.policy_id, pay.policy_version, dictionary)
        if policy is None:
            text = s.scalar(select(PolicyVersion.text).where(PolicyVersion.policy_id == pay.policy_id,
                                                             PolicyVersion.version == pay.policy_version))
            if text is None:
                raise NotFound(f"兑现记录 {pay.reference} 所依据的政策 {pay.policy_id} 第 {pay.policy_version} 版"
                               "不在政策库和版本历史中，无法重算说明")
            name = f"{pay.policy_id}-v{pay.policy_version}.yaml"
            try:
                policy = load_policy_text(text, dictionary, name)
            except PolicyLoadError:  # published before periods: read in today's syntax, same rule
                policy = load_policy_text(legacy.upgrade_policy_text(text), dictionary, name)
    return pay, grant.explain(pay.explanation or {}, policy, pay.amount_fen, dictionary)


GROUPINGS = {"policy": Payout.policy_id, "region": Payout.region, "status": Payout.status}


def summary(sf: sessionmaker[Session], actor: Actor, by: tuple[str, ...] = ("policy", "status"),
            f: PayoutFilter = PayoutFilter()) -> list[tuple[Any, ...]]:
    """(group keys..., count, fen) rows, grouped by any of policy, region, status."""
    bad = [b for b in by if b not in GROUPINGS]
    if bad or not by:
        raise Invalid(f"分组只能是 policy、region、status，而不是 {','.join(bad) or '空'}")
    f = _visible(actor, f)
    cols = [GROUPINGS[b] for b in by]
    with sf() as s:
        q = f.apply(select(*cols, func.count(), func.coalesce(func.sum(Payout.amount_fen), 0))).group_by(*cols)
        return [tuple(r) for r in s.execute(q.order_by(*cols))]


def status_counts(sf: sessionmaker[Session], actor: Actor) -> dict[str, int]:
    return {status: n for status, n, _ in summary(sf, actor, ("status",))}


def batch_kind(summary: dict[str, Any] | None) -> str:
    """全量, or 增量 with the number of enterprises a change set re-matched."""
    done = (summary or {}).get("incremental")
    return f"增量（{done.get('enterprises', 0)} 家企业）" if isinstance(done, dict) else "全量"


def batch_runs(sf: sessionmaker[Session], actor: Actor, limit: int = 50) -> list[BatchRun]:
    require(actor, "payout.read")
    with sf() as s:
        return list(s.scalars(select(BatchRun).order_by(BatchRun.id.desc()).limit(limit)))


# ------------------------------------------------------------------ transitions


def publish_candidates(sf: sessionmaker[Session], actor: Actor, policy: str | None = None,
                       start: dt.date | None = None, progress: Progress | None = None) -> tuple[int, dt.date, dt.date]:
    """Put every candidate (of one policy, or all) on the 公示 list from `start` (today by the
    server's clock; a later day may be chosen, an earlier one not) for 5 working days."""
    require(actor, "payout.publish")
    today = clock.today()
    start = start or today
    if start < today:
        raise Invalid(f"公示开始日期 {start} 早于今天（{today}），公示期不能倒签")
    with writing(sf) as s:
        ids = list(s.scalars(PayoutFilter(("candidate",), policy).apply(select(Payout.id)).with_for_update()))
        n = lifecycle.publish_many(s, ids, actor.name, start, now=clock.now(), details=clock.stamp())
    first, last = lifecycle.notice_period(start)
    if progress:
        progress(n, n)
    return n, first, last


def approve_due(sf: sessionmaker[Session], actor: Actor, policy: str | None = None,
                progress: Progress | None = None) -> int:
    """Approve every publicized payout whose notice period ended before today (the server's
    date) and queue its notification. The same function serves the CLI, the UI and the API."""
    require(actor, "payout.approve")
    today = clock.today()
    with writing(sf) as s:
        q = PayoutFilter(("publicized",), policy).apply(select(*lifecycle.Due.columns())).where(
            Payout.notice_end < today)
        due = [lifecycle.Due(*row) for row in s.execute(q.order_by(Payout.id).with_for_update())]
        n = lifecycle.approve_many(s, due, actor.name, today, now=clock.now(), details=clock.stamp())
    if progress:
        progress(n, n)
    return n


@dataclass(frozen=True)
class ApprovalSchedule:
    """What approval can do today, by the server's date: the payouts whose notice has ended, and
    for those still on notice, each notice's last day (approval opens the next day)."""

    today: dt.date
    due: int
    waiting: dict[dt.date, int]

    @property
    def opens(self) -> dt.date | None:
        return min(self.waiting) + dt.timedelta(days=1) if self.waiting else None


def approval_schedule(sf: sessionmaker[Session], actor: Actor) -> ApprovalSchedule:
    require(actor, "payout.read")
    today = clock.today()
    with sf() as s:
        rows = s.execute(select(Payout.notice_end, func.count()).where(Payout.status == "publicized")
                         .group_by(Payout.notice_end)).all()
    due = sum(int(n) for end, n in rows if end is not None and end < today)
    return ApprovalSchedule(today, due, {end: int(n) for end, n in rows if end is not None and end >= today})


def _one(sf: sessionmaker[Session], actor: Actor, operation: str, ref: str,
         act: Callable[[Session, Payout], Any]) -> Payout:
    require(actor, operation)
    with writing(sf) as s:
        p = _payout(s, ref)
        act(s, p)
    return p


def withdraw(sf: sessionmaker[Session], actor: Actor, ref: str, reason: str) -> Payout:
    return _one(sf, actor, "payout.withdraw", ref,
                lambda s, p: lifecycle.withdraw(s, p, actor.name, reason, now=clock.now(), details=clock.stamp()))


def retry(sf: sessionmaker[Session], actor: Actor, ref: str, reason: str = "重新发起支付") -> Payout:
    return _one(sf, actor, "payout.retry", ref,
                lambda s, p: lifecycle.retry(s, p, actor.name, reason, now=clock.now(), details=clock.stamp()))


def revoke(sf: sessionmaker[Session], actor: Actor, ref: str, reason: str, clawback_fen: int | None = None) -> Payout:
    return _one(sf, actor, "payout.revoke", ref,
                lambda s, p: lifecycle.revoke(s, p, actor.name, reason, clawback_fen, now=clock.now(),
                                              details=clock.stamp()))


# ------------------------------------------------------------------ files


def export_notice(sf: sessionmaker[Session], actor: Actor, fmt: str = "xlsx") -> tuple[bytes, int]:
    """The 公示 list; the export is audited with the file's hash."""
    import hashlib

    require(actor, "notice.export")
    with writing(sf) as s:
        data, n = exports.notice_list(s, fmt)
        if n == 0:  # an empty list published by mistake reads as "no one was found eligible"
            raise Invalid("没有公示中的兑现记录，不生成空的公示名单；请先列入公示（payouts publish）")
        audit.append(s, actor.name, "export_notice_list", f"公示名单.{fmt}",
                     {"rows": n, "sha256": hashlib.sha256(data).hexdigest()}, at=clock.now())
    return data, n


def export_payment_file(sf: sessionmaker[Session], actor: Actor, fmt: str = "xlsx") -> payments.Issued:
    """Record a payment file of every approved payout not yet in one; the caller writes
    `issued.file.content` to disk only after this returns (the ledger has committed it)."""
    require(actor, "payment.export")
    with writing(sf) as s:
        return payments.issue(s, actor.name, fmt, clock.now())


def payment_file(sf: sessionmaker[Session], actor: Actor, ref: str) -> PaymentFile:
    """An issued payment file again, byte for byte (say, after a crash before it was saved)."""
    require(actor, "payment.read")
    with writing(sf) as s:
        f = payments.find(s, ref)
        audit.append(s, actor.name, "download_payment_file", f.reference, {"sha256": f.sha256}, at=clock.now())
    return f


def import_bank_results(sf: sessionmaker[Session], actor: Actor, data: bytes) -> payments.ImportResult:
    """Apply the bank's result file line by line; lines that do not answer an open line of an
    issued file are refused and reported, the others applied, all in one transaction."""
    require(actor, "payment.import")
    with writing(sf) as s:
        return payments.apply_results(s, data, actor.name, clock.now())


@dataclass(frozen=True)
class PaymentIssue:
    """A payout the finance office must act on: failed at the bank (with the bank's reason), or
    approved with no bank account on file (left out of every payment file until one arrives)."""

    reference: str
    credit_code: str
    enterprise_name: str
    title: str
    amount_fen: int
    status: str
    reason: str
    payment_file: str | None
    since: dt.datetime


def payment_issues(sf: sessionmaker[Session], actor: Actor) -> list[PaymentIssue]:
    """Failed payouts with the bank's last answer, then approved payouts without an account."""
    from ..ledger.models import PayoutEvent

    require(actor, "payment.read")
    with sf() as s:
        last = (select(PayoutEvent.payout_id, func.max(PayoutEvent.id).label("eid"))
                .group_by(PayoutEvent.payout_id).subquery())
        rows = s.execute(
            select(Payout, PayoutEvent.reason, PayoutEvent.at)
            .join(last, last.c.payout_id == Payout.id).join(PayoutEvent, PayoutEvent.id == last.c.eid)
            .where((Payout.status == "failed") | ((Payout.status == "approved") & (
                Payout.bank_account.is_(None) | (Payout.bank_account == ""))))
            .order_by(Payout.status.desc(), Payout.id)).all()
    return [PaymentIssue(p.reference, p.credit_code, p.enterprise_name or "", (p.explanation or {}).get("title", p.policy_id),
                         p.amount_fen, p.status,
                         reason if p.status == "failed" else "没有备案的对公银行账户，未列入支付文件；企业补充账户并核验后可支付",
                         p.payment_file, at) for p, reason, at in rows]


def init_audit_key() -> tuple[Path, Path]:
    """Create the audit signing key pair once per deployment (never overwritten): the private key
    stays with the operations that sign, the public key goes to every auditor."""
    return anchor.init_key()


def verify_audit(sf: sessionmaker[Session], actor: Actor) -> Report:
    require(actor, "audit.verify")
    with sf() as s:
        return verify_ledger(s)


def record_download(sf: sessionmaker[Session], actor: Actor, name: str, data: bytes) -> None:
    """A file handed to a browser: who, when, which bytes."""
    import hashlib

    with writing(sf) as s:
        audit.append(s, actor.name, "download", name[:128], {"sha256": hashlib.sha256(data).hexdigest(),
                                                             "bytes": len(data), "role": actor.role}, at=clock.now())


def overview_rows(sf: sessionmaker[Session], actor: Actor) -> pd.DataFrame:
    """Every payout's policy, title, region, status, amount and month (the paid month for paid
    ones, the month created for the rest): what the 总览 charts are drawn from."""
    from ..ledger.models import PayoutEvent

    require(actor, "payout.read")
    with sf() as s:
        rows = s.execute(select(Payout.id, Payout.policy_id, Payout.region, Payout.status, Payout.amount_fen,
                                Payout.created_at, Payout.explanation["title"].as_string())).all()
        paid_at = dict(s.execute(select(PayoutEvent.payout_id, PayoutEvent.at)
                                 .where(PayoutEvent.to_status == "paid")).all())  # type: ignore[arg-type]
    df = pd.DataFrame(rows, columns=["id", "policy", "region", "status", "fen", "created_at", "title"])
    df["month"] = pd.to_datetime(pd.Series([paid_at.get(i, c) for i, c in zip(df["id"], df["created_at"])],
                                           index=df.index, dtype=object)).dt.strftime("%Y-%m")
    return df


STAGES = ("candidate", "publicized", "approved", "failed")


def timeliness(sf: sessionmaker[Session], actor: Actor, policies: list[ir.Policy],
               today: dt.date | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """兑现时限: for every payout, working days from eligibility (the payout's creation: a batch's
    match, the enterprise's confirmation, the official's acceptance of an application, counted
    from the application's submission) to payment, or to today while unpaid, and whether the
    policy's time limit is passed. Returns (per payout, per tier summary: median and 95th
    percentile days to payment, overdue count, money waiting at each stage)."""
    from ..ledger.models import Application, PayoutEvent
    from ..ledger.workdays import working_days_between

    require(actor, "payout.read")
    today = today or clock.today()
    by_id = {p.id: p for p in policies}
    with sf() as s:
        rows = s.execute(select(Payout.id, Payout.policy_id, Payout.status, Payout.amount_fen, Payout.created_at,
                                Payout.source, Payout.credit_code)).all()
        paid = dict(s.execute(select(PayoutEvent.payout_id, func.max(PayoutEvent.at))
                              .where(PayoutEvent.to_status == "paid").group_by(PayoutEvent.payout_id)).all())
        applied = {pid: at for pid, at in s.execute(select(Application.payout_id, Application.created_at)
                                                      .where(Application.payout_id.is_not(None)))}
    out = []
    for pid, policy_id, status, fen, created, source, code in rows:
        start = applied.get(pid, created) if source == "application" else created
        end = paid.get(pid)
        days = working_days_between(start.date(), (end.date() if end else today))
        p = by_id.get(policy_id)
        limit = p.time_limit if p else None
        tier = p.tier.value if p else ("合同履约" if source == "contract" else "（已下线政策）")
        overdue = bool(limit) and days > (limit or 0) and status in STAGES
        out.append({"编号": f"MS{pid:010d}", "政策": policy_id, "兑现方式": tier, "统一社会信用代码": code, "状态": status,
                    "金额（分）": fen, "已用工作日": days, "时限（工作日）": limit, "超期": overdue,
                    "已支付": end is not None})
    per = pd.DataFrame(out, columns=["编号", "政策", "兑现方式", "统一社会信用代码", "状态", "金额（分）", "已用工作日",
                                     "时限（工作日）", "超期", "已支付"])
    summary = []
    for tier_name, g in per.groupby("兑现方式", sort=True):
        done = g[g["已支付"]]["已用工作日"]
        row: dict[str, Any] = {"兑现方式": str(tier_name), "已支付笔数": len(done),
                               "支付用时中位数（工作日）": float(done.median()) if len(done) else None,
                               "支付用时第95百分位（工作日）": float(done.quantile(0.95)) if len(done) else None,
                               "超期笔数": int(g["超期"].sum())}
        for st in STAGES:
            row[f"{lifecycle.STATUS_ZH[st]}金额（分）"] = int(g.loc[g["状态"] == st, "金额（分）"].sum())
        summary.append(row)
    return per, pd.DataFrame(summary)


def dispatch_outbox(sf: sessionmaker[Session], actor: Actor, sender: str) -> tuple[Any, int]:
    """Send every due notification once; returns the result and how many are still pending."""
    from ..ledger.models import OutboxMessage
    from ..ledger.outbox import dispatch, sender_from

    require(actor, "audit.checkpoint" if actor.role == "system" else "payout.approve")
    r = dispatch(sf, sender_from(sender))
    with sf() as s:
        pending = int(s.scalar(select(func.count()).select_from(OutboxMessage)
                               .where(OutboxMessage.status == "pending")) or 0)
    return r, pending


def queue_tag_event(sf: sessionmaker[Session], actor: Actor, credit_code: str, tag: str, value: str, as_of: str,
                    source: str) -> int:
    """One inbound tag update for the worker's table source."""
    from ..ledger.models import TagEvent

    require(actor, "payout.withdraw")
    with sf.begin() as s:
        e = TagEvent(credit_code=credit_code[:64], tag=tag[:64], value=value, as_of=as_of[:32], source=source[:32],
                     received_at=dt.datetime.now())
        s.add(e)
        s.flush()
        return e.id


def dead_letters(sf: sessionmaker[Session], actor: Actor) -> list[Any]:
    from ..ledger.models import DeadLetter

    require(actor, "payout.read")
    with sf() as s:
        return list(s.scalars(select(DeadLetter).order_by(DeadLetter.id)))


ACTION_ZH = {
    "ledger_mode": "确定账本用途", "batch_run": "运行批次", "publish": "列入公示", "publish_many": "批量列入公示", "approve": "审批通过",
    "approve_many": "批量审批通过", "withdraw": "撤回", "mark_paid": "支付成功", "mark_failed": "支付失败",
    "retry": "重新支付", "revoke": "追回", "event_candidate": "生成待公示记录", "export_notice_list": "导出公示名单",
    "export_payment_file": "生成支付文件", "download_payment_file": "下载支付文件", "import_bank_results": "导入银行回单",
    "download": "下载文件", "sign_in": "登录", "sign_in_failed": "登录失败", "sign_in_locked": "登录被锁定",
    "sign_out": "退出登录", "session_resumed": "刷新后恢复登录", "api_key_create": "创建接口密钥", "api_key_rotate": "更换接口密钥",
    "api_key_revoke": "吊销接口密钥", "budget_indicator_set": "下达预算指标", "policy_published": "发布政策",
    "policy_draft_submitted": "提交政策草稿", "policy_draft_returned": "退回政策草稿", "policy_draft_withdrawn": "撤回政策草稿",
    "data_activated": "启用数据", "invitation_confirmed": "确认享受", "invitation_declined": "放弃享受",
    "invitations_expired": "邀约过期", "application_submit": "提交申报", "application_accepted": "申报通过",
    "application_returned": "申报退回补正", "application_rejected": "申报不予通过", "supply_value": "补充数据",
    "supplied_verified": "核验补充数据", "supplied_rejected": "不采信补充数据", "objection_objection": "提出异议",
    "objection_rating": "服务评价", "objection_answered": "答复异议", "lock_taken_over": "接管批次锁",
    "lock_cleared": "清除批次锁", "contract_drafted": "登记合同", "contract_voided": "作废合同",
    "signing_key_created": "生成签署密钥", "contract_signed": "签署合同", "contract_in_force": "合同生效",
    "milestone_checked": "核查履约节点", "recovery_claimed": "生成追回记录", "recovery_settled": "结算追回款",
    "recovery_write_off_requested": "申请核销追回款", "recovery_written_off": "核销追回款",
    "recovery_write_off_refused": "不同意核销追回款",
}


CREDIT_CODE = re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}")


def _lists_any(details: str, ids: set[int]) -> bool:
    try:
        listed = json.loads(details).get("ids") or []
    except (ValueError, AttributeError):
        return False
    return any(int(i) in ids for i in listed if isinstance(i, int))


def audit_days(sf: sessionmaker[Session], actor: Actor) -> tuple[dt.date, dt.date] | None:
    """The first and the last day of the audit log (the date filter's defaults: all of it)."""
    from ..ledger.models import AuditEntry

    require(actor, "audit.verify")
    with sf() as s:
        first, last = s.execute(select(func.min(AuditEntry.at), func.max(AuditEntry.at))).one()
    if first is None or last is None:
        return None
    return dt.date.fromisoformat(first[:10]), dt.date.fromisoformat(last[:10])


ACTOR_ZH = {"system": "系统"}  # entries the platform writes itself (a migration, the ledger's mode)


def audit_entries(sf: sessionmaker[Session], actor: Actor, who: str = "", action: str = "", subject: str = "",
                  since: dt.date | None = None, until: dt.date | None = None, limit: int = 5000,
                  titles: dict[str, str] | None = None) -> pd.DataFrame:
    """The audit log itself for auditors: filtered by actor, action, subject (a policy, an
    enterprise, a payout reference) and date, each entry with its before/after details and the
    result of verifying it in the chain. An enterprise's entries include those that name only
    its payouts, invitations, applications or supplied values (payment, acceptance, bulk 公示 and
    approval). `titles` (policy id -> title) shows policies by name."""
    from ..ledger.models import Application, AuditEntry, Invitation, SuppliedValue
    from .auditview import describe

    require(actor, "audit.verify")
    with sf() as s:
        _, breaks = audit.verify(s)
        problems: dict[int, list[str]] = {}
        for b in breaks:
            problems.setdefault(b.seq, []).append(b.problem)
        q = select(AuditEntry).order_by(AuditEntry.seq.desc())
        if who.strip():
            q = q.where(AuditEntry.actor.contains(who.strip(), autoescape=True))
        if action:
            q = q.where(AuditEntry.action == action)
        ids: set[int] = set()
        if subject.strip():
            term = subject.strip()
            match = (AuditEntry.subject.contains(term, autoescape=True)
                     | AuditEntry.details.contains(term, autoescape=True))
            if CREDIT_CODE.fullmatch(term.upper()):  # what names only the enterprise's own records
                code = term.upper()
                ids = set(s.scalars(select(Payout.id).where(Payout.credit_code == code)))
                refs = [f"MS{i:010d}" for i in ids]
                refs += [r.reference for r in s.scalars(select(Invitation).where(Invitation.credit_code == code))]
                refs += [r.reference for r in s.scalars(select(Application).where(Application.credit_code == code))]
                refs += [r.reference for r in s.scalars(select(SuppliedValue).where(SuppliedValue.credit_code == code))]
                for i in range(0, len(refs), lifecycle.CHUNK):
                    match = match | AuditEntry.subject.in_(refs[i:i + lifecycle.CHUNK])
                if ids:
                    match = match | AuditEntry.action.endswith("_many")
            q = q.where(match)
        if since:
            q = q.where(AuditEntry.at >= since.isoformat())
        if until:
            q = q.where(AuditEntry.at < (until + dt.timedelta(days=1)).isoformat())
        rows = list(s.scalars(q.limit(limit)))
    if ids:  # a bulk entry belongs to the enterprise if it lists one of its payouts
        rows = [e for e in rows if not e.action.endswith("_many") or _lists_any(e.details, ids)]
    columns = ["序号", "时间", "操作人", "动作", "对象", "变更前", "变更后", "详情", "核验"]
    return pd.DataFrame([[e.seq, e.at[:19].replace("T", " "), ACTOR_ZH.get(e.actor, e.actor), ACTION_ZH.get(e.action, e.action),
                          *describe(e.action, e.subject, e.details[:20000], titles),
                          "；".join(problems.get(e.seq, [])) or "通过"] for e in rows], columns=columns)
