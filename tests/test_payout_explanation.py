"""One explanation record for every payout (issue #17): whatever created a payout (a batch, an
event, a confirmation, an accepted application), its record has one shape, and reading it back
gives the same explanation the calculator shows, with the grant on top, through the service,
the API and the CLI; a record or amount edited in the database is named in that explanation.
On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from rules_engine import grant, ir, service
from rules_engine.data.datasets import SAMPLE_MANIFEST
from rules_engine.data.tags import load_dictionary
from rules_engine.errors import Forbidden, NotFound
from rules_engine.explain import Explanation
from rules_engine.ledger.models import Invitation, Payout
from rules_engine.ledger.worker import FileSource, Worker
from rules_engine.library.loader import load_library
from rules_engine.service import Actor, tiers
from rules_engine.service.enterprise import check_enterprise
from rules_engine.service.platform import Platform, load_data

ROOT = Path(__file__).resolve().parent.parent
D = load_dictionary()
LIB = load_library(ROOT / "policies", D)
DATA = load_data(Path(SAMPLE_MANIFEST), D)
OFFICIAL = Actor("李四", "official")
CODE = "91340124MA7112976A"  # eligible for several policies on the archive alone


@pytest.fixture
def platform(ledger_url: str) -> Platform:
    return Platform(D, LIB, DATA, service.open_ledger(ledger_url))


def batch(p: Platform) -> None:
    service.run_batch(p.ledger, OFFICIAL, p.data.dataset, p.library.policies, p.data.as_of, D)


def explain_payout(p: Platform, who: Actor, reference: str) -> tuple[Payout, Explanation]:
    return service.explain_payout(p.ledger, who, reference, p.library.policies, D)


def shape(e: Explanation) -> list[tuple]:
    """Each condition's outcome and each value it read, with that value's department and date."""
    return [(c.id, c.outcome, tuple((v.tag, v.display, v.source, v.as_of) for v in c.values), c.gap, c.missing)
            for c in e.conditions]


def test_every_way_a_payout_is_made_writes_one_record(platform: Platform) -> None:
    """Was: four shapes. The batch wrote formula_fen/granted_fen/allocation, the event worker added
    `trigger`, a confirmation copied the invitation's, an accepted application wrote `amount_fen`
    and `application` and neither formula nor granted amount."""
    batch(platform)
    me = Actor("企业", "enterprise", CODE)
    inv = tiers.invitations(platform, me, CODE)[0]
    tiers.decide_invitation(platform, me, inv.reference, True)
    app = tiers.submit_application(platform, me, CODE, "jishu-gaizao", {}, "承诺所填内容真实", [])
    tiers.review_application(platform, OFFICIAL, app.reference, "accept", "材料齐全")
    with platform.ledger() as s:
        by_source = {}
        for p in s.scalars(select(Payout)):
            by_source.setdefault(p.source, p)
        invited = s.scalars(select(Invitation)).first()
    assert {"batch", "invitation", "application"} <= set(by_source)
    for src, p in by_source.items():
        assert tuple(p.explanation) == grant.KEYS, (src, list(p.explanation))
        assert p.explanation["granted_fen"] == p.amount_fen, src
    assert tuple(invited.explanation) == grant.KEYS
    kinds = {src: p.explanation["origin"]["kind"] for src, p in by_source.items()}
    assert kinds["batch"] == "batch" and kinds["invitation"] == "invitation" and kinds["application"] == "application"


def test_a_payout_explains_itself_as_the_calculator_explains_its_policy(platform: Platform) -> None:
    """Was: a payout's record listed condition ids and raw inputs, and nothing read it back: no
    page, endpoint or command said why a payout was paid. The values' departments and dates are
    the calculator's too (a verified self-declared value: test_tiers)."""
    batch(platform)
    me = Actor("企业", "enterprise", CODE)
    cu = check_enterprise(platform, me, CODE)
    calculator = {e.policy.id: e for e in cu.eligible}
    mine = service.list_payouts(platform.ledger, me)
    assert mine
    for pay in mine:
        got, e = explain_payout(platform, me, pay.reference)
        assert got.reference == pay.reference
        assert e.status is ir.Status.ELIGIBLE and e.grant is not None
        assert e.grant.discrepancies == (), e.grant.discrepancies
        assert e.grant.granted_fen == pay.amount_fen and e.grant.origin.startswith("批次匹配")
        calc = calculator[pay.policy_id]
        assert shape(e) == shape(calc) and e.amount_steps == calc.amount_steps
        assert e.decision.amount_fen == calc.decision.amount_fen == e.grant.formula_fen
        text = e.to_text()
        assert "实发金额" in text and "来由：批次匹配" in text and "核对不一致" not in text
        assert e.to_dict()["grant"]["consistent"] is True
    # another enterprise's payout is not shown to this one; an official and an auditor see it
    other = next(p for p in service.list_payouts(platform.ledger, OFFICIAL) if p.credit_code != CODE)
    with pytest.raises(Forbidden):
        explain_payout(platform, me, other.reference)
    for who in (OFFICIAL, Actor("审计", "auditor")):
        assert explain_payout(platform, who, other.reference)[1].grant is not None
    for junk in ("MS0", "MS99999999", "ms1", "x" * 500, "MS1\x00"):
        with pytest.raises(NotFound):
            explain_payout(platform, OFFICIAL, junk)


