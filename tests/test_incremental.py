"""Incremental batches (#34 item 3): after a delivery that changes some enterprises, a batch over
the change set re-evaluates only those, against the policies that read a changed tag, and leaves
the ledger exactly as a full batch over the new data would."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from rules_engine import ir, service
from rules_engine.cli import DEFAULT_POLICIES
from rules_engine.data.changes import changes, read_changes, write_changes
from rules_engine.data.datasets import SAMPLE_MANIFEST, load_dataset
from rules_engine.data.frame import KEY
from rules_engine.data.tags import load_dictionary
from rules_engine.errors import EngineError
from rules_engine.ledger.models import BatchRun, Invitation, Payout
from rules_engine.library.loader import load_library
from rules_engine.service import Actor

D = load_dictionary()
LIB = load_library(DEFAULT_POLICIES, D)
DS = load_dataset(SAMPLE_MANIFEST, D)
AS_OF = dt.date(2026, 6, 30)
OFFICIAL = Actor("李四", "official")


def delivered(frame: pd.DataFrame, share: float = 0.03, seed: int = 7) -> pd.DataFrame:
    """The next delivery: `share` of the enterprises get some values of another enterprise (a
    year's new figures, a new certificate, a value now missing), two are new and one is gone."""
    r = np.random.default_rng(seed)
    new = frame.copy()
    tags = [c for c in frame.columns if c != KEY]
    for i in r.choice(len(frame), int(len(frame) * share), replace=False):
        donor = int(r.integers(len(frame)))
        for col in r.choice(tags, 8, replace=False):
            new.iloc[i, new.columns.get_loc(col)] = frame.iloc[donor][col]
    born = frame.iloc[[5, 6]].copy()
    born[KEY] = [f"91340100MA2NEW{seed:02d}{k:02d}" for k in (1, 2)]
    return pd.concat([new.iloc[1:], born], ignore_index=True)


def ledger_rows(sf) -> tuple[list[tuple], list[tuple]]:
    with sf() as s:
        pay = sorted(tuple(r) for r in s.execute(select(
            Payout.policy_id, Payout.credit_code, Payout.period, Payout.amount_fen, Payout.status,
            Payout.enterprise_name, Payout.bank_account, Payout.explanation)))
        inv = sorted(tuple(r) for r in s.execute(select(
            Invitation.policy_id, Invitation.credit_code, Invitation.period, Invitation.amount_fen, Invitation.status)))
    return pay, inv


def test_a_batch_over_the_changes_leaves_the_ledger_a_full_batch_would(tmp_path: Path, ledger_url: str) -> None:
    old, new = DS.frame, delivered(DS.frame)
    cs = changes(old, new)
    assert 0 < len(cs.frame) < len(new) // 10 and cs.added == 2 and cs.removed == 1
    write_changes(cs, tmp_path / "changes.parquet")
    cs = read_changes(tmp_path / "changes.parquet", D)  # what `batch run --changes` reads

    full = service.open_ledger(f"sqlite:///{tmp_path / 'full.db'}")
    service.run_batch(full, OFFICIAL, old, LIB.policies, AS_OF, D)
    full_new = service.run_batch(full, OFFICIAL, new, LIB.policies, AS_OF, D)

    sf = service.open_ledger(ledger_url)
    service.run_batch(sf, OFFICIAL, old, LIB.policies, AS_OF, D)
    inc = service.run_batch(sf, OFFICIAL, cs, LIB.policies, AS_OF, D)
    assert full_new.created > 5  # the delivery made new candidates, so the comparison says something
    assert (inc.created, inc.created_fen, inc.invited) == (full_new.created, full_new.created_fen, full_new.invited)
    assert ledger_rows(sf) == ledger_rows(full)
    with sf() as s:
        run = s.get(BatchRun, inc.batch_id)
        assert run is not None and run.summary is not None
        done = run.summary["incremental"]
    assert done["enterprises"] == len(cs.frame)
    reads = {p.id for p in LIB.policies if not cs.tags.isdisjoint(ir.policy_tags(p, AS_OF))}
    assert set(done["policies"]) <= reads and run.summary["input_hash"] == cs.new

    # the next change set starts from the data the incremental batch left the ledger at
    again = changes(new, delivered(new, seed=8))
    nxt = service.run_batch(sf, OFFICIAL, again, LIB.policies, AS_OF, D)
    assert nxt.batch_id == inc.batch_id + 1


def test_a_change_set_from_other_data_another_date_or_other_policies_is_refused(ledger_url: str) -> None:
    old, new = DS.frame, delivered(DS.frame)
    sf = service.open_ledger(ledger_url)
    with pytest.raises(EngineError, match="还没有批次"):
        service.run_batch(sf, OFFICIAL, changes(old, new), LIB.policies, AS_OF, D)
    service.run_batch(sf, OFFICIAL, old, LIB.policies, AS_OF, D)
    with pytest.raises(EngineError, match="基准数据不是上一批次"):  # computed from a later delivery than the ledger's
        service.run_batch(sf, OFFICIAL, changes(new, delivered(new, seed=9)), LIB.policies, AS_OF, D)
    with pytest.raises(EngineError, match="评估日期"):
        service.run_batch(sf, OFFICIAL, changes(old, new), LIB.policies, AS_OF + dt.timedelta(days=1), D)
    with pytest.raises(EngineError, match="生效政策与上一批次"):
        paid = next(p for p in LIB.active() if p.in_force(AS_OF) and p.tier is not ir.Tier3.APPLY)
        service.run_batch(sf, OFFICIAL, changes(old, new), [p for p in LIB.policies if p is not paid], AS_OF, D)
    with sf() as s:
        assert len(s.scalars(select(BatchRun)).all()) == 1  # nothing was written by the refused runs


def test_changes_name_every_changed_tag_and_nothing_else() -> None:
    old = DS.frame
    new = old.copy()
    col = next(c for c in old.columns if c != KEY and old[c].notna().sum() > 10 and old[c].dtype.kind in "iu"
               or str(old[c].dtype) == "Int64")
    row = int(np.flatnonzero(old[col].notna().to_numpy())[0])
    new.loc[row, col] = old[col].iloc[row] + 1
    gone = next(c for c in old.columns if c not in (KEY, col) and old[c].notna().iloc[3])
    new.loc[3, gone] = pd.NA if str(old[gone].dtype) != "category" else np.nan
    cs = changes(old, new)
    assert cs.tags == {col, gone} and sorted(cs.frame[KEY]) == sorted(old[KEY].iloc[[row, 3]])
    assert changes(old, old.copy()).frame.empty


def test_the_commands_compute_a_change_set_and_run_on_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`mianshen data-changes` then `mianshen batch run --changes`: the same ledger as a full
    batch over the new data; the date is the last batch's; a change set is not matched twice."""
    from typer.testing import CliRunner

    from rules_engine.cli.main import app
    from rules_engine.data.datasets import write_storage_parquet

    monkeypatch.setenv("MIANSHEN_AUDIT_KEY", str(tmp_path / "key.pem"))
    runner = CliRunner()
    assert runner.invoke(app, ["audit", "init-key"]).exit_code == 0
    write_storage_parquet(DS.frame, tmp_path / "old.parquet")
    write_storage_parquet(delivered(DS.frame), tmp_path / "new.parquet")
    r = runner.invoke(app, ["data-changes", "--old", str(tmp_path / "old.parquet"), "--new", str(tmp_path / "new.parquet"),
                            "-o", str(tmp_path / "changes.parquet")])
    assert r.exit_code == 0 and "新增 2，不再出现 1" in r.output, r.output
    dbs = {name: f"sqlite:///{tmp_path / name}.db" for name in ("full", "inc")}
    for name, second in (("full", ["--data", str(tmp_path / "new.parquet"), "--as-of", "2026-06-30"]),
                         ("inc", ["--changes", str(tmp_path / "changes.parquet")])):
        for argv in (["--data", str(tmp_path / "old.parquet"), "--as-of", "2026-06-30"], second):
            r = runner.invoke(app, ["batch", "run", "--actor", "张三", "--db", dbs[name], *argv])
            assert r.exit_code == 0, r.output
    assert ledger_rows(service.open_ledger(dbs["inc"])) == ledger_rows(service.open_ledger(dbs["full"]))
    r = runner.invoke(app, ["batch", "run", "--actor", "张三", "--db", dbs["inc"], "--changes", str(tmp_path / "changes.parquet")])
    assert r.exit_code == 1 and "基准数据不是上一批次" in r.output, r.output
    r = runner.invoke(app, ["batch", "run", "--actor", "张三", "--db", dbs["inc"], "--changes", str(tmp_path / "new.parquet")])
    assert r.exit_code == 1 and "不是变更集" in r.output, r.output
    r = runner.invoke(app, ["batch", "list", "--db", dbs["inc"]], terminal_width=250)
    assert r.exit_code == 0 and "全量" in r.output and "增量" in r.output, r.output


def test_the_audit_shows_an_incremental_batch_in_chinese(ledger_url: str) -> None:
    from rules_engine.ledger.models import AuditEntry
    from rules_engine.service.auditview import describe

    sf = service.open_ledger(ledger_url)
    service.run_batch(sf, OFFICIAL, DS.frame, LIB.policies, AS_OF, D)
    cs = changes(DS.frame, delivered(DS.frame))
    service.run_batch(sf, OFFICIAL, cs, LIB.policies, AS_OF, D)
    with sf() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "batch_run").order_by(AuditEntry.seq.desc())).first()
        assert entry is not None
        shown = describe(entry.action, entry.subject, entry.details)[3]
    assert "变更前数据摘要：" + cs.base[:16] in shown and f"变更的企业数：{len(cs.frame)}" in shown
    assert not re.search(r"[a-z]+_[a-z]+", shown), shown  # no key left in English
