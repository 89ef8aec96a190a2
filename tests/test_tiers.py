"""Each delivery tier follows its own path on the same ledger (issue #14): 免申即享 pays after
公示; 即申即享 waits for the enterprise's confirmation; 申报 waits for an application and an
official's review; 待补充数据 is closed by a verified self-declared value. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from rules_engine import ir, service
from rules_engine.data.datasets import SAMPLE_MANIFEST
from rules_engine.data.frame import KEY
from rules_engine.data.tags import load_dictionary
from rules_engine.errors import Conflict, Forbidden, Invalid
from rules_engine.ledger.models import Invitation, Payout
from rules_engine.library.loader import load_library
from rules_engine.periods import parse_period
from rules_engine.service import Actor, tiers
from rules_engine.service.enterprise import check_enterprise
from rules_engine.service.platform import Platform, load_data
from tests.sample_picks import undetermined_for

ROOT = Path(__file__).resolve().parent.parent
D = load_dictionary()
LIB = load_library(ROOT / "policies", D)
DATA = load_data(Path(SAMPLE_MANIFEST), D)
OFFICIAL = Actor("李四", "official")


@pytest.fixture
def platform(ledger_url: str) -> Platform:
    return Platform(D, LIB, DATA, service.open_ledger(ledger_url))


def batch(p: Platform) -> service.ledger.batch_mod.BatchResult:  # type: ignore[name-defined]
    return service.run_batch(p.ledger, OFFICIAL, p.data.dataset, p.library.policies, p.data.as_of, D)


def test_each_tier_follows_its_own_path_in_a_batch(platform: Platform) -> None:
    """Was: jishu-gaizao (申报) produced 18 payouts worth 21,211,979.09 yuan with no application."""
    r = batch(platform)
    with platform.ledger() as s:
        paid_policies = set(s.scalars(select(Payout.policy_id).distinct()))
        invited = set(s.scalars(select(Invitation.policy_id).distinct()))
    tier = {x.id: x.tier for x in LIB.policies}
    assert paid_policies and all(tier[x] is ir.Tier3.AUTO for x in paid_policies)
    assert "jishu-gaizao" not in paid_policies
    assert invited and all(tier[x] is ir.Tier3.CONFIRM for x in invited)
    assert r.invited > 0 and r.created > 0
    again = batch(platform)  # exactly once, invitations included
    assert (again.created, again.invited) == (0, 0)


def test_an_invitation_pays_only_once_confirmed(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    batch(platform)
    with platform.ledger() as s:
        invs = list(s.scalars(select(Invitation).order_by(Invitation.id)))
    a, b = invs[0], next(i for i in invs if i.credit_code != invs[0].credit_code)
    me = Actor("企业", "enterprise", a.credit_code)
    assert tiers.invitations(platform, me, a.credit_code)[0].status == "open"
    with pytest.raises(Forbidden):
        tiers.decide_invitation(platform, me, b.reference, True)  # another enterprise's invitation
    # a confirmation killed halfway (after the invitation moved, before the payout) leaves nothing
    real = tiers._payout
    monkeypatch.setattr(tiers, "_payout", lambda *a, **k: (_ for _ in ()).throw(OSError("killed")))
    with pytest.raises(OSError):
        tiers.decide_invitation(platform, me, a.reference, True)
    monkeypatch.setattr(tiers, "_payout", real)
    with platform.ledger() as s:
        assert s.get(Invitation, a.id).status == "open"
        assert s.scalar(select(func.count()).select_from(Payout).where(Payout.credit_code == a.credit_code,
                                                                       Payout.policy_id == a.policy_id)) == 0
    done = tiers.decide_invitation(platform, me, a.reference, True)
    assert done.status == "confirmed" and done.payout_id is not None
    with pytest.raises(Conflict, match="已确认"):
        tiers.decide_invitation(platform, me, a.reference, True)  # a second click pays nothing more
    with platform.ledger() as s:
        p = s.get(Payout, done.payout_id)
        assert (p.status, p.amount_fen, p.source) == ("candidate", a.amount_fen, "invitation")
    other = Actor("企业", "enterprise", b.credit_code)
    assert tiers.decide_invitation(platform, other, b.reference, False).status == "declined"
    with pytest.raises(Conflict, match="已放弃"):
        tiers.decide_invitation(platform, other, b.reference, True)  # declined stays declined
    monkeypatch.setenv("MIANSHEN_CLOCK", (dt.date.today() + dt.timedelta(days=200)).isoformat())
    n = tiers.expire_invitations(platform, OFFICIAL)
    assert n == len(invs) - 2
    assert service.verify_audit(platform.ledger, Actor("审计", "auditor")).problems == []


def test_an_application_is_reviewed_before_it_pays(platform: Platform) -> None:
    policy = LIB.get("jishu-gaizao")
    code = "91340124MA7112976A"  # eligible for it on the archive alone
    me = Actor("金中制造", "enterprise", code)
    form = tiers.application_form(platform, me, code, policy.id)
    assert form and all(f.known is not None for f in form if f.tag in ("region", "industry"))
    with pytest.raises(Invalid, match="申报说明"):
        tiers.submit_application(platform, me, code, policy.id, {}, " ", [])
    app = tiers.submit_application(platform, me, code, policy.id, {}, "承诺所填内容真实", [("发票.pdf", b"%PDF-1.4 x")])
    assert app.status == "submitted"
    with pytest.raises(Forbidden):
        tiers.review_application(platform, me, app.reference, "accept", "自己批准自己")
    back = tiers.review_application(platform, OFFICIAL, app.reference, "return", "请补充设备发票清单")
    assert back.status == "returned"
    again = tiers.submit_application(platform, me, code, policy.id, {}, "已补充发票清单", [("清单.xlsx", b"PK..")])
    assert again.status == "submitted"
    ok = tiers.review_application(platform, OFFICIAL, app.reference, "accept", "材料齐全，核定通过")
    assert ok.status == "accepted" and ok.amount_fen and ok.payout_id
    with platform.ledger() as s:
        assert s.get(Payout, ok.payout_id).amount_fen == ok.amount_fen
    with pytest.raises(Conflict):
        tiers.submit_application(platform, me, code, policy.id, {}, "再来一次", [])


def one_tag_short(platform: Platform) -> tuple[str, ir.Policy, str, str]:
    """An enterprise undetermined on a 免申即享 policy for want of exactly one tag, and a value
    for that tag."""
    for code in DATA.dataset.frame["credit_code"].astype(str).head(600):
        cu = check_enterprise(platform, OFFICIAL, code)
        for e in cu.undetermined:
            if e.policy.tier is ir.Tier3.AUTO and len(e.decision.missing) == 1:
                tag = e.decision.missing[0]
                t = D[tag].type
                value = {"bool": "是", "date": "2026-01-15", "category": (t.values or ("A",))[0]}.get(
                    t.kind.value, "999999")
                return code, e.policy, tag, value
    raise AssertionError("the sample has undetermined pairs missing one tag")


def verified(p: Platform, code: str, tag: str, value: str) -> None:
    """The enterprise supplies `value` for `tag` with evidence; an official verifies it."""
    v = tiers.supply_value(p, Actor("企业", "enterprise", code), code, tag, value, "以附件为准", [("证明.png", b"\x89PNG")])
    tiers.verify_supplied(p, OFFICIAL, v.reference, True, "与原件核对一致")


def paid_source(p: Platform, code: str, policy: ir.Policy, tag: str) -> str:
    """The one payout of `policy` to `code`, and the source its explanation gives for `tag`."""
    with p.ledger() as s:
        paid = s.scalars(select(Payout).where(Payout.credit_code == code, Payout.policy_id == policy.id)).all()
    assert len(paid) == 1, (code, policy.id, tag)
    e = service.explain_payout(p.ledger, OFFICIAL, paid[0].reference, p.library.policies, D)[1]
    return {x.tag: x for c in e.conditions for x in c.values}[tag].source


def test_supplied_data_closes_an_undetermined_pair_once_verified(platform: Platform) -> None:
    official = OFFICIAL
    code, policy, tag, value = one_tag_short(platform)
    me = Actor("企业", "enterprise", code)
    t = D[tag].type
    with pytest.raises(Invalid, match="证明材料"):
        tiers.supply_value(platform, me, code, tag, value, "以税务系统截图为准", [])
    v = tiers.supply_value(platform, me, code, tag, value, "以附件为准", [("证明.png", b"\x89PNG")])
    still = {e.policy.id for e in check_enterprise(platform, me, code).undetermined}
    assert policy.id in still  # not used until verified
    r = tiers.verify_supplied(platform, official, v.reference, True, "与原件核对一致")
    assert r.before[policy.id] == "undetermined" and r.after[policy.id] == "eligible", (policy.id, tag, value)
    now = {e.policy.id: e for e in check_enterprise(platform, me, code).eligible}
    src = [val.source for e in now.values() for c in e.conditions for val in c.values if val.tag == tag]
    if r.after[policy.id] == "eligible":
        assert policy.id in now and src and all(x == tiers.SELF_DECLARED for x in src)
        batch(platform)  # the batch uses the verified value too
        with platform.ledger() as s:
            paid = s.scalars(select(Payout).where(Payout.credit_code == code, Payout.policy_id == policy.id)).all()
        assert len(paid) == 1
        # and its payout's explanation names the value's source as the calculator does
        e = service.explain_payout(platform.ledger, me, paid[0].reference, LIB.policies, D)[1]
        assert [(c.id, [(x.tag, x.display, x.source, x.as_of) for x in c.values]) for c in e.conditions] == \
            [(c.id, [(x.tag, x.display, x.source, x.as_of) for x in c.values]) for c in now[policy.id].conditions]
    # a department file that later disagrees is a conflict, not an overwrite
    frame = DATA.dataset.frame.copy()
    i = DATA.dataset.index_of(code)
    from rules_engine.data.frame import to_storage
    from rules_engine.data.values import coerce

    other = {"bool": "否", "date": "2025-01-01", "category": (t.values or ("A", "B"))[-1]}.get(t.kind.value, "1")
    values = frame[tag].astype(object).to_numpy(copy=True)
    values[i] = to_storage(t, coerce(t, other))
    frame[tag] = values
    frame[tag] = frame[tag].astype(DATA.dataset.frame[tag].dtype)
    ds2 = type(DATA.dataset)(frame, DATA.dataset.files, DATA.dataset.provenance)  # type: ignore[call-arg]
    p2 = Platform(D, LIB, type(DATA)(ds2, DATA.as_of, "新数据"), platform.ledger)
    found = tiers.conflicts(p2, official)
    if coerce(t, other) != coerce(t, value):
        assert [(c.credit_code, c.tag) for c in found] == [(code, tag)]


def test_a_batch_from_the_command_line_uses_verified_supplied_values(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: `mianshen batch run` matched the department files alone (a bare source), while the UI's
    and the API's batches filled in verified self-declared values: the same data, two answers."""
    from typer.testing import CliRunner

    from rules_engine.cli import app

    url = f"sqlite:///{tmp_path / 'l.db'}"
    monkeypatch.setenv("MIANSHEN_DB", url)
    p = Platform(D, LIB, DATA, service.open_ledger(url))
    code, policy, tag, value = one_tag_short(p)
    verified(p, code, tag, value)
    r = CliRunner().invoke(app, ["batch", "run", "--actor", "李四"])
    assert r.exit_code == 0, r.output
    assert paid_source(p, code, policy, tag) == tiers.SELF_DECLARED


