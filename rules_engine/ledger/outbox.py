"""Deliver queued notifications at least once, with retries and back-off.

The receiving side de-duplicates on `dedupe_key` (sent in the payload and, for webhooks,
as the Idempotency-Key header), so a message delivered twice after a crash shows once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import http.client
import json
import os
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ..errors import EngineError
from .models import OutboxMessage

MAX_ATTEMPTS = 8
BASE_DELAY_S = 30


class SendError(Exception):
    """A delivery failed; the message will be retried."""


class Sender(Protocol):
    def send(self, payload: dict[str, Any]) -> None: ...


class FileSender:
    """Appends one JSON line per message; skips keys already in the file (the receiver's de-duplication)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.seen: set[str] = set()
        if self.path.exists():
            with open(self.path, encoding="utf-8") as fh:
                self.seen = {json.loads(line)["dedupe_key"] for line in fh if line.strip()}

    def send(self, payload: dict[str, Any]) -> None:
        if payload["dedupe_key"] in self.seen:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(payload, ensure_ascii=False) + "\n")
        self.seen.add(payload["dedupe_key"])


class WebhookSender:
    """POSTs the payload as JSON with an Idempotency-Key header. Only a complete 2xx answer to
    the POST itself counts as delivered: a redirect is not followed (urllib would turn the POST
    into a GET and report success with nothing delivered); a malformed answer, a body shorter
    than its Content-Length, a timeout or a reset connection are failures to retry like any
    other. `timeout` bounds the whole exchange, not each read: a receiver that drips one byte
    at a time cannot hold the outbox (the socket is shut when the time is up). With a secret,
    the body is signed (HMAC-SHA256, header X-Mianshen-Signature: sha256=<hex>)."""

    MAX_ANSWER = 64 * 1024

    def __init__(self, url: str, timeout: float = 10.0, secret: str | None = None) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise EngineError(f"webhook 地址应以 http:// 或 https:// 开头，而不是 {url!r}")
        self.url = url
        self.parts = parts
        self.timeout = timeout
        self.secret = secret if secret is not None else os.environ.get("MIANSHEN_WEBHOOK_SECRET")

    def send(self, payload: dict[str, Any]) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": str(payload["dedupe_key"])}
        if self.secret:
            mac = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Mianshen-Signature"] = f"sha256={mac}"
        cls = http.client.HTTPSConnection if self.parts.scheme == "https" else http.client.HTTPConnection
        conn = cls(self.parts.hostname or "", self.parts.port, timeout=self.timeout)
        path = self.parts.path or "/"
        if self.parts.query:
            path += "?" + self.parts.query
        expired = threading.Event()

        def cut() -> None:  # the deadline of the whole exchange: later reads fail at once
            expired.set()
            with contextlib.suppress(OSError, AttributeError):
                conn.sock.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]

        timer = threading.Timer(self.timeout, cut)
        timer.daemon = True
        timer.start()
        try:
            conn.request("POST", path, body=body, headers=headers)
            resp = conn.getresponse()
            length = resp.getheader("Content-Length")
            if length is not None and (not length.strip().isdigit() or int(length) > self.MAX_ANSWER):
                raise SendError(f"回答的长度不可接受（Content-Length: {length[:20]}）")
            answer = resp.read(self.MAX_ANSWER + 1)
            if len(answer) > self.MAX_ANSWER:
                raise SendError(f"回答超过 {self.MAX_ANSWER} 字节")
            if length is not None and len(answer) != int(length):
                raise SendError(f"回答不完整：声明 {int(length)} 字节，只收到 {len(answer)} 字节")
            if not 200 <= resp.status < 300:
                raise SendError(f"HTTP {resp.status}")
        except (SendError, http.client.HTTPException, OSError, ValueError) as exc:
            if expired.is_set():  # what a cut connection looked like is not the reason
                raise SendError(f"超过 {self.timeout:g} 秒仍未收到完整回答") from exc
            if isinstance(exc, SendError):
                raise
            raise SendError(f"{type(exc).__name__}: {exc}") from exc
        finally:
            timer.cancel()
            conn.close()
        if expired.is_set():
            raise SendError(f"超过 {self.timeout:g} 秒仍未收到完整回答")


def sender_from(spec: str) -> Sender:
    """`file:PATH` or `webhook:URL`."""
    kind, _, target = spec.partition(":")
    if kind == "file" and target:
        return FileSender(target)
    if kind == "webhook" and target:
        return WebhookSender(target)
    raise EngineError(f"推送目标应为 file:路径 或 webhook:地址，而不是 {spec!r}")


@dataclass
class DispatchResult:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    skipped: int = 0  # handled by another dispatcher meanwhile
    deferred: int = 0  # not tried: the run's time was up


def backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=BASE_DELAY_S * 2 ** min(attempts - 1, 10))


def dispatch(sf: sessionmaker[Session], sender: Sender, now: dt.datetime | None = None,
             budget_s: float = 120.0) -> DispatchResult:
    """Send every due message once, within `budget_s` seconds: what is not reached by then stays
    pending for the next run, untouched. A message is marked sent only after the sender returns,
    so a crash between the two re-sends it (at least once); the receiver's key absorbs that."""
    now = now or dt.datetime.now()
    res = DispatchResult()
    stop_at = time.monotonic() + budget_s
    with sf() as s:
        due = list(s.scalars(select(OutboxMessage.id).where(OutboxMessage.status == "pending",
                                                            OutboxMessage.next_attempt_at <= now)
                             .order_by(OutboxMessage.id)))
    for mid in due:
        if time.monotonic() >= stop_at:
            res.deferred = len(due) - (res.sent + res.retried + res.dead + res.skipped)
            break
        with sf.begin() as s:
            m = s.get(OutboxMessage, mid)
            if m is None or m.status != "pending":
                res.skipped += 1
                continue
            try:
                sender.send(m.payload)
            except SendError as exc:
                m.attempts += 1
                m.last_error = str(exc)[:500]
                if m.attempts >= MAX_ATTEMPTS:
                    m.status = "dead"
                    res.dead += 1
                else:
                    m.next_attempt_at = now + backoff(m.attempts)
                    res.retried += 1
                continue
            m.attempts += 1
            m.status = "sent"
            m.sent_at = now
            res.sent += 1
    return res
