"""What an enterprise portal (浙里办, 皖企通) shows besides the check-up: a notice area of what
changed for the enterprise (new invitations, answered objections, decided applications and
supplied values, payouts on notice and paid), and each payout's status timeline
(匹配 → 公示 → 审批 → 支付). Read-only; an enterprise reads its own only."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ..data.values import yuan_text
from ..ledger.models import Application, Invitation, Objection, Payout, PayoutEvent, SuppliedValue
from .actors import Actor, require
from .ledger import _payout
from .platform import Platform
from .tiers import APPLICATION_ZH, SUPPLIED_ZH, _own

TIERS_ZH = (
    ("免申即享", "无需申请：平台按部门共享数据自动匹配，公示无异议后直接拨付到备案的对公账户。"),
    ("即申即享", "一键确认：平台匹配后发出邀约，企业在“我的办理事项”点“确认享受”，确认后进入公示与拨付。"),
    ("申报", "需要申请：档案中的数据自动带入申报表，企业只补充档案中没有的数据和材料，由主管部门审核。"),
)


@dataclass(frozen=True)
class Notice:
    at: dt.datetime
    kind: str  # 邀约 | 公示 | 支付 | 申报 | 补充数据 | 异议
    text: str


def notices(p: Platform, actor: Actor, code: str, limit: int = 20) -> list[Notice]:
    """The enterprise's notice area, newest first."""
    code = _own(actor, code)
    titles = {x.id: x.title for x in p.library.policies}
    d = p.dictionary
    out: list[Notice] = []
    with p.ledger() as s:
        for i in s.scalars(select(Invitation).where(Invitation.credit_code == code, Invitation.status == "open")):
            title = i.explanation.get("title") or titles.get(i.policy_id, i.policy_id)
            out.append(Notice(i.created_at, "邀约", f"新的即申即享邀约：《{title}》可享 {yuan_text(i.amount_fen)}，"
                                                 f"请于 {i.expires_on} 前在“我的办理事项”确认"))
        for x in s.scalars(select(Payout).where(Payout.credit_code == code,
                                                Payout.status.in_(("publicized", "paid", "failed")))):
            title = (x.explanation or {}).get("title") or titles.get(x.policy_id, x.policy_id)
            at = _last_event(s, x.id) or x.created_at
            if x.status == "publicized":
                out.append(Notice(at, "公示", f"《{title}》{yuan_text(x.amount_fen)} 正在公示（{x.notice_start} 至 "
                                              f"{x.notice_end}），无异议即审批拨付"))
            elif x.status == "paid":
                out.append(Notice(at, "支付", f"《{title}》{yuan_text(x.amount_fen)} 已支付到账（{x.reference}）"))
            else:
                out.append(Notice(at, "支付", f"《{title}》{yuan_text(x.amount_fen)} 支付未成功，财政部门将核对账户后"
                                              f"重新支付（{x.reference}）"))
        for a in s.scalars(select(Application).where(Application.credit_code == code,
                                                     Application.status != "submitted")):
            out.append(Notice(a.updated_at, "申报", f"申报《{titles.get(a.policy_id, a.policy_id)}》"
                                                   f"{APPLICATION_ZH.get(a.status, a.status)}"
                                                   + (f"：{a.reason}" if a.reason else "")))
        for v in s.scalars(select(SuppliedValue).where(SuppliedValue.credit_code == code,
                                                       SuppliedValue.status != "submitted")):
            label = d[v.tag].label if v.tag in d else v.tag
            out.append(Notice(v.decided_at or v.submitted_at, "补充数据",
                              f"补充的{label}{SUPPLIED_ZH.get(v.status, v.status)}" + (f"：{v.reason}" if v.reason else "")))
        for o in s.scalars(select(Objection).where(Objection.credit_code == code, Objection.status == "answered")):
            out.append(Notice(o.answered_at or o.created_at, "异议", f"您就 {o.subject} 提出的{'评价' if o.kind == 'rating' else '异议'}"
                                                                  f"已答复：{o.answer}"))
    return sorted(out, key=lambda n: n.at, reverse=True)[:limit]


def _last_event(s: Session, payout: int) -> dt.datetime | None:
    return s.scalar(select(PayoutEvent.at).where(PayoutEvent.payout_id == payout).order_by(PayoutEvent.id.desc()).limit(1))


STEPS = ("匹配", "公示", "审批", "支付")


@dataclass(frozen=True)
class Step:
    name: str  # 匹配 | 公示 | 审批 | 支付
    state: str  # 已完成 | 进行中 | 未开始 | 未成功 | 已终止
    detail: str


def timeline(sf: sessionmaker[Session], actor: Actor, reference: str) -> list[Step]:
    """A payout's status timeline from its recorded transitions: matched (or confirmed, or
    accepted), on notice, approved, paid; a failure or a withdrawal says where it stopped."""
    with sf() as s:
        pay = _payout(s, reference)
        if actor.role == "enterprise":
            require(actor, "payout.read", pay.credit_code)
        else:
            require(actor, "payout.read")
        events = list(s.scalars(select(PayoutEvent).where(PayoutEvent.payout_id == pay.id).order_by(PayoutEvent.id)))
    when: dict[str, dt.datetime] = {}
    for e in events:
        when.setdefault(e.to_status, e.at)
    origin = {"invitation": "企业确认享受", "application": "申报审核通过", "contract": "合同履约节点达成"}.get(
        pay.source, "批次匹配")
    status = pay.status
    steps = [Step("匹配", "已完成", f"{origin}，{_day(when.get('candidate') or pay.created_at)}")]
    if "publicized" in when or pay.notice_start:
        done = status in ("approved", "paid", "failed") or "approved" in when
        steps.append(Step("公示", "已完成" if done else "进行中", f"{pay.notice_start} 至 {pay.notice_end}"))
    else:
        steps.append(Step("公示", "未开始", "等待列入公示"))
    if "approved" in when:
        steps.append(Step("审批", "已完成", _day(when["approved"])))
    else:
        steps.append(Step("审批", "未开始", f"公示期满（{pay.notice_end}）后审批" if pay.notice_end else "公示期满后审批"))
    if status == "paid" or "paid" in when:
        steps.append(Step("支付", "已完成", f"{_day(when.get('paid'))} 已到账"))
    elif status == "failed":
        steps.append(Step("支付", "未成功", "银行退回，财政部门核对账户后重新支付"))
    elif "approved" in when:
        steps.append(Step("支付", "进行中", "已排入支付文件，等待银行回单"))
    else:
        steps.append(Step("支付", "未开始", ""))
    if status in ("withdrawn", "revoked"):
        stop = "已撤回" if status == "withdrawn" else "已追回"
        at = when.get(status)
        steps = [x if x.state == "已完成" else Step(x.name, "已终止", "") for x in steps]
        steps.append(Step(stop, "已终止", _day(at)))
    return steps


def _day(at: dt.datetime | None) -> str:
    return f"{at:%Y-%m-%d}" if at else ""
