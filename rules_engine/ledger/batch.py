"""A batch run: match every enterprise against every policy in force and write payout
candidates to the ledger, exactly once.

Everything a run writes (its record, the candidates, their creation events, the audit
entry) commits in one transaction, so a run killed at any point leaves no trace but the
lock row, and running it again yields the ledger an uninterrupted run would have. The
unique key (policy, enterprise, period) makes a second payout impossible even for writers
that bypass this module (the event worker inserts with the same key).
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import json
import os
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from json.encoder import encode_basestring as json_str
from typing import Any, cast

import numpy as np
import pandas as pd
from sqlalchemy import CursorResult, Table, Update, func, insert, literal, select, update
from sqlalchemy import null as sa_null
from sqlalchemy.orm import Session, sessionmaker

from .. import grant, ir
from ..data.frame import KEY
from ..data.tags import TagDictionary
from ..errors import EngineError
from ..periods import resolve_ref
from ..sources import FrameSource, MatchSource
from . import audit, history, lifecycle
from .allocation import (
    SKIP_BEATEN,
    SKIP_BUDGET,
    SKIP_GROUP,
    SKIP_PERIOD,
    Candidate,
    Existing,
    Outcome,
    allocate,
    period,
)
from .db import JsonText, insert_columns
from .lifecycle import ACTIVE
from .models import BatchLock, BatchRun, Invitation, Payout, PayoutEvent
from .verify import payout_line
from .workdays import add_working_days

INVITATION_WORKING_DAYS = 60  # 即申即享: how long an invitation waits for the enterprise
WRITE_ROWS = 100_000  # payouts built and written at a time


class BatchLocked(EngineError):
    """Another batch run holds the lock."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _rowcount(s: Session, stmt: Update) -> int:
    result = s.execute(stmt)
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


def acquire_lock(sf: sessionmaker[Session], holder: str) -> None:
    """Take the batch lock, or raise BatchLocked naming who holds it.

    A holder on this host whose process has died (kill -9) is taken over; one on
    another host must be cleared by an operator (`mianshen batch unlock`)."""
    me, host = os.getpid(), socket.gethostname()
    now = dt.datetime.now()
    with sf.begin() as s:
        free = update(BatchLock).where(BatchLock.id == 1, BatchLock.holder.is_(None))
        taken = _rowcount(s, free.values(holder=holder, pid=me, host=host, acquired_at=now))
        if taken:
            return
        lock = s.get(BatchLock, 1)
        assert lock is not None
        if lock.host == host and lock.pid is not None and not _alive(lock.pid):
            dead = update(BatchLock).where(BatchLock.id == 1, BatchLock.pid == lock.pid)
            stolen = _rowcount(s, dead.values(holder=holder, pid=me, host=host, acquired_at=now))
            if stolen:
                audit.append(s, holder, "lock_taken_over", "batch_lock",
                             {"dead_holder": lock.holder, "dead_pid": lock.pid})
                return
        raise BatchLocked(f"另一批次正在运行：{lock.holder}（进程 {lock.pid}，主机 {lock.host}，"
                          f"开始于 {lock.acquired_at:%Y-%m-%d %H:%M:%S}）；请在其结束后再试")


def release_lock(sf: sessionmaker[Session]) -> None:
    with sf.begin() as s:
        s.execute(update(BatchLock).where(BatchLock.id == 1, BatchLock.pid == os.getpid())
                  .values(holder=None, pid=None, host=None, acquired_at=None))


def force_unlock(sf: sessionmaker[Session], actor: str, reason: str) -> None:
    with sf.begin() as s:
        lock = s.get(BatchLock, 1)
        assert lock is not None
        audit.append(s, actor, "lock_cleared", "batch_lock", {"holder": lock.holder, "pid": lock.pid, "reason": reason})
        lock.holder = lock.pid = lock.host = lock.acquired_at = None  # type: ignore[assignment]


def policy_digest(p: ir.Policy) -> str:
    """The SHA-256 of the policy's file (the key of its text in policy_texts); of its repr for a
    policy built in code."""
    found = history.policy_text_digest(p)
    return found[0] if found is not None else hashlib.sha256(repr(p).encode()).hexdigest()


