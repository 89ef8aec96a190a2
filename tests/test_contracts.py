"""合同履约 (issue #31): contracts as data, signed online by both parties, checked from data,
paid in stages through the ledger and recovered when a milestone is missed. On SQLite and
PostgreSQL where the ledger is involved."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from rules_engine import service
from rules_engine.cli import app
from rules_engine.data.datasets import SAMPLE_MANIFEST, load_dataset
from rules_engine.data.tags import load_dictionary
from rules_engine.errors import Conflict, Forbidden, Invalid, NotFound, PolicyLoadError
from rules_engine.ledger.contracts import recovery_fen
from rules_engine.ledger.models import Contract, ContractSignature, Payout, RecoveryClaim
from rules_engine.library import contracts as lang
from rules_engine.library.loader import load_library
from rules_engine.service import Actor
from rules_engine.service import contracts as svc
from tests.test_ledger import bank_answer

ROOT = Path(__file__).resolve().parent.parent
D = load_dictionary()
DS = load_dataset(SAMPLE_MANIFEST, D)
LIB = load_library(ROOT / "policies", D)
DEMO = (ROOT / "policies" / "contracts" / "HT-2026-0001.yaml").read_text(encoding="utf-8")
CODE = "91340102000395962B"  # 安徽和德制造有限公司, the demo enterprise qiye02
OFFICIAL, REVIEWER = Actor("李四", "official"), Actor("王五", "official")
FIRM, OTHER_FIRM = Actor("qiye02", "enterprise", CODE), Actor("qiye01", "enterprise", "91340124MA7112976A")
FINANCE, AUDITOR, SYSTEM = Actor("财务", "finance"), Actor("审计", "auditor"), Actor("批处理", "system")
runner = CliRunner()


def problems_of(text: str) -> list[str]:
    with pytest.raises(PolicyLoadError) as exc:
        lang.load_contract_text(text, D, "ht.yaml")
    return [str(p) for p in exc.value.problems]


# ------------------------------------------------------------------ 1: contracts as data


def test_the_demo_contract_loads_and_reads_in_chinese() -> None:
    c = lang.load_contract_text(DEMO, D, "HT-2026-0001.yaml")
    assert (c.number, c.version, c.credit_code, c.total_fen) == ("HT-2026-0001", 1, CODE, 100_000_000)
    assert [m.id for m in c.milestones] == ["tax2025", "jobs", "tax2026"]
    jobs = c.milestone("jobs")
    assert jobs.deadline == dt.date(2026, 10, 30) and jobs.recovery == lang.Recovery(share=lang.Decimal("0.5"))
    text = lang.render_zh(c, D)
    assert "2025年度纳税总额不低于60万元" in text and "追回已拨付资金的 50%" in text and c.sha256 in text
    policy = lang.milestone_policy(c, c.milestone("tax2026"))
    assert policy.id == "HT-2026-0001#tax2026" and policy.limit.value == "once"
    assert lang.split_policy_id(policy.id) == ("HT-2026-0001", "tax2026") and lang.split_policy_id("faming-zhuanli") is None


@pytest.mark.parametrize(("edit", "expected"), [
    (("insured_staff >= 100", "insured_stuff >= 100"), "ht.yaml:21:11: milestones[2].when: 未知标签"),  # the line of the milestone's condition
    (("pays: {fixed: 20万}", "pays: {percent: {of: \"tax_paid[2025]\", rate: 10%}}"), "须有上限"),
    (("total: 100万", "total: 60万"), "超过支持资金总额"),
    (("credit_code: 91340102000395962B", "credit_code: 91340102000395962C"), "不是有效的统一社会信用代码"),
    (("due: 2026-06-30", "due: 2025-06-30"), "早于合同生效日期"),
    (("on_miss: {recover: 50%}", "on_miss: {recover: 150%}"), "追回比例应在 0% 到 100% 之间"),
    (("grace_days: 30", "grace_days: 三十"), "宽限期应为"),
    (("number: HT-2026-0001", "number: HT 2026/1"), "合同编号应为"),
    (("  - id: jobs", "  - id: tax2025"), "重复"),
])
def test_a_malformed_contract_names_the_line_and_what_was_expected(edit: tuple[str, str], expected: str) -> None:
    assert edit[0] in DEMO
    found = problems_of(DEMO.replace(edit[0], edit[1]))
    assert any(expected in p for p in found), found
    assert all(p.startswith("ht.yaml:") for p in found)


def test_the_library_does_not_read_contracts_as_policies() -> None:
    assert not [p for p in LIB.policies if "contracts" in p.source]
    assert not LIB.problems


def test_a_template_is_filled_with_plain_values_only() -> None:
    tpl = svc.templates()["zhaoshang-yinzi"]
    fields = {k: "1" for k in lang.template_fields(tpl)}
    fields.update(number="HT-2027-0009", project="电池", credit_code=CODE, name="安徽和德制造有限公司",
                  government="合肥市经济和信息化局", contact="0551-1", start="2026-12-01", total="2000万",
                  year="2027", invest_target="5000万", invest_award="800万", tax_target="2000万",
                  tax_award_cap="700万", jobs_target="300", jobs_award="500万")
    c = lang.load_contract_text(svc.from_template("zhaoshang-yinzi", fields), D, "t.yaml")
    assert c.milestone("tax").due == dt.date(2027, 12, 31) and c.total_fen == 2_000_000_000
    for hostile in ("300\n  - id: x", "1 or is_hitech", "1)or(is_hitech", "1}, name: x", "a: b", "#"):
        with pytest.raises(Invalid, match="只能含"):
            svc.from_template("zhaoshang-yinzi", {**fields, "jobs_target": hostile})
    with pytest.raises(Invalid, match="缺少 year"):
        svc.from_template("zhaoshang-yinzi", {k: v for k, v in fields.items() if k != "year"})


def test_canonical_bytes_ignore_line_ends_and_trailing_spaces_only() -> None:
    assert lang.digest(DEMO) == lang.digest(DEMO.replace("\n", "  \r\n"))
    assert lang.digest(DEMO) != lang.digest(DEMO.replace("30万", "31万"))


# ------------------------------------------------------------------ 2: signed online


def signed(sf, text: str = DEMO, version: int = 1) -> tuple[bytes, bytes]:  # type: ignore[no-untyped-def]
    """Draft, make both parties' keys, sign by both; the two private keys."""
    row = svc.draft(sf, OFFICIAL, text, D)
    _, firm_key = svc.new_signing_key(sf, FIRM)
    _, gov_key = svc.new_signing_key(sf, OFFICIAL)
    svc.sign(sf, FIRM, row.number, version, svc.signature_of(firm_key, row.number, version, row.sha256))
    done = svc.sign(sf, OFFICIAL, row.number, version, svc.signature_of(gov_key, row.number, version, row.sha256))
    assert done.status == "signed" and done.in_force_at is not None
    return firm_key, gov_key