def test_an_event_payout_names_its_trigger_and_its_source(platform: Platform, tmp_path: Path) -> None:
    f = platform.data.dataset.frame
    code = f[(f.region.astype(str).str.startswith("3401")) & (f.independent_legal_person == True)  # noqa: E712
             & (f.serious_dishonest == False) & (f.dishonest_debtor == False) & (f.is_hitech == False)  # noqa: E712
             & f["rd_expense@2025"].notna()].credit_code.iloc[0]
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(json.dumps(e) for e in (
        {"credit_code": code, "tag": "is_hitech", "value": True, "as_of": "2026-06-20", "source": "science"},
        {"credit_code": code, "tag": "hitech_cert_date", "value": "2026-06-20", "as_of": "2026-06-20",
         "source": "science"})) + "\n", encoding="utf-8")
    stats = Worker(platform.ledger, D, LIB.policies, f, DATA.as_of).run(FileSource(events))
    assert stats.created >= 1
    listed = service.list_payouts(platform.ledger, OFFICIAL, service.PayoutFilter(credit_code=code))[0]
    pay, e = explain_payout(platform, OFFICIAL, listed.reference)
    assert pay.source == "event" and tuple(pay.explanation) == grant.KEYS and listed.title == pay.explanation["title"]
    assert e.grant is not None and e.grant.discrepancies == ()
    science = D.sources["science"].label
    assert e.grant.origin.startswith("数据更新触发") and f"来源 {science}，截至 2026-06-20" in e.grant.origin
    used = {v.tag: v for c in e.conditions for v in c.values}
    trigger = pay.explanation["origin"]["tag"]
    assert (used[trigger].source, used[trigger].as_of) == (science, dt.date(2026, 6, 20))


def test_an_accepted_application_explains_with_what_the_enterprise_declared(platform: Platform) -> None:
    me = Actor("企业", "enterprise", CODE)
    app = tiers.submit_application(platform, me, CODE, "jishu-gaizao", {}, "承诺所填内容真实", [])
    done = tiers.review_application(platform, OFFICIAL, app.reference, "accept", "材料齐全")
    with platform.ledger() as s:
        ref = s.get(Payout, done.payout_id).reference
    _, e = explain_payout(platform, me, ref)
    assert e.grant is not None and e.grant.discrepancies == ()
    assert e.grant.origin == f"申报审核通过（申报 {app.reference}）"
    assert e.grant.formula_fen == e.grant.granted_fen == done.amount_fen
    assert all(v.as_of is not None or v.value is None for c in e.conditions for v in c.values), \
        "the archive's provenance (department and date) is kept in the record"