@dataclass
class BatchResult:
    batch_id: int
    created: int
    created_fen: int
    skipped: dict[str, int]
    by_policy: dict[str, dict[str, int]]
    invited: int = 0  # 即申即享 invitations written instead of payouts


def load_existing(s: Session, policies: list[ir.Policy] | None = None,
                  codes: list[str] | None = None) -> Existing:
    """Payouts, and invitations not yet confirmed: an open invitation holds its budget and its
    exclusivity like a candidate; a declined or expired one, like a withdrawn payout, keeps its key.
    A group's unpublished candidate whose policy is among `policies` is replaceable by a higher
    award (allocation.py); `codes` limits the read to some enterprises (the event worker)."""
    ex = Existing()
    by_id = {p.id: p for p in policies or ()}
    rows = select(Payout.policy_id, Payout.credit_code, Payout.period, Payout.status, Payout.exclusive_group,
                  Payout.benefit_year, Payout.amount_fen, Payout.id)
    invitations = select(Invitation.policy_id, Invitation.credit_code, Invitation.period, Invitation.status,
                         Invitation.exclusive_group, Invitation.benefit_year, Invitation.amount_fen, literal(None))
    found = []
    if codes is None:
        found = [*s.execute(rows), *s.execute(invitations)]
    else:
        wanted = sorted(set(codes))
        for i in range(0, len(wanted), 5000):  # bound parameters per statement (SQLite allows 32,766)
            part = wanted[i:i + 5000]
            found += [*s.execute(rows.where(Payout.credit_code.in_(part))),
                      *s.execute(invitations.where(Invitation.credit_code.in_(part)))]
    for pid, code, per, status, group, year, fen, payout_id in found:
        ex.keys.add((pid, code, per))
        if status in ACTIVE or status == "open":
            if group and status == "candidate" and payout_id is not None and pid in by_id:
                ex.replaceable[(group, code, year)] = (payout_id, Candidate(by_id[pid], code, fen))
            elif group:
                ex.group_years.add((group, code, year))
            if codes is None:
                ex.committed_fen[pid] = ex.committed_fen.get(pid, 0) + fen
    budgeted = sorted({p.id for p in policies or () if p.budget is not None})
    if codes is not None and budgeted:  # a budget is shared by every enterprise: its total is the whole ledger's
        for pid, fen in [*s.execute(select(Payout.policy_id, func.sum(Payout.amount_fen))
                                    .where(Payout.status.in_(ACTIVE), Payout.policy_id.in_(budgeted))
                                    .group_by(Payout.policy_id)),
                         *s.execute(select(Invitation.policy_id, func.sum(Invitation.amount_fen))
                                    .where(Invitation.status == "open", Invitation.policy_id.in_(budgeted))
                                    .group_by(Invitation.policy_id))]:
            ex.committed_fen[pid] = ex.committed_fen.get(pid, 0) + int(fen or 0)
    for key in ex.group_years & set(ex.replaceable):
        del ex.replaceable[key]  # the group is already paid this year: its candidate is no contest
    return ex


def supersede(s: Session, outcome: Outcome, actor: str, now: dt.datetime) -> None:
    """Withdraw the unpublished candidates a higher award of their group replaces (就高不重复)."""
    for payout_id, c in outcome.superseded:
        p = s.get(Payout, payout_id)
        assert p is not None
        lifecycle.withdraw(s, p, actor, f"就高不重复：同组的《{c.policy.title}》金额更高或优先，改由其兑现",
                           now=now, details={"replaced_by": c.policy.key, "amount_fen": c.amount_fen})


def skip_reason(why: str) -> str:
    """The summary key of a reason an eligible pair was not paid."""
    for key in (SKIP_PERIOD, SKIP_GROUP, SKIP_BEATEN, SKIP_BUDGET):
        if why.startswith(key):
            return key
    return "预算不足" if why.startswith("预算不足") else why


