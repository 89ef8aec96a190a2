"""政策计算器 / 政策体检: what one enterprise meets, how much, what data is missing, what it nearly meets."""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

import pandas as pd
import streamlit as st

from rules_engine import service
from rules_engine.data.codes import code_children, code_name
from rules_engine.data.exporting import table_bytes
from rules_engine.data.frame import KEY
from rules_engine.data.values import coerce
from rules_engine.errors import EngineError
from rules_engine.explain import CheckUp, Explanation, Provenance, check_up
from rules_engine.ir import Kind
from rules_engine.periods import containing, slot
from rules_engine.service.enterprise import check_enterprise
from ui import common
from ui.views import tasks

UNKNOWN = "（未知）"


def _search(query: str) -> pd.DataFrame:
    f = common.data().dataset.frame
    q = query.strip()
    if not q:
        return f.iloc[0:0]
    hit = f[KEY].astype(str).str.startswith(q.upper()) | f["name"].astype(str).str.contains(q, regex=False)
    return f.loc[hit, [KEY, "name"]].head(20)


def _code_cascade(tag: str, label: str, hierarchy: str) -> str | None:
    """Cascading choices of a region (市 → 区县) or industry (门类 → 大类 → 中类) code from
    enterprises/regions.csv and industries.csv, by name; the deepest level chosen is the value."""
    children = code_children(hierarchy)
    top = children.get("", ())
    # one province: start at its cities
    options: tuple[str, ...] = children.get(top[0], ()) if len(top) == 1 else top
    levels = ("市", "区县") if hierarchy == "region" else ("门类", "大类", "中类")
    cols = st.columns(len(levels))
    chosen: str | None = None
    for depth, level in enumerate(levels):
        if not options:
            break
        first = UNKNOWN if depth == 0 else "（不再细分）"

        def shown(c: str, first: str = first) -> str:
            return c if c == first else f"{code_name(c, hierarchy)}（{c}）"

        with cols[depth]:
            pick = st.selectbox(f"{label}：{level}", [first, *options], key=f"f_{tag}_{depth}", format_func=shown)
        if pick is None or pick == first:
            break
        chosen = str(pick)
        options = children.get(chosen, ())
    return chosen


FORM_PERIODS = {"year": 3, "quarter": 4, "month": 3}  # how many complete periods before the date to ask for


def _form_row(as_of: dt.date) -> dict[str, Any] | None:
    """A profile typed in by hand, one input per tag of the dictionary, grouped by department; a
    periodic tag asks for each of its last complete periods (2025年度营业收入, 2024年度营业收入...)."""
    d = common.dictionary()
    raw: dict[str, Any] = {}
    # codes are chosen level by level, outside the form: a form does not rerun when a choice
    # changes, and the next level's options depend on it
    codes = {t.key: _code_cascade(t.key, t.label, t.type.hierarchy) for t in d
             if t.kind is Kind.CODE and not t.derived and not t.personal}
    with st.form("profile_form"):
        st.caption("留空表示未知：未知不等于“否”，结果会列出缺少哪些数据。")
        by_source: dict[str, list[Any]] = {}
        for t in d:
            if t.key == KEY or t.derived or t.personal or t.key in codes:
                continue
            here = containing(t.period, as_of) if t.periodic else None
            for k in range(1, FORM_PERIODS.get(t.period.value, 0) + 1) if here else (0,):
                by_source.setdefault(d.sources[t.source].label, []).append(
                    d[slot(t.key, here.shift(-k))] if here else t)
        for source, tags in by_source.items():
            with st.expander(source, expanded=source == next(iter(by_source))):
                cols = st.columns(3)
                for i, t in enumerate(tags):
                    label = f"{t.label}" + (f"（{t.type.unit}）" if t.type.unit else "")
                    with cols[i % 3]:
                        if t.kind is Kind.BOOL:
                            raw[t.key] = st.selectbox(label, [UNKNOWN, "是", "否"], key=f"f_{t.key}")
                        elif t.kind is Kind.CATEGORY:
                            raw[t.key] = st.selectbox(label, [UNKNOWN, *t.type.values], key=f"f_{t.key}")
                        else:
                            hint = "年-月-日，如 2026-06-30" if t.kind is Kind.DATE else ""
                            raw[t.key] = st.text_input(label, key=f"f_{t.key}", placeholder=hint)
        submitted = st.form_submit_button("计算", type="primary")
    if not submitted:
        return st.session_state.get("form_row")
    row: dict[str, Any] = {k: coerce(d[k].type, v) for k, v in codes.items() if v}
    problems = []
    for key, value in raw.items():
        if value in (UNKNOWN, "", None):
            continue
        t = d[key]
        if t.kind is Kind.BOOL:
            row[key] = value == "是"
            continue
        try:
            row[key] = coerce(t.type, value)
        except (EngineError, ValueError) as exc:
            problems.append(f"{t.label}：{exc}")
    if problems:
        st.error("以下填写有误：\n\n" + "\n".join(f"- {p}" for p in problems))
        return None
    st.session_state["form_row"] = row
    return row


