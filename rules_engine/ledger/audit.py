"""An append-only, hash-chained audit log.

Each entry's hash is SHA-256 over its own fields and the previous entry's hash, so
editing, deleting, inserting or reordering any entry breaks the chain at that entry.
(Cutting entries off the end is detectable only against a head hash kept elsewhere:
every batch run records the head in its summary.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .models import AuditEntry

GENESIS = "0" * 64


def canonical(details: dict[str, Any]) -> str:
    return json.dumps(details, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def entry_hash(seq: int, at: str, actor: str, action: str, subject: str, details: str, prev_hash: str) -> str:
    body = json.dumps([seq, at, actor, action, subject, details, prev_hash], ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def append(session: Session, actor: str, action: str, subject: str, details: dict[str, Any] | None = None,
           at: dt.datetime | None = None) -> AuditEntry:
    """Add one entry inside the caller's transaction."""
    last = session.execute(select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    when = (at or dt.datetime.now()).isoformat(timespec="microseconds")
    text = canonical(details or {})
    e = AuditEntry(seq=seq, at=when, actor=actor, action=action, subject=subject, details=text, prev_hash=prev,
                   hash=entry_hash(seq, when, actor, action, subject, text, prev))
    session.add(e)
    session.flush()
    return e


def head(session: Session) -> tuple[int, str]:
    row = session.execute(select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)).first()
    return (row[0], row[1]) if row else (0, GENESIS)


@dataclass(frozen=True)
class Break:
    seq: int
    problem: str

    def __str__(self) -> str:
        return f"entry {self.seq}: {self.problem}"


def verify(session: Session) -> tuple[int, list[Break]]:
    """Walk the chain; return the number of entries and every break found."""
    breaks: list[Break] = []
    prev_hash, prev_seq = GENESIS, 0
    n = 0
    for e in session.scalars(select(AuditEntry).order_by(AuditEntry.seq)):
        n += 1
        own = entry_hash(e.seq, e.at, e.actor, e.action, e.subject, e.details, e.prev_hash)
        if own != e.hash:
            breaks.append(Break(e.seq, "its content does not match its hash (edited)"))
        if e.seq != prev_seq + 1:
            breaks.append(Break(e.seq, f"follows entry {prev_seq}: entries {prev_seq + 1}..{e.seq - 1} are missing "
                                       "(deleted)"))
        elif e.prev_hash != prev_hash:
            breaks.append(Break(e.seq, f"does not chain to entry {prev_seq} (inserted, reordered, or entry "
                                       f"{prev_seq} was replaced)"))
        prev_hash, prev_seq = e.hash, e.seq
    return n, breaks


def count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)