def candidates(source: MatchSource, policies: list[ir.Policy], as_of: dt.date
               ) -> tuple[list[Candidate], pd.DataFrame, dict[tuple[str, str], int]]:
    """Eligible pairs computed where the data lives; then the rows of those enterprises only,
    with the row index of each candidate in them."""
    pairs = source.eligible(policies, as_of)
    codes = pairs["credit_code"].astype(str).tolist()
    frame = source.rows(sorted(set(codes)))
    at = pd.Index(frame[KEY].astype(str)).get_indexer(pd.Index(codes)).tolist()  # vectorised lookups
    by_id = {p.id: p for p in policies}
    prio_cols: dict[str, list[np.ndarray]] = {}
    for p in policies:
        if p.budget and p.budget.priority:
            keys = [resolve_ref(t, as_of) for t in p.budget.priority]
            prio_cols[p.id] = [_nulls_as_none(frame[t]) if t in frame else np.full(len(frame), None) for t in keys]
    out: list[Candidate] = []
    rows: dict[tuple[str, str], int] = {}
    for code, pid, fen, i in zip(codes, pairs["policy"].tolist(), pairs["amount_fen"].tolist(), at, strict=True):
        prio = prio_cols.get(pid)
        out.append(Candidate(by_id[pid], code, int(fen), tuple(p[i] for p in prio) if prio else ()))
        rows[(pid, code)] = i
    return out, frame, rows


def _texts(arr: np.ndarray | None, at: np.ndarray) -> list[str | None]:
    """Column values (from _nulls_as_none) at the given rows as text, None where missing."""
    if arr is None:
        return [None] * len(at)
    return [None if v is None else str(v) for v in arr[at].tolist()]


def _nulls_as_none(s: pd.Series) -> np.ndarray:
    """A column as an object array with None for every kind of missing value (NA, NaT, NaN)."""
    out = s.to_numpy(dtype=object)
    out[s.isna().to_numpy()] = None
    return out


@dataclass(frozen=True)
class CellSources:
    """Where each cell of a batch's data came from, so that a payout's record names the source
    and date of every value it read, as the calculator does: per tag, an index per data row into
    `files` ((source label, as-of date) of each department file), -1 where no file delivered the
    value (derived, or filled by a verified self-declared value: `declared`)."""

    codes: pd.Index  # the credit code of each data row
    index: dict[str, np.ndarray]
    files: list[tuple[str, dt.date | None]]
    declared: dict[str, set[str]]
    declared_label: str  # how a self-declared value's source reads


