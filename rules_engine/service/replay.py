"""Replay: any past date re-evaluated on the data and policy versions as they stood then.

For every batch run of that date, the run's own department files (each checked by SHA-256) and
policy texts (by the hash the run recorded) are loaded again, the verified self-declared values of
that moment laid over them, and the run's evaluation repeated. The replay must give the same data
digest, the same decisions (every eligible pair and formula amount, compared by the digest the
run recorded) and, for every payout and invitation the run created, the same pair and amount.
Newer deliveries and newer policy versions change nothing of it: history is kept, not
overwritten. Without a batch on that date, the date is evaluated on the data version recorded
last by its end and the newest policy versions known by then.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from .. import ir
from ..data.datasets import load_dataset
from ..data.tags import TagDictionary
from ..errors import EngineError, Invalid
from ..ledger import history
from ..ledger.models import BatchRun, DataVersion, Invitation, Payout, PolicyText, PolicyVersion
from ..library.loader import load_policy_text
from ..sources import FrameSource
from .actors import Actor, require
from .tiers import overlay_frame


@dataclass
class RunReplay:
    batch_id: int
    started_at: dt.datetime
    data_version: int | None
    eligible: int = 0  # eligible pairs with a positive amount, replayed
    recorded_eligible: int | None = None
    data_same: bool = False
    decisions_same: bool = False
    created: int = 0  # payouts and invitations the run created
    created_same: int = 0  # of them, replayed with the same pair, version and formula amount
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.data_same and self.decisions_same and self.created_same == self.created


@dataclass
class Replay:
    as_of: dt.date
    data_version: int | None
    policies: dict[str, int]  # id -> version evaluated
    eligible: int
    undetermined: int
    eligible_fen: int
    runs: list[RunReplay]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.runs)


def _end(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time())


def _policy(text: str, pid: str, d: TagDictionary) -> ir.Policy:
    try:
        return load_policy_text(text, d, f"<{pid}>")
    except EngineError as exc:
        raise Invalid(f"政策 {pid} 的登记文本按当前标签库无法加载：{exc}") from None


class _Frames:
    """Each data version's files loaded once per replay (several runs of a date, and the date's
    own re-evaluation, usually read the same version)."""

    def __init__(self, d: TagDictionary) -> None:
        self.d = d
        self.loaded: dict[int, pd.DataFrame] = {}

    def of(self, dv: DataVersion) -> pd.DataFrame:
        if dv.id not in self.loaded:
            self.loaded[dv.id] = load_dataset(history.source_files(dv), self.d).frame
        return self.loaded[dv.id]


def _replay_run(s: Session, sf: sessionmaker[Session], run: BatchRun, d: TagDictionary, frames: _Frames) -> RunReplay:
    out = RunReplay(run.id, run.started_at, run.data_version_id,
                    recorded_eligible=(run.summary or {}).get("eligible"))
    if run.data_version_id is None:
        out.problems.append("该批次读取的数据没有登记文件（数据库表、Spark 数据源或早于本功能的批次）：无法重现")
        return out
    dv = s.get(DataVersion, run.data_version_id)
    assert dv is not None
    policies = []
    for pid, info in sorted(run.policies.items()):
        pt = s.get(PolicyText, info["hash"])
        if pt is None:
            out.problems.append(f"政策 {pid} v{info['version']} 的文本没有登记（早于本功能的批次）")
            continue
        policies.append(_policy(pt.text, pid, d))
    try:
        loaded = frames.of(dv)
    except Invalid as exc:
        out.problems.append(str(exc))
        return out
    frame, _ = overlay_frame(loaded, sf, d, as_at=run.started_at)
    source = FrameSource(frame)
    out.data_same = source.digest() == run.data_hash
    if not out.data_same:
        out.problems.append("重新加载的数据与批次当时的数据摘要不同")
    pairs = source.eligible(policies, run.as_of)
    versions = {p.id: p.version for p in policies}
    rows = [(str(c), str(p), versions[str(p)], int(f))
            for c, p, f in zip(pairs["credit_code"], pairs["policy"], pairs["amount_fen"], strict=True)]
    out.eligible = len(rows)
    recorded = (run.summary or {}).get("decisions_digest")
    out.decisions_same = recorded == history.decisions_digest(rows)
    if recorded is None:
        out.problems.append("该批次没有记录决定摘要（早于本功能的批次）：只比对其生成的兑现")
    elif not out.decisions_same:
        out.problems.append(f"符合条件的企业与金额与批次当时不同（重现 {out.eligible} 对，当时 {out.recorded_eligible} 对）")
    amounts = {(c, p, v): f for c, p, v, f in rows}
    created = [(x.credit_code, x.policy_id, x.policy_version, x.explanation) for x in
               [*s.scalars(select(Payout).where(Payout.batch_id == run.id)),
                *s.scalars(select(Invitation).where(Invitation.batch_id == run.id))]]
    out.created = len(created)
    for code, pid, version, record in created:
        formula = (record or {}).get("formula_fen")
        if formula is not None and amounts.get((code, pid, version)) == int(formula):
            out.created_same += 1
    if out.created_same != out.created:
        out.problems.append(f"批次生成的 {out.created} 笔中有 {out.created - out.created_same} 笔重现后不一致")
    return out


def _policies_at(s: Session, day: dt.date, d: TagDictionary) -> list[ir.Policy]:
    """The newest version of each policy known by the end of `day` (evaluated by a batch, or
    published through review)."""
    end = _end(day)
    texts: dict[str, tuple[int, str]] = {}
    for pid, version, text in [*s.execute(select(PolicyText.policy_id, PolicyText.version, PolicyText.text)
                                          .where(PolicyText.first_seen_at < end)).all(),
                               *s.execute(select(PolicyVersion.policy_id, PolicyVersion.version, PolicyVersion.text)
                                          .where(PolicyVersion.published_at < end)).all()]:
        if pid not in texts or version > texts[pid][0]:
            texts[pid] = (version, text)
    return [_policy(text, pid, d) for pid, (_, text) in sorted(texts.items())]


def replay(sf: sessionmaker[Session], actor: Actor, as_of: dt.date, dictionary: TagDictionary) -> Replay:
    """Re-evaluate `as_of` on the data and policy versions of that date and reproduce each batch
    run of that date (see the module)."""
    require(actor, "audit.verify")
    with sf() as s:
        runs = list(s.scalars(select(BatchRun).where(BatchRun.as_of == as_of, BatchRun.status == "completed")
                              .order_by(BatchRun.id)))
        frames = _Frames(dictionary)
        replays = [_replay_run(s, sf, r, dictionary, frames) for r in runs]
        if runs:  # the data and policies of that date are those its last batch read
            last = runs[-1]
            dv = s.get(DataVersion, last.data_version_id) if last.data_version_id else None
            texts = [s.get(PolicyText, info["hash"]) for info in last.policies.values()]
            policies = [_policy(t.text, t.policy_id, dictionary) for t in texts if t is not None]
        else:  # no batch that day: the versions recorded by its end
            dv = history.data_version_at(s, as_of)
            if dv is None:
                raise Invalid(f"{as_of.isoformat()} 及以前没有登记任何数据版本：无从重现（数据在“数据”页启用或批次运行时登记）")
            policies = _policies_at(s, as_of, dictionary)
            if not policies:
                raise Invalid(f"{as_of.isoformat()} 及以前没有登记任何政策版本：无从重现")
        summary = Replay(as_of, dv.id if dv else None, {p.id: p.version for p in policies}, 0, 0, 0, replays)
        if dv is not None and policies and all(r.ok for r in replays):
            at = runs[-1].started_at if runs else _end(as_of)
            frame, _ = overlay_frame(frames.of(dv), sf, dictionary, as_at=at)
            res = FrameSource(frame).results(policies, as_of)
            elig = res[(res.status == "eligible") & (res.amount_fen > 0)]  # as a batch counts them
            summary.eligible, summary.eligible_fen = len(elig), int(elig.amount_fen.sum())
            summary.undetermined = int((res.status == "undetermined").sum())
    return summary
