"""The money path against an attacker (issue #36): each edge found by trying the project's own
commands with hostile input and write access to the database, reproduced here as it was found,
on SQLite and PostgreSQL where a ledger is involved. Items 1-8, 10-12, 14 and 16 are here; the
HTTP ones need the running server of tests/test_api.py (9: bodies and credentials before
parsing, 13: the contract checks schemathesis runs), and 15 is in tests/test_browser.py (headers,
framing) and tests/test_websession.py (/media bound to its person)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import delete as sa_delete
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from rules_engine import service
from rules_engine.cli import app
from rules_engine.data.tags import load_dictionary
from rules_engine.errors import Invalid, PolicyLoadError
from rules_engine.ledger.lifecycle import TransitionError
from rules_engine.ledger.models import LedgerSetting, PaymentFile, Payout
from rules_engine.library.loader import load_policy_text
from rules_engine.service.actors import Actor
from tests.test_ledger import bank_answer
from tests.test_money_path import FINANCE, approved_ledger, export, status_of

D = load_dictionary()


# ------------------------------------------------------------------ 6: bank-result amounts and references

@pytest.mark.parametrize("amount", ["sNaN", "NaN", "Infinity", "５０００.００", "٥٠٠٠.٠٠", "1E+4", "5e3", "5000", "5000.0",
                                    "5,000.00", " 5000.00x", "-0.00"])
def test_a_bank_amount_is_a_plain_decimal_with_two_places(amount: str, ledger_url: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: `sNaN` raised InvalidOperation out of the import (the API answered 500); full-width and
    Arabic-Indic digits and `1E+4` were read as numbers and could pay. Now an amount is ASCII
    digits with exactly two decimals, as the payment file writes it; anything else refuses the line."""
    sf = approved_ledger(ledger_url, monkeypatch)
    pay = export(sf, tmp_path, "pay.csv")
    answer = bank_answer(pay)
    answer["金额（元）"] = answer["金额（元）"].astype(object)
    answer.loc[0, "金额（元）"] = amount
    answer.to_csv(tmp_path / "result.csv", index=False)
    r = service.import_bank_results(sf, FINANCE, (tmp_path / "result.csv").read_bytes())
    assert r.paid == len(answer) - 1 and len(r.problems) == 1, r.problems
    assert "金额" in r.problems[0] and "两位小数" in r.problems[0]
    assert status_of(sf, answer.loc[0, "兑现编号"]) == "approved"


