"""The payout ledger on SQLite and PostgreSQL: batch, lifecycle, files, outbox, audit."""

from __future__ import annotations

import dataclasses
import datetime as dt
import http.server
import json
import threading
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy import select

from rules_engine import ir, service
from rules_engine.cli import DEFAULT_POLICIES
from rules_engine.data.datasets import SAMPLE_MANIFEST, load_dataset
from rules_engine.data.tags import load_dictionary
from rules_engine.errors import Invalid
from rules_engine.ledger import audit, lifecycle
from rules_engine.ledger.batch import BatchLocked, acquire_lock, release_lock, run_batch
from rules_engine.ledger.db import make_engine, open_ledger
from rules_engine.ledger.exports import notice_list
from rules_engine.ledger.models import AuditEntry, Base, BatchLock, Clawback, OutboxMessage, Payout
from rules_engine.ledger.outbox import MAX_ATTEMPTS, FileSender, WebhookSender, dispatch
from rules_engine.library.loader import load_library
from rules_engine.service import Actor

D = load_dictionary()
LIB = load_library(DEFAULT_POLICIES, D)
DS = load_dataset(SAMPLE_MANIFEST, D)
AS_OF = dt.date(2026, 6, 30)


def keys(sf) -> set[tuple]:
    with sf() as s:
        return set(s.execute(select(Payout.policy_id, Payout.credit_code, Payout.period, Payout.amount_fen,
                                    Payout.status)).all())


