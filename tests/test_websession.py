"""The routes that set and clear the web session cookie (ui/websession.py), in-process."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from ui import websession

HOST = "127.0.0.1:8501"


@pytest.fixture
def client() -> Any:
    return TestClient(Starlette(routes=websession.routes()), base_url=f"http://{HOST}")


def test_a_ticket_sets_an_httponly_strict_cookie_once(client: Any) -> None:
    ticket = websession.issue_ticket("mss_token-of-a-person")
    r = client.post("/auth/cookie", json={"ticket": ticket}, headers={"Origin": f"http://{HOST}"})
    assert r.status_code == 204
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{websession.COOKIE}=mss_token-of-a-person;")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert f"Max-Age={8 * 3600}" in cookie and "Secure" not in cookie  # plain http on 127.0.0.1
    again = client.post("/auth/cookie", json={"ticket": ticket}, headers={"Origin": f"http://{HOST}"})
    assert again.status_code == 403 and "set-cookie" not in again.headers
    assert again.json()["message"] == "登录凭据无效或已过期，请重新登录"


def test_behind_https_the_cookie_is_secure(client: Any) -> None:
    ticket = websession.issue_ticket("mss_t")
    r = client.post("/auth/cookie", json={"ticket": ticket},
                    headers={"Origin": f"https://{HOST}", "X-Forwarded-Proto": "https"})
    # the proxy speaks https to the browser: Origin is https, Host the same
    assert r.status_code == 204 and "Secure" in r.headers["set-cookie"]


@pytest.mark.parametrize("origin", [None, "http://evil.example", f"http://{HOST}.evil.example", "null"])
def test_another_site_cannot_plant_a_session(client: Any, origin: str | None) -> None:
    """Login CSRF: a page elsewhere posting its own ticket into a person's browser."""
    ticket = websession.issue_ticket("mss_attacker")
    headers = {"Origin": origin} if origin else {}
    r = client.post("/auth/cookie", json={"ticket": ticket}, headers=headers)
    assert r.status_code == 403 and "set-cookie" not in r.headers
    assert client.post("/auth/cookie/clear", headers=headers).status_code == 403


@pytest.mark.parametrize("body", [b"", b"not json", b"[1, 2]", b'{"ticket": 5}', b'{"ticket": "nope"}',
                                  b'{"ticket": "' + b"x" * 5000 + b'"}', b"x" * 10_000_000])
def test_junk_gets_a_chinese_refusal(client: Any, body: bytes) -> None:
    r = client.post("/auth/cookie", content=body, headers={"Origin": f"http://{HOST}"})
    assert r.status_code == 403 and r.json()["code"] == "forbidden" and "登录凭据" in r.json()["message"]