def test_a_bank_reference_is_used_once_whatever_its_case(ledger_url: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: `bank-1` after `BANK-1` was taken as another bank transaction and paid a second payout."""
    sf = approved_ledger(ledger_url, monkeypatch)
    pay = export(sf, tmp_path, "pay.csv")
    answer = bank_answer(pay)
    assert len(answer) >= 2
    answer.loc[0, "银行流水号"] = "BANK-1"
    answer.loc[1, "银行流水号"] = "bank-1"
    answer.to_csv(tmp_path / "result.csv", index=False)
    r = service.import_bank_results(sf, FINANCE, (tmp_path / "result.csv").read_bytes())
    assert r.paid == len(answer) - 1 and any("银行流水号" in p and "已用于另一笔" in p for p in r.problems), r.problems
    assert status_of(sf, answer.loc[1, "兑现编号"]) == "approved"
    again = pd.DataFrame(answer.iloc[[0]]).assign(银行流水号="bank-1")  # the same answer, other case: unchanged
    again.to_csv(tmp_path / "again.csv", index=False)
    r = service.import_bank_results(sf, FINANCE, (tmp_path / "again.csv").read_bytes())
    assert (r.paid, r.unchanged, r.problems) == (0, 1, [])


# ------------------------------------------------------------------ 12: an empty payment file

def test_a_payment_file_with_nothing_to_pay_is_refused(ledger_url: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: `payment export` with nothing approved recorded a payment file and wrote it, empty."""
    sf = approved_ledger(ledger_url, monkeypatch)
    export(sf, tmp_path, "pay.csv")
    with pytest.raises(Invalid, match="不生成空的支付文件"):
        service.export_payment_file(sf, FINANCE, "csv")
    with sf() as s:
        assert s.scalar(select(func.count()).select_from(PaymentFile)) == 1  # only the first one recorded
    out = CliRunner().invoke(app, ["payment", "export", str(tmp_path / "again.csv"), "--actor", "财务", "--db", ledger_url])
    assert out.exit_code == 1 and "不生成空的支付文件" in out.output and not (tmp_path / "again.csv").exists()


# ------------------------------------------------------------------ 7: policy regions

POLICY = """\
id: diqu
version: 1
title: 地区测试
department: 演示局
basis: {document: 演示文件, number: 演示〔2026〕1号}
tier: 免申即享
valid_from: 2026-01-01
regions: [REGION]
conditions:
  - true
benefit:
  fixed: 1000
"""


@pytest.mark.parametrize("region", ["34０100", "３４０１００", "٣٤٠١٠٠", "340１00"])
def test_a_policy_region_is_six_ascii_digits(region: str) -> None:
    """Was: `34０100` passed str.isdigit() and the policy then matched no one (no data holds it)."""
    with pytest.raises(PolicyLoadError) as exc:
        load_policy_text(POLICY.replace("REGION", region), D, "diqu.yaml")
    (p,) = exc.value.problems
    assert p.field == "regions" and "6 位" in p.message and p.line == 8
    assert load_policy_text(POLICY.replace("REGION", "340100"), D, "diqu.yaml").regions == ("340100",)


# ------------------------------------------------------------------ 1: a simulated clock on a production ledger

def _production_ledger_with_candidates(url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    from tests.test_money_path import AS_OF, DS, LIB, OFFICIAL

    monkeypatch.delenv("MIANSHEN_LEDGER_MODE")
    sf = service.open_ledger(url)
    service.run_batch(sf, OFFICIAL, DS.frame, [LIB.get("faming-zhuanli")], AS_OF, D)
    return sf


def test_a_production_ledger_refuses_a_simulated_clock(ledger_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: `payouts publish`, then `MIANSHEN_CLOCK=2027-06-30 mianshen payouts approve` approved every
    candidate on the day of publication and `audit verify` reported nothing; so did publishing under
    a past clock and approving plainly. The mode is fixed when the ledger is created; a production
    ledger neither opens nor writes under MIANSHEN_CLOCK."""
    from tests.test_money_path import OFFICIAL

    sf = _production_ledger_with_candidates(ledger_url, monkeypatch)
    service.publish_candidates(sf, OFFICIAL)
    monkeypatch.setenv("MIANSHEN_CLOCK", "2027-06-30")
    with pytest.raises(Invalid, match="生产账本，不接受模拟时钟"):
        service.open_ledger(ledger_url)
    with pytest.raises(Invalid, match="生产账本，不接受模拟时钟"):  # a process that opened it before
        service.approve_due(sf, OFFICIAL)
    out = CliRunner().invoke(app, ["payouts", "approve", "--actor", "王五", "--db", ledger_url])
    assert out.exit_code == 1 and "不接受模拟时钟" in out.output
    monkeypatch.delenv("MIANSHEN_CLOCK")
    assert service.approve_due(sf, OFFICIAL) == 0  # still on notice by the server's date
    assert service.status_counts(sf, OFFICIAL).get("approved", 0) == 0
    r = service.verify_audit(sf, Actor("审计", "auditor"))
    assert r.ok and r.mode == "production", r.problems


def test_a_production_ledger_with_history_stays_production(ledger_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The mode is read from the environment only when an empty ledger is created: a ledger with
    history is upgraded as production, and a mode changed in the table is reported."""
    sf = _production_ledger_with_candidates(ledger_url, monkeypatch)
    monkeypatch.setenv("MIANSHEN_LEDGER_MODE", "test")
    service.open_ledger(ledger_url)
    auditor = Actor("审计", "auditor")
    assert service.verify_audit(sf, auditor).mode == "production"
    with sf.begin() as s:
        s.execute(update(LedgerSetting).where(LedgerSetting.key == "mode").values(value="test"))
    monkeypatch.setenv("MIANSHEN_CLOCK", "2026-07-01")
    from tests.test_money_path import OFFICIAL

    service.publish_candidates(sf, OFFICIAL)  # the edited table lets it through ...
    problems = service.verify_audit(sf, auditor).problems
    assert any("账本用途被改动" in p for p in problems), problems  # ... and verify names the edit
    assert any("生产账本上的操作使用了模拟时钟" in p and "publish_many" in p for p in problems), problems


def test_a_test_ledger_lists_every_simulated_clock_transition(ledger_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_money_path import approved_ledger

    sf = approved_ledger(ledger_url, monkeypatch)
    r = service.verify_audit(sf, Actor("审计", "auditor"))
    assert r.ok and r.mode == "test"
    assert len(r.notes) == 1 and "2 次操作使用了模拟时钟" in r.notes[0] and "2026-07-09" in r.notes[0], r.notes


# ------------------------------------------------------------------ 2: notice dates from the table

def test_approval_judges_the_notice_its_publication_recorded(ledger_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: `UPDATE payouts SET notice_end = …` then a plain approve approved everything, and
    verify reported nothing. The publication's audit entry holds the notice period; approval
    checks the table against it, and verify compares every payout's period with it."""
    from tests.test_money_path import AS_OF, DS, LIB, OFFICIAL

    sf = service.open_ledger(ledger_url)
    service.run_batch(sf, OFFICIAL, DS.frame, [LIB.get("faming-zhuanli")], AS_OF, D)
    monkeypatch.setenv("MIANSHEN_CLOCK", "2026-07-01")
    n, _, last = service.publish_candidates(sf, OFFICIAL)
    assert n > 0 and str(last) == "2026-07-07"
    with sf.begin() as s:
        s.execute(update(Payout).values(notice_end=dt.date(2026, 6, 30)))
    with pytest.raises(TransitionError, match="公示期与公示时的审计记录不符"):
        service.approve_due(sf, OFFICIAL)
    assert service.status_counts(sf, OFFICIAL).get("approved", 0) == 0
    problems = service.verify_audit(sf, Actor("审计", "auditor")).problems
    assert sum("公示期" in p and "不符" in p for p in problems) == n, problems
    with sf.begin() as s:  # put back: after the notice, approval goes ahead
        s.execute(update(Payout).values(notice_end=last))
    monkeypatch.setenv("MIANSHEN_CLOCK", "2026-07-08")
    assert service.approve_due(sf, OFFICIAL) == n
    assert service.verify_audit(sf, Actor("审计", "auditor")).ok


# ------------------------------------------------------------------ 3: confirmations and acceptances are checkpointed

@pytest.mark.parametrize("path", ["invitation", "application"])
def test_a_payout_made_by_an_enterprise_or_a_reviewer_is_checkpointed(path: str, ledger_url: str) -> None:
    """Was: confirming an invitation or accepting an application created a payout with no signed
    checkpoint; deleting the entries after the last checkpoint, the payout and its events, and
    putting the invitation (application) back passed `audit verify`."""
    from rules_engine.ledger import audit
    from rules_engine.ledger.models import Application, AuditEntry, Invitation, PayoutEvent
    from rules_engine.service import tiers
    from tests.test_tiers import DATA, LIB, OFFICIAL, Platform, batch

    p = Platform(D, LIB, DATA, service.open_ledger(ledger_url))
    batch(p)
    with p.ledger() as s:
        before, _ = audit.head(s)  # the last checkpoint before the enterprise acts
        inv = s.scalars(select(Invitation).order_by(Invitation.id)).first()
    assert inv is not None
    if path == "invitation":
        done = tiers.decide_invitation(p, Actor("企业", "enterprise", inv.credit_code), inv.reference, True)
        undo, pid = update(Invitation).where(Invitation.id == inv.id).values(
            status="open", payout_id=None, decided_at=None, decided_by=None), done.payout_id
    else:
        code = "91340124MA7112976A"
        app_ = tiers.submit_application(p, Actor("金中制造", "enterprise", code), code, "jishu-gaizao", {},
                                        "承诺所填内容真实", [])
        with p.ledger() as s:
            before, _ = audit.head(s)
        ok = tiers.review_application(p, OFFICIAL, app_.reference, "accept", "材料齐全，核定通过")
        undo, pid = update(Application).where(Application.id == ok.id).values(
            status="submitted", payout_id=None, amount_fen=None, decided_by=None), ok.payout_id
    assert pid is not None
    auditor = Actor("审计", "auditor")
    assert service.verify_audit(p.ledger, auditor).ok
    with p.ledger.begin() as s:  # a database administrator erases the payout and its traces
        s.execute(sa_delete(AuditEntry).where(AuditEntry.seq > before))
        s.execute(undo)
        s.execute(sa_delete(PayoutEvent).where(PayoutEvent.payout_id == pid))
        s.execute(sa_delete(Payout).where(Payout.id == pid))
    problems = service.verify_audit(p.ledger, auditor).problems
    assert any("日志尾部被截断" in x for x in problems), problems


# ------------------------------------------------------------------ 4: every column that decides the money

def _full_ledger(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Every path that writes money once: a batch (candidates and invitations), a confirmed
    invitation, 公示, approval, a payment file, the bank's answer (one line failed), a retry and a
    revocation."""
    from rules_engine.ledger.models import Invitation
    from rules_engine.service import tiers
    from tests.test_ledger import bank_answer
    from tests.test_tiers import DATA, LIB, OFFICIAL, Platform

    p = Platform(D, LIB, DATA, service.open_ledger(url))
    monkeypatch.setenv("MIANSHEN_CLOCK", "2026-07-01")
    service.run_batch(p.ledger, OFFICIAL, DATA.dataset, [LIB.get("faming-zhuanli"), LIB.get("waimao-zengzhang")],
                      DATA.as_of, D)
    with p.ledger() as s:
        inv = s.scalars(select(Invitation).where(Invitation.bank_account.is_not(None)).order_by(Invitation.id)).first()
    assert inv is not None
    confirmed = tiers.decide_invitation(p, Actor("企业", "enterprise", inv.credit_code), inv.reference, True)
    withdrawn = service.withdraw(p.ledger, OFFICIAL, "MS0000000001", "异议成立：企业已注销")
    service.publish_candidates(p.ledger, OFFICIAL)
    monkeypatch.setenv("MIANSHEN_CLOCK", "2026-07-09")
    service.approve_due(p.ledger, OFFICIAL)
    pay = tmp_path / "pay.csv"
    pay.write_bytes(service.export_payment_file(p.ledger, FINANCE, "csv").file.content)
    answer = bank_answer(pay, {1: ("失败", "", "账户已销户")})
    answer.to_csv(tmp_path / "result.csv", index=False)
    r = service.import_bank_results(p.ledger, FINANCE, (tmp_path / "result.csv").read_bytes())
    assert r.failed == 1 and r.paid == len(answer) - 1
    service.retry(p.ledger, OFFICIAL, answer.loc[1, "兑现编号"], "已更正账号")
    service.revoke(p.ledger, OFFICIAL, answer.loc[2, "兑现编号"], "骗取补贴，追回", 100)
    assert service.verify_audit(p.ledger, Actor("审计", "auditor")).ok
    return p, {"confirmed": confirmed.payout_id, "paid": int(answer.loc[0, "兑现编号"][2:]),
               "failed": int(answer.loc[1, "兑现编号"][2:]), "revoked": int(answer.loc[2, "兑现编号"][2:]),
               "unpaid": withdrawn.id}


# (table, column, which row, forged value, what verify must name); {paid}, {failed}, {revoked},
# {confirmed} (an invitation's) and {unpaid} (withdrawn, in no file) stand for the ids of those payouts
COLUMN_ATTACKS = [
    ("payouts", "policy_id", "id = {confirmed}", "'faming-zhuanli'", "政策或版本"),
    ("payouts", "policy_version", "id = {confirmed}", "99", "政策或版本"),
    ("payouts", "enterprise_name", "id = {confirmed}", "'某某空壳公司'", "收款单位名称"),
    ("payouts", "credit_code", "id = {confirmed}", "'91340100MA2TEST01X'", "企业"),
    ("payouts", "amount_fen", "id = {confirmed}", "amount_fen + 1", "金额"),
    ("payouts", "bank_account", "id = {confirmed}", "'6222000000000000001'", "账号"),
    ("payouts", "enterprise_name", "id = {paid}", "'某某空壳公司'", "摘要不符"),
    ("payouts", "policy_version", "id = {paid}", "99", "摘要不符"),
    ("payouts", "period", "id = {paid}", "'2099'", "摘要不符"),
    ("payouts", "status", "id = {failed}", "'paid'", "状态为「paid」"),
    ("payouts", "notice_end", "id = {paid}", "'2026-06-30'", "公示期"),
    ("payouts", "notice_start", "id = {paid}", "'2026-06-30'", "公示期"),
    ("payouts", "payment_file", "id = {failed}", "'PF00000001'", "的支付文件"),
    ("payouts", "payment_file", "id = {paid}", "NULL", "的支付文件"),
    ("payouts", "bank_reference", "id = {paid}", "'FORGED-1'", "银行流水号"),
    ("payment_lines", "account", "payout_id = {paid}", "'6222000000000000001'", "支付明细"),
    ("payment_lines", "amount_fen", "payout_id = {paid}", "amount_fen + 100", "支付明细"),
    ("payment_lines", "payout_id", "payout_id = {paid}", "{unpaid}", "支付明细"),
    ("payment_lines", "status", "payout_id = {paid}", "'open'", "回单状态"),
    ("payment_lines", "status", "payout_id = {failed}", "'open'", "回单状态"),
    ("payment_lines", "bank_reference", "payout_id = {paid}", "'FORGED-1'", "回单状态或银行流水号"),
    ("clawbacks", "amount_fen", "payout_id = {revoked}", "1", "追回金额"),
    ("invitations", "amount_fen", "status = 'open'", "amount_fen * 10", "邀约"),
    ("invitations", "bank_account", "status = 'open'", "'6222000000000000001'", "邀约"),
    ("payout_events", "*", "1 = 1", "DELETE", "payout_events"),
    ("payout_events", "*", "payout_id = {paid}", "DELETE", "payout_events"),
]


def test_audit_verify_names_every_column_that_decides_the_money(ledger_url: str, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: verify missed a paid payout's bank_reference, payment_lines.account and .status (open →
    paid, after which the bank's genuine answer was refused), an invitation payout's policy_id and
    enterprise_name, and all payout_events deleted. Each column is edited (and put back) in turn."""
    import sqlalchemy as sa

    p, ids = _full_ledger(ledger_url, tmp_path, monkeypatch)
    engine = sa.create_engine(ledger_url)
    missed = []
    for table, column, where, value, expected in COLUMN_ATTACKS:
        cond = where.format(**ids)
        with engine.connect() as conn:
            before = conn.execute(sa.text(f"SELECT * FROM {table} WHERE {cond}")).mappings().all()
        assert before, (table, cond)
        with engine.begin() as conn:
            if value == "DELETE":
                conn.execute(sa.text(f"DELETE FROM {table} WHERE {cond}"))
            else:
                conn.execute(sa.text(f"UPDATE {table} SET {column} = {value.format(**ids)} WHERE {cond}"))
        problems = service.verify_audit(p.ledger, Actor("审计", "auditor")).problems
        if not any(expected in x for x in problems):
            missed.append((table, column, cond, problems))
        with engine.begin() as conn:  # put it back as it was
            if value == "DELETE":
                conn.execute(sa.text(f"DELETE FROM {table} WHERE {cond}"))
                conn.execute(sa.table(table, *(sa.column(k) for k in before[0])).insert(), [dict(r) for r in before])
            else:
                for r in before:
                    key = "id" if "id" in r else "payout_id"
                    conn.execute(sa.table(table, sa.column(column), sa.column(key)).update()
                                 .where(sa.column(key) == r[key]).values({column: r[column]}))
        assert service.verify_audit(p.ledger, Actor("审计", "auditor")).ok, (table, column)
    engine.dispose()
    assert not missed, missed


# ------------------------------------------------------------------ 5: verifying needs only the public key

def test_verification_reads_only_the_public_key_and_signing_never_creates_one(
        ledger_url: str, monkeypatch: pytest.MonkeyPatch, audit_anchor: Path, tmp_path: Path) -> None:
    """Was: `audit verify` loaded the private key, and a missing key file was silently regenerated
    (every checkpoint then failed to verify). Now verification reads the public key only, and an
    operation that must sign refuses to start without its key, creating none."""
    from rules_engine.ledger import anchor, audit
    from tests.test_money_path import AS_OF, DS, LIB, OFFICIAL

    sf = service.open_ledger(ledger_url)
    service.run_batch(sf, OFFICIAL, DS.frame, [LIB.get("faming-zhuanli")], AS_OF, D)
    private = audit_anchor / "audit-ed25519.pem"
    private.rename(tmp_path / "elsewhere.pem")  # the auditor's machine holds the public key only
    r = service.verify_audit(sf, Actor("审计", "auditor"))
    assert r.ok and r.checkpoints == 1, r.problems
    assert not private.exists()
    with sf() as s:
        head = audit.head(s)
    monkeypatch.setenv("MIANSHEN_CLOCK", "2026-07-01")
    with pytest.raises(anchor.KeyMissing, match="mianshen audit init-key"):
        service.publish_candidates(sf, OFFICIAL)
    with pytest.raises(anchor.KeyMissing):
        service.run_batch(sf, OFFICIAL, DS.frame, [LIB.get("keji-zhongxiao")], AS_OF, D)
    out = CliRunner().invoke(app, ["payouts", "publish", "--actor", "李四", "--db", ledger_url])
    assert out.exit_code == 1 and "审计签名私钥不存在" in out.output, out.output
    assert not private.exists()
    with sf() as s:
        assert audit.head(s) == head  # nothing was written
    assert service.status_counts(sf, OFFICIAL) == {"candidate": service.status_counts(sf, OFFICIAL)["candidate"]}
    (tmp_path / "elsewhere.pem").rename(private)
    assert service.publish_candidates(sf, OFFICIAL)[0] > 0
    (audit_anchor / "audit-ed25519.pub").unlink()  # and without the public key, verify says so
    with pytest.raises(anchor.KeyMissing, match="公钥不存在"):
        service.verify_audit(sf, Actor("审计", "auditor"))


def test_init_key_creates_a_key_pair_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import stat

    monkeypatch.setenv("MIANSHEN_AUDIT_KEY", str(tmp_path / "keys" / "k.pem"))
    out = CliRunner().invoke(app, ["audit", "init-key"])
    assert out.exit_code == 0 and "已生成审计签名私钥" in out.output, out.output
    assert stat.S_IMODE(os.stat(tmp_path / "keys" / "k.pem").st_mode) == 0o600
    assert (tmp_path / "keys" / "k.pub").read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    before = (tmp_path / "keys" / "k.pem").read_bytes()
    out = CliRunner().invoke(app, ["audit", "init-key"])
    assert out.exit_code == 1 and "已存在" in out.output and "不会覆盖" in out.output
    assert (tmp_path / "keys" / "k.pem").read_bytes() == before


# ------------------------------------------------------------------ 10: locked-out attempts are audited

def test_every_locked_out_sign_in_attempt_is_audited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: the audit entry of a refused attempt on a locked account was rolled back with the
    refusal (205 locked attempts, 0 entries)."""
    import datetime as dt_

    from rules_engine.ledger.models import AuditEntry
    from rules_engine.service import auth
    from rules_engine.service.accounts import load_accounts

    monkeypatch.setenv("MIANSHEN_DEMO", "1")
    accounts = load_accounts()
    sf = service.open_ledger(f"sqlite:///{tmp_path / 'l.db'}")
    t = dt_.datetime(2026, 11, 23, 9, 0)
    for i in range(auth.MAX_FAILURES):
        with pytest.raises(auth.SignInRefused):
            auth.sign_in(sf, accounts, "guanyuan", f"guess{i}", "10.0.0.9", now=t)
    for _ in range(7):
        with pytest.raises(auth.SignInRefused, match="分钟后再试"):
            auth.sign_in(sf, accounts, "guanyuan", "guanyuan-demo", "10.0.0.7", now=t)
    with sf() as s:
        locked = s.scalars(select(AuditEntry).where(AuditEntry.action == "sign_in_locked")).all()
    assert len(locked) == 7 and {e.actor for e in locked} == {"guanyuan"} and {e.subject for e in locked} == {"10.0.0.7"}


# ------------------------------------------------------------------ 16: loader messages in Chinese, unknown fields refused

def with_unknown_field(files: list[Path]):  # type: ignore[no-untyped-def]
    """Each file with an unknown field added to each mapping in it, in turn: (where, text)."""
    import copy

    import yaml

    def mappings(node, path=()):  # type: ignore[no-untyped-def]
        if isinstance(node, dict):
            yield path
            for k, v in node.items():
                yield from mappings(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                yield from mappings(v, (*path, i))

    for f in files:
        base = yaml.safe_load(f.read_text(encoding="utf-8"))
        for path in mappings(base):
            doc = copy.deepcopy(base)
            node = doc
            for k in path:
                node = node[k]
            node["bogus_field"] = 1
            yield f"{f.name}:{'.'.join(map(str, path))}", yaml.safe_dump(doc, allow_unicode=True)


def _unknown_field_everywhere():  # type: ignore[no-untyped-def]
    """Every policy of the library (policies/contracts/ are contracts: tests/test_contracts.py)."""
    from rules_engine.library.loader import policy_files

    return with_unknown_field(policy_files("policies"))


def test_an_unknown_field_anywhere_is_refused_in_chinese() -> None:
    """Was: 105 of 268 unknown-field messages were English (`unknown field 'x'`, `a formula is one
    of: …`), and an unknown field in a test case, its expect, per_unit, basis, exclusive, budget or
    an otherwise case was ignored silently."""
    import re

    accepted, english, n = [], [], 0
    for where, text in _unknown_field_everywhere():
        n += 1
        try:
            load_policy_text(text, D, "x.yaml")
            accepted.append(where)
        except PolicyLoadError as exc:
            msg = str(exc)
            assert "bogus_field" in msg
            lines = msg.splitlines()
            for i, line in enumerate(lines):
                if line.strip().startswith("^") or (i + 1 < len(lines) and lines[i + 1].strip().startswith("^")):
                    continue  # the quoted source and its caret
                prose = re.sub(r"可有的字段：.*|（[a-z_]+）|[a-z_]+（|'[^']*'|^x\.yaml:\d+:\d+: \S+:", " ", line.strip())  # names of fields are code
                words = re.findall(r"\b[a-z]{4,}\b", prose)
                if words:
                    english.append((where, line))
    assert n > 500 and not accepted, accepted
    assert not english, english[:5]


def test_a_refusal_names_the_state_once() -> None:
    """Was: 「邀约 INV… 已已确认，不能再次办理」."""
    import inspect

    from rules_engine.service import policies, tiers

    for module in (tiers, policies):
        assert "已{" not in inspect.getsource(module)


# ------------------------------------------------------------------ 8: a file of 10,000 problems

def _bloated(unit: str, size: int = 250 * 1024) -> str:
    base = Path("policies/innovation/faming-zhuanli.yaml").read_text(encoding="utf-8")
    head = base[:base.index("tests:")] + "tests: ["
    return head + unit * ((size - len(head.encode())) // len(unit.encode())) + "1]\n"


def test_a_file_with_thousands_of_problems_loads_fast_and_says_so_briefly(tmp_path: Path) -> None:
    """Was: a 31 kB policy with `tests: [1, 1, …]` × 10,000 took 14.8 s to load and `mianshen
    validate` printed 451 MB (each of 10,000 problems quoted the whole 30 kB line). Now at most
    50 problems per file, then a count of the rest; each quotes at most 100 characters of its line;
    a file up to the size limit loads in ≤ 2 s."""
    import time

    from rules_engine.library.loader import EXCERPT, MAX_FILE_BYTES, MAX_PROBLEMS_PER_FILE

    for text in (Path("policies/innovation/faming-zhuanli.yaml").read_text(encoding="utf-8").split("tests:")[0]
                 + "tests: [" + ", ".join(["1"] * 10000) + "]\n", _bloated("1, ", MAX_FILE_BYTES - 1024)):
        took = []
        for _ in range(3):  # the fastest of 3: a slow loader is slow every time, a busy CI machine is not
            t = time.perf_counter()
            with pytest.raises(PolicyLoadError) as exc:
                load_policy_text(text, D, "x.yaml")
            took.append(time.perf_counter() - t)
            if took[-1] < 2.0:
                break
        assert min(took) < 2.0, took
        problems = exc.value.problems
        assert len(problems) == MAX_PROBLEMS_PER_FILE + 1 and "个问题未列出" in problems[-1].message
        assert all(len(p.source_line) <= EXCERPT + 2 for p in problems)
        assert len(str(exc.value)) < 20_000
        assert problems[49].column == 8 + 3 * 49 + 1 and "tests[50]" in problems[49].field  # the real column
        caret = str(problems[49]).splitlines()[2]
        assert problems[49].source_line[len(caret) - 5] == "1"  # the caret under the 50th item
    (tmp_path / "p.yaml").write_text(_bloated("1, "), encoding="utf-8")
    out = CliRunner().invoke(app, ["validate", "--policies", str(tmp_path)])
    assert out.exit_code == 1 and len(out.output) < 20_000 and "个问题未列出" in out.output


# ------------------------------------------------------------------ 14: department data coerced silently

def test_department_cells_are_normalised_and_counted_or_refused(tmp_path: Path) -> None:
    """Was: money `５０００` and `١٢٣` accepted (the same digits are refused in region codes), an
    XLSX formula cell with no cached value read as missing with no reject, a registration date
    of 9999-12-31 and employees −3 accepted. Full-width digits are normalised and counted in the
    quality report; the rest are cell rejects with the raw text; the other cells of the row load."""
    import csv

    import openpyxl

    from rules_engine.data import creditcode
    from rules_engine.data.datasets import SourceFile, load_dataset

    codes = [creditcode.make("340104", 8100 + i) for i in range(6)]
    rows = [("５０００", "2020-01-01", "10"), ("١٢٣", "2020-01-01", "10"), ("5000", "9999-12-31", "10"),
            ("5000", "0001-01-01", "10"), ("5000", "2020-01-01", "-3"), ("－5", "2020-01-01", "10")]
    with open(tmp_path / "t.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["统一社会信用代码", "营业收入[2025]", "成立日期", "从业人员数"])
        w.writerows([c, *r] for c, r in zip(codes, rows, strict=True))
    ds = load_dataset([SourceFile("t.csv", "tax", dt.date(2026, 5, 31), path=tmp_path / "t.csv")], D)
    f = ds.frame.set_index("credit_code")
    assert len(f) == 6
    assert f.loc[codes[0], "revenue@2025"] == 500000  # ５０００ yuan, read and counted
    assert [(r.credit_code, r.raw, r.reason) for r in ds.normalised] == [(codes[0], "５０００", "全角数字读作 5000"),
                                                                         (codes[5], "－5", "全角数字读作 -5")]
    rejected = {(r.credit_code, r.raw): r.reason for r in ds.rejects}
    assert "半角阿拉伯数字" in rejected[(codes[1], "١٢٣")]
    assert "超出合理范围" in rejected[(codes[2], "9999-12-31")] and "超出合理范围" in rejected[(codes[3], "0001-01-01")]
    assert "不能为负数" in rejected[(codes[4], "-3")] and "不能为负数" in rejected[(codes[5], "－5")]
    assert f.loc[codes[4], "revenue@2025"] == 500000 and str(f.loc[codes[2], "employees"]) == "10"  # the rest loads

    wb = openpyxl.Workbook()  # written by a program, never opened in Excel: no cached values
    ws = wb.active
    ws.append(["统一社会信用代码", "营业收入[2025]", "从业人员数"])
    ws.append([codes[0], "=B3*2", 10])
    ws.append([codes[1], 5000, "=C2+1"])
    wb.save(tmp_path / "t.xlsx")
    ds = load_dataset([SourceFile("t.xlsx", "tax", dt.date(2026, 5, 31), path=tmp_path / "t.xlsx")], D)
    reasons = {(r.credit_code, r.tag): r.reason for r in ds.rejects}
    assert "公式没有保存计算结果（=B3*2）" in reasons[(codes[0], "revenue@2025")], ds.rejects
    assert "公式没有保存计算结果（=C2+1）" in reasons[(codes[1], "employees")]
    f = ds.frame.set_index("credit_code")
    assert str(f.loc[codes[0], "employees"]) == "10" and f.loc[codes[1], "revenue@2025"] == 500000


# ------------------------------------------------------------------ 11: the webhook sender's deadline

def _serve(handler) -> tuple[str, object]:  # type: ignore[no-untyped-def]
    import socketserver
    import threading

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/n", server


@pytest.mark.parametrize("kind", ["drip_headers", "drip_body", "truncated", "truncated_chunked"])
def test_a_webhook_answer_must_be_whole_and_in_time(kind: str, tmp_path: Path) -> None:
    """Was: a receiver dripping one byte at a time held a message 31.6 s (the timeout applied
    per read) and blocked the sequential dispatch; a 200 with a body shorter than its
    Content-Length counted as delivered. The timeout now bounds the whole exchange, and only a
    complete answer counts."""
    import socketserver
    import time

    from rules_engine.ledger.models import OutboxMessage
    from rules_engine.ledger.outbox import WebhookSender, dispatch

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.recv(65536)
            if kind == "drip_headers":
                for ch in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 200:
                    self.request.sendall(bytes([ch]))
                    time.sleep(0.1)
            elif kind == "drip_body":
                self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n")
                for _ in range(200):
                    self.request.sendall(b"x")
                    time.sleep(0.1)
            elif kind == "truncated":
                self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"ok\": tr")
            else:
                self.request.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{\"ok\": tr")

    url, server = _serve(Handler)
    sf = service.open_ledger(f"sqlite:///{tmp_path / 'l.db'}")
    with sf.begin() as s:
        for k in ("a", "b"):
            s.add(OutboxMessage(kind="approved", dedupe_key=k, payload={"dedupe_key": k}, status="pending",
                                attempts=0, next_attempt_at=dt.datetime(2026, 7, 1)))
    t = time.perf_counter()
    try:
        r = dispatch(sf, WebhookSender(url, timeout=1.5), now=dt.datetime(2026, 7, 1, 9))
    finally:
        server.shutdown()  # type: ignore[attr-defined]
        server.server_close()  # type: ignore[attr-defined]
    took = time.perf_counter() - t
    assert (r.sent, r.retried) == (0, 2), r
    assert took < 2 * 1.5 + 1.5, took  # each message within its deadline
    with sf() as s:
        errors = [m.last_error for m in s.scalars(select(OutboxMessage))]
    expected = "秒仍未收到完整回答" if kind.startswith("drip") else "不完整" if kind == "truncated" else "IncompleteRead"
    assert all(expected in (e or "") for e in errors), errors


def test_a_dispatch_run_stops_when_its_time_is_up_and_leaves_the_rest_pending(tmp_path: Path) -> None:
    from rules_engine.ledger.models import OutboxMessage
    from rules_engine.ledger.outbox import dispatch

    class Slow:
        def send(self, payload: dict[str, object]) -> None:
            import time

            time.sleep(0.3)

    sf = service.open_ledger(f"sqlite:///{tmp_path / 'l.db'}")
    with sf.begin() as s:
        for k in range(10):
            s.add(OutboxMessage(kind="approved", dedupe_key=str(k), payload={"dedupe_key": str(k)}, status="pending",
                                attempts=0, next_attempt_at=dt.datetime(2026, 7, 1)))
    r = dispatch(sf, Slow(), now=dt.datetime(2026, 7, 1, 9), budget_s=1.0)
    assert 1 <= r.sent <= 5 and r.deferred == 10 - r.sent
    with sf() as s:
        assert sum(m.status == "pending" and m.attempts == 0 for m in s.scalars(select(OutboxMessage))) == r.deferred


# ------------------------------------------------------------------ #37 item 9: the audit log by enterprise

def test_the_audit_log_of_an_enterprise_holds_every_entry_about_it(ledger_url: str, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Was (#37 item 9): filtered by enterprise, the log missed that enterprise's payment and
    application-approval entries (they name a payout or application reference, not the credit
    code), and its export showed policy codes instead of names."""
    from rules_engine.service import tiers
    from rules_engine.service.ledger import audit_entries
    from tests.test_tiers import LIB as TLIB

    p, ids = _full_ledger(ledger_url, tmp_path, monkeypatch)
    with p.ledger() as s:
        paid = s.get(Payout, ids["paid"])
        assert paid is not None
        code = paid.credit_code
    auditor = Actor("审计", "auditor")
    titles = {x.id: x.title for x in TLIB.policies}
    log = audit_entries(p.ledger, auditor, subject=code, titles=titles)
    actions = set(log["动作"])
    assert {"支付成功", "批量列入公示", "批量审批通过"} <= actions, actions
    assert f"MS{ids['paid']:010d}" in set(log["对象"])
    other = audit_entries(p.ledger, auditor, subject="91340100MA2NOTHER0")  # a code with no records
    assert "支付成功" not in set(other["动作"]) and "批量审批通过" not in set(other["动作"])
    # an application accepted for an enterprise shows under its code, the policy by its title
    applicant = "91340124MA7112976A"
    app_ = tiers.submit_application(p, Actor("金中制造", "enterprise", applicant), applicant, "jishu-gaizao", {},
                                    "承诺所填内容真实", [])
    tiers.review_application(p, Actor("李四", "official"), app_.reference, "accept", "材料齐全")
    log = audit_entries(p.ledger, auditor, subject=applicant, titles=titles)
    accepted = log[log["动作"] == "申报通过"]
    assert len(accepted) == 1 and accepted.iloc[0]["对象"] == app_.reference, set(log["动作"])
    details = " ".join(log["详情"])
    assert TLIB.get("jishu-gaizao").title in details and "jishu-gaizao（" not in details
