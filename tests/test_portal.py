"""What enterprise portals (浙里办, 皖企通) show and the enterprise's pages lacked (#37 item 18):
a notice area, a status timeline per payout, the 差一项 gap on every row, names beside codes in
the pre-filled 申报 data, the three tiers explained, a note that an invitation follows at the next
batch, and search on the officials' 受理审核 queues."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from rules_engine import service
from rules_engine.data.datasets import SAMPLE_MANIFEST
from rules_engine.data.tags import load_dictionary
from rules_engine.errors import Forbidden
from rules_engine.ledger.models import Payout
from rules_engine.library.loader import load_library
from rules_engine.service import Actor, portal, tiers
from rules_engine.service.enterprise import check_enterprise
from rules_engine.service.platform import Platform, load_data

ROOT = Path(__file__).resolve().parent.parent
D = load_dictionary()
LIB = load_library(ROOT / "policies", D)
DATA = load_data(Path(SAMPLE_MANIFEST), D)
OFFICIAL = Actor("李四", "official")
QIYE01, QIYE02 = "91340124MA7112976A", "91340102000395962B"


@pytest.fixture
def platform(ledger_url: str) -> Platform:
    return Platform(D, LIB, DATA, service.open_ledger(ledger_url))


def me(code: str) -> Actor:
    return Actor("企业经办人", "enterprise", code)


def test_the_notice_area_says_what_changed_for_the_enterprise_and_only_to_it(
        platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    assert portal.notices(platform, me(QIYE01), QIYE01) == []
    service.run_batch(platform.ledger, OFFICIAL, platform.data.dataset, LIB.policies, platform.data.as_of, D)
    news = portal.notices(platform, me(QIYE01), QIYE01)
    assert any(n.kind == "邀约" and "请于" in n.text for n in news)
    monkeypatch.setenv("MIANSHEN_CLOCK", "2026-07-01")
    service.publish_candidates(platform.ledger, OFFICIAL)
    news = portal.notices(platform, me(QIYE01), QIYE01)
    on_notice = [n for n in news if n.kind == "公示"]
    assert on_notice and all("2026-07-01 至 2026-07-07" in n.text for n in on_notice)
    with platform.ledger() as s:
        mine = s.scalars(select(Payout).where(Payout.credit_code == QIYE01).limit(1)).one().reference
    o = tiers.raise_objection(platform, me(QIYE01), QIYE01, mine, "金额有误", [])
    tiers.answer_objection(platform, OFFICIAL, o.id, "已核对，金额无误")
    assert any(n.kind == "异议" and "已核对，金额无误" in n.text for n in portal.notices(platform, me(QIYE01), QIYE01))
    assert news == sorted(news, key=lambda n: n.at, reverse=True)
    with pytest.raises(Forbidden):
        portal.notices(platform, me(QIYE02), QIYE01)


def test_a_payout_shows_where_it_is_on_its_way(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    service.run_batch(platform.ledger, OFFICIAL, platform.data.dataset, LIB.policies, platform.data.as_of, D)
    with platform.ledger() as s:
        first, second = s.scalars(select(Payout).order_by(Payout.id).limit(2)).all()
        ref, other = first.reference, first.credit_code
    states = lambda: [(x.name, x.state) for x in portal.timeline(platform.ledger, OFFICIAL, ref)]  # noqa: E731
    assert states() == [("匹配", "已完成"), ("公示", "未开始"), ("审批", "未开始"), ("支付", "未开始")]
    monkeypatch.setenv("MIANSHEN_CLOCK", "2026-07-01")
    service.publish_candidates(platform.ledger, OFFICIAL)
    assert states()[1] == ("公示", "进行中")
    service.withdraw(platform.ledger, OFFICIAL, second.reference, "企业注销")
    assert [(x.name, x.state) for x in portal.timeline(platform.ledger, OFFICIAL, second.reference)] == [
        ("匹配", "已完成"), ("公示", "已终止"), ("审批", "已终止"), ("支付", "已终止"), ("已撤回", "已终止")]
    monkeypatch.setenv("MIANSHEN_CLOCK", "2026-07-08")
    service.approve_due(platform.ledger, OFFICIAL)
    steps = portal.timeline(platform.ledger, OFFICIAL, ref)
    assert [(x.name, x.state) for x in steps] == [("匹配", "已完成"), ("公示", "已完成"), ("审批", "已完成"),
                                                 ("支付", "进行中")]
    assert steps[1].detail == "2026-07-01 至 2026-07-07" and steps[2].detail == "2026-07-08"
    with pytest.raises(Forbidden):  # another enterprise's payout
        portal.timeline(platform.ledger, me(QIYE02 if other != QIYE02 else QIYE01), ref)


def test_every_near_miss_says_what_would_meet_it(tmp_path: Path) -> None:
    """Was: the 差一项 table's 差距 was empty except for numeric thresholds."""
    p = Platform(D, LIB, DATA, service.open_ledger(f"sqlite:///{tmp_path / 'l.db'}"))
    seen = 0
    for code in (QIYE01, QIYE02):
        for nm in check_enterprise(p, OFFICIAL, code).near_misses:
            seen += 1
            assert nm.condition.gap, nm.policy.id
    assert seen >= 10


def test_the_prefilled_application_names_its_codes_and_a_confirm_policy_says_an_invitation_follows(tmp_path: Path
                                                                                                  ) -> None:
    p = Platform(D, LIB, DATA, service.open_ledger(f"sqlite:///{tmp_path / 'l.db'}"))
    form = {f.tag: f for f in tiers.application_form(p, me(QIYE01), QIYE01, "jishu-gaizao")}
    assert form["region"].known == "庐江县（340124）"
    assert form["industry"].known == "计算机整机制造（C3911）"
    cu = check_enterprise(p, me(QIYE01), QIYE01)
    why = tiers.delivery_status(p, me(QIYE01), QIYE01, [e.policy for e in cu.eligible])
    assert why["kuogang-buzhu"].startswith("即申即享：下一次批次匹配后发出确认邀约")
    assert why["xina-jiuye"].startswith("免申即享：下一次批次匹配后列入公示")
    assert [name for name, _ in portal.TIERS_ZH] == ["免申即享", "即申即享", "申报"]

