"""Officials (政策管理人员) and auditors: the ledger, 公示, approval, review, verification, replay, the policy library, batches, the notice list."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from .. import service
from ..service import drafting, enterprise, tiers
from .deps import ERRORS, Ref, Who, answers, plat
from .models import (
    ApplicationOut,
    BatchOut,
    CountOut,
    DraftDocumentOut,
    FileIn,
    PayoutOut,
    PolicyOut,
    Reason,
    ReplayOut,
    ReviewIn,
    RevokeIn,
    RunReplayOut,
    SuppliedOut,
    VerifyIn,
    VerifyOut,
    _app,
    _decoded,
    _payout,
    _sup,
)

router = APIRouter()


@router.get("/api/v1/payouts", response_model=list[PayoutOut], responses=ERRORS, tags=["政策管理"])
def payouts(request: Request, who: Who, status: Annotated[list[str] | None, Query(max_length=10)] = None,
            policy: Annotated[str | None, Query(max_length=64)] = None,
            region: Annotated[str | None, Query(max_length=6)] = None,
            limit: Annotated[int, Query(ge=1, le=10000)] = 1000) -> list[PayoutOut]:
    """兑现台账（企业身份只返回本企业）。"""
    f = service.PayoutFilter(tuple(status or ()), policy, region)
    return [_payout(p) for p in service.list_payouts(plat(request).ledger, who, f, limit)]


@router.post("/api/v1/payouts/publish", response_model=CountOut, responses=ERRORS, tags=["政策管理"])
def publish(request: Request, who: Who, policy: Annotated[str | None, Query(max_length=64)] = None) -> CountOut:
    """全部待公示的记录列入公示，公示期自今天（服务器时间）起 5 个工作日。"""
    n, first, last = service.publish_candidates(plat(request).ledger, who, policy)
    return CountOut(count=n, notice_start=first, notice_end=last)


@router.post("/api/v1/payouts/approve", response_model=CountOut, responses=ERRORS, tags=["政策管理"])
def approve(request: Request, who: Who, policy: Annotated[str | None, Query(max_length=64)] = None) -> CountOut:
    """公示期满（按服务器日期）的记录审批通过，并排队通知企业。"""
    return CountOut(count=service.approve_due(plat(request).ledger, who, policy))


@router.post("/api/v1/payouts/{reference}/withdraw", response_model=PayoutOut, responses=ERRORS, tags=["政策管理"])
def withdraw(request: Request, reference: Ref, body: Reason, who: Who) -> PayoutOut:
    return _payout(service.withdraw(plat(request).ledger, who, reference, body.reason))


@router.post("/api/v1/payouts/{reference}/retry", response_model=PayoutOut, responses=ERRORS, tags=["政策管理"])
def retry(request: Request, reference: Ref, body: Reason, who: Who) -> PayoutOut:
    return _payout(service.retry(plat(request).ledger, who, reference, body.reason))


@router.get("/api/v1/audit/verify", response_model=VerifyOut, responses=ERRORS, tags=["审计"])
def verify(request: Request, who: Who) -> VerifyOut:
    """核验审计链、签名锚点与台账。"""
    r = service.verify_audit(plat(request).ledger, who)
    return VerifyOut(mode=r.mode, entries=r.entries, checkpoints=r.checkpoints, problems=r.problems, notes=r.notes)


@router.get("/api/v1/replay", response_model=ReplayOut, responses=ERRORS, tags=["审计"])
def replay_day(request: Request, who: Who, as_of: Annotated[dt.date, Query(description="要重现的评估日期")]) -> ReplayOut:
    """按该日当时的数据版本与政策版本重新评估，并重现当日每个批次（数据摘要、符合条件的企业与金额、生成的每一笔）。"""
    from ..service.replay import replay

    r = replay(plat(request).ledger, who, as_of, plat(request).dictionary)
    return ReplayOut(as_of=r.as_of, data_version=r.data_version, policies=r.policies, eligible=r.eligible,
                     eligible_fen=r.eligible_fen, undetermined=r.undetermined, consistent=r.ok,
                     runs=[RunReplayOut(batch_id=x.batch_id, started_at=x.started_at, data_version=x.data_version,
                                        consistent=x.ok, data_same=x.data_same, decisions_same=x.decisions_same,
                                        eligible=x.eligible, recorded_eligible=x.recorded_eligible,
                                        created=x.created, created_same=x.created_same, problems=x.problems)
                           for x in r.runs])


@router.post("/api/v1/applications/{reference}/review", response_model=ApplicationOut, responses=ERRORS,
          tags=["政策管理"])
def review(request: Request, reference: Ref, body: ReviewIn, who: Who) -> ApplicationOut:
    """审核申报：accept（核定金额并生成兑现记录）、return（退回补正）或 reject，须写明理由。"""
    return _app(tiers.review_application(plat(request), who, reference, body.decision, body.reason))


@router.post("/api/v1/supplied-values/{reference}/verify", response_model=SuppliedOut, responses=ERRORS,
          tags=["政策管理"])
def verify_value(request: Request, reference: Ref, body: VerifyIn, who: Who) -> SuppliedOut:
    """核验企业补充的数据；通过后用于该企业的判定。"""
    return _sup(tiers.verify_supplied(plat(request), who, reference, body.accept, body.reason).value)


@router.get("/api/v1/policies", response_model=list[PolicyOut], responses=ERRORS, tags=["政策管理"])
def policies(request: Request, who: Who, q: Annotated[str, Query(max_length=100)] = "") -> list[PolicyOut]:
    """政策库：按编号或标题查找。"""
    return [PolicyOut(id=x.id, version=x.version, title=x.title, tier=x.tier.value, department=x.department,
                      status=x.status, valid_from=x.valid_from, valid_to=x.valid_to, time_limit=x.time_limit)
            for x in enterprise.list_policies(plat(request), who, q)]


@router.post("/api/v1/batches", response_model=BatchOut, responses=ERRORS, tags=["政策管理"])
def run_batch(request: Request, who: Who) -> BatchOut:
    """对当前数据运行一次批次：免申即享生成待公示记录，即申即享生成邀约；同一政策、企业、期间只生成一次。"""
    p = plat(request)
    r = service.run_batch(p.ledger, who, p.data.dataset, p.library.policies, p.data.as_of, p.dictionary)
    p.checkups.clear()
    answers(request).clear()
    return BatchOut(batch_id=r.batch_id, created=r.created, created_fen=r.created_fen, invited=r.invited,
                    skipped=r.skipped)


@router.post("/api/v1/payouts/{reference}/revoke", response_model=PayoutOut, responses=ERRORS, tags=["政策管理"])
def revoke(request: Request, reference: Ref, body: RevokeIn, who: Who) -> PayoutOut:
    """追回已支付的兑现（记录追回金额，默认全额）。"""
    return _payout(service.revoke(plat(request).ledger, who, reference, body.reason, body.clawback_fen))


@router.get("/api/v1/notice-list", responses={200: {"content": {"application/vnd.openxmlformats-officedocument"
                                                             ".spreadsheetml.sheet": {}}}, **ERRORS},
         tags=["政策管理"])
def notice_list(request: Request, who: Who) -> Response:
    """公示名单（Excel，不含银行账号与个人信息；导出记入审计日志）。"""
    data, _ = service.export_notice(plat(request).ledger, who, "xlsx")
    return Response(data, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": "attachment; filename=notice.xlsx"})


@router.post("/api/v1/policy-drafts/from-document", response_model=DraftDocumentOut, responses=ERRORS, tags=["政策管理"])
def draft_from_document(request: Request, body: FileIn, who: Who) -> DraftDocumentOut:
    """政策拆解：上传政策原文（文本、.docx 或带文字层的 PDF，Base64），返回每个支持条款的政策草稿，
    每个条件与金额都标出原文位置，未识别的内容列为待核对事项。不写入任何数据；核对后经起草、双人复核发布。"""
    (name, data), = _decoded([body])
    doc = drafting.draft_document(who, plat(request).dictionary, data, name)
    return DraftDocumentOut.model_validate({**doc.to_dict(), "text": doc.source.text})