def test_a_verified_value_for_a_tag_no_department_delivers_is_paid_by_the_batch(platform: Platform) -> None:
    """Was: the calculator used a verified self-declared value for a tag that no department file
    delivers at all (say 残联 shares nothing), and said 符合; the batch skipped it (the column was
    absent from its frame) and paid nothing: the same data, two answers."""
    code, policy, tag, value = one_tag_short(platform)
    ds = DATA.dataset
    without = type(ds)(ds.frame.drop(columns=[tag]), ds.files, {k: v for k, v in ds.provenance.items() if k != tag})
    p = Platform(D, LIB, type(DATA)(without, DATA.as_of, "缺一个部门的数据"), platform.ledger)
    verified(p, code, tag, value)
    assert policy.id in {e.policy.id for e in check_enterprise(p, Actor("企业", "enterprise", code), code).eligible}
    batch(p)
    assert paid_source(p, code, policy, tag) == tiers.SELF_DECLARED


def test_a_verified_code_the_data_never_held_reaches_the_batch(platform: Platform) -> None:
    """Was: a verified self-declared industry code that no enterprise in the data had was cast to
    the column's categories, and so became missing: the calculator saw it, the batch did not."""
    from rules_engine.data.codes import industry_code_problem

    ds = DATA.dataset
    code = str(ds.frame[KEY].iloc[7])
    held = set(ds.frame["industry"].dropna().astype(str))
    new = next(c for c in (f"{a}{b:02d}{x}" for a in "CDEFGI" for b in range(13, 99) for x in ("1", "10", ""))
               if c not in held and not industry_code_problem(c))
    frame = ds.frame.copy()
    frame["industry"] = frame["industry"].astype(object).where(frame[KEY] != code, None).astype("category")
    p = Platform(D, LIB, type(DATA)(type(ds)(frame, ds.files, ds.provenance), DATA.as_of, "行业缺失"), platform.ledger)
    me = Actor("企业", "enterprise", code)
    v = tiers.supply_value(p, me, code, "industry", new, "以营业执照为准", [("执照.png", b"\x89PNG")])
    tiers.verify_supplied(p, OFFICIAL, v.reference, True, "与营业执照一致")
    out, declared = tiers.overlay_frame(frame, p.ledger, D)
    assert str(out.loc[out[KEY] == code, "industry"].iloc[0]) == new and declared == {"industry": {code}}