def report_tables(cu: CheckUp) -> dict[str, pd.DataFrame]:
    def basis(e: Explanation) -> str:
        return f"{e.policy.basis.document}（{e.policy.basis.number}）{e.policy.basis.article}"

    return {
        "符合": pd.DataFrame([{"政策": e.policy.title, "金额（元）": common.amount(e.decision.amount_fen),
                             "主管部门": e.policy.department, "依据": basis(e)} for e in cu.eligible],
                           columns=["政策", "金额（元）", "主管部门", "依据"]),
        "待补充数据": pd.DataFrame([{"政策": e.policy.title, "缺少的数据": "、".join(
            sorted({m for c in e.conditions for m in c.missing})) or "金额所需数据", "主管部门": e.policy.department}
            for e in cu.undetermined], columns=["政策", "缺少的数据", "主管部门"]),
        "差一项": pd.DataFrame([{"政策": nm.policy.title, "未满足的条件": nm.condition.label or nm.condition.zh,
                               "差距": nm.condition.gap, "满足后可得（元）": common.amount(nm.potential_fen)}
                              for nm in cu.near_misses], columns=["政策", "未满足的条件", "差距", "满足后可得（元）"]),
    }


def excel_report(title: str, cu: CheckUp) -> bytes:
    """Text cells neutralised against formula injection (the name comes from department data)."""
    summary = pd.DataFrame([{"企业": title, "评估日期": cu.as_of.isoformat(), "符合政策数": len(cu.eligible),
                             "合计金额（元）": common.amount(cu.total_fen),
                             "预计可兑现（元）": common.amount(cu.payable_fen)}])

    def numeric(df: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
        """Money columns as exact numbers (the 1,234.56 text less its commas), so SUM works."""
        money = [c for c in df.columns if str(c).endswith("（元）")]
        return df.assign(**{c: [v.replace(",", "") for v in df[c]] for c in money}), money

    main, money = numeric(summary)
    return table_bytes(main, "xlsx", money, sheets={name: numeric(df) for name, df in report_tables(cu).items()},
                       main_sheet="概要")


def html_report(title: str, cu: CheckUp) -> bytes:
    parts = ["<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'><title>政策体检报告</title>"
             "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1.5em}"
             "td,th{border:1px solid #999;padding:4px 8px}</style></head><body>",
             f"<h1>政策体检报告</h1><p>{html.escape(title)}　评估日期 {cu.as_of.isoformat()}</p>",
             f"<p>符合 {len(cu.eligible)} 项政策，合计 {html.escape(common.yuan(cu.total_fen))}；"
             f"待补充数据 {len(cu.undetermined)} 项；差一项即可满足 {len(cu.near_misses)} 项。</p>"]
    for name, df in report_tables(cu).items():
        parts.append(f"<h2>{html.escape(name)}</h2>" + (df.to_html(index=False, escape=True) if len(df) else "<p>无</p>"))
    parts.append("<p>本报告由免申即享政策计算器生成，金额以主管部门审核兑现为准。</p></body></html>")
    return "".join(parts).encode("utf-8")


def _own_payouts(code: str) -> None:
    rows = service.list_payouts(common.ledger(), common.actor(), service.PayoutFilter(credit_code=code))
    data = [{"政策": p.title or p.policy_id, "金额（元）": common.amount(p.amount_fen),
             "状态": common.PAYOUT_ZH.get(p.status, p.status),
             "公示期": f"{p.notice_start} 至 {p.notice_end}" if p.notice_start else ""} for p in rows]
    st.subheader("兑现记录", anchor="duixian")
    if data:
        common.payouts_with_explanation(pd.DataFrame(data), {
            p.reference: f"{p.reference} {p.title or p.policy_id} {common.yuan(p.amount_fen)}"
            for p in rows}, "own_payout")
    else:
        st.caption("暂无兑现记录。")


SECTIONS = (("消息提醒", "xiaoxi"), ("体检结果", "tijian"), ("政策详情", "xiangqing"), ("兑现记录", "duixian"),
            ("我的办理事项", "banli"))


def _portal_head(code: str) -> None:
    """What portals put above a long enterprise page: links to its sections, the three ways a
    benefit is delivered, and what changed (new invitations, notices, payments, answers)."""
    from rules_engine.service import portal

    st.markdown("　".join(f"[{name}](#{anchor})" for name, anchor in SECTIONS))
    with st.expander("三种兑现方式"):
        for name, text in portal.TIERS_ZH:
            st.markdown(f"**{name}**：{text}")
    st.subheader("消息提醒", anchor="xiaoxi")
    news = portal.notices(common.platform(), common.actor(), code, limit=8)
    if not news:
        st.caption("暂无新消息。")
    for n in news:
        st.markdown(f"`{n.kind}` {n.at:%Y-%m-%d}　{common.md(n.text)}")


def render() -> None:
    me = common.user()
    cd = common.data()
    lib = common.current_library()
    st.header("政策计算器 / 政策体检")
    if me.role == "enterprise":
        _portal_head(me.credit_code or "")
    mode = st.radio("数据来源", ["按企业档案（一企一档）", "填写表单（模拟测算）"], horizontal=True, key="calc_mode")
    row: dict[str, Any] | None
    prov: dict[str, Provenance] = {}
    if mode.startswith("按企业档案"):
        if me.role == "enterprise":
            code = me.credit_code or ""  # an enterprise account sees its own archive only, whatever the URL
        else:
            query = st.text_input("统一社会信用代码或企业名称", key="calc_query",
                                  value=st.query_params.get("code", ""))
            found = _search(query)
            if found.empty:
                st.info("输入信用代码或名称查找企业。" if not query else "没有找到匹配的企业。")
                return
            options = found[KEY].astype(str).tolist()
            names = dict(zip(options, found["name"].astype(str)))
            code = st.selectbox("企业", options, format_func=lambda c: f"{names[c]}（{c}）", key="calc_code")
        try:
            cu = check_enterprise(common.platform(), common.actor(), code)  # archive + verified supplied values
        except EngineError as exc:
            st.error(str(exc))
            return
        name = common.data().dataset.frame["name"].iloc[common.data().dataset.index_of(code)]
        title = f"{name if isinstance(name, str) else ''}（{code}）"
        row = None
    else:
        row = _form_row(cd.as_of)
        title = "模拟测算（表单填写）"
        code = ""
        if row is None:
            return
    if row is not None:
        cu = check_up(lib.active(), row, cd.as_of, common.dictionary(), prov)
    st.subheader(common.md(title), anchor="tijian")
    st.caption(f"评估日期 {cd.as_of.isoformat()}；数据：{cd.label}")
    a, b, c, d_ = st.columns(4)
    a.metric("符合政策", f"{len(cu.eligible)} 项")
    counted, apart = cu.payable()
    b.metric("预计可兑现", common.yuan(cu.payable_fen))
    c.metric("待补充数据", f"{len(cu.undetermined)} 项")
    d_.metric("差一项即可满足", f"{len(cu.near_misses)} 项")
    if apart:  # eligible, but not counted above: each with why (the total once counted them)
        st.caption(f"另有 {len(apart)} 项符合但不计入预计可兑现（合计 {common.yuan(sum(e.decision.amount_fen for e, _ in apart))}）："
                   + "；".join(f"《{common.md(e.policy.title)}》{common.yuan(e.decision.amount_fen)}，{why}" for e, why in apart))
    tables = report_tables(cu)
    if code and len(tables["符合"]):
        from rules_engine.service.tiers import delivery_status

        why = delivery_status(common.platform(), common.actor(), code, [e.policy for e in cu.eligible])
        tables["符合"] = tables["符合"].assign(兑现情况=[why[e.policy.id] for e in cu.eligible])
    for name, df in tables.items():
        st.markdown(f"#### {name}")
        if len(df):
            common.show_frame(df)
        else:
            st.caption("无")
    explained = cu.eligible + cu.undetermined + [e for e in cu.not_eligible
                                                   if any(nm.policy.id == e.policy.id for nm in cu.near_misses)]
    if explained:
        st.subheader("政策详情与依据", anchor="xiangqing")
        ids = [e.policy.id for e in explained]
        titles = {e.policy.id: f"{e.policy.title}（{common.STATUS_ZH[e.status.label]}）" for e in explained}
        pick = st.selectbox("查看政策", ids, format_func=lambda i: titles[i], key="calc_detail")
        common.explanation_block(next(e for e in explained if e.policy.id == pick))
    stamp = dt.date.today().strftime("%Y%m%d")
    x, y = st.columns(2)
    with x:
        common.offer_download("下载报告（Excel）", f"政策体检_{code or '模拟'}_{stamp}.xlsx", excel_report(title, cu),
                              "report_xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    with y:
        common.offer_download("下载报告（HTML）", f"政策体检_{code or '模拟'}_{stamp}.html", html_report(title, cu),
                              "report_html", "text/html")
    if code:
        _own_payouts(code)
        if me.role == "enterprise":
            tasks.render(code, cu)
