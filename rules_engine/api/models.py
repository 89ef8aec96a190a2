"""The API's request and response bodies and the conversions from service objects."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field

from ..errors import EngineError
from ..service import tiers

STATUS = {"forbidden": 403, "unauthenticated": 401, "not_found": 404, "conflict": 409, "illegal_transition": 409,
          "invalid": 422, "bad_data": 422, "sign_in_refused": 401, "too_large": 413}


def _with_offset(value: dt.datetime) -> dt.datetime:
    """The ledger stores the server's local time without an offset; the API says which (RFC 3339
    date-time requires it, and a client in another zone would misread a bare time)."""
    return value if value.tzinfo is not None else value.astimezone()


Stamp = Annotated[dt.datetime, AfterValidator(_with_offset)]


class Problem(BaseModel):
    code: str = Field(description="稳定的机器可读错误码")
    message: str = Field(description="中文说明")


class ValueOut(BaseModel):
    tag: str
    label: str
    value: str
    source: str
    as_of: str | None
    file: str = ""  # the department file, where known


class ConditionOut(BaseModel):
    id: str
    text: str
    article: str
    outcome: bool | None
    gap: str
    missing: list[str]
    values: list[ValueOut]


class PolicyRef(BaseModel):
    id: str
    version: int
    title: str
    tier: str
    department: str
    contact: str
    basis: dict[str, str]


class GrantOut(BaseModel):
    formula_fen: int = Field(description="按政策公式计算的金额（分）")
    granted_fen: int = Field(description="实发金额（分），就高不重复或预算分配后")
    allocation: str = Field(description="实发与公式金额不同的原因")
    origin: str = Field(description="兑现记录的来由：批次匹配、数据更新触发、企业确认享受或申报审核通过")
    consistent: bool = Field(description="按记录的数据重算与记录、兑现金额是否一致")
    discrepancies: list[str]


class ExplanationOut(BaseModel):
    policy: PolicyRef
    status: str
    status_zh: str
    amount_fen: int
    as_of: str
    reason: str
    missing: list[str]
    conditions: list[ConditionOut]
    amount_steps: list[str]
    grant: GrantOut | None = Field(None, description="仅兑现记录的说明有：公式与实发金额、来由与核对结果")


class PayoutExplanationOut(BaseModel):
    reference: str
    status: str
    amount_fen: int
    explanation: ExplanationOut


class NearMissOut(BaseModel):
    policy_id: str
    title: str
    condition: str
    gap: str
    potential_fen: int


class CheckUpOut(BaseModel):
    credit_code: str
    as_of: str
    total_fen: int
    eligible: list[ExplanationOut]
    undetermined: list[ExplanationOut]
    near_misses: list[NearMissOut]


class PayoutOut(BaseModel):
    reference: str
    policy_id: str
    policy_version: int
    credit_code: str
    enterprise_name: str | None
    period: str
    amount_fen: int
    status: str
    notice_start: dt.date | None
    notice_end: dt.date | None
    payment_file: str | None
    bank_reference: str | None


class PaymentFileOut(BaseModel):
    reference: str
    name: str
    count: int
    total_fen: int
    sha256: str
    created_at: Stamp
    created_by: str
    missing_account: list[str] = []


class BankLine(BaseModel):
    file: str = Field(description="支付文件编号，如 PF00000001", max_length=20)
    file_sha256: str = Field(max_length=64)
    reference: str = Field(description="兑现编号，如 MS0000000001", max_length=20)
    amount: str = Field(description="金额（元），两位小数", max_length=24)
    account: str = Field(max_length=40)
    result: str = Field(description="成功 或 失败", max_length=10)
    bank_reference: str = Field("", max_length=64)
    message: str = Field("", max_length=200)


class BankResults(BaseModel):
    lines: list[BankLine] = Field(max_length=100000)


class ImportOut(BaseModel):
    paid: int
    failed: int
    unchanged: int
    problems: list[str]


class IndicatorOut(BaseModel):
    policy_id: str
    total_fen: int
    committed_fen: int
    paid_fen: int
    available_fen: int
    source: str


class IndicatorIn(BaseModel):
    total_fen: int = Field(ge=0, lt=10**17)


class SignIn(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)


class SessionOut(BaseModel):
    token: str
    role: str
    credit_code: str | None
    expires_in_s: int


class Reason(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class CountOut(BaseModel):
    count: int
    notice_start: dt.date | None = None
    notice_end: dt.date | None = None


class VerifyOut(BaseModel):
    mode: str = Field(description="账本用途：production（生产）、test（测试）、demo（演示）")
    entries: int
    checkpoints: int
    problems: list[str]
    notes: list[str] = Field(description="不是问题但应知道的情况（如测试账本上使用模拟时钟的操作）")


class RunReplayOut(BaseModel):
    batch_id: int
    started_at: Stamp
    data_version: int | None
    consistent: bool
    data_same: bool
    decisions_same: bool
    eligible: int
    recorded_eligible: int | None
    created: int
    created_same: int
    problems: list[str]


class ReplayOut(BaseModel):
    as_of: dt.date
    data_version: int | None
    policies: dict[str, int]
    eligible: int
    eligible_fen: int
    undetermined: int
    consistent: bool
    runs: list[RunReplayOut]


class FileIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    content_base64: str = Field(max_length=14_000_000, description="文件内容（Base64），不超过 10 MB")


class InvitationOut(BaseModel):
    reference: str
    policy_id: str
    title: str
    amount_fen: int
    status: str
    status_zh: str
    expires_on: dt.date
    payout_reference: str | None


class ApplicationIn(BaseModel):
    policy_id: str = Field(min_length=1, max_length=64)
    answers: dict[str, str] = Field(default_factory=dict, max_length=100)
    statement: str = Field(max_length=4000)
    files: list[FileIn] = Field(default_factory=list, max_length=5)


class ApplicationOut(BaseModel):
    reference: str
    policy_id: str
    status: str
    status_zh: str
    amount_fen: int | None
    reason: str | None


class FormFieldOut(BaseModel):
    tag: str
    label: str
    unit: str
    known: str | None
    source: str | None


class SupplyIn(BaseModel):
    tag: str = Field(min_length=1, max_length=64)
    value: str = Field(max_length=200)
    statement: str = Field(max_length=2000)
    files: list[FileIn] = Field(default_factory=list, max_length=5)


class SuppliedOut(BaseModel):
    reference: str
    tag: str
    value: str
    status: str
    status_zh: str
    reason: str | None


class ReviewIn(BaseModel):
    decision: str = Field(pattern="^(accept|return|reject)$")
    reason: str = Field(min_length=1, max_length=2000)


class VerifyIn(BaseModel):
    accept: bool
    reason: str = Field(min_length=1, max_length=2000)


class ObjectionIn(BaseModel):
    subject: str = Field(min_length=1, max_length=64, description="兑现编号（MS…）或政策编号")
    text: str = Field(max_length=4000)
    rating: int | None = Field(None, ge=1, le=5)
    files: list[FileIn] = Field(default_factory=list, max_length=5)


class ObjectionOut(BaseModel):
    id: int
    kind: str
    subject: str
    text: str
    rating: int | None
    status: str
    answer: str | None


def _decoded(files: list[FileIn]) -> list[tuple[str, bytes]]:
    import base64
    import binascii

    out = []
    for f in files:
        try:
            out.append((f.name, base64.b64decode(f.content_base64, validate=True)))
        except (binascii.Error, ValueError):
            raise EngineError(f"{f.name}：文件内容不是有效的 Base64") from None
    return out


def _inv(i: Any) -> InvitationOut:
    return InvitationOut(reference=i.reference, policy_id=i.policy_id, title=(i.explanation or {}).get("title", ""),
                         amount_fen=i.amount_fen, status=i.status, status_zh=tiers.INVITATION_ZH.get(i.status, i.status),
                         expires_on=i.expires_on, payout_reference=f"MS{i.payout_id:010d}" if i.payout_id else None)


def _app(a: Any) -> ApplicationOut:
    return ApplicationOut(reference=a.reference, policy_id=a.policy_id, status=a.status,
                          status_zh=tiers.APPLICATION_ZH.get(a.status, a.status), amount_fen=a.amount_fen,
                          reason=a.reason)


def _sup(v: Any) -> SuppliedOut:
    return SuppliedOut(reference=v.reference, tag=v.tag, value=v.value, status=v.status,
                       status_zh=tiers.SUPPLIED_ZH.get(v.status, v.status), reason=v.reason)


def _obj(o: Any) -> ObjectionOut:
    return ObjectionOut(id=o.id, kind=o.kind, subject=o.subject, text=o.text, rating=o.rating, status=o.status,
                        answer=o.answer)


class PolicyOut(BaseModel):
    id: str
    version: int
    title: str
    tier: str
    department: str
    status: str
    valid_from: dt.date
    valid_to: dt.date | None
    time_limit: int | None


class BatchOut(BaseModel):
    batch_id: int
    created: int
    created_fen: int
    invited: int
    skipped: dict[str, int]


class RevokeIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)
    clawback_fen: int | None = Field(None, gt=0, lt=10**17)


def _payout(p: Any) -> PayoutOut:
    return PayoutOut(reference=p.reference, policy_id=p.policy_id, policy_version=p.policy_version,
                     credit_code=p.credit_code, enterprise_name=p.enterprise_name, period=p.period,
                     amount_fen=p.amount_fen, status=p.status, notice_start=p.notice_start, notice_end=p.notice_end,
                     payment_file=p.payment_file, bank_reference=p.bank_reference)


def _file(f: Any, missing: list[str] | None = None) -> PaymentFileOut:
    return PaymentFileOut(reference=f.reference, name=f.name, count=f.count, total_fen=f.total_fen, sha256=f.sha256,
                          created_at=f.created_at, created_by=f.created_by, missing_account=missing or [])




class DraftPartOut(BaseModel):
    role: str = Field(description="条件、金额、上限、分档")
    rule: str = Field(description="草稿中的写法（条件表达式或金额）")
    label: str
    start: int = Field(description="原文中的起始位置（字符，从 0 起）")
    end: int


class OpenItemOut(BaseModel):
    message: str
    start: int
    end: int


class PolicyDraftOut(BaseModel):
    policy_id: str
    article: str
    title: str
    yaml: str = Field(description="政策 YAML：经加载器与类型检查；提交审核前须人工核对")
    loads: bool
    problems: list[str]
    cases: int = Field(description="自动生成的边界测试用例数")
    cases_failed: list[str]
    parts: list[DraftPartOut]
    open_items: list[OpenItemOut]


class DraftDocumentOut(BaseModel):
    name: str
    kind: str
    pages: int | None
    notes: list[str]
    title: str
    number: str
    text: str = Field(description="规范化后的原文（与上传文件逐字对应），位置均指向它")
    open_items: list[OpenItemOut]
    drafts: list[PolicyDraftOut]


# ------------------------------------------------------------------ 合同履约


class ContractIn(BaseModel):
    text: str = Field(min_length=1, max_length=20_000, description="合同 YAML 文本（见 docs/CONTRACTS.md）")


class ContractFromTemplateIn(BaseModel):
    template: str = Field(min_length=1, max_length=64)
    fields: dict[str, str] = Field(description="模板字段及其取值（只能含文字、数字和少数标点）")


class SignatureOut(BaseModel):
    party: str = Field(description="government（甲方，政府）或 enterprise（乙方，企业）")
    signer: str
    public_key: str = Field(description="Ed25519 公钥（十六进制）")
    signature: str
    signed_at: str


class MilestoneOut(BaseModel):
    milestone: str
    name: str
    due: dt.date
    deadline: dt.date = Field(description="截止日期加宽限期")
    state: str = Field(description="met 已达成 | pending 履约中 | missed 未达成 | undetermined 待补充数据")
    state_zh: str
    amount_fen: int
    payout: str | None
    claim_fen: int
    explanation: dict[str, Any] = Field(description="与政策计算器相同的说明：条件、取值、来源、日期、缺少的数据")


class ContractOut(BaseModel):
    number: str
    version: int
    credit_code: str
    title: str
    status: str = Field(description="drafted 待签署 | signed 已生效 | superseded 已被补充协议替代 | void 已作废")
    status_zh: str
    sha256: str = Field(description="规范文本的 SHA-256：双方签署的就是它")
    text_zh: str | None = None
    text: str | None = None
    signatures: list[SignatureOut] = []
    milestones: list[MilestoneOut] = []


class ContractSignatureIn(BaseModel):
    signature: str = Field(min_length=128, max_length=128, description="对 签署消息 的 Ed25519 签名（十六进制）")


class SigningKeyOut(BaseModel):
    key_id: int
    private_key_pem: str = Field(description="私钥（PEM），只在此时返回一次，平台不保存")
    message_format: str = Field(description="签署消息的格式：每行一项，依次为用途、合同编号、版本、文本哈希")


class VerificationOut(BaseModel):
    number: str
    version: int
    sha256: str
    ok: bool
    problems: list[str]
    signatures: list[dict[str, Any]]


class ClaimOut(BaseModel):
    id: int
    number: str
    milestone: str
    credit_code: str
    amount_fen: int
    settled_fen: int
    status: str
    status_zh: str
    reason: str
    settlements: list[dict[str, Any]]


class RepaymentIn(BaseModel):
    fen: int = Field(gt=0, lt=10**17)
    bank_reference: str = Field(min_length=1, max_length=64)


class OffsetIn(BaseModel):
    payout: str = Field(min_length=1, max_length=40, description="用于抵扣的兑现记录编号（MS 开头）")
    reason: str = Field(min_length=1, max_length=500)


class WriteOffDecisionIn(BaseModel):
    approve: bool