def test_objections_are_answered_and_the_enterprise_sees_the_answer(platform: Platform) -> None:
    batch(platform)
    with platform.ledger() as s:
        p = s.scalars(select(Payout).order_by(Payout.id)).first()
    me = Actor("企业", "enterprise", p.credit_code)
    with pytest.raises(Invalid):
        tiers.raise_objection(platform, me, p.credit_code, p.reference, " ", [])
    o = tiers.raise_objection(platform, me, p.credit_code, p.reference, "金额计算有误", [("说明.pdf", b"%PDF")])
    with pytest.raises(Forbidden):
        tiers.answer_objection(platform, me, o.id, "自答")
    tiers.answer_objection(platform, OFFICIAL, o.id, "经复核，金额按第五条计算无误")
    seen = tiers.objections(platform, me, p.credit_code)
    assert seen[0].answer == "经复核，金额按第五条计算无误" and seen[0].status == "answered"
    r = tiers.raise_objection(platform, me, p.credit_code, p.reference, "办理很快", [], rating=5)
    assert r.kind == "rating" and r.rating == 5
    with pytest.raises(Forbidden):
        tiers.objections(platform, Actor("企业", "enterprise", "91340102000395962B"), p.credit_code)


def test_time_limits_are_counted_in_working_days_and_overdue_items_listed(platform: Platform) -> None:
    from rules_engine.ledger import lifecycle
    from rules_engine.ledger.workdays import add_working_days
    from rules_engine.service.ledger import timeliness

    batch(platform)
    with platform.ledger.begin() as s:
        p = s.scalars(select(Payout).where(Payout.policy_id == "wengang-fanhuan").order_by(Payout.id)).first()
        start = p.created_at.date()
        t = dt.datetime.combine(add_working_days(start, 12), dt.time(10))
        lifecycle.publish(s, p, "李四", start, now=t)
        lifecycle.approve(s, p, "王五", add_working_days(start, 12), now=t)
        lifecycle.mark_paid(s, p, "银行", "B1", now=t)
        paid_ref = p.reference
    assert LIB.get("wengang-fanhuan").time_limit == 30
    per, summary = timeliness(platform.ledger, OFFICIAL, LIB.policies, today=add_working_days(start, 10))
    assert not per["超期"].any()
    per, summary = timeliness(platform.ledger, OFFICIAL, LIB.policies, today=add_working_days(start, 31))
    late = per[per["超期"]]
    assert set(late["政策"]) >= {"wengang-fanhuan"} and paid_ref not in set(late["编号"])
    assert set(late["时限（工作日）"]) <= {20, 30, 60}
    row = per[per["编号"] == paid_ref].iloc[0]
    assert row["已用工作日"] == 12 and row["已支付"]
    auto = summary.set_index("兑现方式").loc["免申即享"]
    assert auto["已支付笔数"] == 1 and auto["支付用时中位数（工作日）"] == 12 and auto["超期笔数"] == int(
        late[late["兑现方式"] == "免申即享"].shape[0])
    assert auto["待公示金额（分）"] > 0


