"""合同履约: officials draft and monitor contracts, both parties sign, anyone with the evidence
verifies; recovery claims are settled by officials (write-off by a second one)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request

from ..library.contracts import render_zh
from ..service import contracts as svc
from .deps import ERRORS, Who, plat
from .models import (
    ClaimOut,
    ContractFromTemplateIn,
    ContractIn,
    ContractOut,
    ContractSignatureIn,
    MilestoneOut,
    OffsetIn,
    Reason,
    RepaymentIn,
    SignatureOut,
    SigningKeyOut,
    VerificationOut,
    WriteOffDecisionIn,
)

router = APIRouter()
Number = Annotated[str, Path(description="合同编号", min_length=1, max_length=48)]
Version = Annotated[int, Path(description="合同版本", ge=1, le=10_000)]
ClaimId = Annotated[int, Path(description="追回记录编号", ge=1, le=2**31 - 1)]


def _out(request: Request, row: Any, full: bool = False) -> ContractOut:
    out = ContractOut(number=row.number, version=row.version, credit_code=row.credit_code, title=row.title,
                      status=row.status, status_zh=svc.STATUS_ZH.get(row.status, row.status), sha256=row.sha256)
    if full:
        d = plat(request).dictionary
        out.text = row.text
        out.text_zh = render_zh(svc.loaded(row, d), d)
    return out


def _milestone(x: Any) -> MilestoneOut:
    return MilestoneOut(milestone=x.milestone, name=x.name, due=x.due, deadline=x.deadline, state=x.state,
                        state_zh=x.state_zh, amount_fen=x.amount_fen, payout=x.payout, claim_fen=x.claim_fen,
                        explanation=x.explanation)


def _claim(c: Any) -> ClaimOut:
    return ClaimOut(id=c.id, number=c.number, milestone=c.milestone, credit_code=c.credit_code,
                    amount_fen=c.amount_fen, settled_fen=c.settled_fen, status=c.status,
                    status_zh=svc.CLAIM_ZH.get(c.status, c.status), reason=c.reason, settlements=c.settlements)


@router.get("/api/v1/contracts", response_model=list[ContractOut], responses=ERRORS, tags=["合同履约"])
def contracts(request: Request, who: Who) -> list[ContractOut]:
    """合同（每个编号的最新一版；企业身份只返回本企业的）。"""
    return [_out(request, r) for r in svc.contracts(plat(request).ledger, who)]


@router.post("/api/v1/contracts", response_model=ContractOut, status_code=201, responses=ERRORS, tags=["合同履约"])
def draft(request: Request, body: ContractIn, who: Who) -> ContractOut:
    """登记合同（或补充协议：同一编号的下一版），校验后等待双方签署。"""
    p = plat(request)
    return _out(request, svc.draft(p.ledger, who, body.text, p.dictionary), full=True)


@router.post("/api/v1/contracts/from-template", response_model=ContractOut, status_code=201, responses=ERRORS,
             tags=["合同履约"])
def draft_from_template(request: Request, body: ContractFromTemplateIn, who: Who) -> ContractOut:
    """按模板起草并登记合同。"""
    p = plat(request)
    return _out(request, svc.draft_from_template(p.ledger, who, body.template, body.fields, p.dictionary), full=True)


@router.get("/api/v1/contracts/{number}", response_model=ContractOut, responses=ERRORS, tags=["合同履约"])
def contract(request: Request, number: Number, who: Who) -> ContractOut:
    """合同的最新一版：文本、中文文本、签名与各履约节点的状态和说明。"""
    sf = plat(request).ledger
    row = svc.contract(sf, who, number)
    out = _out(request, row, full=True)
    out.signatures = [SignatureOut(**{k: str(s[k]) for k in ("party", "signer", "public_key", "signature",
                                                              "signed_at")})
                      for s in svc.signatures(sf, who, row.number, row.version)]
    out.milestones = [_milestone(x) for x in svc.states(sf, who, row.number, plat(request).dictionary)]
    return out


@router.post("/api/v1/signing-keys", response_model=SigningKeyOut, status_code=201, responses=ERRORS, tags=["合同履约"])
def signing_key(request: Request, who: Who) -> SigningKeyOut:
    """为调用者生成签署密钥：公钥登记，私钥只返回这一次（此前的密钥停用）。"""
    kid, pem = svc.new_signing_key(plat(request).ledger, who)
    return SigningKeyOut(key_id=kid, private_key_pem=pem.decode(), message_format=svc.PURPOSE + "\\n编号\\n版本\\n哈希\\n")


@router.post("/api/v1/contracts/{number}/versions/{version}/signatures", response_model=ContractOut,
             responses=ERRORS, tags=["合同履约"])
def sign(request: Request, number: Number, version: Version, body: ContractSignatureIn, who: Who) -> ContractOut:
    """以调用者的签署密钥签署（签名在调用方生成，平台核验后记录并上链存证）。"""
    return _out(request, svc.sign(plat(request).ledger, who, number, version, body.signature))


@router.get("/api/v1/contracts/{number}/evidence", responses=ERRORS, tags=["合同履约"])
def evidence(request: Request, number: Number, who: Who) -> dict[str, Any]:
    """存证：文本、双方签名与公钥、审计日志中的记录（供离线核验：mianshen contracts verify --evidence）。"""
    return svc.evidence(plat(request).ledger, who, number)


@router.get("/api/v1/contracts/{number}/verification", response_model=VerificationOut, responses=ERRORS, tags=["合同履约"])
def verification(request: Request, number: Number, who: Who) -> VerificationOut:
    """核验：文本哈希、双方签名、审计日志中的签署记录。"""
    v = svc.verify(plat(request).ledger, who, number)
    return VerificationOut(number=v.number, version=v.version, sha256=v.sha256, ok=v.ok, problems=v.problems,
                           signatures=v.signatures)


@router.post("/api/v1/contracts/check", response_model=list[MilestoneOut], responses=ERRORS, tags=["合同履约"])
def check(request: Request, who: Who) -> list[MilestoneOut]:
    """按当前数据核查全部生效合同的履约节点（达成的生成兑现，逾期未达成的按约定追回）。"""
    p = plat(request)
    return [_milestone(x) for x in svc.check(p.ledger, who, p.data.dataset, p.dictionary,
                                             policies=p.library.policies)]


@router.get("/api/v1/recovery-claims", response_model=list[ClaimOut], responses=ERRORS, tags=["合同履约"])
def claims(request: Request, who: Who) -> list[ClaimOut]:
    """追回记录（企业身份只返回本企业的）。"""
    return [_claim(c) for c in svc.claims(plat(request).ledger, who)]


@router.post("/api/v1/recovery-claims/{claim}/repayments", status_code=204, responses=ERRORS, tags=["合同履约"])
def repay(request: Request, claim: ClaimId, body: RepaymentIn, who: Who) -> None:
    """登记企业退回的款项（银行流水号）。"""
    svc.repaid(plat(request).ledger, who, claim, body.fen, body.bank_reference)


@router.post("/api/v1/recovery-claims/{claim}/offsets", status_code=204, responses=ERRORS, tags=["合同履约"])
def offset(request: Request, claim: ClaimId, body: OffsetIn, who: Who) -> None:
    """以同一企业一笔待公示或公示中的兑现整笔抵扣。"""
    svc.offset(plat(request).ledger, who, claim, body.payout, body.reason)


@router.post("/api/v1/recovery-claims/{claim}/write-off", status_code=204, responses=ERRORS, tags=["合同履约"])
def write_off(request: Request, claim: ClaimId, body: Reason, who: Who) -> None:
    """申请核销（写明原因），由另一名工作人员复核。"""
    svc.request_write_off(plat(request).ledger, who, claim, body.reason)


@router.post("/api/v1/recovery-claims/{claim}/write-off/decision", status_code=204, responses=ERRORS, tags=["合同履约"])
def write_off_decision(request: Request, claim: ClaimId, body: WriteOffDecisionIn, who: Who) -> None:
    """复核核销申请（申请人以外的工作人员）。"""
    svc.approve_write_off(plat(request).ledger, who, claim, approve=body.approve)
