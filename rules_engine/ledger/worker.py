"""The event worker: tag updates in, payout candidates and withdrawals out, on durable-rules.

* Sources: a file (JSON lines or CSV: credit_code, tag, value, as_of, source), standard
  input, or the ledger's `tag_events` table, polled.
* A malformed event goes to `dead_letters` with the reason; the worker goes on.
* Each chunk of events is one transaction together with the source's offset, so a
  restart resumes right after the last committed event and no event applies twice.
* Only the changed enterprise is re-evaluated, only against the policies that read the
  changed tag, by durable-rules (one thread owns the engine).
* A newly eligible pair becomes a candidate (same key, ledger and outbox as batch runs;
  the worker holds the batch lock while it writes, so the two never race). A candidate or
  publicized payout whose enterprise stops being eligible is withdrawn with the reason.
* Policies with a budget are left to batch runs: pro-rata and priority allocation need
  the whole population, which one event does not show.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from .. import grant, ir
from ..backends.durable import DurableEngine
from ..backends.reference import evaluate
from ..data import creditcode
from ..data.datasets import fen_artefact
from ..data.frame import KEY, row_of
from ..data.tags import TagDictionary
from ..data.values import coerce, fmt_yuan
from ..errors import EngineError
from ..explain import Provenance
from ..ir import Kind
from ..periods import split_slot
from . import anchor, audit, contracts, lifecycle
from .allocation import Candidate, allocate, period
from .batch import BatchLocked, acquire_lock, load_existing, release_lock, supersede
from .decide import decide
from .models import DeadLetter, OutboxMessage, Payout, PayoutEvent, TagEvent, TagOverride, WorkerOffset
from .verify import created_record, ledger_name

ACTOR = "event-worker"


@dataclass(frozen=True)
class TagUpdate:
    credit_code: str
    tag: str
    value: object  # natural value, None to clear
    as_of: dt.date
    source: str


def parse_event(raw: Any, dictionary: TagDictionary) -> TagUpdate:
    """One event from a dict or a JSON line; ValueError says what is wrong."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"不是合法的 JSON：{exc.msg}（第 {exc.lineno} 行第 {exc.colno} 列）") from None
    if not isinstance(raw, dict):
        raise ValueError("事件应为含 credit_code、tag、value、as_of、source 的对象")
    missing = [k for k in ("credit_code", "tag", "as_of", "source") if not raw.get(k)]
    if missing or "value" not in raw:
        raise ValueError(f"缺少字段：{'、'.join(missing + ([] if 'value' in raw else ['value']))}")
    code = str(raw["credit_code"]).strip().upper()
    why = creditcode.problem(code)
    if why:
        raise ValueError(f"统一社会信用代码：{why}")
    written = str(raw["tag"]).strip()
    name, bracket, rest = written.partition("[")
    period_text = rest.rstrip("]") if bracket else raw.get("period")
    tdef = dictionary.resolve(name.strip())
    if tdef is None:
        sugg = dictionary.suggest(written)
        raise ValueError(f"未知标签 {raw['tag']!r}" + (f"（是否指 {sugg}？）" if sugg else ""))
    if tdef.periodic and "@" not in tdef.key:  # a periodic fact's event names its period (所属期)
        if not period_text:
            raise ValueError(f"{tdef.key}（{tdef.label}）按{tdef.period.zh}报送，事件须写明所属期（period，如 2025）")
        try:
            day: dt.date | None = dt.date.fromisoformat(str(raw["as_of"])[:10])
        except ValueError:
            day = None  # reported below with the other cells
        tdef = dictionary[dictionary.delivered_slot(tdef, str(period_text), day)]
    elif period_text:
        raise ValueError(f"{tdef.key}（{tdef.label}）不分期间，事件不能带所属期")
    try:
        value = raw["value"]
        if tdef.kind is Kind.MONEY and (fen := fen_artefact(value, Decimal(1))) is not None:
            value = fen  # a float pipeline's 4999999.9900000002…: the fen it meant, as the batch loader reads it
        value = coerce(tdef.type, value)
        as_of = dt.date.fromisoformat(str(raw["as_of"])[:10])
    except ValueError as exc:
        raise ValueError(f"{tdef.key}（{tdef.label}）：{exc}") from None
    source = str(raw["source"])
    if source not in dictionary.sources:
        raise ValueError(f"未知数据来源 {source!r}")
    return TagUpdate(code, tdef.key, value, as_of, source)


