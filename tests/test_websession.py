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