def test_both_parties_sign_the_exact_text_and_anyone_can_verify(ledger_url: str) -> None:
    sf = service.open_ledger(ledger_url)
    row = svc.draft(sf, OFFICIAL, DEMO, D)
    assert row.status == "drafted" and row.sha256 == lang.digest(DEMO)
    with pytest.raises(Forbidden):
        svc.draft(sf, FIRM, DEMO, D)
    _, firm_key = svc.new_signing_key(sf, FIRM)
    _, other_key = svc.new_signing_key(sf, OTHER_FIRM)
    _, gov_key = svc.new_signing_key(sf, OFFICIAL)
    with pytest.raises(Invalid, match="签名不能通过核验"):  # a signature over other bytes
        svc.sign(sf, FIRM, row.number, 1, svc.signature_of(firm_key, row.number, 1, lang.digest(DEMO + "#")))
    with pytest.raises(Invalid, match="签名不能通过核验"):  # someone else's key
        svc.sign(sf, FIRM, row.number, 1, svc.signature_of(gov_key, row.number, 1, row.sha256))
    with pytest.raises(Forbidden, match="本企业"):
        svc.sign(sf, OTHER_FIRM, row.number, 1, svc.signature_of(other_key, row.number, 1, row.sha256))
    svc.sign(sf, FIRM, row.number, 1, svc.signature_of(firm_key, row.number, 1, row.sha256))
    with pytest.raises(Conflict, match="已签署"):
        svc.sign(sf, FIRM, row.number, 1, svc.signature_of(firm_key, row.number, 1, row.sha256))
    assert svc.contract(sf, FIRM, row.number).status == "drafted"  # one party is not enough
    svc.sign(sf, OFFICIAL, row.number, 1, svc.signature_of(gov_key, row.number, 1, row.sha256))
    assert svc.contract(sf, FIRM, row.number).status == "signed"
    with pytest.raises(Forbidden):
        svc.contract(sf, OTHER_FIRM, row.number)
    v = svc.verify(sf, AUDITOR, row.number)
    assert v.ok and {s["party"] for s in v.signatures} == {"government", "enterprise"}
    ev = svc.evidence(sf, AUDITOR, row.number)
    assert [e["action"] for e in ev["audit"]] == ["contract_drafted", "contract_signed", "contract_signed",
                                                  "contract_in_force"]
    offline = svc.verify_signed(ev["text"], ev["number"], ev["version"], ev["signatures"])
    assert offline.ok
    assert not svc.verify_signed(ev["text"].replace("30万", "300万"), ev["number"], 1, ev["signatures"]).ok
    assert service.verify_audit(sf, AUDITOR).problems == []