def test_migrations_match_the_models(ledger_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine, _ = open_ledger(ledger_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    open_ledger(ledger_url)  # upgrading again is a no-op


def test_batch_applies_limits_exclusivity_and_budgets(ledger_url: str) -> None:
    _, sf = open_ledger(ledger_url)
    r = run_batch(sf, DS.frame, LIB.policies, AS_OF, "张三", D)
    assert r.created > 1000
    with sf() as s:
        payouts = list(s.scalars(select(Payout)))
    # budgets: never exceeded, and exactly used where oversubscribed
    for p in LIB.active():
        if p.budget:
            spent = sum(x.amount_fen for x in payouts if x.policy_id == p.id)
            assert spent <= int(p.budget.total * 100), p.id
    spent = {pid: sum(x.amount_fen for x in payouts if x.policy_id == pid) for pid in ("keji-zhongxiao", "yanfa-zengliang")}
    assert spent == {"keji-zhongxiao": 200000000, "yanfa-zengliang": 100000000}
    # 就高不重复: one award per enterprise per group
    seen: dict[tuple, str] = {}
    for x in payouts:
        if x.exclusive_group:
            assert (x.exclusive_group, x.credit_code) not in seen, x.credit_code
            seen[(x.exclusive_group, x.credit_code)] = x.policy_id
    # only policies in force, only eligible pairs, every candidate explained
    assert {x.policy_id for x in payouts} <= {p.id for p in LIB.active() if p.in_force(AS_OF)}
    assert all(x.explanation["basis"]["number"] and x.explanation["inputs"] for x in payouts)
    # a second run creates nothing
    before = keys(sf)
    r2 = run_batch(sf, DS.frame, LIB.policies, AS_OF, "张三", D)
    assert r2.created == 0 and keys(sf) == before
    with sf() as s:
        assert audit.verify(s)[1] == []


def test_a_new_year_pays_once_per_year_policies_again_but_not_once_policies(ledger_url: str) -> None:
    _, sf = open_ledger(ledger_url)
    policies = [dataclasses.replace(LIB.get("faming-zhuanli"), valid_to=None),
                dataclasses.replace(LIB.get("gaoqi-shouci"), valid_to=None)]
    run_batch(sf, DS.frame, policies, AS_OF, "张三", D)
    r = run_batch(sf, DS.frame, policies, dt.date(2027, 1, 5), "张三", D)
    assert set(r.by_policy) == {"faming-zhuanli"}  # once_per_year again; gaoqi-shouci is once ever
    # (gaoqi-shouci's newly certified enterprises in 2027 would be new keys; none in this data)


def payout(sf, status: str = "candidate") -> Payout:
    with sf() as s:
        return s.scalars(select(Payout).where(Payout.status == status).order_by(Payout.id)).first()


def test_lifecycle_and_illegal_transitions(ledger_url: str) -> None:
    _, sf = open_ledger(ledger_url)
    run_batch(sf, DS.frame, [LIB.get("faming-zhuanli")], AS_OF, "张三", D)
    pid = payout(sf).id
    with sf.begin() as s:
        p = s.get(Payout, pid)
        with pytest.raises(lifecycle.TransitionError, match="当前为「待公示」，只能转为公示中、已撤回，不能转为「已审批」"):
            lifecycle.approve(s, p, "王五", dt.date(2026, 8, 1))
        with pytest.raises(lifecycle.TransitionError, match="记录操作人"):
            lifecycle.publish(s, p, " ", dt.date(2026, 7, 1))
        lifecycle.publish(s, p, "李四", dt.date(2026, 7, 3))  # a Friday
        assert p.notice_end == dt.date(2026, 7, 9)  # 5 working days: Fri, Mon, Tue, Wed, Thu
        with pytest.raises(lifecycle.TransitionError, match="公示期至 2026-07-09"):
            lifecycle.approve(s, p, "王五", dt.date(2026, 7, 9))
        lifecycle.approve(s, p, "王五", dt.date(2026, 7, 10))
        assert s.scalars(select(OutboxMessage).where(OutboxMessage.payout_id == pid)).one().status == "pending"
        lifecycle.mark_failed(s, p, "银行", "账户冻结")
        lifecycle.retry(s, p, "财务", "更正账户后重新支付")
        lifecycle.mark_paid(s, p, "银行", "B2026071000001")
        with pytest.raises(lifecycle.TransitionError, match="只能转为已追回，不能转为「已撤回」"):
            lifecycle.withdraw(s, p, "李四", "异议")
        c = lifecycle.revoke(s, p, "审计", "骗取补贴，追回", clawback_fen=100)
        assert p.status == "revoked" and c.amount_fen == 100
    with sf() as s:
        events = [(e.from_status, e.to_status) for e in s.scalars(
            select(lifecycle.PayoutEvent).where(lifecycle.PayoutEvent.payout_id == pid).order_by(lifecycle.PayoutEvent.id))]
        assert events == [(None, "candidate"), ("candidate", "publicized"), ("publicized", "approved"),
                          ("approved", "failed"), ("failed", "approved"), ("approved", "paid"), ("paid", "revoked")]
        assert s.scalars(select(Clawback)).one().reason == "骗取补贴，追回"
        assert audit.verify(s)[1] == []


def test_objection_withdraws_and_the_key_is_never_paid_again(ledger_url: str) -> None:
    _, sf = open_ledger(ledger_url)
    run_batch(sf, DS.frame, [LIB.get("faming-zhuanli")], AS_OF, "张三", D)
    with sf.begin() as s:
        p = s.get(Payout, payout(sf).id)
        lifecycle.publish(s, p, "李四", dt.date(2026, 7, 1))
        lifecycle.withdraw(s, p, "李四", "公示期内收到实名异议，经核实专利已失效")
        code = p.credit_code
    assert run_batch(sf, DS.frame, [LIB.get("faming-zhuanli")], AS_OF, "张三", D).created == 0
    with sf() as s:
        assert s.scalars(select(Payout).where(Payout.credit_code == code)).one().status == "withdrawn"


OFFICIAL = Actor("李四", "official")
FINANCE = Actor("财务", "finance")


def bank_answer(pay: Path, results: dict[int, tuple[str, str, str]] | None = None) -> pd.DataFrame:
    """The bank's answer to a payment file: every line paid, unless `results` says otherwise
    for a row index (result, bank reference, message)."""
    rows = pd.read_csv(pay, dtype=str) if pay.suffix == ".csv" else pd.read_excel(pay, dtype=str)
    if pay.suffix == ".xlsx":  # Excel keeps the amount as a number (10000): the bank writes 10000.00
        from decimal import Decimal

        rows["金额（元）"] = [f"{Decimal(v):.2f}" for v in rows["金额（元）"]]
    import hashlib

    digest = hashlib.sha256(pay.read_bytes()).hexdigest()
    out = pd.DataFrame({"支付文件编号": rows["支付文件编号"], "支付文件SHA256": digest, "兑现编号": rows["兑现编号"],
                        "金额（元）": rows["金额（元）"], "收款账号": rows["收款账号"], "结果": "成功",
                        "银行流水号": [f"B{pay.stem[-4:]}{i:06d}" for i in range(len(rows))], "说明": ""})
    for i, (result, ref, msg) in (results or {}).items():
        out.loc[i, ["结果", "银行流水号", "说明"]] = [result, ref, msg]
    return out


def test_notice_list_payment_file_and_bank_results(ledger_url: str, tmp_path: Path) -> None:
    sf = service.open_ledger(ledger_url)
    run_batch(sf, DS.frame, [LIB.get("faming-zhuanli"), LIB.get("nongye-longtou")], AS_OF, "张三", D)
    with sf.begin() as s:
        for p in s.scalars(select(Payout)):
            lifecycle.publish(s, p, "李四", dt.date(2026, 7, 1))
        data, n = notice_list(s, "xlsx")
    (tmp_path / "notice.xlsx").write_bytes(data)
    notice = pd.read_excel(tmp_path / "notice.xlsx", dtype=str)
    assert len(notice) == n > 0
    assert "账" not in " ".join(notice.columns) and "account" not in " ".join(notice.columns)
    with sf.begin() as s:
        for p in s.scalars(select(Payout)):
            lifecycle.approve(s, p, "王五", dt.date(2026, 7, 9))
    pf = service.export_payment_file(sf, FINANCE, "csv")
    with pytest.raises(Invalid, match="不生成空的支付文件"):  # nothing is exported twice (no empty file: #36 item 12)
        service.export_payment_file(sf, FINANCE, "csv")
    assert pf.file.count + len(pf.missing_account) == n
    pay = tmp_path / "pay.csv"
    pay.write_bytes(pf.file.content)
    (tmp_path / "pay.control.csv").write_bytes(pf.control)
    rows = pd.read_csv(pay, dtype=str)
    control = pd.read_csv(tmp_path / "pay.control.csv", dtype=str).iloc[0]
    assert int(control["笔数"]) == len(rows) == pf.file.count
    assert sum(Decimal(a) for a in rows["金额（元）"]) == Decimal(control["合计金额（元）"]) == Decimal(pf.file.total_fen) / 100
    assert control["SHA256"] == pf.file.sha256
    # the bank pays all but the first; the file is applied twice; a bad row is reported, the rest apply
    result = bank_answer(pay, {0: ("失败", "", "户名不符")})
    bad = result.iloc[[1]].assign(兑现编号="MS9999999999")
    pd.concat([result, bad]).to_csv(tmp_path / "bank.csv", index=False)
    r = service.import_bank_results(sf, FINANCE, (tmp_path / "bank.csv").read_bytes())
    assert (r.paid, r.failed) == (len(rows) - 1, 1)
    assert r.problems == [f"第 {len(rows) + 2} 行：支付文件 {pf.file.reference} 中没有兑现记录 'MS9999999999'，该行未入账"]
    r = service.import_bank_results(sf, FINANCE, (tmp_path / "bank.csv").read_bytes())
    assert (r.paid, r.failed, r.unchanged) == (0, 0, len(rows))
    failed = service.list_payouts(sf, FINANCE, service.PayoutFilter(("failed",)))
    assert len(failed) == 1
    service.retry(sf, FINANCE, failed[0].reference, "核对户名后重新支付")
    assert service.export_payment_file(sf, FINANCE, "xlsx").file.count == 1  # the retried one, once
    assert service.verify_audit(sf, Actor("审计", "auditor")).problems == []


def test_outbox_file_sender_delivers_once(ledger_url: str, tmp_path: Path) -> None:
    _, sf = open_ledger(ledger_url)
    run_batch(sf, DS.frame, [LIB.get("faming-zhuanli")], AS_OF, "张三", D)
    with sf.begin() as s:
        for p in s.scalars(select(Payout)):
            lifecycle.publish(s, p, "李四", dt.date(2026, 7, 1))
            lifecycle.approve(s, p, "王五", dt.date(2026, 7, 9))
        total = len(list(s.scalars(select(Payout))))
    out = tmp_path / "notices.jsonl"
    assert dispatch(sf, FileSender(out)).sent == total
    # a crash after sending but before marking: every message goes out again; the receiver drops repeats
    with sf.begin() as s:
        s.execute(sa.update(OutboxMessage).values(status="pending"))
    assert dispatch(sf, FileSender(out)).sent == total
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == total == len({x["dedupe_key"] for x in lines})
    assert "如对兑现结果有异议" in lines[0]["text"] and "元" in lines[0]["text"]


class _Flaky(http.server.BaseHTTPRequestHandler):
    fail_first = 2
    received: list[tuple[str, dict]] = []
    calls = 0

    def do_POST(self) -> None:  # noqa: N802
        type(self).calls += 1
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if type(self).calls <= type(self).fail_first:
            self.send_response(503)
        else:
            type(self).received.append((self.headers["Idempotency-Key"], body))
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_webhook_retries_with_backoff_and_gives_up(ledger_url: str) -> None:
    _, sf = open_ledger(ledger_url)
    with sf.begin() as s:
        s.add(OutboxMessage(kind="approved", dedupe_key="k1", payload={"dedupe_key": "k1", "text": "测试"},
                            status="pending", attempts=0, next_attempt_at=dt.datetime(2026, 7, 1)))
    _Flaky.calls, _Flaky.received = 0, []
    server = http.server.HTTPServer(("127.0.0.1", 0), _Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sender = WebhookSender(f"http://127.0.0.1:{server.server_address[1]}/notify", timeout=5)
    t = dt.datetime(2026, 7, 1, 9)
    try:
        assert dispatch(sf, sender, now=t).retried == 1
        assert dispatch(sf, sender, now=t + dt.timedelta(seconds=29)).sent == 0  # backing off
        assert dispatch(sf, sender, now=t + dt.timedelta(seconds=30)).retried == 1
        assert dispatch(sf, sender, now=t + dt.timedelta(seconds=90)).sent == 1
    finally:
        server.shutdown()
    assert _Flaky.received == [("k1", {"dedupe_key": "k1", "text": "测试"})]
    dead = WebhookSender("http://127.0.0.1:9/closed", timeout=1)  # nothing listens on port 9
    with sf.begin() as s:
        s.add(OutboxMessage(kind="approved", dedupe_key="k2", payload={"dedupe_key": "k2"}, status="pending",
                            attempts=0, next_attempt_at=t))
    when = t
    for _ in range(MAX_ATTEMPTS):
        dispatch(sf, dead, now=when)
        when += dt.timedelta(days=1)
    with sf() as s:
        m = s.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key == "k2")).one()
        assert (m.status, m.attempts) == ("dead", MAX_ATTEMPTS)


def tamper(ledger_url: str, sql: str) -> list[str]:
    engine = make_engine(ledger_url)
    with engine.begin() as conn:
        for stmt in sql.split(";"):
            if stmt.strip():
                conn.execute(sa.text(stmt))
    _, sf = open_ledger(ledger_url)
    with sf() as s:
        return [str(b) for b in audit.verify(s)[1]]


def _chain(ledger_url: str, n: int = 6) -> None:
    _, sf = open_ledger(ledger_url)
    with sf.begin() as s:
        for i in range(n):
            audit.append(s, "测试", "step", f"s{i}", {"i": i})


def test_audit_verify_names_edited_entries(ledger_url: str) -> None:
    _chain(ledger_url)
    assert tamper(ledger_url, "UPDATE audit_log SET details = '{\"i\": 99}' WHERE seq = 3") == [
        "第 3 条：内容与其哈希不符（被修改）"]


def test_audit_verify_names_deleted_entries(ledger_url: str) -> None:
    _chain(ledger_url)
    assert tamper(ledger_url, "DELETE FROM audit_log WHERE seq = 4") == [
        "第 5 条：紧接第 3 条：第 4～4 条缺失（被删除）"]


def test_audit_verify_names_inserted_and_reordered_entries(ledger_url: str) -> None:
    _chain(ledger_url)
    # insert a well-formed entry between 2 and 3 by renumbering 3.. and recomputing its own hash
    _, sf = open_ledger(ledger_url)
    with sf.begin() as s:
        rows = list(s.scalars(select(AuditEntry).where(AuditEntry.seq >= 3).order_by(AuditEntry.seq.desc())))
        for e in rows:
            e.seq += 1
            s.flush()
        e2 = s.get(AuditEntry, 2)
        forged = dict(seq=3, at=e2.at, actor="x", action="forged", subject="s", details="{}", prev_hash=e2.hash)
        s.add(AuditEntry(**forged, hash=audit.entry_hash(**forged)))
    problems = tamper(ledger_url, "SELECT 1")
    assert problems[0].startswith("第 4 条：内容与其哈希不符")  # renumbered entry
    assert any(p.startswith("第 4 条：与第 3 条链接不上") for p in problems)
    # swap two entries' positions
    _, sf = open_ledger(ledger_url)
    with sf.begin() as s:
        s.execute(sa.delete(AuditEntry))
    _chain(ledger_url)
    problems = tamper(ledger_url, "UPDATE audit_log SET seq = 100 WHERE seq = 2; UPDATE audit_log SET seq = 2 "
                                  "WHERE seq = 3; UPDATE audit_log SET seq = 3 WHERE seq = 100")
    assert "第 2 条：内容与其哈希不符（被修改）" in problems
    assert "第 2 条：与第 1 条链接不上（被插入、调换顺序，或第 1 条被替换）" in problems


def test_lock_refuses_a_second_run_and_takes_over_a_dead_one(ledger_url: str) -> None:
    _, sf = open_ledger(ledger_url)
    acquire_lock(sf, "first")
    with sf.begin() as s:  # pretend another live process on this host holds it
        s.execute(sa.update(BatchLock).values(pid=1))
    with pytest.raises(BatchLocked, match="另一批次正在运行：first（进程 1，主机"):
        run_batch(sf, DS.frame, [LIB.get("faming-zhuanli")], AS_OF, "张三", D)
    with sf.begin() as s:  # a pid that cannot exist: the holder died
        s.execute(sa.update(BatchLock).values(pid=2**22 + 12345))
    assert run_batch(sf, DS.frame, [LIB.get("faming-zhuanli")], AS_OF, "张三", D).created > 0
    with sf() as s:
        assert s.get(BatchLock, 1).holder is None
        assert s.scalars(select(AuditEntry).where(AuditEntry.action == "lock_taken_over")).one()
    release_lock(sf)


def test_priority_allocation_gives_the_remainder_to_the_next_in_line() -> None:
    from rules_engine.ledger.allocation import Candidate, Existing, allocate

    p = dataclasses.replace(LIB.get("xiaowei-chuangye"),
                            budget=ir.Budget(Decimal("25000"), ir.Allocation.PRIORITY, ("insured_staff",)))
    cands = [Candidate(p, c, 1000000, (Decimal(s),)) for c, s in (("A", 3), ("B", 9), ("C", 5), ("D", 5))]
    out = allocate(cands, Existing(), AS_OF)
    assert {c.credit_code: c.granted_fen for c in out.granted} == {"B": 1000000, "C": 1000000, "D": 500000}
    assert [c.credit_code for c, _ in out.skipped] == ["A"]


def test_pro_rata_allocation_is_exact_to_the_fen() -> None:
    from rules_engine.ledger.allocation import Candidate, Existing, allocate

    p = dataclasses.replace(LIB.get("keji-zhongxiao"), budget=ir.Budget(Decimal("1000.00"), ir.Allocation.PRO_RATA))
    cands = [Candidate(p, f"E{i}", fen) for i, fen in enumerate((33333, 33333, 33334, 1))]
    existing = Existing(committed_fen={"keji-zhongxiao": 1})  # one fen already committed
    out = allocate(cands, existing, AS_OF)
    granted = [c.granted_fen for c in out.granted]
    assert sum(granted) == 100000 - 1 and all(g <= c.amount_fen for g, c in zip(granted, out.granted))


def test_exclusivity_ties_go_to_precedence() -> None:
    from rules_engine.ledger.allocation import Candidate, Existing, allocate

    a = dataclasses.replace(LIB.get("kuogang-buzhu"))
    b = dataclasses.replace(LIB.get("xina-jiuye"))
    out = allocate([Candidate(a, "E", 3000), Candidate(b, "E", 3000)], Existing(), AS_OF)
    assert [c.policy.id for c in out.granted] == ["kuogang-buzhu"]  # precedence 2 beats 1 at equal amounts
    out = allocate([Candidate(a, "E", 3000), Candidate(b, "E", 3001)], Existing(), AS_OF)
    assert [c.policy.id for c in out.granted] == ["xina-jiuye"]  # 就高: the higher amount wins


def test_explanation_inputs_are_the_natural_values() -> None:
    from rules_engine.data.frame import natural
    from rules_engine.ledger.batch import Inputs

    inputs = Inputs(DS.frame, D, AS_OF)
    at = list(range(0, len(DS.frame), 97))
    for p in LIB.active()[:10]:
        got = inputs.of(p, at)
        assert len(got) == len(at)
        for i, values in zip(at, got, strict=True):
            expected = {}
            for t in ir.policy_tags(p, AS_OF):  # the slots it reads on AS_OF (revenue@2025)
                if t in DS.frame:
                    v = natural(D[t].type, DS.frame[t].iat[i])
                    expected[t] = None if v is None else str(v)
            assert values == expected, (p.id, i)


def test_batch_explanation_text_is_the_explanation_record() -> None:
    """A batch writes explanations as JSON text built around the policy part (json_of,
    grant.record_texts); parsed back, each is exactly `grant.record()` of its candidate, with
    text that needs escaping in inputs and notes; each value's source and date are the
    dataset's (a self-declared one: the declared label), as the calculator gives them."""
    from rules_engine import grant
    from rules_engine.explain import Provenance
    from rules_engine.ledger.allocation import Candidate
    from rules_engine.ledger.batch import CellSources, Inputs

    frame = DS.frame.copy()
    frame["name"] = frame["name"].astype(object)
    frame.loc[0, "name"] = '引号"与\\反斜杠\t制表\n换行'
    labels = [(D.sources[f.source].label, f.as_of) for f in DS.files]
    code0 = str(frame.loc[0, "credit_code"])
    declared = {t: {code0} for t in DS.provenance if DS.provenance[t][0] < 0}
    cells = CellSources(pd.Index(DS.frame["credit_code"].astype(str)), DS.provenance, labels, declared, "企业自报")
    inputs = Inputs(frame.iloc[::-1].reset_index(drop=True), D, AS_OF, cells)  # rows in another order than the dataset's
    at = [len(frame) - 1, *range(len(frame) - 2, 0, -89)]
    for p in LIB.active():
        inputs.tags[p.key] = (*ir.policy_tags(p, AS_OF), "name")  # every policy reads the awkward text column too
        cands = [Candidate(p, f"E{i}", 1000 + i, (), 900 + i, '预算不足，"按比例"\\分配' if i % 2 else "")
                 for i in range(len(at))]
        texts = grant.record_texts(grant.policy_part(p, AS_OF), inputs.json_of(p, at),
                                   [(c.amount_fen, c.granted_fen, c.note) for c in cands], inputs.sources_json(p, at))
        for c, values, text, row in zip(cands, inputs.of(p, at), texts, at, strict=True):
            i = len(frame) - 1 - row  # the row in the dataset
            known = {t: Provenance(D.sources[s_].label, a) for t, (s_, a, _) in DS.provenance_of(i).items()}
            if i == 0:
                known |= {t: Provenance("企业自报", None) for t in declared}
            sources = {t: known[t] for t in (*ir.policy_tags(p, AS_OF), "name") if t in known}
            parsed = json.loads(text)
            assert parsed == grant.record(p, AS_OF, values, c.amount_fen, c.granted_fen, c.note, sources=sources), \
                (p.id, text)
            assert tuple(parsed) == grant.KEYS


def test_frame_digest_is_content_not_layout() -> None:
    """The data hash a batch records: the same content gives the same digest however the frame
    was sliced or copied; one changed cell, a missing value or a renamed column changes it."""
    from rules_engine.sources import frame_digest

    f = DS.frame.iloc[100:600].reset_index(drop=True)
    d = frame_digest(f)
    assert frame_digest(DS.frame.iloc[100:600].copy().reset_index(drop=True)) == d
    assert frame_digest(DS.frame.iloc[50:700].iloc[50:550].reset_index(drop=True)) == d
    for col in f.columns:
        g = f.copy()
        g.loc[3, col] = None if not pd.isna(f.loc[3, col]) else g.loc[4, col]
        if not pd.isna(f.loc[3, col]) or not pd.isna(g.loc[3, col]):
            assert frame_digest(g) != d, col
    g = f.copy()
    g.loc[7, "name"] = str(g.loc[7, "name"]) + "甲"
    assert frame_digest(g) != d
    assert frame_digest(f.rename(columns={"name": "名称"})) != d
    # text boundaries count: ("ab", "c") is not ("a", "bc")
    a = pd.DataFrame({"x": pd.array(["ab", "c"], dtype="str")})
    b = pd.DataFrame({"x": pd.array(["a", "bc"], dtype="str")})
    assert frame_digest(a) != frame_digest(b)


def test_insert_many_writes_what_sqlalchemy_would(ledger_url: str) -> None:
    """db.insert_many (COPY on PostgreSQL, one driver executemany elsewhere; processors per
    column) against SQLAlchemy's own executemany: the same rows read back, JSON with Chinese
    text (as dicts and as pre-serialised JsonText), NULLs, timestamps, and text with the
    characters COPY escapes (tab, newline, backslash, a literal \\N)."""
    from rules_engine.ledger.db import JsonText, insert_many

    _, sf = open_ledger(ledger_url)
    now = dt.datetime(2026, 7, 1, 9, 30, 15, 123456)

    def explained(prefix: str, i: int) -> dict | JsonText:
        exp = {"title": "稳岗返还\t", "inputs": {"n": str(i), "x": None}, "list": [1, "二\\"]}
        return JsonText(json.dumps(exp, ensure_ascii=False)) if prefix == "A" and i % 2 else exp

    def rows(prefix: str) -> list[dict]:
        return [dict(policy_id="p", policy_version=1, credit_code=f"{prefix}{i:04d}", period="2026",
                     benefit_year=2026, exclusive_group=None if i % 2 else "组", amount_fen=i * 101 - 7,
                     status="candidate", batch_id=None, source="batch",
                     enterprise_name=None if i % 3 == 0 else f"企业'{i}\"\\%s\t\n\r\\.\\N", region="340104",
                     bank_account=None if i % 5 else "\\N",
                     explanation=explained(prefix, i),
                     created_at=now, updated_at=now + dt.timedelta(seconds=i)) for i in range(50)]

    table = Payout.__table__
    with sf.begin() as s:
        insert_many(s.connection(), table, rows("A"))  # type: ignore[arg-type]
        s.connection().execute(sa.insert(table), rows("B"))

    def read(prefix: str) -> list[tuple]:
        with sf() as s:
            got = s.scalars(select(Payout).where(Payout.credit_code.startswith(prefix)).order_by(Payout.credit_code))
            return [(p.credit_code[1:], p.exclusive_group, p.amount_fen, p.enterprise_name, p.explanation,
                     p.created_at, p.updated_at, p.bank_account) for p in got]

    a, b = read("A"), read("B")
    assert len(a) == 50 and a == b
    assert a[1][5] == now and a[1][6] == now + dt.timedelta(seconds=1)


def test_notice_periods_follow_the_official_calendar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: only weekends counted unless someone wrote a holiday file by hand, so a notice from
    2026-09-30 ended on 10-06, in the middle of the National Day holiday."""
    from rules_engine.ledger.workdays import add_working_days, coverage, working_days_between

    monkeypatch.delenv("MIANSHEN_HOLIDAYS", raising=False)
    # 09-30, then 10-01..10-07 off, 10-08, 10-09, 10-10 (a Saturday made a working day, 调休), 10-12
    assert add_working_days(dt.date(2026, 9, 30), 4) == dt.date(2026, 10, 12)
    assert working_days_between(dt.date(2026, 9, 30), dt.date(2026, 10, 12)) == 4
    assert coverage(2026)
    local = tmp_path / "holidays.txt"
    local.write_text("2026-10-12 holiday  # a local day off\n2026-10-11 workday\n", encoding="utf-8")
    monkeypatch.setenv("MIANSHEN_HOLIDAYS", str(local))
    assert add_working_days(dt.date(2026, 9, 30), 4) == dt.date(2026, 10, 11)


def test_working_days_added_and_counted_agree_from_any_day(monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: from a Saturday, add_working_days moved to Monday and then added n more, while
    working_days_between counted Monday as the first: a payout created on Saturday 2026-12-05
    and paid on add_working_days(start, 12) showed 13 days used (CI failed on a Saturday). A
    notice period still starts on the first working day on or after its start."""
    from rules_engine.ledger.lifecycle import NOTICE_WORKING_DAYS, notice_period
    from rules_engine.ledger.workdays import add_working_days, is_working_day, working_days_between

    monkeypatch.delenv("MIANSHEN_HOLIDAYS", raising=False)
    saturday = dt.date(2026, 12, 5)
    assert add_working_days(saturday, 12) == dt.date(2026, 12, 22)
    for offset in range(0, 400, 3):
        start = dt.date(2026, 1, 1) + dt.timedelta(days=offset)
        for n in (1, 5, 12):
            assert working_days_between(start, add_working_days(start, n)) == n, (start, n)
        first, last = notice_period(start)
        days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
        assert sum(map(is_working_day, days)) == NOTICE_WORKING_DAYS and is_working_day(last), start


def test_a_batch_of_one_payout_stores_its_explanation_as_an_object(ledger_url: str) -> None:
    """Was: insert_columns processed a column whose values were all the same object once, and a
    single row's pre-serialised explanation (JsonText) went through the JSON encoder again: a
    batch that created exactly one payout stored its record as a JSON string, not an object
    (found by replaying such a batch)."""
    from rules_engine.ledger.db import JsonText, insert_columns
    from rules_engine.ledger.models import Payout

    sf = service.open_ledger(ledger_url)
    now = dt.datetime(2026, 7, 1, 9, 0)
    with sf.begin() as s:
        insert_columns(s.connection(), Payout.__table__, {  # type: ignore[arg-type]
            "policy_id": ["p"], "policy_version": [1], "credit_code": ["C"], "period": ["2026"],
            "benefit_year": [2026], "amount_fen": [100], "status": ["candidate"], "source": ["batch"],
            "explanation": [JsonText('{"title": "一笔", "formula_fen": 100}')], "created_at": [now],
            "updated_at": [now]})
    with sf() as s:
        (p,) = s.scalars(sa.select(Payout)).all()
        assert p.explanation == {"title": "一笔", "formula_fen": 100}


def test_the_ledger_mode_entry_of_the_migration_verifies(tmp_path: Path) -> None:
    """Migration 0011 writes the first audit entry with its own frozen copy of the hash: it must
    be the chain's hash, or every ledger would start with a broken link."""
    sf = open_ledger(f"sqlite:///{tmp_path / 'l.db'}")[1]
    with sf() as s:
        n, breaks = audit.verify(s)
        first = s.get(AuditEntry, 1)
    assert (n, breaks) == (1, []) and first is not None and first.action == "ledger_mode"
    assert first.details == audit.canonical({"mode": "test", "reason": "账本建立时确定用途"})


def test_a_batch_written_in_slices_is_the_batch_written_at_once(ledger_url: str, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A province's batch is built and written WRITE_ROWS payouts at a time (one transaction),
    so its records are never all in memory: slices of 7 write the same rows, records, summary
    and digests as one slice, and `audit verify` recomputes the digest from the table."""
    from rules_engine.ledger import batch

    def rows(sf) -> list[tuple]:
        with sf() as s:
            return [tuple(r) for r in s.execute(select(
                Payout.id, Payout.policy_id, Payout.credit_code, Payout.period, Payout.amount_fen,
                Payout.enterprise_name, Payout.bank_account, Payout.explanation).order_by(Payout.id))]

    policies = [p for p in LIB.policies if p.tier is not ir.Tier3.APPLY]
    whole = service.open_ledger(f"sqlite:///{tmp_path / 'whole.db'}")
    one = service.run_batch(whole, OFFICIAL, DS.frame, policies, AS_OF, D)
    monkeypatch.setattr(batch, "WRITE_ROWS", 7)
    sf = service.open_ledger(ledger_url)
    sliced = service.run_batch(sf, OFFICIAL, DS.frame, policies, AS_OF, D)
    assert sliced.created > 7 * 10 and sliced.invited > 7  # several slices of payouts and of invitations
    assert (sliced.created, sliced.created_fen, sliced.invited, sliced.by_policy, sliced.skipped) == \
           (one.created, one.created_fen, one.invited, one.by_policy, one.skipped)
    assert [r[1:] for r in rows(sf)] == [r[1:] for r in rows(whole)]
    with sf() as s, whole() as w:
        a, b = (json.loads(x.scalars(select(AuditEntry).where(AuditEntry.action == "batch_run")).one().details)
                for x in (s, w))
    assert a["payouts_digest"] == b["payouts_digest"] and a["invitations_digest"] == b["invitations_digest"]
    from rules_engine.ledger.verify import verify_ledger

    with sf() as s:
        report = verify_ledger(s)  # the digests recomputed from the table (anchors: the other ledger's too)
    assert report.chain == [] and report.ledger == []


def test_payout_line_is_the_json_text_of_its_fields() -> None:
    from rules_engine.ledger.verify import payout_line

    for fields in (("p", 1, "E", "2026", 0, None, None),
                   ("政策-1", 12, "91340104MA00100290", "2026Q1", 123456789012, "6222\"0\\1", '名\t称\n"引号"\u2028\x01')):
        assert payout_line(*fields) == json.dumps([*fields[:5], fields[5] or "", fields[6] or ""], ensure_ascii=False)
