"""Person sessions: sign in, sign out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response

from ..errors import EngineError
from ..service import auth, keys
from ..service.accounts import AccountError, load_accounts
from .deps import ERRORS, Who, plat
from .models import SessionOut, SignIn

router = APIRouter()


@router.post("/api/v1/sessions", response_model=SessionOut, responses=ERRORS, tags=["会话"])
def sign_in(body: SignIn, request: Request) -> SessionOut:
    """人员登录：返回会话令牌（8 小时内有效，连续 30 分钟未使用即失效）。连续失败会被限速并临时锁定。"""
    try:
        accounts = load_accounts()
    except AccountError as exc:
        raise EngineError(f"账户配置有误：{exc}") from None
    a = auth.sign_in(plat(request).ledger, accounts, body.username, body.password,
                     request.client.host if request.client else None)
    return SessionOut(token=keys.open_session(plat(request).ledger, a), role=a.role, credit_code=a.credit_code,
                      expires_in_s=keys.SESSION_HOURS * 3600)


@router.delete("/api/v1/sessions", status_code=204, responses=ERRORS, tags=["会话"])
def sign_out(request: Request, who: Who, authorization: Annotated[str | None, Header()] = None) -> Response:
    """退出登录：令牌立即失效。"""
    keys.close_session(plat(request).ledger, (authorization or "").removeprefix("Bearer ").strip())
    return Response(status_code=204)