def test_the_cli_reaches_the_same_tier_operations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from rules_engine.cli import app

    url = f"sqlite:///{tmp_path / 'l.db'}"
    monkeypatch.setenv("MIANSHEN_DB", url)
    p = Platform(D, LIB, DATA, service.open_ledger(url))
    batch(p)
    code = "91340124MA7112976A"
    run = CliRunner().invoke
    r = run(app, ["tiers", "invitations", code])
    assert r.exit_code == 0 and "待确认" in r.output, r.output
    ref = r.output.split()[0]
    r = run(app, ["tiers", "confirm", ref, "--actor", "窗口代办", "--credit-code", "91340102000395962B"])
    assert r.exit_code == 1 and "本企业" in r.output  # acting for another enterprise is refused
    r = run(app, ["tiers", "confirm", ref, "--actor", "窗口代办", "--credit-code", code])
    assert r.exit_code == 0 and "已确认" in r.output, r.output
    a = tiers.submit_application(p, Actor("企业", "enterprise", code), code, "jishu-gaizao", {}, "承诺真实", [])
    r = run(app, ["tiers", "applications"])
    assert a.reference in r.output
    r = run(app, ["tiers", "review", a.reference, "accept", "--actor", "李四", "--reason", "材料齐全"])
    assert r.exit_code == 0 and "核定" in r.output, r.output
    r = run(app, ["tiers", "data-requests", "--out", str(tmp_path / "req.xlsx")])
    assert r.exit_code == 0 and (tmp_path / "req.xlsx").exists() and "家企业" in r.output


