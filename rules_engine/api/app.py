"""FastAPI application. Errors are JSON {"code": stable machine code, "message": Chinese text};
no route answers 500 for any input (schemathesis checks it)."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import EngineError
from ..service import keys
from ..service.platform import Platform
from .budget import router as budget_routes
from .contracts import router as contract_routes
from .enterprise import router as enterprise_routes
from .finance import router as finance_routes
from .models import STATUS
from .officials import router as officials_routes
from .sessions import router as sessions_routes

log = logging.getLogger("mianshen.api")

class Gate:
    """What every request passes before a route sees it. Before any body is read: a body larger
    than its route allows is refused (413) by its Content-Length, or as soon as the bytes
    received pass the limit; a request that carries a body to a route that needs a caller is
    authenticated first (401 without reading the body). An unauthenticated 80 MB body once
    doubled the server's memory. A NUL character in the path, the query or a JSON body is
    refused (422): PostgreSQL text cannot hold NUL (it ended as a 500), and no one's name,
    reason or statement contains it."""

    UPLOADS = re.compile(r"^/api/v1/(enterprises/[^/]+/(applications|supplied-values|objections)|bank-results"
                         r"|policy-drafts/from-document)$")
    UPLOAD_LIMIT = 16 * 1024 * 1024  # one 10 MB file in Base64 (13.4 MB) and its form; bank results likewise
    JSON_LIMIT = 64 * 1024
    OPEN = {("POST", "/api/v1/sessions")}  # signing in is how a caller gets a credential

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        if "\x00" in path or b"%00" in scope.get("query_string", b""):
            return await _answer(send, 422, "invalid_request", NUL_MESSAGE)
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        limit = self.UPLOAD_LIMIT if self.UPLOADS.match(path) else self.JSON_LIMIT
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"").decode("latin-1").strip()
        if declared and (not declared.isdigit() or int(declared) > limit):
            return await _answer(send, 413, "too_large", f"请求体超过该接口允许的 {limit // 1024} KB")
        if (scope["method"], path) not in self.OPEN and path.startswith("/api/"):
            try:
                token = keys.bearer_token(headers.get(b"authorization", b"").decode("latin-1") or None)
                platform = scope["app"].state.platform
                await run_in_threadpool(keys.actor_for, platform().ledger, token)
            except EngineError as exc:
                return await _answer(send, STATUS.get(exc.code, 400), exc.code, str(exc))
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return await self.app(scope, receive, send)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return await _answer(send, 413, "too_large", f"请求体超过该接口允许的 {limit // 1024} KB")
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if b"json" in headers.get(b"content-type", b"") and (b"\\u0000" in body or b"\x00" in body):
            return await _answer(send, 422, "invalid_request", NUL_MESSAGE)
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)


NUL_MESSAGE = "请求含有控制字符（NUL），请删除后重试"


async def _answer(send: Any, status: int, code: str, message: str) -> None:
    body = json.dumps({"code": code, "message": message}, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def _offline_docs(app: FastAPI) -> None:
    """/api/v1/docs with Swagger UI's scripts served from the installed package (fastapi-offline),
    not from a public CDN: a government network is often offline, and the page was blank there."""
    from pathlib import Path

    import fastapi_offline
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse
    from fastapi.staticfiles import StaticFiles

    static = "/api/v1/docs/static"
    app.mount(static, StaticFiles(directory=Path(fastapi_offline.__file__).parent / "static"), name="docs-static")

    @app.get("/api/v1/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/api/v1/openapi.json", title="免申即享 政策兑现平台 API",
                                   swagger_js_url=f"{static}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{static}/swagger-ui.css",
                                   swagger_favicon_url=f"{static}/favicon.png")


ROUTERS = (sessions_routes, enterprise_routes, officials_routes, finance_routes, budget_routes, contract_routes)


def create_app(platform: Platform | Callable[[], Platform] | None = None) -> FastAPI:
    app = FastAPI(title="免申即享 政策兑现平台 API", version="1.0.0",
                  description="企业服务空间、财政涉企支付系统、预算管理一体化系统与政策管理人员使用的接口。"
                              "所有写操作记入审计日志。错误返回 {code, message}。",
                  docs_url=None, redoc_url=None, openapi_url="/api/v1/openapi.json")
    _offline_docs(app)
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

    @app.exception_handler(StarletteHTTPException)
    async def no_route(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """Starlette's own 404 and 405, as every other error: {code, message} in Chinese. A 405
        lists every method the path has (Starlette named only the first route's)."""
        if exc.status_code == 405:
            allowed = sorted({m for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)
                              and r.path_regex.match(request.url.path) for m in r.methods or ()})
            return JSONResponse({"code": "method_not_allowed",
                                 "message": f"该接口不支持 {request.method}，可用：{'、'.join(allowed)}"},
                                status_code=405, headers={"Allow": ", ".join(allowed)})
        if exc.status_code == 404:
            return JSONResponse({"code": "not_found", "message": f"没有这个接口：{request.url.path[:200]}"},
                                status_code=404)
        return JSONResponse({"code": "invalid_request", "message": "请求无法处理"}, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return JSONResponse({"code": "internal", "message": "服务器内部错误，已记录，请稍后重试"}, status_code=500)

    app.state.platform = plat
    app.add_middleware(Gate)

    app.state.answers = {}
    for router in ROUTERS:
        app.include_router(router)
    return app
