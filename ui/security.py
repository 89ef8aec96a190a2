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
import time
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
        mine = [fid for fid, (sid, _) in _pins.items() if sid == streamlit_session]
        for fid in mine:
            del _pins[fid]
    for fid in mine:
        _release(fid, streamlit_session, delete=False)


# A download is offered once. The click reruns the page without the button, so Streamlit stops
# referencing the file and its orphan passes (at the end of any session's run) delete it: under
# load that happened before the browser's GET arrived (`Download.path: canceled`). The browser
# sends the click's rerun and the GET at the same moment, in either order on the server. So the
# click (on_click, at the start of its rerun: before that run's pass) pins the file under a
# reference Streamlit never clears, and the browser's download (a navigating GET; the page's own
# availability check is a `cors` fetch) deletes it: whichever of the two comes second does it.
# A pin not fetched within PIN_SECONDS, or of a person who signs out, is left to Streamlit.
PIN_SECONDS = 600
FETCHED_SECONDS = 120  # a download seen first waits this long for its click
PIN = "取件:"  # prefix of the pseudo-session holding a pinned file
_pins: dict[str, tuple[str, float]] = {}  # file id -> (Streamlit session that clicked, monotonic time)
_fetched: dict[str, float] = {}  # file id -> when a browser downloaded it before its click was seen


def _manager() -> Any:
    try:
        from streamlit.runtime import get_instance

        return get_instance().media_file_mgr
    except RuntimeError:  # no runtime (AppTest)
        return None


def _release(file_id: str, streamlit_session: str, delete: bool) -> None:
    """Drop the pin's reference; with `delete`, the file too unless a page still shows it."""
    mgr = _manager()
    if mgr is None:
        return
    with mgr._lock:
        refs = mgr._files_by_session_and_coord
        key = PIN + streamlit_session
        if key in refs:
            refs[key].pop(file_id, None)
            if not refs[key]:
                del refs[key]
        shown = any(file_id in files.values() for files in refs.values())
        if delete and not shown and file_id in mgr._file_metadata:
            mgr._delete_file(file_id)


def _expired() -> list[tuple[str, str]]:
    """Pins and download records past their time, removed (caller holds _lock)."""
    now = time.monotonic()
    for fid in [fid for fid, at in _fetched.items() if now - at > FETCHED_SECONDS]:
        del _fetched[fid]
    old = [(fid, sid) for fid, (sid, at) in _pins.items() if now - at > PIN_SECONDS]
    for fid, _ in old:
        del _pins[fid]
    return old


def pin_download(streamlit_session: str, data: bytes, mime: str, name: str) -> str | None:
    """The click on a download: keep its file at /media until the browser fetched it, then
    delete it. Its file id, or None when no such file is stored (no runtime, or Streamlit names
    files otherwise: tests/test_browser.py checks the file is gone after one download)."""
    from streamlit.runtime.memory_media_file_storage import _calculate_file_id

    mgr = _manager()
    if mgr is None:
        return None
    file_id = _calculate_file_id(data, mime, name)
    with mgr._lock:
        if file_id not in mgr._file_metadata:
            return None
        mgr._files_by_session_and_coord[PIN + streamlit_session][file_id] = file_id
    with _lock:
        old = _expired()
        fetched = _fetched.pop(file_id, None) is not None
        if not fetched:
            _pins[file_id] = (streamlit_session, time.monotonic())
    for fid, sid in old:
        _release(fid, sid, delete=False)
    if fetched:  # the browser was faster than the click's rerun
        _release(file_id, streamlit_session, delete=True)
    return file_id


def downloaded(file_id: str) -> None:
    """A browser downloaded this file (a navigating GET answered 200)."""
    with _lock:
        pinned = _pins.pop(file_id, None)
        if pinned is None:
            _fetched[file_id] = time.monotonic()
    if pinned is not None:
        _release(file_id, pinned[0], delete=True)


def _owners(file_id: str) -> list[str]:
    """The Streamlit sessions whose page shows this file, or whose click pinned it."""
    mgr = _manager()
    refs = getattr(mgr, "_files_by_session_and_coord", {})
    return [sid.removeprefix(PIN) for sid, files in list(refs.items()) if file_id in files.values()]


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

        status = 0

        async def with_headers(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                present = {k.lower() for k, _ in message.get("headers", [])}
                message = {**message, "headers": [*message.get("headers", []),
                                                  *(h for h in HEADERS if h[0] not in present)]}
            await send(message)

        await self.app(scope, receive, with_headers)
        headers = dict(scope.get("headers") or [])
        if "/media/" in path and status == 200 and headers.get(b"sec-fetch-mode") == b"navigate":
            downloaded(file_id)
        return None