def test_a_signed_text_edited_in_the_database_is_caught(ledger_url: str) -> None:
    sf = service.open_ledger(ledger_url)
    signed(sf)
    with sf.begin() as s:  # a database administrator raises the first stage payment
        s.execute(update(Contract).values(text=Contract.text.op("||")("\n# 改动")))
    v = svc.verify(sf, AUDITOR, "HT-2026-0001")
    assert not v.ok and any("哈希不符" in p for p in v.problems)
    with pytest.raises(Conflict, match="哈希不符"):
        svc.check(sf, SYSTEM, DS, D)
    with sf.begin() as s:  # and a signature inserted without the log
        s.execute(update(Contract).values(text=lang.canonical(DEMO).decode()))
        s.execute(update(ContractSignature).where(ContractSignature.party == "enterprise")
                  .values(signature="00" * 64))
    v = svc.verify(sf, AUDITOR, "HT-2026-0001")
    assert any("签名不能通过核验" in p for p in v.problems) and any("不在审计日志" in p for p in v.problems)


def test_an_amendment_is_the_next_version_signed_by_both(ledger_url: str) -> None:
    sf = service.open_ledger(ledger_url)
    svc.draft(sf, OFFICIAL, DEMO, D)
    with pytest.raises(Conflict, match="尚未签署完毕"):
        svc.draft(sf, OFFICIAL, DEMO.replace("version: 1", "version: 2"), D)
    svc.void(sf, OFFICIAL, "HT-2026-0001", 1, "条款有误")
    with pytest.raises(Invalid, match="第 2 版"):
        svc.draft(sf, OFFICIAL, DEMO, D)  # v1 is taken even when void
    v2 = DEMO.replace("version: 1", "version: 2")
    signed(sf, v2, 2)
    v3 = v2.replace("version: 2", "version: 3").replace("grace_days: 30", "grace_days: 60")
    with pytest.raises(Invalid, match="不能更换企业方"):
        svc.draft(sf, OFFICIAL, v3.replace(CODE, "91340124MA7112976A"), D)
    firm_key, gov_key = (svc.new_signing_key(sf, FIRM)[1], svc.new_signing_key(sf, OFFICIAL)[1])
    row = svc.draft(sf, OFFICIAL, v3, D)
    for actor, key in ((FIRM, firm_key), (OFFICIAL, gov_key)):
        svc.sign(sf, actor, row.number, 3, svc.signature_of(key, row.number, 3, row.sha256))
    with sf() as s:
        assert dict(s.execute(select(Contract.version, Contract.status)).all()) == {1: "void", 2: "superseded",
                                                                                     3: "signed"}


# ------------------------------------------------------------------ 3-5: checked, paid, recovered