def test_a_verification_killed_halfway_changes_nothing(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    from rules_engine.service import tiers as t

    code = undetermined_for("canji-jiuye", "disabled_staff_ratio")  # 残疾职工占比 not delivered
    v = t.supply_value(platform, Actor("企业", "enterprise", code), code, "disabled_staff_ratio", "2.5", "年审结果",
                       [("年审.pdf", b"%PDF")])
    real = t.audit.append
    monkeypatch.setattr(t.audit, "append", lambda *a, **k: (_ for _ in ()).throw(OSError("killed")))
    with pytest.raises(OSError):
        t.verify_supplied(platform, OFFICIAL, v.reference, True, "核对一致")
    monkeypatch.setattr(t.audit, "append", real)
    assert t.supplied(platform, OFFICIAL, code)[0].status == "submitted"
    assert "canji-jiuye" in {e.policy.id for e in check_enterprise(platform, OFFICIAL, code).undetermined}
    r = t.verify_supplied(platform, OFFICIAL, v.reference, True, "核对一致")
    assert r.after["canji-jiuye"] == "eligible" and t.supplied(platform, OFFICIAL, code)[0].status == "verified"


def test_the_enterprise_is_told_why_an_eligible_policy_was_not_paid(platform: Platform) -> None:
    """Was: 8 eligible policies, 7 payouts, and no reason."""
    batch(platform)
    code = "91340124MA7112976A"
    me = Actor("企业", "enterprise", code)
    cu = check_enterprise(platform, me, code)
    why = tiers.delivery_status(platform, me, code, [e.policy for e in cu.eligible])
    assert set(why) == {e.policy.id for e in cu.eligible}
    assert why["jishu-gaizao"].startswith("需申报")
    assert why["gaoqi-shouci"] == "待公示"
    assert why["kuogang-buzhu"] == "即申即享：待确认"
    # xina-jiuye (免申即享) lost 就高不重复 to kuogang-buzhu, whose invitation holds the group
    assert why["xina-jiuye"] == "就高不重复：本年度已享受（或待确认）《一次性扩岗补助》", why["xina-jiuye"]
    with pytest.raises(Forbidden):
        tiers.delivery_status(platform, Actor("企业", "enterprise", "91340102000395962B"), code, [])


def test_a_nul_typed_into_a_form_is_refused_in_chinese_on_every_database(platform: Platform) -> None:
    """Was: an objection, statement or reason with a NUL (pasted from a broken file) ended in a
    psycopg DataError on PostgreSQL (a Streamlit error page) and was stored as is on SQLite."""
    code = "91340124MA7112976A"
    me = Actor("企业", "enterprise", code)
    with pytest.raises(Invalid, match="控制字符"):
        tiers.raise_objection(platform, me, code, "faming-zhuanli", "异议\x00内容", [])
    assert tiers.raise_objection(platform, me, code, "faming-zhuanli", "异议内容", []).text == "异议内容"


def test_the_data_request_list_counts_each_missing_year(platform: Platform) -> None:
    """A decision waiting for 2025年度纳税总额 is counted under that year, not under 纳税总额 at
    large: the department is asked for the year it has not delivered."""
    from rules_engine.service.tiers import data_requests

    rows = data_requests(platform, OFFICIAL)
    periodic = rows[rows["标签"].str.contains("@")]
    assert len(periodic) > 0
    for tag, label in zip(periodic["标签"], periodic["数据项"], strict=True):
        period = parse_period(tag.split("@")[1])
        assert label.startswith(period.zh) and "@" not in label, (tag, label)
    assert any(label.startswith("2026年第1季度纳税额") for label in periodic["数据项"])
    assert "tax_paid" not in set(rows["标签"])  # never the tag without its period


def test_the_reviewer_sees_who_applied_for_what_with_which_values(platform: Platform) -> None:
    """Was (#37 item 3): the 申报 review showed no enterprise name, amount, archive values or
    date, and the verify message read 「kuogang-buzhu：undetermined→eligible」."""
    code = "91340124MA7112976A"
    me = Actor("金中制造", "enterprise", code)
    app = tiers.submit_application(platform, me, code, "jishu-gaizao", {}, "承诺所填内容真实", [])
    r = tiers.application_review(platform, OFFICIAL, app)
    assert r.title == LIB.get("jishu-gaizao").title and r.enterprise != code and "制造" in r.enterprise
    assert r.status_zh == "符合" and r.amount_fen > 0 and r.submitted_at == app.updated_at
    labels = {label for label, _, _ in r.values}
    assert "注册地行政区划" in labels and all(src for _, value, src in r.values if value != "（无）")
    ok = tiers.review_application(platform, OFFICIAL, app.reference, "accept", "材料齐全")
    assert ok.amount_fen == r.amount_fen  # what the reviewer saw is what accepting grants
    with pytest.raises(Forbidden):
        tiers.application_review(platform, me, app)
    code2, policy, tag, value = one_tag_short(platform)
    sv = tiers.supply_value(platform, Actor("企业", "enterprise", code2), code2, tag, value, "说明",
                            [("证明.pdf", b"%PDF-1.4 x")])
    done = tiers.verify_supplied(platform, OFFICIAL, sv.reference, True, "核验无误")
    text = tiers.changes_zh(platform, done)
    assert f"《{policy.title}》：待补充数据→" in text and "undetermined" not in text and policy.id not in text