class Inputs:
    """The values each policy read, per row, taken from the frame one column at a time.

    Each column is factorized once: a code per row (-1 where missing) and its distinct values
    formatted and JSON-encoded once each. A payout's cells are then an index into those, so
    nothing is done per cell of the frame (encoding every cell of 10^6 rows x 67 tags took
    10 s of a batch and 2 GB of strings)."""

    def __init__(self, frame: pd.DataFrame, dictionary: TagDictionary, as_of: dt.date,
                 sources: CellSources | None = None) -> None:
        self.frame = frame
        self.as_of = as_of
        self.d = dictionary
        self.coded: dict[str, tuple[np.ndarray, np.ndarray] | None] = {}
        self.members: dict[str, np.ndarray] = {}
        self.tags: dict[str, tuple[str, ...]] = {}
        self.sources = sources
        self.source_cells: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._codes: pd.Index | None = None
        self._rows: np.ndarray | None = None

    def _coded(self, tag: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(code per row, the distinct values as text followed by None): text[code] is the
        column in natural units as text, str of the natural value (grant.input_text)."""
        if tag not in self.coded:
            if tag not in self.frame or tag not in self.d:
                self.coded[tag] = None
                return None
            s = self.frame[tag]
            t = self.d[tag].type
            codes, uniques = pd.factorize(s, use_na_sentinel=True)
            if t.kind in ir.NUMERIC_KINDS:
                d, w = 10**t.scale, t.scale
                text = [str(x) if w == 0 else f"{'-' if x < 0 else ''}{abs(x) // d}.{abs(x) % d:0{w}d}"
                        for x in np.asarray(uniques, dtype=np.int64).tolist()]
            elif t.kind is ir.Kind.DATE:
                text = list(pd.DatetimeIndex(uniques).strftime("%Y-%m-%d"))
            elif t.kind is ir.Kind.BOOL:
                text = ["True" if bool(x) else "False" for x in np.asarray(uniques, dtype=object).tolist()]
            else:
                text = np.asarray(uniques, dtype=object).tolist()
            codes = np.where(codes < 0, len(text), codes).astype(np.int32)  # missing → the trailing None
            self.coded[tag] = (codes, np.array([*text, None], dtype=object))
        return self.coded[tag]

    def tags_of(self, policy: ir.Policy) -> tuple[str, ...]:
        if policy.key not in self.tags:
            self.tags[policy.key] = ir.policy_tags(policy, self.as_of)
        return self.tags[policy.key]

    def of(self, policy: ir.Policy, idx: Sequence[int]) -> list[dict[str, Any]]:
        """The inputs of `policy` at each row of idx, as dicts."""
        where = np.asarray(idx, dtype=np.int64)
        cols = [(t, c[1][c[0][where]]) for t in self.tags_of(policy) if (c := self._coded(t)) is not None]
        names = [t for t, _ in cols]
        if not names:
            return [{} for _ in range(len(where))]
        return [dict(zip(names, values, strict=True)) for values in zip(*(c for _, c in cols), strict=True)]

    def cell(self, tag: str, where: np.ndarray) -> np.ndarray | None:
        """The column at rows `where` as JSON object members, `"tag": "value"` or `"tag": null`,
        each distinct value encoded once."""
        coded = self._coded(tag)
        if coded is None:
            return None
        if tag not in self.members:
            key = json_str(tag) + ": "
            self.members[tag] = np.array([key + ("null" if v is None else json_str(v) if type(v) is str
                                                 else json.dumps(v, ensure_ascii=False)) for v in coded[1].tolist()],
                                         dtype=object)
        return self.members[tag][coded[0][where]]

    def json_of(self, policy: ir.Policy, idx: Sequence[int] | np.ndarray) -> list[str]:
        """The same inputs as JSON object text, one per row, as json.dumps(ensure_ascii=False)
        writes them: from `cell`, one join per row, no dict built."""
        where = np.asarray(idx, dtype=np.int64)
        cols = [c.tolist() for t in self.tags_of(policy) if (c := self.cell(t, where)) is not None]
        if not cols:
            return ["{}"] * len(where)
        return ["{" + ", ".join(cells) + "}" for cells in zip(*cols, strict=True)]

    def source_cell(self, tag: str, where: np.ndarray) -> np.ndarray | None:
        """The column's sources at rows `where` as JSON object members with a trailing comma,
        `"tag": ["部门", "2026-06-30"], `, or "" where none is known, each file's member
        encoded once."""
        if self.sources is None:
            return None
        if tag not in self.source_cells:
            cs = self.sources
            if self._codes is None:  # the frame's credit codes, and each one's row in the loaded data
                self._codes = pd.Index(self.frame[KEY].astype(str))
                self._rows = cs.codes.get_indexer(self._codes)
            assert self._rows is not None
            key = json_str(tag) + ": "
            members = np.array([key + json.dumps([label, when.isoformat() if when else None], ensure_ascii=False)
                                + ", " for label, when in cs.files]
                               + [key + json.dumps([cs.declared_label, None], ensure_ascii=False) + ", ", ""],
                               dtype=object)
            idx = cs.index.get(tag)
            at = np.full(len(self.frame), -1, dtype=np.int64) if idx is None else np.where(
                self._rows >= 0, idx[np.maximum(self._rows, 0)].astype(np.int64), -1)  # -1 picks the last: ""
            declared = cs.declared.get(tag)
            if declared:
                at[np.flatnonzero(self._codes.isin(declared) & (at < 0))] = len(cs.files)
            self.source_cells[tag] = (members, at)
        members, at = self.source_cells[tag]
        return members[at[where]]

    def sources_json(self, policy: ir.Policy, idx: Sequence[int] | np.ndarray) -> list[str]:
        """The sources of the inputs of `policy` at each row as JSON object text ("{}" without
        CellSources): one join per row, the last member's comma cut."""
        where = np.asarray(idx, dtype=np.int64)
        cols = [c.tolist() for t in self.tags_of(policy) if (c := self.source_cell(t, where)) is not None]
        if not cols:
            return ["{}"] * len(where)
        return ["{" + "".join(cells)[:-2] + "}" for cells in zip(*cols, strict=True)]


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection while a batch builds its 10^5 candidates, tuples and
    strings: each allocation burst set off collections that walked the whole heap (1.7 s of
    8 s for 10^5 payouts). Reference counting still frees everything; the collector runs once
    at the end."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
            gc.collect(0)


def run_batch(sf: sessionmaker[Session], data: pd.DataFrame | MatchSource, policies: list[ir.Policy],
              as_of: dt.date, actor: str, dictionary: TagDictionary, data_hash: str | None = None,
              now: dt.datetime | None = None, sources: CellSources | None = None,
              data_files: list[dict[str, Any]] | None = None, input_hash: str | None = None,
              changes: Incremental | None = None) -> BatchResult:
    """Run one batch over a storage frame or any match source (a database table, a Spark
    data source). Raises BatchLocked if another run is in progress. `data_files`: the department
    files the frame was loaded from (history.file_entries), kept so the run can be replayed.
    `input_hash`: the digest of the data as delivered, where `data` has more (self-declared
    values filled in); what a change set's base is compared with. `changes`: `data` holds only
    the enterprises a delivery changed (an incremental batch, see data/changes.py)."""
    if not actor.strip():
        raise EngineError("运行批次须写明操作人")
    source = FrameSource(data) if isinstance(data, pd.DataFrame) else data
    # 申报 policies are never matched into money: the enterprise applies and an official decides
    in_force = [p for p in policies if p.status == "active" and p.in_force(as_of) and p.tier is not ir.Tier3.APPLY]
    acquire_lock(sf, f"batch by {actor}")
    try:
        with paused_gc():
            return _run(sf, source, in_force, as_of, actor, dictionary, data_hash or source.digest(),
                        now or dt.datetime.now(), sources, data_files, input_hash, changes)
    finally:
        release_lock(sf)


def _run(sf: sessionmaker[Session], source: MatchSource, policies: list[ir.Policy], as_of: dt.date, actor: str,
         dictionary: TagDictionary, data_hash: str, now: dt.datetime, sources: CellSources | None,
         data_files: list[dict[str, Any]] | None, input_hash: str | None = None,
         changes: Incremental | None = None) -> BatchResult:
    recorded = {p.id: {"version": p.version, "hash": policy_digest(p)} for p in policies}
    with sf.begin() as s:
        evaluated, codes = policies, None
        if changes is not None:
            _check_base(s, changes, as_of, recorded)
            # only the policies that read a tag the delivery changed can decide differently
            evaluated = [p for p in policies if not changes.tags.isdisjoint(ir.policy_tags(p, as_of))]
            assert isinstance(source, FrameSource)  # a change set is a frame (service.run_batch)
            codes = source.frame[KEY].astype(str).tolist()
        # what a replay needs: the files as they are now (by hash) and the policy texts
        dv = history.record_data_version(s, data_files, "batch", actor, now) if data_files else None
        history.record_policy_texts(s, policies, now)
        run = BatchRun(started_at=now, started_by=actor, as_of=as_of, status="running", data_hash=data_hash,
                       policies=recorded, data_version_id=dv.id if dv else None)
        s.add(run)
        s.flush()
        existing = load_existing(s, policies, codes)
        cands, frame, rows = candidates(source, evaluated, as_of)
        decisions = history.decisions_digest((c.credit_code, c.policy.id, c.policy.version, c.amount_fen)
                                             for c in cands)
        outcome = allocate(cands, existing, as_of)
        supersede(s, outcome, actor, now)
        names, regions, accounts = (_nulls_as_none(frame[c]) if c in frame else None
                                    for c in ("name", "region", "bank_account"))
        inputs = Inputs(frame, dictionary, as_of, sources)

        granted = outcome.granted
        at = np.array([rows[(c.policy.id, c.credit_code)] for c in granted], dtype=np.int64)
        periods = {(p.id, p.version): period(p, as_of) for p in policies}
        confirm = np.array([c.policy.tier is ir.Tier3.CONFIRM for c in granted], dtype=bool)

        def columns(which: np.ndarray) -> dict[str, list[Any]]:
            """The table columns of the granted candidates at `which`, built column by column
            (10^5 dicts of 16 keys, then read back per column, cost 1.5 s), with their records."""
            cs = [granted[n] for n in which.tolist()]
            n_rows = len(cs)
            explained: list[JsonText] = [JsonText()] * n_rows
            by_policy_rows: dict[tuple[str, int], list[int]] = {}
            for k, c in enumerate(cs):
                by_policy_rows.setdefault((c.policy.id, c.policy.version), []).append(k)
            for ks in by_policy_rows.values():
                policy = cs[ks[0]].policy
                rows_at = at[which[ks]]
                texts = grant.record_texts(grant.policy_part(policy, as_of), inputs.json_of(policy, rows_at),
                                           [(cs[k].amount_fen, cs[k].granted_fen, cs[k].note) for k in ks],
                                           inputs.sources_json(policy, rows_at))
                for k, t in zip(ks, texts, strict=True):
                    explained[k] = JsonText(t)
            return {
                "policy_id": [c.policy.id for c in cs], "policy_version": [c.policy.version for c in cs],
                "credit_code": [c.credit_code for c in cs], "period": [periods[(c.policy.id, c.policy.version)] for c in cs],
                "benefit_year": [as_of.year] * n_rows, "exclusive_group": [c.group for c in cs],
                "amount_fen": [c.granted_fen for c in cs], "batch_id": [run.id] * n_rows,
                "enterprise_name": _texts(names, at[which]), "region": _texts(regions, at[which]),
                "bank_account": _texts(accounts, at[which]), "explanation": explained,
                "created_at": [now] * n_rows,
            }

        # Written WRITE_ROWS at a time, so a province's batch holds one slice of records in memory,
        # not all of them (10^6 payouts: 5.3 GB peak written at once). Still one transaction.
        pay_lines, inv_lines = hashlib.sha256(), hashlib.sha256()
        n_pay = n_inv = created_fen = invited_fen = 0
        by_policy: dict[str, dict[str, int]] = {}
        for tier_rows, lines in ((np.flatnonzero(~confirm), pay_lines), (np.flatnonzero(confirm), inv_lines)):
            for start in range(0, len(tier_rows), WRITE_ROWS):
                cols = columns(tier_rows[start:start + WRITE_ROWS])
                n_rows = len(cols["policy_id"])
                if lines is pay_lines:
                    cols.update(status=["candidate"] * n_rows, source=["batch"] * n_rows, updated_at=[now] * n_rows)
                    # One COPY or driver executemany (db.insert_columns). Not the ORM's bulk insert: it
                    # compiled and executed per page of rows (3.7 s of 6.1 s for 10^5 payouts on SQLite);
                    # RETURNING ids over executemany is quadratic in SQLAlchemy 2.1 (10^5 rows, 90 s).
                    insert_columns(s.connection(), cast(Table, Payout.__table__), cols)
                    for pid, fen in zip(cols["policy_id"], cols["amount_fen"], strict=True):
                        d = by_policy.setdefault(pid, {"count": 0, "fen": 0})
                        d["count"] += 1
                        d["fen"] += fen
                    n_pay, created_fen = n_pay + n_rows, created_fen + sum(cols["amount_fen"])
                else:  # 即申即享: invitations, paid only once confirmed
                    cols.update(status=["open"] * n_rows,
                                expires_on=[add_working_days(now.date(), INVITATION_WORKING_DAYS)] * n_rows,
                                decided_at=[None] * n_rows, decided_by=[None] * n_rows, payout_id=[None] * n_rows)
                    insert_columns(s.connection(), cast(Table, Invitation.__table__), cols)
                    n_inv, invited_fen = n_inv + n_rows, invited_fen + sum(cols["amount_fen"])
                # in id order (the insertion order), so that `audit verify` can recompute it from the table
                lines.update((b"\n" if start else b"") + "\n".join(payout_line(*line) for line in zip(
                    cols["policy_id"], cols["policy_version"], cols["credit_code"], cols["period"],
                    cols["amount_fen"], cols["bank_account"], cols["enterprise_name"], strict=True)).encode())
        if n_pay:  # the creation events in one INSERT ... SELECT
            created = select(Payout.id, sa_null(), literal("candidate"), literal(actor),
                             literal(f"batch run {run.id}"), literal(now)).where(Payout.batch_id == run.id)
            s.execute(insert(PayoutEvent).from_select(
                ["payout_id", "from_status", "to_status", "actor", "reason", "at"], created))
        digest, inv_digest = pay_lines.hexdigest(), inv_lines.hexdigest()
        skipped: dict[str, int] = {}
        for _, why in outcome.skipped:
            key = skip_reason(why)
            skipped[key] = skipped.get(key, 0) + 1
        if outcome.superseded:
            skipped["被更高奖补替换而撤回的候选"] = len(outcome.superseded)
        entry = audit.append(s, actor, "batch_run", f"batch {run.id}", {
            "as_of": as_of.isoformat(), "data_hash": data_hash, "policies": run.policies,
            "created": n_pay, "created_fen": created_fen, "payouts_digest": digest,
            "invited": n_inv, "invited_fen": invited_fen, "invitations_digest": inv_digest,
            "eligible": len(cands), "decisions_digest": decisions, "data_version": run.data_version_id,
            **({"incremental_base": changes.base, "incremental_new": changes.new, "changed_enterprises": len(codes or ()),
                "policies_evaluated": len(evaluated)} if changes is not None else {}),
        }, at=now)
        run.status = "completed"
        run.finished_at = dt.datetime.now()
        run.summary = {"created": n_pay, "created_fen": created_fen, "invited": n_inv, "skipped": skipped,
                       "by_policy": by_policy, "payouts_digest": digest, "audit_head": [entry.seq, entry.hash],
                       "eligible": len(cands), "decisions_digest": decisions,
                       # the data the ledger now reflects: what the next change set must start from
                       "input_hash": changes.new if changes is not None else input_hash or data_hash}
        if changes is not None:
            run.summary["incremental"] = {"base": changes.base, "enterprises": len(codes or ()),
                                          "tags": sorted(changes.tags), "policies": [p.id for p in evaluated]}
        return BatchResult(run.id, n_pay, created_fen, skipped, by_policy, n_inv)


@dataclass(frozen=True)
class Incremental:
    """What a batch over a change set needs to know of it (data/changes.py: ChangeSet)."""

    base: str
    new: str
    tags: frozenset[str]


def _check_base(s: Session, changes: Incremental, as_of: dt.date, policies: dict[str, Any]) -> None:
    """An incremental batch leaves the ledger as a full batch would only on top of the batch whose
    data, date and policies it starts from; anything else is refused with what to do instead."""
    last = s.scalars(select(BatchRun).where(BatchRun.status == "completed").order_by(BatchRun.id.desc()).limit(1)).first()
    if last is None:
        raise EngineError("台账中还没有批次：请先运行一次全量批次，再按变更集增量运行")
    if (last.summary or {}).get("input_hash", last.data_hash) != changes.base:
        raise EngineError(f"变更集的基准数据不是上一批次（批次 {last.id}）所用的数据：请用该批次的数据生成变更集，"
                          "或运行全量批次")
    if last.as_of != as_of:
        raise EngineError(f"评估日期 {as_of} 与上一批次（批次 {last.id}）的 {last.as_of} 不同：与时间有关的条件可能变化，"
                          "请运行全量批次")
    if last.policies != policies:
        raise EngineError(f"生效政策与上一批次（批次 {last.id}）不同：未变更的企业也可能受影响，请运行全量批次")


def ledger_counts(s: Session) -> dict[str, int]:
    return dict(s.execute(select(Payout.status, func.count()).group_by(Payout.status)).all())  # type: ignore[arg-type]
