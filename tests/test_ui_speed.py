"""How fast the web UI settles (#37 item 17), in a real Chromium, on the demo ledger over the
sample (the 2,130 payouts of `mianshen batch demo`). Run alone after the parallel suite
(scripts/test.sh): a second test worker sharing the two cores would time the machine, not the UI."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_browser import CHROMIUM, QIYE01, browser, open_page, serve  # noqa: F401 - browser is a fixture

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"Chromium is not installed at {CHROMIUM}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from rules_engine.cli.common import DEFAULT_POLICIES, _as_of, _dataset, _library
    from rules_engine.data.datasets import SAMPLE_MANIFEST
    from rules_engine.data.tags import load_dictionary
    from rules_engine.service import Actor
    from rules_engine.service.demo import prepare_ledger

    tmp = tmp_path_factory.mktemp("ui-speed")
    d = load_dictionary()
    made = prepare_ledger(f"sqlite:///{tmp / 'ledger.db'}", Actor("演示数据", "official"), _dataset(SAMPLE_MANIFEST, d),
                          _library(DEFAULT_POLICIES, d, strict=True).policies, _as_of(None, SAMPLE_MANIFEST), d)
    assert made.created > 1000 and made.notice_end < dt.date.today()
    yield from serve(tmp)


WATCH = """() => {
  window.__last = performance.now();
  if (!window.__watch) {
    window.__watch = new MutationObserver(() => { window.__last = performance.now(); });
    window.__watch.observe(document.body, {subtree: true, childList: true, attributes: true, characterData: true});
  }
  return performance.now();
}"""
QUIET = """() => document.querySelector('[data-testid=stApp]').getAttribute('data-test-script-state') === 'notRunning'
  && performance.now() - window.__last > 600"""


def _settles(page: Any, act: Any) -> float:
    """Seconds from an action until the page last changed: the script has finished and nothing on
    the page has moved for 0.6 s (tables and charts draw after the script ends, so the script's end
    alone is not when the user can read the page)."""
    start = page.evaluate(WATCH)
    act()
    page.wait_for_timeout(100)
    page.wait_for_function(QUIET, polling=50, timeout=60_000)
    return float(page.evaluate("window.__last") - start) / 1000


def _pick(page: Any, label: str) -> float:
    """Choose the second option, as a user would: seconds until
    the page settled, once the choice was taken (else the time would be that of doing nothing).
    On a loaded machine the list may not be open yet when the keys arrive: then choose again."""
    box = page.get_by_role("combobox", name=label)
    before = box.input_value()

    def choose() -> None:
        box.click()
        page.keyboard.press("ArrowDown")  # opens the list
        page.get_by_role("listbox", name=label).get_by_role("option").nth(1).click()

    for _ in range(3):
        took = _settles(page, choose)
        if box.input_value() != before:
            return took
        page.keyboard.press("Escape")
    raise AssertionError(f"{label}: still {before!r}")


def test_every_page_and_pick_settles_within_1_5_s(server: str, browser: Any) -> None:  # noqa: F811 - the fixture
    """Was (#37 item 17): signing in took 4.8–6.1 s for an enterprise, 4.2 s for the auditor and
    3.3–3.5 s for officials, several picks 2–2.9 s. Each page of each role and the picks users make
    (an enterprise in the calculator, a policy in its detail, a policy in the sandbox, a payout's
    explanation), on the demo ledger: median of 3 ≤ 1.5 s."""
    times: dict[str, list[float]] = {}
    for _ in range(3):
        for user, password in [("guanyuan", "guanyuan-demo"), ("shenji", "shenji-demo"), ("caiwu", "caiwu-demo"),
                               ("qiye01", "qiye01-demo")]:
            page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
            page.set_default_timeout(60_000)
            page.goto(server)
            page.get_by_label("用户名").fill(user)
            page.get_by_label("密码").fill(password)
            times.setdefault(f"{user} 登录", []).append(
                _settles(page, lambda p=page: p.get_by_role("button", name="登录").click()))
            titles = [t.strip() for t in page.locator("section[data-testid='stSidebar'] [role='radiogroup'] label")
                      .all_inner_texts()]
            for title in titles[1:] + titles[:1]:
                times.setdefault(f"{user} {title}", []).append(_settles(page, lambda p=page, t=title: open_page(p, t)))
                if user == "guanyuan" and title == "政策计算器 / 政策体检":
                    box = page.get_by_label("统一社会信用代码或企业名称")
                    box.fill(QIYE01)
                    times.setdefault("查询企业", []).append(_settles(page, lambda b=box: b.press("Enter")))
                    times.setdefault("查看政策详情", []).append(_pick(page, "查看政策"))
                if user == "guanyuan" and title == "政策管理与沙盘":
                    times.setdefault("选择政策进行测算", []).append(_pick(page, "选择政策进行编辑与测算"))
                if user == "guanyuan" and title == "兑现批次":
                    times.setdefault("查看一笔兑现的说明", []).append(
                        _pick(page, "查看一笔兑现的说明（为什么兑现、金额怎么算）"))
            page.close()
    medians = {k: round(sorted(v)[1], 2) for k, v in times.items()}
    print("settled (s, median of 3):", medians)
    assert len(medians) >= 19, medians  # every page of every role and the four picks were timed
    assert {k: m for k, m in medians.items() if m > 1.5} == {}, times