def test_an_expired_ticket_is_refused(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    ticket = websession.issue_ticket("mss_t")
    later = time.monotonic() + websession.TICKET_S + 1
    monkeypatch.setattr(time, "monotonic", lambda: later)
    r = client.post("/auth/cookie", json={"ticket": ticket}, headers={"Origin": f"http://{HOST}"})
    assert r.status_code == 403


def test_clearing_deletes_the_cookie(client: Any) -> None:
    r = client.post("/auth/cookie/clear", headers={"Origin": f"http://{HOST}"})
    assert r.status_code == 204
    assert r.headers["set-cookie"].startswith(f'{websession.COOKIE}="";') and "Max-Age=0" in r.headers["set-cookie"]


def test_a_media_file_is_served_only_to_the_person_whose_page_made_it() -> None:
    """Was (#36 item 15): /media served a displayed report to anyone with its URL until logout."""
    from ui import security

    security.bind("page-a", "token-a")
    security.bind("page-b", "token-b")
    try:
        assert security.may_read("f1", "token-a", owners=["page-a"])
        assert not security.may_read("f1", "token-b", owners=["page-a"])  # another person's cookie
        assert not security.may_read("f1", None, owners=["page-a"])  # no cookie
        assert security.may_read("f1", "token-b", owners=["page-a", "page-b"])  # shown on both pages
        assert security.may_read("f2", None, owners=["sign-in-page"])  # a page no one signed in to
        security.unbind("page-a")  # signed out: the page is no one's, and its files are dropped
        assert not security.may_read("f1", "token-a", owners=["page-a", "page-b"])
    finally:
        security.unbind("page-a")
        security.unbind("page-b")


@pytest.mark.parametrize("browser_first", [False, True])
def test_a_clicked_download_survives_streamlits_passes_until_fetched_then_is_gone(
        monkeypatch: pytest.MonkeyPatch, browser_first: bool) -> None:
    """Was (#34): the click's rerun drops the button, so Streamlit's orphan passes (the end of any
    session's run) deleted the file before a slow browser's GET: `Download.path: canceled`. The
    browser's GET and the click's rerun reach the server in either order."""
    from streamlit.runtime.media_file_manager import MediaFileManager
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    from ui import security

    mgr = MediaFileManager(MemoryMediaFileStorage("/media"))
    monkeypatch.setattr(security, "_manager", lambda: mgr)
    data, mime, name = b"PK\x03\x04 list", "application/vnd.ms-excel", "公示名单.xlsx"
    url = mgr.add(data, mime, "1.2", file_name=name, is_for_static_download=True)  # the button shown
    file_id = url.rsplit("/", 1)[-1].split(".")[0]
    security.bind("dontcare", "token-a")
    try:
        if browser_first:
            security.downloaded(file_id)
            assert file_id in mgr._file_metadata  # not yet: its click may still be coming
        mgr.clear_session_refs("dontcare")  # the click's rerun: the button is not shown again
        assert security.pin_download("dontcare", data, mime, name) == file_id
        if not browser_first:
            for _ in range(3):  # other sessions' runs end, the page's rerun ends
                mgr.remove_orphaned_files()
            assert file_id in mgr._file_metadata  # still there for the browser
            assert security.may_read(file_id, "token-a") and not security.may_read(file_id, None)
            security.downloaded(file_id)
        assert file_id not in mgr._file_metadata and mgr.read_file(file_id + ".xlsx") is None  # offered once
        assert not any(k.startswith(security.PIN) for k in mgr._files_by_session_and_coord)
        assert not security._pins and not security._fetched
    finally:
        security.unbind("dontcare")


def test_an_unfetched_pin_is_left_to_streamlit_after_sign_out(monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.runtime.media_file_manager import MediaFileManager
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    from ui import security

    mgr = MediaFileManager(MemoryMediaFileStorage("/media"))
    monkeypatch.setattr(security, "_manager", lambda: mgr)
    url = mgr.add(b"x", "text/plain", "1", file_name="a.txt", is_for_static_download=True)
    file_id = url.rsplit("/", 1)[-1].split(".")[0]
    mgr.clear_session_refs("dontcare")
    security.bind("dontcare", "token-a")
    assert security.pin_download("dontcare", b"x", "text/plain", "a.txt") == file_id
    assert security.pin_download("dontcare", b"y", "text/plain", "a.txt") is None  # not a stored file
    security.unbind("dontcare")
    mgr.remove_orphaned_files()
    mgr.remove_orphaned_files()
    assert file_id not in mgr._file_metadata and not security._pins


def test_the_security_guard_refuses_media_and_adds_headers() -> None:
    import asyncio

    from ui import security

    sent: list[dict[str, object]] = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})
        await send({"type": "http.response.body", "body": b"ok"})

    async def send(message):  # type: ignore[no-untyped-def]
        sent.append(message)

    async def receive():  # type: ignore[no-untyped-def]
        return {"type": "http.request", "body": b""}

    guard = security.Guard(app)
    security.bind("page-a", "token-a")
    real = security._owners
    security._owners = lambda file_id: ["page-a"]  # type: ignore[assignment]
    try:
        asyncio.run(guard({"type": "http", "path": "/media/abc.xlsx", "headers": []}, receive, send))
        assert sent[0]["status"] == 403
        sent.clear()
        asyncio.run(guard({"type": "http", "path": "/media/abc.xlsx",
                           "headers": [(b"cookie", b"x=1; mianshen_session=token-a")]}, receive, send))
        assert sent[0]["status"] == 200
        headers = dict(sent[0]["headers"])  # type: ignore[arg-type]
        assert headers[b"x-frame-options"] == b"SAMEORIGIN" and b"frame-ancestors" in headers[b"content-security-policy"]
    finally:
        security._owners = real  # type: ignore[assignment]
        security.unbind("page-a")
