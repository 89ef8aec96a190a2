"""Replay: a batch run is reproduced exactly after new data and a new policy version arrive,
and a changed history file is refused by name; the migration rewrites snapshot-era tag names."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from rules_engine import service
from rules_engine.cli import app
from rules_engine.data.datasets import SAMPLE_MANIFEST, load_dataset
from rules_engine.data.tags import load_dictionary
from rules_engine.errors import Forbidden, Invalid
from rules_engine.ledger import db as ledger_db
from rules_engine.ledger.models import BatchRun, DataVersion
from rules_engine.library.loader import load_library
from rules_engine.service import data as data_service
from rules_engine.service.actors import Actor
from rules_engine.service.replay import replay

D = load_dictionary()
AS_OF = dt.date(2026, 6, 30)
OFFICIAL = Actor("官员甲", "official")
AUDITOR = Actor("审计乙", "auditor")
LIBRARY = Path(__file__).resolve().parent.parent / "policies"


def _setup(tmp_path: Path) -> tuple[Path, Path]:
    data = tmp_path / "data"
    shutil.copytree(SAMPLE_MANIFEST.parent, data)
    lib = tmp_path / "policies"
    shutil.copytree(LIBRARY, lib)
    return data / "manifest.yaml", lib


def test_a_batch_is_replayed_exactly_after_new_data_and_a_new_policy_version(
        ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data_service, "CURRENT", tmp_path / "current.yaml")
    monkeypatch.setattr(data_service, "UPLOADS", tmp_path / "uploads")
    manifest, lib = _setup(tmp_path)
    sf = service.open_ledger(ledger_url)
    first = service.run_batch(sf, OFFICIAL, load_dataset(manifest, D), load_library(lib, D).active(), AS_OF, D)
    assert first.created > 1000

    # a new delivery: 2025's tax figures revised for every enterprise in the tax file, made current
    tax = (manifest.parent / "tax.csv").read_text(encoding="utf-8").splitlines()
    head = tax[0].split(",")
    col = head.index("tax_paid[2025]")
    revised = ["credit_code,tax_paid[2025]"] + [f"{r.split(',')[0]},99999999.00" for r in tax[1:50]]
    ds, staged = data_service.stage(OFFICIAL, D, manifest, [("tax_revised.csv", "\n".join(revised).encode())],
                                    "tax", dt.date(2026, 6, 30))
    assert not ds.rejects or all(r.file != "tax_revised.csv" for r in ds.rejects)
    current = data_service.activate(sf, OFFICIAL, manifest, staged, AS_OF)
    # and a new policy version: the same file rewritten in place (the library holds only the newest)
    p = lib / "employment" / "wengang-fanhuan.yaml"
    text = p.read_text(encoding="utf-8")
    p.write_text(text.replace("version: 2", "version: 3").replace("rate: 60%", "rate: 50%"), encoding="utf-8")
    later = service.run_batch(sf, OFFICIAL, load_dataset(current, D), load_library(lib, D).active(), AS_OF, D)
    assert col > 0 and later.batch_id != first.batch_id

    r = replay(sf, AUDITOR, AS_OF, D)
    assert [x.batch_id for x in r.runs] == [first.batch_id, later.batch_id]
    for run in r.runs:
        assert run.problems == [] and run.ok, run.problems
        assert run.data_same and run.decisions_same and run.eligible == run.recorded_eligible
        assert run.created_same == run.created
    assert r.runs[0].created == first.created + first.invited
    # the re-evaluation of the date uses the newest data and policy version of that day
    assert r.policies.get("wengang-fanhuan") == 3 and r.data_version is not None, r.policies

    out = CliRunner().invoke(app, ["replay", "--as-of", "2026-06-30", "--db", ledger_url])
    assert out.exit_code == 0, out.output
    assert f"批次 {first.batch_id}" in out.output and "一致" in out.output and "不一致" not in out.output

    # a history file changed afterwards: the replay refuses it by name instead of reading other data
    (manifest.parent / "court.csv").write_text("credit_code,dishonest_debtor\n", encoding="utf-8")
    r = replay(sf, AUDITOR, AS_OF, D)
    assert not r.runs[0].ok and any("court.csv" in p and "已被改动" in p for p in r.runs[0].problems)
    out = CliRunner().invoke(app, ["replay", "--as-of", "2026-06-30", "--db", ledger_url])
    assert out.exit_code == 1


def test_a_run_records_its_files_and_an_enterprise_cannot_replay(ledger_url: str, tmp_path: Path) -> None:
    manifest, lib = _setup(tmp_path)
    sf = service.open_ledger(ledger_url)
    service.run_batch(sf, OFFICIAL, load_dataset(manifest, D), load_library(lib, D).active(), AS_OF, D)
    with sf() as s:
        run = s.scalars(sa.select(BatchRun)).one()
        dv = s.get(DataVersion, run.data_version_id)
        assert dv is not None and dv.origin == "batch"
        assert {e["name"] for e in dv.files} >= {"tax.csv", "tax_quarterly.csv", "market.csv"}
        assert all(len(e["sha256"]) == 64 for e in dv.files)
        assert run.summary and run.summary["eligible"] > 0 and len(run.summary["decisions_digest"]) == 64
    with pytest.raises(Forbidden):
        replay(sf, Actor("企业", "enterprise", "91340124MA7112976A"), AS_OF, D)


def test_the_migration_names_the_period_of_snapshot_era_tags(ledger_url: str) -> None:
    """A ledger written before periods holds `tax_paid` (上年) and `rd_expense_prev` (前年) in its
    overrides, supplied values, pending events and application answers: upgraded, each names
    the year it meant relative to its own date."""
    engine = ledger_db.make_engine(ledger_url)
    ledger_db.upgrade(engine, "0009")
    now = dt.datetime(2026, 3, 5, 9, 0)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO tag_overrides (credit_code, tag, value, as_of, source, updated_at) "
                             "VALUES ('C1', 'tax_paid', '\"100\"', :d, 'tax', :t), "
                             "('C1', 'rd_expense_prev', '\"5\"', :d, 'tax', :t), "
                             "('C1', 'employees', '\"7\"', :d, 'stats', :t)"), {"d": dt.date(2026, 3, 1), "t": now})
        conn.execute(sa.text("INSERT INTO tag_events (credit_code, tag, value, as_of, source, received_at) "
                             "VALUES ('C1', 'export_value_prev', '1', '2025-11-30', 'commerce', :t)"), {"t": now})
        conn.execute(sa.text("INSERT INTO supplied_values (credit_code, tag, value, statement, status, submitted_by, "
                             "submitted_at) VALUES ('C1', 'revenue', '10', 's', 'submitted', 'e', :t)"), {"t": now})
    ledger_db.upgrade(engine)
    with engine.connect() as conn:
        tags = sorted(conn.execute(sa.text("SELECT tag FROM tag_overrides")).scalars())
        assert tags == ["employees", "rd_expense@2024", "tax_paid@2025"]
        assert conn.execute(sa.text("SELECT tag FROM tag_events")).scalar_one() == "export_value@2023"
        assert conn.execute(sa.text("SELECT tag FROM supplied_values")).scalar_one() == "revenue@2025"
        assert conn.execute(sa.text("SELECT COUNT(*) FROM data_versions")).scalar_one() == 0
    engine.dispose()


def test_a_date_without_a_batch_is_evaluated_on_the_versions_recorded_by_its_end(
        ledger_url: str, tmp_path: Path) -> None:
    manifest, lib = _setup(tmp_path)
    sf = service.open_ledger(ledger_url)
    with pytest.raises(Invalid, match="没有登记任何数据版本"):
        replay(sf, AUDITOR, dt.date.today(), D)
    service.run_batch(sf, OFFICIAL, load_dataset(manifest, D), load_library(lib, D).active(), AS_OF, D)
    r = replay(sf, AUDITOR, dt.date.today(), D)  # recorded today: the batch's files and policy texts
    assert r.runs == [] and r.data_version is not None and r.eligible > 1000 and r.eligible_fen > 0
    with pytest.raises(Invalid, match="没有登记任何数据版本"):
        replay(sf, AUDITOR, dt.date.today() - dt.timedelta(days=1), D)
