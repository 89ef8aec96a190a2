"""The enterprise portal (企业服务空间): 政策体检, payouts and their explanation, invitations, applications, supplied values, objections. An enterprise reads and writes its own only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from .. import service
from ..errors import Forbidden
from ..service import enterprise, tiers
from .deps import ERRORS, Code, Ref, Who, answers, plat
from .models import (
    ApplicationIn,
    ApplicationOut,
    CheckUpOut,
    ExplanationOut,
    FormFieldOut,
    InvitationOut,
    NearMissOut,
    ObjectionIn,
    ObjectionOut,
    PayoutExplanationOut,
    PayoutOut,
    SuppliedOut,
    SupplyIn,
    _app,
    _decoded,
    _inv,
    _obj,
    _payout,
    _sup,
)

router = APIRouter()


@router.get("/api/v1/enterprises/{credit_code}/policies", response_model=CheckUpOut, responses=ERRORS,
         tags=["企业服务空间"])
async def enterprise_policies(request: Request, credit_code: Code, who: Who) -> Response:
    """政策体检：符合、待补充数据与差一项的政策，逐条说明条件、取值、来源与依据。企业只能查询本企业。"""
    p = plat(request)
    cu = enterprise.check_enterprise(p, who, credit_code)  # authorisation first, every time
    code = credit_code.strip().upper()
    body = answers(request).get(code) if p.checkups.get(code) is cu else None
    if body is None:
        out = CheckUpOut(
            credit_code=credit_code.strip().upper(), as_of=cu.as_of.isoformat(), total_fen=cu.total_fen,
            eligible=[ExplanationOut.model_validate(e.to_dict()) for e in cu.eligible],
            undetermined=[ExplanationOut.model_validate(e.to_dict()) for e in cu.undetermined],
            near_misses=[NearMissOut(policy_id=n.policy.id, title=n.policy.title,
                                     condition=n.condition.label or n.condition.zh, gap=n.condition.gap,
                                     potential_fen=n.potential_fen) for n in cu.near_misses])
        body = out.model_dump_json().encode()
        if p.checkups.get(code) is cu:
            answers(request)[code] = body  # the platform keeps this check-up for its lifetime: keep its JSON too
    return Response(body, media_type="application/json")


@router.get("/api/v1/enterprises/{credit_code}/payouts", response_model=list[PayoutOut], responses=ERRORS,
         tags=["企业服务空间"])
def enterprise_payouts(request: Request, credit_code: Code, who: Who) -> list[PayoutOut]:
    """企业的兑现记录与进度。企业只能查询本企业。"""
    code = credit_code.strip().upper()
    if who.role == "enterprise" and code != who.credit_code:
        service.require(who, "payout.read", code)
    rows = service.list_payouts(plat(request).ledger, who, service.PayoutFilter(credit_code=code))
    return [_payout(p) for p in rows]


@router.get("/api/v1/payouts/{reference}/explanation", response_model=PayoutExplanationOut, responses=ERRORS,
         tags=["企业服务空间"])
def payout_explanation(request: Request, reference: Ref, who: Who) -> PayoutExplanationOut:
    """一笔兑现的说明：所依据的政策版本按记录的数据重算，逐条列出条件、取值与来源，金额计算，实发金额与分配说明，
    来由，以及记录与政策或兑现金额不一致之处（consistent 为 false 时须核查）。企业只能查询本企业的兑现。"""
    p = plat(request)
    pay, e = service.explain_payout(p.ledger, who, reference, p.library.policies, p.dictionary)
    return PayoutExplanationOut(reference=pay.reference, status=pay.status, amount_fen=pay.amount_fen,
                                explanation=ExplanationOut.model_validate(e.to_dict()))


@router.get("/api/v1/enterprises/{credit_code}/invitations", response_model=list[InvitationOut], responses=ERRORS,
         tags=["企业服务空间"])
def invitations(request: Request, credit_code: Code, who: Who) -> list[InvitationOut]:
    """即申即享：本企业的邀约（待确认、已确认、已放弃、已过期）。"""
    if who.role == "enterprise" and credit_code.strip().upper() != who.credit_code:
        raise Forbidden("企业账户只能查看本企业的数据")
    if who.role not in ("enterprise", "official", "auditor"):
        raise Forbidden("无权查看邀约")
    return [_inv(i) for i in tiers.invitations(plat(request), who, credit_code)]


@router.post("/api/v1/invitations/{reference}/confirm", response_model=InvitationOut, responses=ERRORS,
          tags=["企业服务空间"])
def confirm(request: Request, reference: Ref, who: Who) -> InvitationOut:
    """确认享受：生成兑现记录，进入公示。"""
    return _inv(tiers.decide_invitation(plat(request), who, reference, True))


@router.post("/api/v1/invitations/{reference}/decline", response_model=InvitationOut, responses=ERRORS,
          tags=["企业服务空间"])
def decline(request: Request, reference: Ref, who: Who) -> InvitationOut:
    """放弃：本期不再邀约。"""
    return _inv(tiers.decide_invitation(plat(request), who, reference, False))


@router.get("/api/v1/enterprises/{credit_code}/application-form", response_model=list[FormFieldOut],
         responses=ERRORS, tags=["企业服务空间"])
def application_form(request: Request, credit_code: Code, who: Who,
                     policy: Annotated[str, Query(min_length=1, max_length=64)]) -> list[FormFieldOut]:
    """申报表单：档案已有的数据自动带入（known），其余为需填写的项目。"""
    return [FormFieldOut(**f.__dict__) for f in tiers.application_form(plat(request), who, credit_code, policy)]


@router.post("/api/v1/enterprises/{credit_code}/applications", response_model=ApplicationOut, responses=ERRORS,
          tags=["企业服务空间"])
def apply(request: Request, credit_code: Code, body: ApplicationIn, who: Who) -> ApplicationOut:
    """提交申报（或退回补正后再次提交），可附证明材料。"""
    return _app(tiers.submit_application(plat(request), who, credit_code, body.policy_id, body.answers, body.statement,
                                         _decoded(body.files)))


@router.get("/api/v1/enterprises/{credit_code}/applications", response_model=list[ApplicationOut],
         responses=ERRORS, tags=["企业服务空间"])
def my_applications(request: Request, credit_code: Code, who: Who) -> list[ApplicationOut]:
    return [_app(a) for a in tiers.applications(plat(request), who, credit_code)]


@router.post("/api/v1/enterprises/{credit_code}/supplied-values", response_model=SuppliedOut, responses=ERRORS,
          tags=["企业服务空间"])
def supply(request: Request, credit_code: Code, body: SupplyIn, who: Who) -> SuppliedOut:
    """补充缺失数据（附说明与证明材料）；主管部门核验后才用于判定。"""
    return _sup(tiers.supply_value(plat(request), who, credit_code, body.tag, body.value, body.statement,
                                   _decoded(body.files)))


@router.post("/api/v1/enterprises/{credit_code}/objections", response_model=ObjectionOut, responses=ERRORS,
          tags=["企业服务空间"])
def object_(request: Request, credit_code: Code, body: ObjectionIn, who: Who) -> ObjectionOut:
    """提出异议，或兑现后评价（rating 1–5）。"""
    return _obj(tiers.raise_objection(plat(request), who, credit_code, body.subject, body.text, _decoded(body.files),
                                      body.rating))


@router.get("/api/v1/enterprises/{credit_code}/objections", response_model=list[ObjectionOut], responses=ERRORS,
         tags=["企业服务空间"])
def my_objections(request: Request, credit_code: Code, who: Who) -> list[ObjectionOut]:
    """本企业的异议与评价，含主管部门的答复。"""
    return [_obj(o) for o in tiers.objections(plat(request), who, credit_code)]
