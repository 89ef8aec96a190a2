"""总览: totals paid and pending, by policy, region and month."""

from __future__ import annotations

from collections import Counter

import streamlit as st

from rules_engine.service import contracts
from rules_engine.service.ledger import overview_rows, timeliness
from ui import common

PENDING = ("candidate", "publicized", "approved", "failed")


def render() -> None:
    st.header("总览")
    df = overview_rows(common.ledger(), common.actor())
    if df.empty:
        st.info("台账中还没有兑现记录：请在“兑现批次”页面运行批次。")
        return
    df["类别"] = df["status"].map(lambda x: "已支付" if x == "paid" else ("待兑现" if x in PENDING else "其他"))
    paid, pending = df[df["类别"] == "已支付"], df[df["类别"] == "待兑现"]
    a, b = st.columns(2)  # two wide columns: a ten-digit amount is shown whole, not cut with …
    a.metric("已支付", common.yuan(int(paid["fen"].sum())))
    b.metric("待兑现（待公示、公示中、已审批）", common.yuan(int(pending["fen"].sum())))
    c, d = st.columns(2)
    c.metric("已支付笔数", f"{len(paid)}")
    d.metric("待兑现笔数", f"{len(pending)}")
    shown = df[df["类别"] != "其他"]
    names = common.region_names()
    st.subheader("按政策")
    common.amount_bars(shown.assign(名称=shown["title"].fillna(shown["policy"])), "名称", "政策", top=20)
    left, right = st.columns(2)
    with left:
        st.subheader("按地区")
        common.amount_bars(shown.assign(名称=[names.get(str(r), str(r) if r else "（未知）") for r in shown["region"]]), "名称",
             "地区（区县）", top=12)
    with right:
        st.subheader("按月份（已支付按支付月，待兑现按生成月）")
        common.amount_bars(shown.assign(名称=shown["month"]), "名称", "月份", top=24, chronological=True)

    claims = contracts.claims(common.ledger(), common.actor())
    if claims:
        st.subheader("合同履约追回")
        owed = [c for c in claims if c.status in ("open", "write_off_requested")]
        e, f = st.columns(2)
        e.metric("待追回", common.yuan(sum(c.amount_fen - c.settled_fen for c in owed)))
        f.metric("追回记录（待追回 / 全部）", f"{len(owed)} / {len(claims)}")
        st.caption("；".join(f"{contracts.CLAIM_ZH.get(k, k)} {n} 笔" for k, n in
                             sorted(Counter(c.status for c in claims).items())))

    st.subheader("兑现时限（工作日，按国家法定节假日与调休计算）")
    per, summary = timeliness(common.ledger(), common.actor(), common.current_library().policies)
    shown_summary = summary.copy()
    for col in [c for c in shown_summary.columns if c.endswith("金额（分）")]:
        shown_summary[col.replace("（分）", "（元）")] = [common.amount(int(v)) for v in shown_summary[col]]
        del shown_summary[col]
    common.show_frame(shown_summary.astype(object).where(shown_summary.notna(), "—"))
    late = per[per["超期"]]
    st.caption(f"超期未兑现 {len(late)} 笔")
    if len(late):
        common.show_frame(late.assign(**{"金额（元）": [common.amount(int(v)) for v in late["金额（分）"]]})
                          .drop(columns=["金额（分）", "超期", "已支付"]).head(500))
