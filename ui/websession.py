"""Keeping a signed-in person signed in across a page refresh: an HttpOnly cookie.

A Streamlit script answers over a WebSocket and cannot set a cookie. So signing in gives the
page a one-time ticket, and a same-origin fetch exchanges it at POST /auth/cookie (a route of
ui/server.py) for the session token in an HttpOnly, SameSite=Strict cookie: no page script
ever sees the token, and the ticket is worth nothing after one use or TICKET_S seconds. The
token is the service layer's person session (service.keys: stored hashed, 8 hours in all,
30 minutes idle, revoked on sign-out), so a refresh resumes only what the server still
honours (service.auth.resume). POST /auth/cookie/clear removes the cookie on sign-out.

The routes run in the Streamlit server's process, beside the script runs: tickets live in
this module's memory, which both share."""

from __future__ import annotations

import json
import secrets
import threading
import time
from typing import Any

COOKIE = "mianshen_session"
TICKET_S = 60
MAX_AGE_S = 8 * 3600
MAX_BODY = 1024

_tickets: dict[str, tuple[float, str]] = {}
_lock = threading.Lock()


def issue_ticket(token: str) -> str:
    """A single-use ticket for `token`, valid TICKET_S seconds."""
    ticket = secrets.token_urlsafe(24)
    now = time.monotonic()
    with _lock:
        for t, (at, _) in list(_tickets.items()):
            if now - at > TICKET_S:
                del _tickets[t]
        _tickets[ticket] = (now, token)
    return ticket


def redeem(ticket: object) -> str | None:
    """The token a ticket stands for, once; None for an unknown, used or expired ticket."""
    if not isinstance(ticket, str):
        return None
    with _lock:
        hit = _tickets.pop(ticket, None)
    if hit is None or time.monotonic() - hit[0] > TICKET_S:
        return None
    return hit[1]


def set_cookie_script(ticket: str) -> str:
    """The page script that exchanges the ticket for the cookie (ticket: URL-safe characters)."""
    body = json.dumps({"ticket": ticket})
    return ("<script>fetch('/auth/cookie', {method: 'POST', credentials: 'same-origin', "
            f"headers: {{'Content-Type': 'application/json'}}, body: {json.dumps(body)}}});</script>")


CLEAR_COOKIE_SCRIPT = "<script>fetch('/auth/cookie/clear', {method: 'POST', credentials: 'same-origin'});</script>"


def _same_origin(request: Any) -> bool:
    """A cross-site page cannot plant its own session in a person's browser (login CSRF)."""
    origin = request.headers.get("origin")
    host = request.headers.get("host")
    if not origin or not host:
        return False
    return bool(origin.split("://", 1)[-1] == host)


def _refused(message: str) -> Any:
    from starlette.responses import JSONResponse

    return JSONResponse({"code": "forbidden", "message": message}, status_code=403)


async def set_cookie(request: Any) -> Any:
    from starlette.responses import Response

    if not _same_origin(request):
        return _refused("请求来源与本站不一致")
    raw = b""
    async for chunk in request.stream():  # a ticket is 32 characters: stop reading long before memory is at stake
        raw += chunk
        if len(raw) > MAX_BODY:
            return _refused("登录凭据无效或已过期，请重新登录")
    try:
        ticket = json.loads(raw).get("ticket") if raw else None
    except (ValueError, AttributeError):
        ticket = None
    token = redeem(ticket)
    if token is None:
        return _refused("登录凭据无效或已过期，请重新登录")
    response = Response(status_code=204)
    response.set_cookie(COOKIE, token, max_age=MAX_AGE_S, path="/", httponly=True, samesite="strict",
                        secure=_https(request))
    return response


async def clear_cookie(request: Any) -> Any:
    from starlette.responses import Response

    if not _same_origin(request):
        return _refused("请求来源与本站不一致")
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=_https(request))
    return response


def _https(request: Any) -> bool:
    return bool(request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https")


def routes() -> list[Any]:
    from starlette.routing import Route

    return [Route("/auth/cookie", set_cookie, methods=["POST"]),
            Route("/auth/cookie/clear", clear_cookie, methods=["POST"])]
