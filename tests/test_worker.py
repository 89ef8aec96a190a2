"""The event worker: sources, dead letters, candidates and withdrawals shared with batch runs,
clean shutdown on SIGTERM and exact resumption after a crash."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import strategies as st
from sqlalchemy import func, select

from rules_engine.cli import DEFAULT_POLICIES
from rules_engine.data import creditcode, frame
from rules_engine.data.datasets import SAMPLE_MANIFEST, load_dataset
from rules_engine.data.tags import load_dictionary
from rules_engine.ledger import lifecycle
from rules_engine.ledger.batch import run_batch
from rules_engine.ledger.db import open_ledger
from rules_engine.ledger.models import DeadLetter, OutboxMessage, Payout, TagEvent, TagOverride, WorkerOffset
from rules_engine.ledger.worker import FileSource, StdinSource, TableSource, Worker, WorkerStats, parse_event
from rules_engine.library.loader import load_library

ROOT = Path(__file__).resolve().parent.parent
D = load_dictionary()
LIB = load_library(DEFAULT_POLICIES, D)
DS = load_dataset(SAMPLE_MANIFEST, D)
AS_OF = dt.date(2026, 6, 30)
F = DS.frame
# an enterprise in 合肥 that 高企首次认定 would reward once it is certified
HEFEI = F[(F.region.astype(str).str.startswith("3401")) & (F.independent_legal_person == True)  # noqa: E712
          & (F.serious_dishonest == False) & (F.dishonest_debtor == False) & (F.is_hitech == False)  # noqa: E712
          & F["rd_expense@2025"].notna()].credit_code.iloc[0]


def certify(code: str = HEFEI, day: str = "2026-06-20") -> list[dict]:
    return [{"credit_code": code, "tag": "is_hitech", "value": True, "as_of": day, "source": "science"},
            {"credit_code": code, "tag": "hitech_cert_date", "value": day, "as_of": day, "source": "science"}]


def worker(url: str) -> Worker:
    return Worker(open_ledger(url)[1], D, LIB.policies, F, AS_OF)


def test_parse_event_reasons() -> None:
    ok = parse_event(certify()[0], D)
    assert (ok.tag, ok.value) == ("is_hitech", True)
    cases = {
        '{"credit_code": "X"': "不是合法的 JSON",
        json.dumps({"credit_code": HEFEI, "tag": "is_hitech", "as_of": "2026-01-01", "source": "science"}): "value",
        json.dumps({"credit_code": "91350100M000100Y44", "tag": "is_hitech", "value": 1, "as_of": "2026-01-01",
                    "source": "science"}): "校验码错误",
        json.dumps({"credit_code": HEFEI, "tag": "enterprise_size", "value": "特大型", "as_of": "2026-01-01",
                    "source": "stats"}): "不是可选值",
        json.dumps({"credit_code": HEFEI, "tag": "revenue[2025]", "value": "很多", "as_of": "2026-01-01",
                    "source": "tax"}): "应为数值",
        json.dumps({"credit_code": HEFEI, "tag": "revenue[2025]", "value": "1", "as_of": "2026-01-01",
                    "source": "moon"}): "未知数据来源",
        json.dumps({"credit_code": HEFEI, "tag": "revenue[2025]", "value": "1.005", "as_of": "2026-01-01",
                    "source": "tax"}): "revenue@2025（2025年度营业收入）",
        # a periodic fact's event names its period; a wrong or future period is refused, not guessed
        json.dumps({"credit_code": HEFEI, "tag": "revenue", "value": "1", "as_of": "2026-01-01",
                    "source": "tax"}): "须写明所属期",
        json.dumps({"credit_code": HEFEI, "tag": "revenue[2027]", "value": "1", "as_of": "2026-01-01",
                    "source": "tax"}): "晚于数据日期",
        json.dumps({"credit_code": HEFEI, "tag": "revenue", "period": "2025Q1", "value": "1", "as_of": "2026-01-01",
                    "source": "tax"}): "期间 2025Q1 是季度",
        json.dumps({"credit_code": HEFEI, "tag": "revenue", "period": "去年", "value": "1", "as_of": "2026-01-01",
                    "source": "tax"}): "相对说法",
        json.dumps({"credit_code": HEFEI, "tag": "employees", "period": "2025", "value": "1", "as_of": "2026-01-01",
                    "source": "stats"}): "不分期间",
    }
    for raw, why in cases.items():
        with pytest.raises(ValueError, match=why):
            parse_event(raw, D)
    # money through a float pipeline reads as the fen it meant, as in the batch loader
    for value in ("4999999.9900000002235", 4999999.990000001):
        ev = parse_event({"credit_code": HEFEI, "tag": "revenue[2025]", "value": value, "as_of": "2026-01-01",
                          "source": "tax"}, D)
        assert ev.value == Decimal("4999999.99")
    ev = parse_event({"credit_code": HEFEI, "tag": "revenue", "period": "2025年度", "value": "7", "as_of": "2026-01-01",
                      "source": "tax"}, D)
    assert (ev.tag, ev.value) == ("revenue@2025", Decimal(7))


def test_new_eligibility_becomes_a_candidate_once_shared_with_batches(ledger_url: str, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in certify()) + "\n{broken\n", encoding="utf-8")
    w = worker(ledger_url)
    stats = w.run(FileSource(path))
    assert (stats.events, stats.dead, stats.created) == (2, 1, 1)
    sf = w.sf
    with sf() as s:
        p = s.scalars(select(Payout).where(Payout.credit_code == HEFEI, Payout.policy_id == "gaoqi-shouci")).one()
        assert (p.status, p.source, p.amount_fen) == ("candidate", "event", p.amount_fen)
        assert p.explanation["origin"]["kind"] == "event"
        assert p.explanation["origin"]["tag"] in ("is_hitech", "hitech_cert_date")
        msg = s.scalars(select(OutboxMessage).where(OutboxMessage.payout_id == p.id)).one()
        assert msg.kind == "eligible" and "无需申请" in msg.payload["text"]
        dead = s.scalars(select(DeadLetter)).one()
        assert dead.source.endswith("#3") and "不是合法的 JSON" in dead.reason
    # a batch run afterwards sees the same key and creates no second payout for it
    frame = F.copy()
    i = frame.index[frame.credit_code == HEFEI][0]
    frame.loc[i, "is_hitech"] = True
    frame.loc[i, "hitech_cert_date"] = dt.datetime(2026, 6, 20)
    run_batch(sf, frame, LIB.policies, AS_OF, "张三", D)
    with sf() as s:
        n = s.scalar(select(func.count()).select_from(Payout).where(Payout.credit_code == HEFEI,
                                                                    Payout.policy_id == "gaoqi-shouci"))
    assert n == 1
    # running the same file again applies nothing: the offset is past it
    assert w.run(FileSource(path)).events == 0


def test_a_batch_first_then_the_event_creates_nothing_new(ledger_url: str) -> None:
    w = worker(ledger_url)
    run_batch(w.sf, F, LIB.policies, AS_OF, "张三", D)
    with w.sf() as s:
        before = s.scalar(select(func.count()).select_from(Payout))
        code, pid = s.execute(select(Payout.credit_code, Payout.policy_id).where(
            Payout.policy_id == "faming-zhuanli")).first()
    stream = io.StringIO(json.dumps({"credit_code": code, "tag": "invention_patents", "value": 4,
                                     "as_of": "2026-06-29", "source": "science"}) + "\n")
    stats = w.run(StdinSource(stream))
    assert stats.created == 0
    with w.sf() as s:
        assert s.scalar(select(func.count()).select_from(Payout)) == before


def test_no_longer_eligible_is_withdrawn_before_approval_only(ledger_url: str) -> None:
    w = worker(ledger_url)
    sf = w.sf
    with sf.begin() as s:
        for e in certify():
            s.add(TagEvent(credit_code=e["credit_code"], tag=e["tag"], value=str(e["value"]), as_of=e["as_of"],
                           source=e["source"], received_at=dt.datetime.now()))
        s.add(TagEvent(credit_code=HEFEI, tag="serious_dishonest", value="是", as_of="2026-06-25", source="credit",
                       received_at=dt.datetime.now()))
    stats = w.run(TableSource(sf))
    assert (stats.created, stats.withdrawn) == (1, 1)
    with sf() as s:
        p = s.scalars(select(Payout).where(Payout.credit_code == HEFEI)).one()
        events = list(s.scalars(select(lifecycle.PayoutEvent).where(lifecycle.PayoutEvent.payout_id == p.id)))
        assert p.status == "withdrawn"
        assert "严重违法失信主体 = True" in events[-1].reason and "未列入严重失信名单" in events[-1].reason
        assert s.get(WorkerOffset, "table:tag_events").position == 3
    # once approved, a data change no longer withdraws it (that is a revocation, for a person)
    other = F[(F.region.astype(str) == "340104") & (F.invention_patents.fillna(0) == 0)].credit_code.iloc[0]
    with sf.begin() as s:
        s.add(TagEvent(credit_code=other, tag="invention_patents", value="2", as_of="2026-06-28", source="science",
                       received_at=dt.datetime.now()))
    assert w.run(TableSource(sf)).created == 1
    with sf.begin() as s:
        p = s.scalars(select(Payout).where(Payout.credit_code == other)).one()
        lifecycle.publish(s, p, "李四", dt.date(2026, 7, 1))
        lifecycle.approve(s, p, "王五", dt.date(2026, 7, 9))
        s.add(TagEvent(credit_code=other, tag="invention_patents", value="0", as_of="2026-06-29", source="science",
                       received_at=dt.datetime.now()))
    assert w.run(TableSource(sf)).withdrawn == 0


def test_budgeted_policies_are_left_to_batch_runs(ledger_url: str) -> None:
    code = F[(F.is_tech_sme == False) & (F.serious_dishonest == False)].credit_code.iloc[0]  # noqa: E712
    events = [{"credit_code": code, "tag": "is_tech_sme", "value": "是", "as_of": "2026-06-01", "source": "science"},
              {"credit_code": code, "tag": "tech_sme_date", "value": "2026-06-01", "as_of": "2026-06-01",
               "source": "science"},
              {"credit_code": code, "tag": "rd_ratio[2025]", "value": "5", "as_of": "2026-06-01", "source": "tax"}]
    w = worker(ledger_url)
    stats = w.run(StdinSource(io.StringIO("\n".join(json.dumps(e, ensure_ascii=False) for e in events))))
    assert stats.deferred >= 1
    with w.sf() as s:
        assert s.scalar(select(func.count()).select_from(Payout).where(Payout.policy_id == "keji-zhongxiao")) == 0


def test_older_values_do_not_overwrite_newer_ones(ledger_url: str) -> None:
    newer = {"credit_code": HEFEI, "tag": "invention_patents", "value": 7, "as_of": "2026-06-10", "source": "science"}
    older = dict(newer, value=1, as_of="2026-05-01")
    w = worker(ledger_url)
    w.run(StdinSource(io.StringIO(json.dumps(newer) + "\n" + json.dumps(older) + "\n")))
    with w.sf() as s:
        assert json.loads(s.get(TagOverride, (HEFEI, "invention_patents")).value) == "7"
    # a restarted worker rebuilds its profiles from the base data and the overrides
    again = worker(w.sf.kw["bind"].url.render_as_string(hide_password=False))
    assert str(again.profile(HEFEI)["invention_patents"]) == "7"


def random_events(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    codes = list(F.credit_code.iloc[:400])
    out = []
    for i in range(n):
        code = rng.choice(codes)
        kind = rng.randrange(6)
        day = f"2026-06-{1 + i % 28:02d}"
        if kind == 0:
            out += [dict(e, credit_code=code) for e in certify(code, day)]
        elif kind == 1:
            out.append({"credit_code": code, "tag": "invention_patents", "value": rng.randrange(0, 30), "as_of": day,
                        "source": "science"})
        elif kind == 2:
            out.append({"credit_code": code, "tag": "graduate_hires", "value": rng.randrange(0, 9), "as_of": day,
                        "source": "hrss"})
        elif kind == 3:
            out.append({"credit_code": code, "tag": "serious_dishonest", "value": rng.random() < 0.3, "as_of": day,
                        "source": "credit"})
        elif kind == 4:
            out.append({"credit_code": code, "tag": "disabled_staff_ratio", "value": f"{rng.uniform(0, 4):.2f}",
                        "as_of": day, "source": "hrss"})
        else:
            out.append({"credit_code": code[:-1] + "Z", "tag": "revenue[2025]", "value": "1", "as_of": day, "source": "tax"})
    return out


def ledger_state(url: str) -> tuple:
    _, sf = open_ledger(url)
    with sf() as s:
        payouts = sorted(s.execute(select(Payout.policy_id, Payout.credit_code, Payout.period, Payout.amount_fen,
                                          Payout.status)).all())
        overrides = sorted(s.execute(select(TagOverride.credit_code, TagOverride.tag, TagOverride.value)).all())
        dead = s.scalar(select(func.count()).select_from(DeadLetter))
    return payouts, overrides, dead


def spawn(url: str, events: Path, follow: bool = False) -> subprocess.Popen[str]:
    from rules_engine.ledger.db import open_ledger

    open_ledger(url)  # the worker writes into a ledger that exists; it never creates one (#37 item 10)
    args = [sys.executable, "-m", "rules_engine", "worker", "run", "--source", f"file:{events}", "--db", url,
            "--as-of", "2026-06-30", "--chunk", "20"] + (["--follow", "--poll", "0.2"] if follow else [])
    return subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple]:
    """The event file and the ledger one uninterrupted worker run makes of it (shared by the
    stop-and-restart cases: the same events give the same ledger)."""
    tmp = tmp_path_factory.mktemp("uninterrupted")
    events = tmp / "events.jsonl"
    events.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in random_events(1500, 11)) + "\n",
                      encoding="utf-8")
    reference = f"sqlite:///{tmp / 'ref.db'}"
    p = spawn(reference, events)
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    expected = ledger_state(reference)
    assert expected[0] and expected[2] > 0  # candidates and dead letters both happened
    return events, expected


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_stop_and_restart_apply_every_event_exactly_once(how: str, tmp_path: Path,
                                                         uninterrupted: tuple[Path, tuple]) -> None:
    events, expected = uninterrupted
    url = f"sqlite:///{tmp_path / 'w.db'}"
    p = spawn(url, events, follow=True)
    time.sleep(4.0)  # part-way: start-up takes ~2 s, the whole file 10–20 s
    os.kill(p.pid, signal.SIGTERM if how == "sigterm" else signal.SIGKILL)
    out, err = p.communicate(timeout=120)
    if how == "sigterm":
        assert p.returncode == 0, err  # a clean stop
        assert "处理完手头的事件后停止" in err
    _, sf = open_ledger(url)
    with sf() as s:
        off = s.get(WorkerOffset, f"file:{events.resolve()}")
        stopped_at = off.position if off else 0
    total = len(events.read_text(encoding="utf-8").splitlines())
    assert stopped_at < total, "the worker finished before it was stopped; nothing was tested"
    p = spawn(url, events)
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    assert ledger_state(url) == expected


def test_new_enterprises_from_events_alone(ledger_url: str) -> None:
    code = creditcode.make("340104", 777777)
    events = [{"credit_code": code, "tag": "region", "value": "340104", "as_of": "2026-06-01", "source": "market"},
              {"credit_code": code, "tag": "invention_patents", "value": 2, "as_of": "2026-06-01",
               "source": "science"}]
    w = worker(ledger_url)
    stats = w.run(StdinSource(io.StringIO("\n".join(json.dumps(e) for e in events))))
    assert stats.created == 1


def test_a_delivered_enterprise_size_survives_later_events_as_in_batches(ledger_url: str) -> None:
    """Was: an event delivering 企业划型 was dead-lettered ("derived by the platform"), and any
    later employees/revenue event overwrote the size with the derivation. Now the worker keeps a
    delivered value, as datasets.apply_derivations does for batches."""
    w = worker(ledger_url)
    ok = parse_event(json.dumps({"credit_code": HEFEI, "tag": "enterprise_size", "value": "中型",
                                 "as_of": "2026-06-01", "source": "stats"}), D)
    stats = WorkerStats()
    with w.sf.begin() as s:
        w.apply(s, ok, dt.datetime.now(), stats)
        for tag, value in (("employees", "3"), ("revenue[2025]", "10")):  # inputs of a 微型 derivation
            w.apply(s, parse_event(json.dumps({"credit_code": HEFEI, "tag": tag, "value": value,
                                               "as_of": "2026-06-02", "source": "stats" if tag == "employees"
                                               else "tax"}), D), dt.datetime.now(), stats)
    assert w.profile(HEFEI)["enterprise_size"] == "中型"
    other = F[F.credit_code != HEFEI].credit_code.iloc[0]
    with w.sf.begin() as s:
        w.apply(s, parse_event(json.dumps({"credit_code": other, "tag": "employees", "value": "3",
                                           "as_of": "2026-06-02", "source": "stats"}), D), dt.datetime.now(), stats)
    assert w.profile(other)["enterprise_size"] in ("微型", "小型", None)  # not delivered: derived as before


# ------------------------------------------------------------------ the worker decides as the batch does

GROUP_TAGS = ["is_little_giant", "little_giant_date", "is_srdi_provincial", "srdi_provincial_date",
              "invention_patents"]


def _group_library() -> list:
    """Three 免申即享 policies in one 就高不重复 group, one of them with an amount that varies."""
    import dataclasses

    from rules_engine import ir

    shengji = LIB.get("zhuanjing-shengji")
    per_patent = dataclasses.replace(
        shengji, id="zhuanjing-zhuanli", title="专精特新发明专利奖励（测试）",
        benefit=ir.PerUnit(ir.Tag("invention_patents", D["invention_patents"].type), Decimal(150000)),
        exclusive=ir.Exclusive("专精特新认定奖励", 3))
    return [LIB.get("xiaojuren"), shengji, per_patent]


def _final_and_events(data: Any, codes: list[str]) -> tuple[pd.DataFrame, list[dict]]:
    base = F[F.credit_code.isin(codes)].copy().reset_index(drop=True)
    for t in GROUP_TAGS:
        base[t] = None
    base = frame.to_frame([frame.row_of(base, i, D) for i in range(len(base))], D, columns=list(base.columns))
    final = base.copy()
    events = []
    for code in codes:
        for t in GROUP_TAGS:
            if t.endswith("_date"):
                v = data.draw(st.sampled_from([dt.date(2025, 7, 1), dt.date(2025, 6, 30), dt.date(2026, 6, 30)]))
            elif t == "invention_patents":
                v = data.draw(st.sampled_from([0, 2, 5, 7, 10]))
            else:
                v = data.draw(st.booleans())
            events.append({"credit_code": code, "tag": t, "value": v if not isinstance(v, dt.date) else v.isoformat(),
                           "as_of": "2026-06-29", "source": "economy" if t != "invention_patents" else "science"})
            i = final.index[final.credit_code == code][0]
            final.loc[i, t] = (pd.Timestamp(v) if isinstance(v, dt.date) else v)
    order = data.draw(st.permutations(range(len(events))))
    return base, final, [events[i] for i in order]


def test_any_order_of_new_data_through_the_worker_ends_as_one_batch_over_the_final_data(tmp_path: Path) -> None:
    """Was: the worker settled 就高不重复 first come (the first eligible member of a group got
    the award), the batch by the highest amount. Now both call allocation.allocate, and an
    unpublished candidate is superseded by a higher award of its group. Each tag arrives once
    (data is delivered, not revised: see the issue note); budgets aside (the worker defers them)."""
    from hypothesis import HealthCheck, given, settings

    policies = _group_library()
    pool = F[(F.serious_dishonest == False) & (F.safety_blacklist == False)  # noqa: E712
             & F.enterprise_size.isin(["中型", "小型", "微型"])].credit_code.tolist()[:3]
    runs = iter(range(10**6))

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                     HealthCheck.too_slow])
    @given(data=st.data())
    def check(data: Any) -> None:
        n = next(runs)
        base, final, events = _final_and_events(data, pool)
        w = Worker(open_ledger(f"sqlite:///{tmp_path / f'w{n}.db'}")[1], D, policies, base, AS_OF)
        path = tmp_path / f"events{n}.jsonl"
        path.write_text("\n".join(json.dumps(e) for e in events) + "\n", encoding="utf-8")
        stats = w.run(FileSource(path))
        assert stats.dead == 0
        sf = open_ledger(f"sqlite:///{tmp_path / f'b{n}.db'}")[1]
        run_batch(sf, final, policies, AS_OF, "张三", D)

        def active(sf: Any) -> set[tuple[str, str, int]]:
            with sf() as s:
                return {(p.policy_id, p.credit_code, p.amount_fen) for p in s.scalars(
                    select(Payout).where(Payout.status.in_(lifecycle.ACTIVE)))}

        assert active(w.sf) == active(sf), events

    check()