# ------------------------------------------------------------------ sources


class FileSource:
    """JSON lines (.jsonl/.json) or CSV; the position is the 1-based data line."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.name = f"file:{self.path.resolve()}"

    def read(self, after: int) -> Iterator[tuple[int, Any]]:
        if not self.path.exists():
            raise EngineError(f"{self.path}：文件不存在")
        with open(self.path, encoding="utf-8", newline="") as fh:
            if self.path.suffix.lower() == ".csv":
                for i, row in enumerate(csv.DictReader(fh), start=1):
                    if i > after:
                        yield i, dict(row)
            else:
                for i, line in enumerate(fh, start=1):
                    if i > after and line.strip():
                        yield i, line


class StdinSource:
    """JSON lines from standard input; the position is not kept across restarts."""

    name = "stdin"

    def __init__(self, stream: io.TextIOBase | None = None) -> None:
        self.stream = stream or sys.stdin

    def read(self, after: int) -> Iterator[tuple[int, Any]]:
        for i, line in enumerate(self.stream, start=1):
            if line.strip():
                yield i, line


class TableSource:
    """The ledger's tag_events table, by id."""

    name = "table:tag_events"

    def __init__(self, sf: sessionmaker[Session], batch: int = 1000) -> None:
        self.sf = sf
        self.batch = batch

    def read(self, after: int) -> Iterator[tuple[int, Any]]:
        while True:
            with self.sf() as s:
                rows = list(s.scalars(select(TagEvent).where(TagEvent.id > after).order_by(TagEvent.id)
                                      .limit(self.batch)))
            if not rows:
                return
            for r in rows:
                yield r.id, {"credit_code": r.credit_code, "tag": r.tag, "value": r.value, "as_of": r.as_of,
                             "source": r.source, "_received_at": r.received_at.isoformat()}
                after = r.id


def source_from(spec: str, sf: sessionmaker[Session]) -> FileSource | StdinSource | TableSource:
    if spec == "stdin":
        return StdinSource()
    if spec == "table":
        return TableSource(sf)
    if spec.startswith("file:"):
        return FileSource(spec[5:])
    raise EngineError(f"事件来源应为 file:路径、stdin 或 table，而不是 {spec!r}")


# ------------------------------------------------------------------ worker


@dataclass
class WorkerStats:
    events: int = 0
    dead: int = 0
    created: int = 0
    withdrawn: int = 0
    deferred: int = 0  # eligible under a budgeted policy: left to the next batch
    evaluations: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds from receipt to candidate
    started: float = field(default_factory=time.perf_counter)

    def rate(self) -> float:
        return self.events / max(time.perf_counter() - self.started, 1e-9)

    def line(self) -> str:
        return (f"事件 {self.events} 条（每秒 {self.rate():.0f} 条），新候选 {self.created} 笔，撤回 {self.withdrawn} 笔，"
                f"留待批处理（预算）{self.deferred} 笔，死信 {self.dead} 条")


