"""Deliver queued notifications at least once, with retries and back-off.

The receiving side de-duplicates on `dedupe_key` (sent in the payload and, for webhooks,
as the Idempotency-Key header), so a message delivered twice after a crash shows once.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
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
    """POSTs the payload as JSON with an Idempotency-Key header; any non-2xx is a failure."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise EngineError(f"a webhook URL starts with http:// or https://, not {url!r}")
        self.url = url
        self.timeout = timeout

    def send(self, payload: dict[str, Any]) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        req = urllib.request.Request(self.url, data=body, method="POST", headers={  # noqa: S310 - scheme checked
            "Content-Type": "application/json; charset=utf-8", "Idempotency-Key": payload["dedupe_key"]})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - scheme checked above
                if not 200 <= resp.status < 300:
                    raise SendError(f"HTTP {resp.status}")
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            raise SendError(str(exc)) from exc


def sender_from(spec: str) -> Sender:
    """`file:PATH` or `webhook:URL`."""
    kind, _, target = spec.partition(":")
    if kind == "file" and target:
        return FileSender(target)
    if kind == "webhook" and target:
        return WebhookSender(target)
    raise EngineError(f"a sender is file:PATH or webhook:URL, not {spec!r}")


@dataclass
class DispatchResult:
    sent: int = 0
    retried: int = 0
    dead: int = 0


def backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=BASE_DELAY_S * 2 ** min(attempts - 1, 10))


def dispatch(sf: sessionmaker[Session], sender: Sender, now: dt.datetime | None = None) -> DispatchResult:
    """Send every due message once. A message is marked sent only after the sender returns,
    so a crash between the two re-sends it (at least once); the receiver's key absorbs that."""
    now = now or dt.datetime.now()
    res = DispatchResult()
    with sf() as s:
        due = list(s.scalars(select(OutboxMessage.id).where(OutboxMessage.status == "pending",
                                                            OutboxMessage.next_attempt_at <= now)
                             .order_by(OutboxMessage.id)))
    for mid in due:
        with sf.begin() as s:
            m = s.get(OutboxMessage, mid)
            if m is None or m.status != "pending":
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
