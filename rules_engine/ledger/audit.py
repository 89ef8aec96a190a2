"""An append-only, hash-chained audit log.

Each entry's hash is SHA-256 over its own fields and the previous entry's hash, so
editing, deleting, inserting or reordering any entry breaks the chain at that entry.
Cutting entries off the end, or recomputing the whole chain, is caught against the signed
checkpoints kept outside the database (anchor.py); `verify_ledger` also checks that the
payouts table is what the log says it is.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import false, func, select, update
from sqlalchemy.orm import Session

from .models import AuditEntry

GENESIS = "0" * 64


def canonical(details: dict[str, Any]) -> str:
    return json.dumps(details, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def entry_hash(seq: int, at: str, actor: str, action: str, subject: str, details: str, prev_hash: str) -> str:
    body = json.dumps([seq, at, actor, action, subject, details, prev_hash], ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


AUDIT_LOCK = 727_001  # the PostgreSQL advisory lock that serialises appends


def _serialise(session: Session) -> None:
    """Hold the right to append until the caller's transaction ends, so that two transactions
    never read the same head and then collide on the next seq (an IntegrityError, once a
    traceback for the loser of two concurrent approvals)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(AUDIT_LOCK)))
    else:  # SQLite: a write statement takes the database's write lock (it matches no row)
        session.execute(update(AuditEntry).where(false()).values(seq=AuditEntry.seq)
                        .execution_options(synchronize_session=False))


def append(session: Session, actor: str, action: str, subject: str, details: dict[str, Any] | None = None,
           at: dt.datetime | None = None) -> AuditEntry:
    """Add one entry inside the caller's transaction. An operation made under a simulated clock
    is refused on a production ledger, whatever path it came by."""
    if details and details.get("clock_override"):
        from .mode import refuse_simulated_clock

        refuse_simulated_clock(session)
    _serialise(session)
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
        return f"第 {self.seq} 条：{self.problem}" if self.seq else self.problem


def verify(session: Session) -> tuple[int, list[Break]]:
    """Walk the chain; return the number of entries and every break found."""
    breaks: list[Break] = []
    prev_hash, prev_seq = GENESIS, 0
    n = 0
    for e in session.scalars(select(AuditEntry).order_by(AuditEntry.seq)):
        n += 1
        own = entry_hash(e.seq, e.at, e.actor, e.action, e.subject, e.details, e.prev_hash)
        if own != e.hash:
            breaks.append(Break(e.seq, "内容与其哈希不符（被修改）"))
        if e.seq != prev_seq + 1:
            breaks.append(Break(e.seq, f"紧接第 {prev_seq} 条：第 {prev_seq + 1}～{e.seq - 1} 条缺失（被删除）"))
        elif e.prev_hash != prev_hash:
            breaks.append(Break(e.seq, f"与第 {prev_seq} 条链接不上（被插入、调换顺序，或第 {prev_seq} 条被替换）"))
        prev_hash, prev_seq = e.hash, e.seq
    return n, breaks


def count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)
