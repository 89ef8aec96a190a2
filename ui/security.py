"""What Streamlit's server does not do by itself: security headers on every answer, and files
under /media served only to the person whose page made them.

Streamlit sends no Content-Security-Policy, X-Frame-Options, X-Content-Type-Options or
Referrer-Policy: the UI could be framed by another site (clickjacking) and a displayed report
was served at its /media URL to anyone who had the URL, until its session ended. Pure ASGI,
added as middleware of the st.App in ui/server.py.
"""

from __future__ import annotations

import hashlib
import threading
from http.cookies import SimpleCookie
from typing import Any

from ui import websession

# Streamlit's page needs inline styles (its CSS-in-JS) and inline scripts (the cookie exchange,
# ui/websession.py); nothing is loaded from another origin, and no other site may frame it.
CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self' ws: wss:; "
       "frame-src 'self' blob: data:; worker-src 'self' blob:; object-src 'none'; base-uri 'self'; "
       "form-action 'self'; frame-ancestors 'self'")
HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-frame-options", b"SAMEORIGIN"),
           (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]

_people: dict[str, str] = {}  # Streamlit session id -> SHA-256 of the person session's token
_lock = threading.Lock()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def bind(streamlit_session: str, token: str) -> None:
    """This page (Streamlit session) belongs to the person holding `token` (the session cookie)."""
    with _lock:
        _people[streamlit_session] = _digest(token)


def unbind(streamlit_session: str) -> None:
    with _lock:
        _people.pop(streamlit_session, None)


def _owners(file_id: str) -> list[str]:
    """The Streamlit sessions whose page shows this file."""
    try:
        from streamlit.runtime import get_instance

        mgr = get_instance().media_file_mgr
    except RuntimeError:
        return []
    refs = getattr(mgr, "_files_by_session_and_coord", {})
    return [sid for sid, files in list(refs.items()) if file_id in files.values()]


def may_read(file_id: str, cookie_token: str | None, owners: list[str] | None = None) -> bool:
    """A file made by a signed-in person's page is served only with that person's session cookie;
    a file of a page no one signed in to (the sign-in page) holds nothing personal."""
    owners = _owners(file_id) if owners is None else owners
    with _lock:
        people = {_people[sid] for sid in owners if sid in _people}
    if not people:
        return True
    return cookie_token is not None and _digest(cookie_token) in people


def _cookie(scope: Any) -> str | None:
    raw = dict(scope.get("headers") or []).get(b"cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw.decode("latin-1"))
    except Exception:  # noqa: BLE001 - a malformed Cookie header is no credential
        return None
    morsel = jar.get(websession.COOKIE)
    return morsel.value if morsel else None


class Guard:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        if "/media/" in path:
            file_id = path.rsplit("/", 1)[-1].split(".", 1)[0]
            if not may_read(file_id, _cookie(scope)):
                body = "无权访问该文件：请在生成它的页面上下载".encode()
                await send({"type": "http.response.start", "status": 403,
                            "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                        (b"content-length", str(len(body)).encode()), *HEADERS]})
                await send({"type": "http.response.body", "body": body})
                return None

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message = {**message, "headers": [*message.get("headers", []),
                                                  *(h for h in HEADERS if h[0] not in present)]}
            await send(message)

        return await self.app(scope, receive, with_headers)