def test_a_record_or_amount_edited_in_the_database_shows_in_the_explanation(platform: Platform) -> None:
    """A database administrator raises a payout's amount, or rewrites the inputs its record kept:
    the payout's explanation says where the record no longer agrees (it did not look)."""
    batch(platform)
    pays = service.list_payouts(platform.ledger, OFFICIAL, service.PayoutFilter(credit_code=CODE))
    a, b = pays[0], pays[1]
    with platform.ledger.begin() as s:
        s.execute(update(Payout).where(Payout.id == a.id).values(amount_fen=a.amount_fen + 100_000_00))
        rec = dict(s.get_one(Payout, b.id).explanation)
        rec["inputs"] = {t: None for t in rec["inputs"]}  # as if the data had never been read
        rec["granted_fen"] = rec["formula_fen"] + 1
        s.execute(update(Payout).where(Payout.id == b.id).values(explanation=rec))
    _, ea = explain_payout(platform, OFFICIAL, a.reference)
    assert ea.grant is not None and any("兑现金额" in d and "不一致" in d for d in ea.grant.discrepancies)
    assert "核对不一致：兑现金额" in ea.to_text() and ea.to_dict()["grant"]["consistent"] is False
    _, eb = explain_payout(platform, OFFICIAL, b.reference)
    problems = "；".join(eb.grant.discrepancies if eb.grant else ())
    assert "重算" in problems and "高于公式金额" in problems and "不一致" in problems, problems


def test_an_old_payout_reads_its_own_policy_version(platform: Platform, tmp_path: Path) -> None:
    """A payout made under version 1 is explained by version 1 after version 2 is published, from
    the version history; a version nowhere to be found is a clear refusal."""
    batch(platform)
    pay = service.list_payouts(platform.ledger, OFFICIAL, service.PayoutFilter(credit_code=CODE))[0]
    newer = [x if x.id != pay.policy_id else
             ir.Policy(**{**{f: getattr(x, f) for f in x.__dataclass_fields__}, "version": x.version + 1})
             for x in LIB.policies]
    moved = Platform(D, type(LIB)(newer, []), DATA, platform.ledger)
    with pytest.raises(NotFound, match="版本历史"):
        explain_payout(moved, OFFICIAL, pay.reference)
    from rules_engine.ledger.models import PolicyVersion

    source = next(p for p in (ROOT / "policies").rglob("*.yaml")
                  if f"id: {pay.policy_id}\n" in p.read_text(encoding="utf-8"))
    with platform.ledger.begin() as s:
        s.add(PolicyVersion(policy_id=pay.policy_id, version=pay.policy_version, file=source.name, sha256="x",
                            text=source.read_text(encoding="utf-8"), published_by="王五",
                            published_at=dt.datetime(2026, 1, 1)))
    _, e = explain_payout(moved, OFFICIAL, pay.reference)
    assert e.policy.version == pay.policy_version and e.grant is not None and e.grant.discrepancies == ()


def test_the_api_and_the_cli_give_the_same_explanation(platform: Platform, ledger_url: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    batch(platform)
    pay = service.list_payouts(platform.ledger, OFFICIAL, service.PayoutFilter(credit_code=CODE))[0]
    _, e = explain_payout(platform, OFFICIAL, pay.reference)
    from rules_engine.api.app import create_app
    from rules_engine.service import keys

    key = keys.create_key(platform.ledger, OFFICIAL, "门户", "enterprise", CODE).key
    other = keys.create_key(platform.ledger, OFFICIAL, "门户2", "enterprise", "91340102000395962B").key
    client = TestClient(create_app(platform=lambda: platform))
    r = client.get(f"/api/v1/payouts/{pay.reference}/explanation", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["reference"] == pay.reference and body["explanation"] == json.loads(json.dumps(e.to_dict()))
    r = client.get(f"/api/v1/payouts/{pay.reference}/explanation", headers={"Authorization": f"Bearer {other}"})
    assert r.status_code == 403 and "本企业" in r.json()["message"]
    r = client.get("/api/v1/payouts/MS999999/explanation", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 404
    from typer.testing import CliRunner

    from rules_engine.cli import app

    monkeypatch.setenv("MIANSHEN_DB", ledger_url)
    r = CliRunner().invoke(app, ["payouts", "explain", pay.reference])
    assert r.exit_code == 0 and e.to_text() in r.output, r.output
    r = CliRunner().invoke(app, ["payouts", "explain", "MS0"])
    assert r.exit_code == 1 and "没有兑现记录" in r.output, r.output
    with platform.ledger.begin() as s:  # an edited amount makes the command fail, and say why
        s.execute(update(Payout).where(Payout.id == pay.id).values(amount_fen=pay.amount_fen + 1))
    r = CliRunner().invoke(app, ["payouts", "explain", pay.reference])
    assert r.exit_code == 1 and "核对不一致：兑现金额" in r.output, r.output