class Worker:
    def __init__(self, sf: sessionmaker[Session], dictionary: TagDictionary, policies: list[ir.Policy],
                 base: pd.DataFrame | None = None, as_of: dt.date | None = None,
                 engine: DurableEngine | None = None, delivered: set[tuple[str, str]] | None = None) -> None:
        self.sf = sf
        self.d = dictionary
        self.policies = [p for p in policies if p.status == "active"]
        self.fixed_as_of = as_of
        self.engine = engine or DurableEngine()
        self.by_tag: dict[str, list[ir.Policy]] = {}
        for p in self.policies:
            for t in ir.policy_tags(p):  # base names: an event for any period of a tag touches its readers
                self.by_tag.setdefault(split_slot(t)[0], []).append(p)
        self.base = base
        self.base_index: dict[str, int] = (
            {str(c): i for i, c in enumerate(base[KEY])} if base is not None and KEY in base else {})
        self.profiles: dict[str, dict[str, object]] = {}
        self.newest: dict[tuple[str, str], dt.date] = {}
        # (credit code, derived tag) that a source delivered: the derivation does not overwrite
        # them unless the dictionary prefers it (the batch's rule: datasets.apply_derivations)
        self.delivered: set[tuple[str, str]] = set(delivered or ())
        self.derived_inputs = {t.key: t.inputs for t in dictionary if t.derived}
        self._load_overrides()

    def as_of(self) -> dt.date:
        return self.fixed_as_of or dt.date.today()

    def _load_overrides(self) -> None:
        with self.sf() as s:
            for o in s.scalars(select(TagOverride)):
                prof = self.profile(o.credit_code)
                value = json.loads(o.value) if o.value is not None else None
                prof[o.tag] = coerce(self.d[o.tag].type, value) if value is not None else None
                self.newest[(o.credit_code, o.tag)] = o.as_of
                if self.d[o.tag].derived and value is not None:
                    self.delivered.add((o.credit_code, o.tag))

    def profile(self, code: str) -> dict[str, object]:
        prof = self.profiles.get(code)
        if prof is None:
            i = self.base_index.get(code)
            prof = row_of(self.base, i, self.d) if self.base is not None and i is not None else {}
            prof[KEY] = code
            self.profiles[code] = prof
        return prof

    # -------------------------------------------------------------- one event
    def apply(self, s: Session, ev: TagUpdate, received_at: dt.datetime, stats: WorkerStats) -> None:
        prof = self.profile(ev.credit_code)
        key = (ev.credit_code, ev.tag)
        if key in self.newest and ev.as_of < self.newest[key]:
            return  # older than what we hold: the newer value wins, as in batch merges
        prof[ev.tag] = ev.value
        if self.d[ev.tag].derived:
            self.delivered.add(key)
        rederived = [t for t, inputs in self.derived_inputs.items() if ev.tag in inputs]
        for t in rederived:
            self._derive(t, prof)
        self.newest[key] = ev.as_of
        stored = json.dumps(str(ev.value) if isinstance(ev.value, (Decimal, dt.date)) else ev.value, ensure_ascii=False)
        o = s.get(TagOverride, key)
        now = dt.datetime.now()
        if o is None:
            s.add(TagOverride(credit_code=ev.credit_code, tag=ev.tag, value=stored, as_of=ev.as_of,
                              source=ev.source, updated_at=now))
        else:
            o.value, o.as_of, o.source, o.updated_at = stored, ev.as_of, ev.source, now
        affected = list(self.by_tag.get(split_slot(ev.tag)[0], []))
        for t in rederived:
            affected += [p for p in self.by_tag.get(split_slot(t)[0], []) if p not in affected]
        # 就高不重复 needs every member of a touched group: decided together, as in a batch
        groups = {p.exclusive.group for p in affected if p.exclusive}
        affected += [p for p in self.policies if p.exclusive and p.exclusive.group in groups and p not in affected]
        # one query for the enterprise's payouts, not one per policy
        held = {(p.policy_id, p.period): p for p in s.scalars(select(Payout).where(Payout.credit_code == ev.credit_code))}
        cands = [c for policy in affected
                 if (c := self.decide(s, policy, prof, ev, stats, held)) is not None]
        if not cands:
            return
        outcome = allocate(cands, load_existing(s, self.policies, [ev.credit_code]), self.as_of())
        now = dt.datetime.now()
        supersede(s, outcome, ACTOR, now)
        stats.withdrawn += len(outcome.superseded)
        for c in outcome.granted:
            per = period(c.policy, self.as_of())
            held[(c.policy.id, per)] = self.create(s, c, prof, per, self.as_of(), ev, now)
            stats.created += 1
            stats.latencies.append(max(0.0, (now - received_at).total_seconds()))

    def _derive(self, tag: str, prof: dict[str, object]) -> None:
        """The batch's rule (datasets.apply_derivations): a delivered value is kept unless the
        dictionary prefers the derivation; the inputs are the dictionary's."""
        from ..data.derive import DERIVATIONS
        from ..data.frame import to_frame

        code = str(prof.get(KEY))
        if (code, tag) in self.delivered and self.d[tag].prefer == "delivered":
            return  # a department delivered it: kept, as in batch merges
        cols = [c for c in self.derived_inputs[tag] if c in prof]
        value = DERIVATIONS[tag](to_frame([prof], self.d, columns=cols)).astype(object)[0]
        prof[tag] = value if isinstance(value, str) else None

    def decide(self, s: Session, policy: ir.Policy, prof: dict[str, object], ev: TagUpdate,
               stats: WorkerStats, held: dict[tuple[str, str], Payout]) -> Candidate | None:
        """The policy's decision for this enterprise: a candidate for allocation.allocate (the
        batch's rules: limits, 就高不重复), or None; a candidate no longer eligible is withdrawn."""
        if policy.tier is not ir.Tier3.AUTO:
            return None  # 即申即享 invitations come from batch runs, 申报 payouts from accepted applications
        as_of = self.as_of()
        d = decide(self.engine, policy, prof, as_of, sid=ev.credit_code)
        stats.evaluations += 1
        per = period(policy, as_of)
        existing = held.get((policy.id, per))
        now = dt.datetime.now()
        if d.status is ir.Status.ELIGIBLE and existing is None and d.amount_fen > 0:
            if policy.budget is not None:
                stats.deferred += 1  # a budget is shared by everyone: the batch allocates it
                return None
            return Candidate(policy, ev.credit_code, d.amount_fen)
        if d.status is ir.Status.NOT_ELIGIBLE and existing is not None and existing.status in ("candidate",
                                                                                                  "publicized"):
            ref = evaluate(policy, prof, as_of)
            labels = [c.label or c.text for c in policy.conditions if c.id in ref.failed] or ["政策不在有效期内"]
            reason = (f"数据更新后不再符合：{'；'.join(labels)}（{self.d[ev.tag].label} = {ev.value}，"
                      f"来源 {self.d.sources[ev.source].label}，截至 {ev.as_of}）")
            lifecycle.withdraw(s, existing, ACTOR, reason, now=now)
            stats.withdrawn += 1
        return None

    def create(self, s: Session, c: Candidate, prof: dict[str, object], per: str, as_of: dt.date,
               ev: TagUpdate, now: dt.datetime) -> Payout:
        policy, fen = c.policy, c.granted_fen
        p = Payout(
            policy_id=policy.id, policy_version=policy.version, credit_code=ev.credit_code, period=per,
            benefit_year=as_of.year, exclusive_group=policy.exclusive.group if policy.exclusive else None,
            amount_fen=fen, status="candidate", batch_id=None, source="event",
            enterprise_name=_text(prof.get("name")), region=_text(prof.get("region")),
            bank_account=_text(prof.get("bank_account")), created_at=now, updated_at=now,
            explanation=grant.record(
                policy, as_of, grant.inputs_of(policy, prof, as_of), c.amount_fen, fen, c.note,
                origin={"kind": "event", "tag": ev.tag, "value": str(ev.value), "source": ev.source,
                        "as_of": ev.as_of.isoformat()},
                sources={ev.tag: Provenance(self.d.sources[ev.source].label, ev.as_of)}),
        )
        s.add(p)
        s.flush()
        s.add(PayoutEvent(payout_id=p.id, from_status=None, to_status="candidate", actor=ACTOR,
                          reason=f"{self.d[ev.tag].label} 更新（{self.d.sources[ev.source].label}，{ev.as_of}）", at=now))
        audit.append(s, ACTOR, "event_candidate", p.reference, created_record(p, ev.tag), at=now)
        key = f"eligible:{policy.id}:{ev.credit_code}:{per}"
        amount = fmt_yuan(fen)
        s.add(OutboxMessage(payout_id=p.id, kind="eligible", dedupe_key=key, status="pending", attempts=0,
                            next_attempt_at=now, payload={
                                "dedupe_key": key, "credit_code": ev.credit_code, "reference": p.reference,
                                "amount_fen": fen, "policy_id": policy.id,
                                "text": f"【政策推送】{p.enterprise_name or ev.credit_code}：根据最新数据，贵单位符合"
                                        f"《{policy.title}》，预计可享 {amount} 元，无需申请，将在公示无异议后直接兑现。"}))
        return p

    # -------------------------------------------------------------- the loop
    def run(self, source: FileSource | StdinSource | TableSource, stop: Callable[[], bool] = lambda: False,
            follow: bool = False, chunk: int = 100, poll_s: float = 1.0, max_events: int | None = None,
            report: Callable[[WorkerStats], None] | None = None, report_every_s: float = 2.0) -> WorkerStats:
        """Process events until the source is exhausted (or forever with `follow`), `stop()`
        turns true (e.g. on SIGTERM), or `max_events` have been handled. Without the audit
        signing key it does not start: every commit it makes is anchored."""
        anchor.signing_key()
        stats = WorkerStats()
        last_report = time.perf_counter()

        def done() -> bool:
            return stop() or (max_events is not None and stats.events + stats.dead >= max_events)

        while not done():
            with self.sf() as s:
                off = s.get(WorkerOffset, source.name)
                position = off.position if off is not None and source.name != "stdin" else 0
            batch: list[tuple[int, Any]] = []
            for item in source.read(position):
                batch.append(item)
                if len(batch) >= chunk or (max_events is not None
                                           and stats.events + stats.dead + len(batch) >= max_events):
                    self._commit(source, batch, stats)
                    batch = []
                    if report and time.perf_counter() - last_report >= report_every_s:
                        report(stats)
                        last_report = time.perf_counter()
                    if done():
                        break
            if batch:
                self._commit(source, batch, stats)
            if done() or not follow:
                break
            time.sleep(poll_s)
        return stats

    def check_contracts(self, s: Session, ev: TagUpdate, source: Any, position: int, raw: Any,
                        stats: WorkerStats) -> None:
        """The enterprise's contracts in force re-decided on the new value (the batch's rule,
        ledger/contracts.py). A contract that cannot be checked (its text edited in the database)
        is a dead letter of its own; the event's effects stand."""
        label = self.d.sources[ev.source].label if ev.source in self.d.sources else ev.source
        try:
            with s.begin_nested():
                contracts.check_enterprise(s, ev.credit_code, self.profile(ev.credit_code),
                                           {ev.tag: Provenance(label, ev.as_of)}, self.d, ACTOR, self.as_of(),
                                           dt.datetime.now(), policies=self.policies)
        except EngineError as exc:
            self._dead(s, source, position, raw, f"合同履约核查失败：{exc}", stats)

    def _dead(self, s: Session, source: Any, position: int, raw: Any, reason: str, stats: WorkerStats) -> None:
        s.add(DeadLetter(source=f"{source.name}#{position}", raw=_raw_text(raw).strip()[:4000], reason=reason[:2000],
                         at=dt.datetime.now()))
        stats.dead += 1

    def _commit(self, source: Any, batch: list[tuple[int, Any]], stats: WorkerStats) -> None:
        """One transaction: the events' effects and the new offset, under the batch lock."""
        while True:
            try:
                acquire_lock(self.sf, "event worker")
                break
            except BatchLocked:
                time.sleep(0.5)  # a batch run is writing: wait for it
        try:
            with self.sf.begin() as s:
                under_contract = contracts.signed_codes(s)  # once a chunk: usually none
                for position, raw in batch:
                    received = dt.datetime.now()
                    if isinstance(raw, dict) and "_received_at" in raw:
                        received = dt.datetime.fromisoformat(raw.pop("_received_at"))
                    try:
                        ev = parse_event(raw, self.d)
                    except (ValueError, ArithmeticError, TypeError, RecursionError) as exc:
                        self._dead(s, source, position, raw, str(exc), stats)
                        continue
                    # a savepoint per event: one event that fails to apply becomes a dead letter
                    # instead of rolling back its chunk and crashing every restart on it again
                    try:
                        with s.begin_nested():
                            self.apply(s, ev, received, stats)
                    except (ArithmeticError, ValueError, TypeError, KeyError, RecursionError) as exc:
                        self._dead(s, source, position, raw, f"处理失败：{type(exc).__name__}: {exc}", stats)
                        continue
                    stats.events += 1
                    if ev.credit_code in under_contract:
                        self.check_contracts(s, ev, source, position, raw, stats)
                last = batch[-1][0]
                off = s.get(WorkerOffset, source.name)
                if off is None:
                    s.add(WorkerOffset(source=source.name, position=last, updated_at=dt.datetime.now()))
                else:
                    off.position, off.updated_at = last, dt.datetime.now()
                seq, head = audit.head(s)
                ledger = ledger_name(s)
            if seq:
                anchor.record(ledger, seq, head)  # after the commit: never a rolled-back head
        finally:
            release_lock(self.sf)


def _raw_text(raw: Any) -> str:
    if isinstance(raw, str):
        return raw
    try:
        return json.dumps(raw, ensure_ascii=False, default=str)
    except (ValueError, TypeError, RecursionError):
        return repr(raw)[:4000]


def _text(v: object) -> str | None:
    return None if v is None else str(v)
