"""FastAPI application. Errors are JSON {"code": stable machine code, "message": Chinese text};
no route answers 500 for any input (schemathesis checks it)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from .. import service
from ..errors import EngineError, Forbidden
from ..service import auth, budget, enterprise, keys, tiers
from ..service.accounts import AccountError, load_accounts
from ..service.actors import Actor
from ..service.platform import Platform

log = logging.getLogger("mianshen.api")

STATUS = {"forbidden": 403, "unauthenticated": 401, "not_found": 404, "conflict": 409, "illegal_transition": 409,
          "invalid": 422, "bad_data": 422, "sign_in_refused": 401}


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
    created_at: dt.datetime
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
    entries: int
    checkpoints: int
    problems: list[str]


class RunReplayOut(BaseModel):
    batch_id: int
    started_at: dt.datetime
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


ERRORS: dict[int | str, dict[str, Any]] = {c: {"model": Problem} for c in (401, 403, 404, 409, 422)}


async def current_actor(request: Request, authorization: Annotated[
        str | None, Header(description="Bearer <API 密钥或会话令牌>")] = None) -> Actor:
    """Async: a credential seen in the last seconds is a dict lookup (service.keys), not worth a
    hop to the thread pool; a miss costs one primary-key read."""
    token = authorization.removeprefix("Bearer ").strip() if authorization else None
    return keys.actor_for(request.app.state.platform().ledger, token)


Who = Annotated[Actor, Depends(current_actor)]
Code = Annotated[str, Path(description="统一社会信用代码", min_length=1, max_length=40)]
Ref = Annotated[str, Path(description="编号", min_length=1, max_length=40)]


class RefuseNul:
    """A NUL character anywhere in a request's path, query or JSON body is refused (422) before
    any route sees it: PostgreSQL text cannot hold NUL (it ended as a 500), and no one's name,
    reason or statement contains it. Pure ASGI, so a GET pays one substring test."""

    MESSAGE = json.dumps({"code": "invalid_request", "message": "请求含有控制字符（NUL），请删除后重试"},
                         ensure_ascii=False).encode()

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b""):
            return await self._refuse(send)
        headers = dict(scope.get("headers") or [])
        if b"json" not in headers.get(b"content-type", b""):
            return await self.app(scope, receive, send)
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return await self.app(scope, receive, send)
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if b"\\u0000" in body or b"\x00" in body:
            return await self._refuse(send)
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)

    async def _refuse(self, send: Any) -> None:
        await send({"type": "http.response.start", "status": 422,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(self.MESSAGE)).encode())]})
        await send({"type": "http.response.body", "body": self.MESSAGE})


def create_app(platform: Platform | Callable[[], Platform] | None = None) -> FastAPI:
    app = FastAPI(title="免申即享 政策兑现平台 API", version="1.0.0",
                  description="企业服务空间、财政涉企支付系统、预算管理一体化系统与政策管理人员使用的接口。"
                              "所有写操作记入审计日志。错误返回 {code, message}。",
                  docs_url="/api/v1/docs", redoc_url=None, openapi_url="/api/v1/openapi.json")
    state: dict[str, Platform] = {}
    loading = threading.Lock()

    def plat() -> Platform:
        """Loaded once, by the first request (requests run on a thread pool: one loads, the
        others wait; two migrations at once would break Alembic)."""
        if "p" not in state:
            with loading:
                if "p" not in state:
                    state["p"] = platform() if callable(platform) else platform or Platform.from_env()
        return state["p"]

    @app.exception_handler(EngineError)
    async def domain_error(_: Request, exc: EngineError) -> JSONResponse:
        return JSONResponse({"code": exc.code, "message": str(exc)}, status_code=STATUS.get(exc.code, 400))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        where = "；".join(".".join(str(x) for x in e.get("loc", ())[1:]) or "请求" for e in exc.errors()[:5])
        return JSONResponse({"code": "invalid_request", "message": f"请求格式不正确：{where}"}, status_code=422)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return JSONResponse({"code": "internal", "message": "服务器内部错误，已记录，请稍后重试"}, status_code=500)

    app.state.platform = plat
    app.add_middleware(RefuseNul)

    # ---------------------------------------------------------------- sessions

    @app.post("/api/v1/sessions", response_model=SessionOut, responses=ERRORS, tags=["会话"])
    def sign_in(body: SignIn, request: Request) -> SessionOut:
        """人员登录：返回会话令牌（8 小时内有效，连续 30 分钟未使用即失效）。连续失败会被限速并临时锁定。"""
        try:
            accounts = load_accounts()
        except AccountError as exc:
            raise EngineError(f"账户配置有误：{exc}") from None
        a = auth.sign_in(plat().ledger, accounts, body.username, body.password,
                         request.client.host if request.client else None)
        return SessionOut(token=keys.open_session(plat().ledger, a), role=a.role, credit_code=a.credit_code,
                          expires_in_s=keys.SESSION_HOURS * 3600)

    @app.delete("/api/v1/sessions", status_code=204, responses=ERRORS, tags=["会话"])
    def sign_out(who: Who, authorization: Annotated[str | None, Header()] = None) -> Response:
        """退出登录：令牌立即失效。"""
        keys.close_session(plat().ledger, (authorization or "").removeprefix("Bearer ").strip())
        return Response(status_code=204)

    # ---------------------------------------------------------------- enterprise portal

    answers: dict[str, bytes] = {}

    @app.get("/api/v1/enterprises/{credit_code}/policies", response_model=CheckUpOut, responses=ERRORS,
             tags=["企业服务空间"])
    async def enterprise_policies(credit_code: Code, who: Who) -> Response:
        """政策体检：符合、待补充数据与差一项的政策，逐条说明条件、取值、来源与依据。企业只能查询本企业。"""
        p = plat()
        cu = enterprise.check_enterprise(p, who, credit_code)  # authorisation first, every time
        code = credit_code.strip().upper()
        body = answers.get(code) if p.checkups.get(code) is cu else None
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
                answers[code] = body  # the platform keeps this check-up for its lifetime: keep its JSON too
        return Response(body, media_type="application/json")

    @app.get("/api/v1/enterprises/{credit_code}/payouts", response_model=list[PayoutOut], responses=ERRORS,
             tags=["企业服务空间"])
    def enterprise_payouts(credit_code: Code, who: Who) -> list[PayoutOut]:
        """企业的兑现记录与进度。企业只能查询本企业。"""
        code = credit_code.strip().upper()
        if who.role == "enterprise" and code != who.credit_code:
            service.require(who, "payout.read", code)
        rows = service.list_payouts(plat().ledger, who, service.PayoutFilter(credit_code=code))
        return [_payout(p) for p in rows]

    @app.get("/api/v1/payouts/{reference}/explanation", response_model=PayoutExplanationOut, responses=ERRORS,
             tags=["企业服务空间"])
    def payout_explanation(reference: Ref, who: Who) -> PayoutExplanationOut:
        """一笔兑现的说明：所依据的政策版本按记录的数据重算，逐条列出条件、取值与来源，金额计算，实发金额与分配说明，
        来由，以及记录与政策或兑现金额不一致之处（consistent 为 false 时须核查）。企业只能查询本企业的兑现。"""
        p = plat()
        pay, e = service.explain_payout(p.ledger, who, reference, p.library.policies, p.dictionary)
        return PayoutExplanationOut(reference=pay.reference, status=pay.status, amount_fen=pay.amount_fen,
                                    explanation=ExplanationOut.model_validate(e.to_dict()))

    # ---------------------------------------------------------------- officials

    @app.get("/api/v1/payouts", response_model=list[PayoutOut], responses=ERRORS, tags=["政策管理"])
    def payouts(who: Who, status: Annotated[list[str] | None, Query(max_length=10)] = None,
                policy: Annotated[str | None, Query(max_length=64)] = None,
                region: Annotated[str | None, Query(max_length=6)] = None,
                limit: Annotated[int, Query(ge=1, le=10000)] = 1000) -> list[PayoutOut]:
        """兑现台账（企业身份只返回本企业）。"""
        f = service.PayoutFilter(tuple(status or ()), policy, region)
        return [_payout(p) for p in service.list_payouts(plat().ledger, who, f, limit)]

    @app.post("/api/v1/payouts/publish", response_model=CountOut, responses=ERRORS, tags=["政策管理"])
    def publish(who: Who, policy: Annotated[str | None, Query(max_length=64)] = None) -> CountOut:
        """全部待公示的记录列入公示，公示期自今天（服务器时间）起 5 个工作日。"""
        n, first, last = service.publish_candidates(plat().ledger, who, policy)
        return CountOut(count=n, notice_start=first, notice_end=last)

    @app.post("/api/v1/payouts/approve", response_model=CountOut, responses=ERRORS, tags=["政策管理"])
    def approve(who: Who, policy: Annotated[str | None, Query(max_length=64)] = None) -> CountOut:
        """公示期满（按服务器日期）的记录审批通过，并排队通知企业。"""
        return CountOut(count=service.approve_due(plat().ledger, who, policy))

    @app.post("/api/v1/payouts/{reference}/withdraw", response_model=PayoutOut, responses=ERRORS, tags=["政策管理"])
    def withdraw(reference: Ref, body: Reason, who: Who) -> PayoutOut:
        return _payout(service.withdraw(plat().ledger, who, reference, body.reason))

    @app.post("/api/v1/payouts/{reference}/retry", response_model=PayoutOut, responses=ERRORS, tags=["政策管理"])
    def retry(reference: Ref, body: Reason, who: Who) -> PayoutOut:
        return _payout(service.retry(plat().ledger, who, reference, body.reason))

    @app.get("/api/v1/audit/verify", response_model=VerifyOut, responses=ERRORS, tags=["审计"])
    def verify(who: Who) -> VerifyOut:
        """核验审计链、签名锚点与台账。"""
        r = service.verify_audit(plat().ledger, who)
        return VerifyOut(entries=r.entries, checkpoints=r.checkpoints, problems=r.problems)

    @app.get("/api/v1/replay", response_model=ReplayOut, responses=ERRORS, tags=["审计"])
    def replay_day(who: Who, as_of: Annotated[dt.date, Query(description="要重现的评估日期")]) -> ReplayOut:
        """按该日当时的数据版本与政策版本重新评估，并重现当日每个批次（数据摘要、符合条件的企业与金额、生成的每一笔）。"""
        from ..service.replay import replay

        r = replay(plat().ledger, who, as_of, plat().dictionary)
        return ReplayOut(as_of=r.as_of, data_version=r.data_version, policies=r.policies, eligible=r.eligible,
                         eligible_fen=r.eligible_fen, undetermined=r.undetermined, consistent=r.ok,
                         runs=[RunReplayOut(batch_id=x.batch_id, started_at=x.started_at, data_version=x.data_version,
                                            consistent=x.ok, data_same=x.data_same, decisions_same=x.decisions_same,
                                            eligible=x.eligible, recorded_eligible=x.recorded_eligible,
                                            created=x.created, created_same=x.created_same, problems=x.problems)
                               for x in r.runs])

    # ---------------------------------------------------------------- finance system

    @app.post("/api/v1/payment-files", response_model=PaymentFileOut, responses=ERRORS, tags=["财政涉企支付系统"])
    def issue_file(who: Who) -> PaymentFileOut:
        """把已审批、尚未进入支付文件的记录生成一份支付文件（超出预算指标则拒绝）。"""
        issued = service.export_payment_file(plat().ledger, who, "csv")
        return _file(issued.file, issued.missing_account)

    @app.get("/api/v1/payment-files/{reference}", response_model=PaymentFileOut, responses=ERRORS,
             tags=["财政涉企支付系统"])
    def file_info(reference: Ref, who: Who) -> PaymentFileOut:
        """支付文件的控制合计与 SHA-256。"""
        return _file(service.payment_file(plat().ledger, who, reference))

    @app.get("/api/v1/payment-files/{reference}/content", responses={200: {"content": {"text/csv": {}}}, **ERRORS},
             tags=["财政涉企支付系统"])
    def file_content(reference: Ref, who: Who) -> Response:
        """支付文件原文（与登记的 SHA-256 一致；每次下载记入审计日志）。"""
        f = service.payment_file(plat().ledger, who, reference)
        media = "text/csv; charset=utf-8" if f.format == "csv" else \
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return Response(f.content, media_type=media, headers={"X-Content-SHA256": f.sha256,
                                                              "Content-Disposition": f"attachment; filename={f.reference}.{f.format}"})

    @app.post("/api/v1/bank-results", response_model=ImportOut, responses=ERRORS, tags=["财政涉企支付系统"])
    def bank_results(body: BankResults, who: Who) -> ImportOut:
        """银行回单：逐行须对应已导出支付文件中的一笔（文件编号与哈希、兑现编号、金额、账号）。按银行流水号幂等。"""
        import csv
        import io

        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["file", "file_sha256", "reference", "amount", "account", "result", "bank_reference", "message"])
        for x in body.lines:
            w.writerow([x.file, x.file_sha256, x.reference, x.amount, x.account, x.result, x.bank_reference, x.message])
        r = service.import_bank_results(plat().ledger, who, buf.getvalue().encode("utf-8"))
        return ImportOut(paid=r.paid, failed=r.failed, unchanged=r.unchanged, problems=r.problems)

    # ---------------------------------------------------------------- budget system

    @app.get("/api/v1/budgets", response_model=list[IndicatorOut], responses=ERRORS, tags=["预算管理一体化系统"])
    def budgets(who: Who) -> list[IndicatorOut]:
        """各预算政策的指标：总额、已承诺、已支付、可用。"""
        return [IndicatorOut(policy_id=i.policy_id, total_fen=i.total_fen, committed_fen=i.committed_fen,
                             paid_fen=i.paid_fen, available_fen=i.available_fen, source=i.source)
                for i in budget.indicators(plat().ledger, who)]

    @app.put("/api/v1/budgets/{policy_id}", response_model=IndicatorOut, responses=ERRORS, tags=["预算管理一体化系统"])
    def set_budget(policy_id: Annotated[str, Path(min_length=1, max_length=64)], body: IndicatorIn,
                   who: Who) -> IndicatorOut:
        """预算系统下达或调整一项政策的指标（不得低于已承诺与已支付之和）。"""
        i = budget.set_indicator(plat().ledger, who, policy_id, body.total_fen)
        return IndicatorOut(policy_id=i.policy_id, total_fen=i.total_fen, committed_fen=i.committed_fen,
                            paid_fen=i.paid_fen, available_fen=i.available_fen, source=i.source)

    # ---------------------------------------------------------------- delivery tiers

    @app.get("/api/v1/enterprises/{credit_code}/invitations", response_model=list[InvitationOut], responses=ERRORS,
             tags=["企业服务空间"])
    def invitations(credit_code: Code, who: Who) -> list[InvitationOut]:
        """即申即享：本企业的邀约（待确认、已确认、已放弃、已过期）。"""
        if who.role == "enterprise" and credit_code.strip().upper() != who.credit_code:
            raise Forbidden("企业账户只能查看本企业的数据")
        if who.role not in ("enterprise", "official", "auditor"):
            raise Forbidden("无权查看邀约")
        return [_inv(i) for i in tiers.invitations(plat(), who, credit_code)]

    @app.post("/api/v1/invitations/{reference}/confirm", response_model=InvitationOut, responses=ERRORS,
              tags=["企业服务空间"])
    def confirm(reference: Ref, who: Who) -> InvitationOut:
        """确认享受：生成兑现记录，进入公示。"""
        return _inv(tiers.decide_invitation(plat(), who, reference, True))

    @app.post("/api/v1/invitations/{reference}/decline", response_model=InvitationOut, responses=ERRORS,
              tags=["企业服务空间"])
    def decline(reference: Ref, who: Who) -> InvitationOut:
        """放弃：本期不再邀约。"""
        return _inv(tiers.decide_invitation(plat(), who, reference, False))

    @app.get("/api/v1/enterprises/{credit_code}/application-form", response_model=list[FormFieldOut],
             responses=ERRORS, tags=["企业服务空间"])
    def application_form(credit_code: Code, who: Who,
                         policy: Annotated[str, Query(min_length=1, max_length=64)]) -> list[FormFieldOut]:
        """申报表单：档案已有的数据自动带入（known），其余为需填写的项目。"""
        return [FormFieldOut(**f.__dict__) for f in tiers.application_form(plat(), who, credit_code, policy)]

    @app.post("/api/v1/enterprises/{credit_code}/applications", response_model=ApplicationOut, responses=ERRORS,
              tags=["企业服务空间"])
    def apply(credit_code: Code, body: ApplicationIn, who: Who) -> ApplicationOut:
        """提交申报（或退回补正后再次提交），可附证明材料。"""
        return _app(tiers.submit_application(plat(), who, credit_code, body.policy_id, body.answers, body.statement,
                                             _decoded(body.files)))

    @app.get("/api/v1/enterprises/{credit_code}/applications", response_model=list[ApplicationOut],
             responses=ERRORS, tags=["企业服务空间"])
    def my_applications(credit_code: Code, who: Who) -> list[ApplicationOut]:
        return [_app(a) for a in tiers.applications(plat(), who, credit_code)]

    @app.post("/api/v1/enterprises/{credit_code}/supplied-values", response_model=SuppliedOut, responses=ERRORS,
              tags=["企业服务空间"])
    def supply(credit_code: Code, body: SupplyIn, who: Who) -> SuppliedOut:
        """补充缺失数据（附说明与证明材料）；主管部门核验后才用于判定。"""
        return _sup(tiers.supply_value(plat(), who, credit_code, body.tag, body.value, body.statement,
                                       _decoded(body.files)))

    @app.post("/api/v1/enterprises/{credit_code}/objections", response_model=ObjectionOut, responses=ERRORS,
              tags=["企业服务空间"])
    def object_(credit_code: Code, body: ObjectionIn, who: Who) -> ObjectionOut:
        """提出异议，或兑现后评价（rating 1–5）。"""
        return _obj(tiers.raise_objection(plat(), who, credit_code, body.subject, body.text, _decoded(body.files),
                                          body.rating))

    @app.get("/api/v1/enterprises/{credit_code}/objections", response_model=list[ObjectionOut], responses=ERRORS,
             tags=["企业服务空间"])
    def my_objections(credit_code: Code, who: Who) -> list[ObjectionOut]:
        """本企业的异议与评价，含主管部门的答复。"""
        return [_obj(o) for o in tiers.objections(plat(), who, credit_code)]

    @app.post("/api/v1/applications/{reference}/review", response_model=ApplicationOut, responses=ERRORS,
              tags=["政策管理"])
    def review(reference: Ref, body: ReviewIn, who: Who) -> ApplicationOut:
        """审核申报：accept（核定金额并生成兑现记录）、return（退回补正）或 reject，须写明理由。"""
        return _app(tiers.review_application(plat(), who, reference, body.decision, body.reason))

    @app.post("/api/v1/supplied-values/{reference}/verify", response_model=SuppliedOut, responses=ERRORS,
              tags=["政策管理"])
    def verify_value(reference: Ref, body: VerifyIn, who: Who) -> SuppliedOut:
        """核验企业补充的数据；通过后用于该企业的判定。"""
        return _sup(tiers.verify_supplied(plat(), who, reference, body.accept, body.reason).value)

    # ---------------------------------------------------------------- policies and batches

    @app.get("/api/v1/policies", response_model=list[PolicyOut], responses=ERRORS, tags=["政策管理"])
    def policies(who: Who, q: Annotated[str, Query(max_length=100)] = "") -> list[PolicyOut]:
        """政策库：按编号或标题查找。"""
        return [PolicyOut(id=x.id, version=x.version, title=x.title, tier=x.tier.value, department=x.department,
                          status=x.status, valid_from=x.valid_from, valid_to=x.valid_to, time_limit=x.time_limit)
                for x in enterprise.list_policies(plat(), who, q)]

    @app.post("/api/v1/batches", response_model=BatchOut, responses=ERRORS, tags=["政策管理"])
    def run_batch(who: Who) -> BatchOut:
        """对当前数据运行一次批次：免申即享生成待公示记录，即申即享生成邀约；同一政策、企业、期间只生成一次。"""
        p = plat()
        r = service.run_batch(p.ledger, who, p.data.dataset, p.library.policies, p.data.as_of, p.dictionary)
        p.checkups.clear()
        answers.clear()
        return BatchOut(batch_id=r.batch_id, created=r.created, created_fen=r.created_fen, invited=r.invited,
                        skipped=r.skipped)

    @app.post("/api/v1/payouts/{reference}/revoke", response_model=PayoutOut, responses=ERRORS, tags=["政策管理"])
    def revoke(reference: Ref, body: RevokeIn, who: Who) -> PayoutOut:
        """追回已支付的兑现（记录追回金额，默认全额）。"""
        return _payout(service.revoke(plat().ledger, who, reference, body.reason, body.clawback_fen))

    @app.get("/api/v1/notice-list", responses={200: {"content": {"application/vnd.openxmlformats-officedocument"
                                                                 ".spreadsheetml.sheet": {}}}, **ERRORS},
             tags=["政策管理"])
    def notice_list(who: Who) -> Response:
        """公示名单（Excel，不含银行账号与个人信息；导出记入审计日志）。"""
        data, _ = service.export_notice(plat().ledger, who, "xlsx")
        return Response(data, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": "attachment; filename=notice.xlsx"})

    return app