def test_milestones_are_decided_from_data_paid_once_and_recovered(ledger_url: str, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    sf = service.open_ledger(ledger_url)
    monkeypatch.setenv("MIANSHEN_CLOCK", "2026-09-01")
    signed(sf)
    first = {x.milestone: x for x in svc.check(sf, SYSTEM, DS, D)}
    # 2025年度纳税总额 667,236.79 ≥ 60万: met, paid 30万; 50 insured staff < 100 but the grace runs to
    # 2026-10-30: pending, not missed; 2026's tax is not delivered: undetermined, never a no
    assert {k: v.state for k, v in first.items()} == {"tax2025": "met", "jobs": "pending", "tax2026": "undetermined"}
    assert first["tax2025"].amount_fen == 30_000_000 and first["tax2025"].payout
    assert first["tax2026"].explanation["missing"] == ["tax_paid@2026"]
    values = first["tax2025"].explanation["conditions"][0]["values"][0]
    assert values["value"] == "667,236.79 元" and values["source"] == "税务局" and values["as_of"]
    again = {x.milestone: x for x in svc.check(sf, SYSTEM, DS, D)}
    assert again["tax2025"].payout == first["tax2025"].payout  # a second delivery pays nothing twice
    with sf() as s:
        pays = list(s.scalars(select(Payout)))
    assert len(pays) == 1 and pays[0].source == "contract" and pays[0].policy_id == "HT-2026-0001#tax2025"
    pay, e = service.explain_payout(sf, OFFICIAL, pays[0].reference, LIB.policies, D)
    assert e.status.label == "eligible" and e.grant is not None and not e.grant.discrepancies
    assert "合同履约节点达成" in e.grant.origin and e.policy.basis.article == "第十条第二款"
    per, _ = service.ledger.timeliness(sf, OFFICIAL, LIB.policies)
    assert list(per["兑现方式"]) == ["合同履约"]  # was: 「（已下线政策）」 for a payout no policy file names
    # through 公示, approval, the payment file and the bank like any other payout
    service.publish_candidates(sf, OFFICIAL)
    monkeypatch.setenv("MIANSHEN_CLOCK", "2026-09-15")
    assert service.approve_due(sf, OFFICIAL) == 1
    issued = service.export_payment_file(sf, FINANCE, "csv")
    (tmp_path / "pay.csv").write_bytes(issued.file.content)
    bank_answer(tmp_path / "pay.csv").to_csv(tmp_path / "bank.csv", index=False)
    assert service.import_bank_results(sf, FINANCE, (tmp_path / "bank.csv").read_bytes()).paid == 1
    # after the grace: jobs is missed, and 50 % of what was paid is claimed back
    monkeypatch.setenv("MIANSHEN_CLOCK", "2026-11-02")
    late = {x.milestone: x for x in svc.check(sf, SYSTEM, DS, D)}
    assert late["jobs"].state == "missed" and late["jobs"].claim_fen == 15_000_000
    assert late["tax2026"].state == "undetermined"  # unknown is not no, even late
    (claim,) = svc.claims(sf, FIRM)
    assert (claim.amount_fen, claim.status) == (15_000_000, "open") and "2026-10-30" in claim.reason
    assert {x.milestone: x.state for x in svc.states(sf, FIRM, "HT-2026-0001", D)}["jobs"] == "missed"
    assert not svc.check(sf, SYSTEM, DS, D)[1].claim_fen  # claimed once
    with pytest.raises(Invalid, match="不超过待追回"):
        svc.repaid(sf, OFFICIAL, claim.id, 15_000_001, "B-1")
    svc.repaid(sf, OFFICIAL, claim.id, 5_000_000, "B-1")
    svc.request_write_off(sf, OFFICIAL, claim.id, "企业破产清算，经批准豁免")
    with pytest.raises(Forbidden, match="另一名"):
        svc.approve_write_off(sf, OFFICIAL, claim.id)
    svc.approve_write_off(sf, REVIEWER, claim.id)
    (claim,) = svc.claims(sf, OFFICIAL)
    assert claim.status == "written_off" and claim.settled_fen == claim.amount_fen
    assert [x["kind"] for x in claim.settlements] == ["repaid", "written_off"]
    assert service.verify_audit(sf, AUDITOR).problems == []


def test_a_claim_is_offset_against_a_later_payout_and_never_exceeds_what_was_paid(
        ledger_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert recovery_fen(lang.Recovery(share=lang.Decimal("0.5")), 3, 0) == 2  # half-up to the fen
    assert recovery_fen(lang.Recovery(fixed_fen=10_000), 6_000, 0) == 6_000  # never more than paid
    assert recovery_fen(lang.Recovery(share=lang.Decimal(1)), 6_000, 5_000) == 1_000  # nor claimed twice
    sf = service.open_ledger(ledger_url)
    monkeypatch.setenv("MIANSHEN_CLOCK", "2026-12-05")
    signed(sf)
    svc.check(sf, SYSTEM, DS, D)
    with sf.begin() as s:  # a claim of 40万 (as if 80万 had been paid and half was claimed)
        s.add(RecoveryClaim(number="HT-2026-0001", milestone="x", credit_code=CODE, amount_fen=40_000_000,
                            settled_fen=0, status="open", reason="测试", created_at=dt.datetime(2026, 12, 5),
                            settlements=[]))
    (claim,) = svc.claims(sf, OFFICIAL)
    (pay,) = service.list_payouts(sf, OFFICIAL, service.PayoutFilter())
    with pytest.raises(NotFound):
        svc.offset(sf, OFFICIAL, claim.id, "MS9999999999", "x")
    svc.offset(sf, OFFICIAL, claim.id, pay.reference, "以本期拨付抵扣")
    (claim,) = svc.claims(sf, OFFICIAL)
    assert claim.settled_fen == pay.amount_fen == 30_000_000 and claim.status == "open"
    assert service.list_payouts(sf, OFFICIAL, service.PayoutFilter())[0].status == "withdrawn"
    with pytest.raises(Conflict):
        svc.offset(sf, OFFICIAL, claim.id, pay.reference, "再扣一次")


def test_the_cli_drafts_signs_checks_and_verifies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = f"sqlite:///{tmp_path / 'l.db'}"
    monkeypatch.setenv("MIANSHEN_CLOCK", "2026-12-05")
    src = tmp_path / "ht.yaml"
    src.write_text(DEMO, encoding="utf-8")
    r = runner.invoke(app, ["contracts", "list", "--db", db])  # reading makes no ledger
    assert r.exit_code == 1 and not (tmp_path / "l.db").exists(), r.output
    r = runner.invoke(app, ["contracts", "draft", str(src), "--db", db, "--actor", "李四"])
    assert r.exit_code == 0 and "HT-2026-0001" in r.output, r.output
    for who, role in (("qiye02", "enterprise"), ("李四", "official")):
        key = tmp_path / f"{who}.pem"
        args = ["contracts", "keygen", "--db", db, "--actor", who, "--role", role, "-o", str(key)]
        r = runner.invoke(app, args + (["--credit-code", CODE] if role == "enterprise" else []))
        assert r.exit_code == 0 and key.exists(), r.output
        assert oct(key.stat().st_mode & 0o777) == "0o600"
        r = runner.invoke(app, ["contracts", "sign", "HT-2026-0001", "--db", db, "--actor", who, "--role", role,
                                "--key", str(key)] + (["--credit-code", CODE] if role == "enterprise" else []))
        assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["contracts", "check", "--db", db])
    assert r.exit_code == 0 and "已达成" in r.output and "待补充数据" in r.output, r.output
    out = tmp_path / "evidence.json"
    r = runner.invoke(app, ["contracts", "export", "HT-2026-0001", "--db", db, "-o", str(out)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["contracts", "verify", "--evidence", str(out)])  # no database: anyone can run it
    assert r.exit_code == 0 and "核验通过" in r.output, r.output
    ev = json.loads(out.read_text(encoding="utf-8"))
    ev["text"] = ev["text"].replace("30万", "300万")
    out.write_text(json.dumps(ev, ensure_ascii=False), encoding="utf-8")
    r = runner.invoke(app, ["contracts", "verify", "--evidence", str(out)])
    assert r.exit_code == 1 and "不符" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["contracts", "draft", str(tmp_path / "none.yaml"), "--db", db, "--actor", "李四"])
    assert r.exit_code != 0 and "Traceback" not in r.output


def test_a_batch_and_the_event_worker_decide_milestones_by_the_same_rule(ledger_url: str,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Each data delivery re-decides open milestones: a batch over department files, and the
    event worker on one changed value (50 → 120 insured staff meets `jobs` before its deadline)."""
    from rules_engine.ledger.models import MilestoneCheck, TagEvent
    from rules_engine.ledger.worker import TableSource, Worker

    sf = service.open_ledger(ledger_url)
    monkeypatch.setenv("MIANSHEN_CLOCK", "2026-09-01")
    signed(sf)
    service.run_batch(sf, OFFICIAL, DS, [LIB.get("faming-zhuanli")], dt.date(2026, 6, 30), D)
    with sf() as s:
        states = dict(s.execute(select(MilestoneCheck.milestone, MilestoneCheck.state)).all())
        assert states == {"tax2025": "met", "jobs": "pending", "tax2026": "undetermined"}
        assert s.scalars(select(Payout).where(Payout.source == "contract")).one().amount_fen == 30_000_000
        s.add(TagEvent(credit_code=CODE, tag="insured_staff", value="120", as_of="2026-08-31", source="hrss",
                       received_at=dt.datetime.now()))
        s.commit()
    w = Worker(sf, D, [LIB.get("faming-zhuanli")], DS.frame, dt.date(2026, 9, 1))
    stats = w.run(TableSource(sf))
    assert stats.events == 1 and stats.dead == 0
    with sf() as s:
        jobs = s.get(MilestoneCheck, ("HT-2026-0001", "jobs"))
        assert jobs is not None and jobs.state == "met"
        paid = s.scalars(select(Payout).where(Payout.policy_id == "HT-2026-0001#jobs")).one()
        assert paid.amount_fen == 20_000_000 and paid.explanation["sources"]["insured_staff"][0] == "人力资源和社会保障局"
    # the same value by a batch decides nothing twice
    service.run_batch(sf, OFFICIAL, DS, [LIB.get("faming-zhuanli")], dt.date(2026, 6, 30), D)
    with sf() as s:
        assert len(list(s.scalars(select(Payout).where(Payout.source == "contract")))) == 2
    assert service.verify_audit(sf, AUDITOR).problems == []


@pytest.mark.parametrize("stage", ["30万", "3000"])
def test_a_contract_that_names_a_group_is_paid_the_higher_award_only(ledger_url: str, stage: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """就高不重复 where the contract says so: 和德 is also eligible for 吸纳就业补贴 (4,000 元, its
    group 吸纳就业补贴（同一人员不重复享受）). A stage payment of 30万 replaces the policy's unpublished
    candidate; one of 3,000 元 is not paid, and says why."""
    sf = service.open_ledger(ledger_url)
    monkeypatch.setenv("MIANSHEN_CLOCK", "2026-07-01")
    text = DEMO.replace("contact: 0551-12345678",
                        "contact: 0551-12345678\nexclusive: {group: 吸纳就业补贴（同一人员不重复享受）}")
    signed(sf, text.replace("pays: {fixed: 30万}", f"pays: {{fixed: {stage}}}"))
    service.run_batch(sf, OFFICIAL, DS, [LIB.get("xina-jiuye")], dt.date(2026, 6, 30), D)
    with sf() as s:
        mine = {p.policy_id: (p.status, p.amount_fen) for p in s.scalars(select(Payout).where(Payout.credit_code == CODE))}
    (tax2025,) = [x for x in svc.states(sf, OFFICIAL, "HT-2026-0001", D) if x.milestone == "tax2025"]
    assert tax2025.state == "met"
    if stage == "30万":
        assert mine == {"xina-jiuye": ("withdrawn", 400_000), "HT-2026-0001#tax2025": ("candidate", 30_000_000)}
    else:
        assert mine == {"xina-jiuye": ("candidate", 400_000)}
        assert tax2025.payout is None and "就高不重复" in tax2025.unpaid and "吸纳" in tax2025.unpaid
    assert "就高不重复" in lang.render_zh(lang.load_contract_text(text, D), D)
    assert service.verify_audit(sf, AUDITOR).problems == []


def test_an_unknown_field_anywhere_in_a_contract_is_refused_in_chinese() -> None:
    from tests.test_attacks import with_unknown_field

    n = 0
    for where, text in with_unknown_field(sorted((ROOT / "policies" / "contracts").glob("*.yaml"))):
        found = problems_of(text)
        assert any("未知字段 'bogus_field'" in p for p in found), (where, found)
        n += 1
    assert n >= 6  # the top, enterprise, basis, each milestone, its pays
