"""兑现批次: run a batch, review candidates, 公示, approve, payment file, ledger, audit verification.
Auditors see the ledger and the audit verification, read-only. Every operation is a call to the
service layer, the same function the CLI and the API call."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from rules_engine import ir, service
from rules_engine.data.datasets import mask_text
from rules_engine.errors import EngineError
from rules_engine.service import clock
from rules_engine.service.ledger import batch_kind, batch_runs
from ui import common


def _run_batch() -> str:
    cd = common.data()
    lib = common.current_library()
    with st.spinner(f"正在匹配 {len(cd.dataset.frame)} 家企业 × {len(lib.active())} 项政策并分配预算…"):
        r = service.run_batch(common.ledger(), common.actor(), cd.dataset, lib.policies, cd.as_of,
                              common.dictionary())
    skipped = "，".join(f"{k} {v}" for k, v in r.skipped.items()) or "无"
    return f"批次 {r.batch_id} 完成：新增待公示 {r.created} 笔，合计 {common.yuan(r.created_fen)}；未生成：{skipped}"


def _act(label: str, do) -> None:  # type: ignore[no-untyped-def]
    """Run one service call; its domain error becomes a message, never a traceback."""
    try:
        st.session_state["batch_msg"] = do()
    except EngineError as exc:
        st.session_state["batch_err"] = f"{label}未执行：{exc}"


def _ledger_frame(status: list[str], policy: str, region: str) -> pd.DataFrame:
    rows = service.list_payouts(common.ledger(), common.actor(),
                                service.PayoutFilter(tuple(status), policy or None, region or None))
    return pd.DataFrame([{
        "编号": p.reference, "政策": p.title or p.policy_id, "版本": p.policy_version,
        "统一社会信用代码": p.credit_code, "企业名称": p.enterprise_name,
        "地区": common.region_names().get(p.region or "", p.region or ""),
        "金额（元）": common.amount(p.amount_fen), "状态": common.PAYOUT_ZH.get(p.status, p.status),
        "银行账号": mask_text(p.bank_account) if p.bank_account else "",
        "公示期": f"{p.notice_start} 至 {p.notice_end}" if p.notice_start else "", "批次": p.batch_id,
    } for p in rows])


def render() -> None:
    me = common.actor()
    official = me.role == "official"
    sf = common.ledger()
    st.header("兑现批次")
    if msg := st.session_state.pop("batch_msg", None):
        st.success(msg)
    if msg := st.session_state.pop("batch_err", None):
        st.error(msg)
    counts = service.status_counts(sf, me)
    runs = batch_runs(sf, me, 10)
    cols = st.columns(len(common.PAYOUT_ZH))
    for col, (k, zh) in zip(cols, common.PAYOUT_ZH.items()):
        col.metric(zh, counts.get(k, 0))
    if official:
        today = clock.today()
        st.subheader("1. 运行批次")
        cd = common.data()
        st.caption(f"数据：{cd.label}（评估日期 {cd.as_of}）；同一政策、企业、期间只会生成一次，重复运行不会重复兑现。")
        if st.button("开始批次", type="primary"):
            _act("批次", _run_batch)
            st.rerun()
        st.subheader("2. 审核与公示")
        start = st.date_input("公示开始日期（不早于今天）", today, min_value=today, key=f"notice_start_{today}")
        a, b = st.columns(2)
        if a.button(f"全部待公示（{counts.get('candidate', 0)} 笔）列入公示", disabled=not counts.get("candidate")):
            def publish() -> str:
                n, first, last = service.publish_candidates(sf, me, start=start)
                return f"列入公示 {n} 笔，公示期 {first} 至 {last}"
            with st.spinner("正在列入公示…"):
                _act("列入公示", publish)
            st.rerun()
        with b:
            if st.button("生成公示名单"):
                _act("生成公示名单", lambda: _keep("notice", "公示名单.xlsx", *service.export_notice(sf, me)))
                st.rerun()
            _offer("notice")
        st.subheader("3. 审批与支付")
        plan = service.approval_schedule(sf, me)
        st.caption(f"今天是 {today}（以服务器时间为准）：只审批公示期已满的记录。")
        for end, n in sorted(plan.waiting.items()):
            st.caption(f"公示中 {n} 笔：公示期至 {end}，{end + dt.timedelta(days=1)} 起可审批")
        c, d = st.columns(2)
        label = (f"审批通过公示期满的 {plan.due} 笔" if plan.due else
                 f"暂无可审批的记录（{plan.opens} 起可审批）" if plan.opens else "暂无可审批的记录")
        if c.button(label, disabled=not plan.due, key="approve_due"):
            with st.spinner("正在审批…"):
                _act("审批", lambda: f"审批通过 {service.approve_due(sf, me)} 笔")
            st.rerun()
        with d:
            if st.button("生成支付文件"):
                def pay() -> str:
                    issued = service.export_payment_file(sf, me, "xlsx")
                    f = issued.file
                    note = (f"支付文件 {f.reference}：{f.count} 笔，合计 {common.yuan(f.total_fen)}，内容哈希 {f.sha256[:16]}…"
                            + (f"；{len(issued.missing_account)} 笔缺少银行账号未列入" if issued.missing_account else ""))
                    return _keep("payment", f.name, f.content, f.count, note)
                _act("生成支付文件", pay)
                st.rerun()
            _offer("payment")
    st.subheader("兑现台账")
    f1, f2, f3 = st.columns(3)
    status = f1.multiselect("状态", list(common.PAYOUT_ZH), format_func=lambda k: common.PAYOUT_ZH[k], key="lg_status",
                            placeholder="全部状态")
    titles = {p.id: p.title for p in common.current_library().policies}
    policy = f2.selectbox("政策", [""] + list(titles), key="lg_policy", format_func=lambda i: titles.get(i, "全部"))
    regions = common.region_names()
    region = f3.selectbox("地区", [""] + sorted(regions), key="lg_region",
                          format_func=lambda c: regions.get(c, "全部") if c else "全部")
    df = _ledger_frame(status, policy, ir.region_prefix(region) if region else "")
    st.caption(f"{len(df)} 笔（最多显示 5000 笔）")
    labels = {r: f"{r} {t} {n or c} {a} 元" for r, t, n, c, a in zip(
        df.get("编号", []), df.get("政策", []), df.get("企业名称", []), df.get("统一社会信用代码", []),
        df.get("金额（元）", []))}
    common.payouts_with_explanation(df, labels, "ledger_pick")
    st.subheader("审计核验")
    # a callback, not the button's own value: the value lives for one run only, and a click that
    # lands while the page is still rerunning (after a download) was lost with that run
    st.button("核验审计链", on_click=lambda: st.session_state.update(verify_audit=True))
    if st.session_state.pop("verify_audit", False):
        r = service.verify_audit(sf, me)
        if r.problems:
            st.error(f"发现 {len(r.problems)} 处问题：")
            for p in r.problems[:200]:
                st.code(p, language=None)
        else:
            st.success(f"审计日志完整：{r.entries} 条记录逐条核验通过，签名锚点 {r.checkpoints} 个，兑现台账与日志一致")
        for note in r.notes:
            st.info(note)
    _audit_log()
    if runs:
        st.subheader("批次记录")
        common.show_frame(pd.DataFrame([{
            "批次": r.id, "开始": r.started_at.strftime("%Y-%m-%d %H:%M"), "操作人": r.started_by,
            "评估日期": r.as_of, "状态": {"completed": "已完成", "running": "运行中"}.get(r.status, r.status),
            "方式": batch_kind(r.summary),
            "新增": (r.summary or {}).get("created", 0),
            "金额（元）": common.amount((r.summary or {}).get("created_fen", 0))} for r in runs]))


def _keep(key: str, name: str, data: bytes, n: int, note: str | None = None) -> str:
    st.session_state[f"file_{key}"] = (name, data)
    return note or f"{name}：{n} 笔，已生成，可下载"


def _offer(key: str) -> None:
    if f"file_{key}" in st.session_state:
        name, data = st.session_state[f"file_{key}"]
        common.offer_download(f"下载 {name}", name, data, key)


def _audit_log() -> None:
    """The audit log itself, for auditors (and officials): filters, each entry's details and its
    verification, Excel export."""
    from rules_engine.data.exporting import table_bytes
    from rules_engine.service.ledger import ACTION_ZH, audit_days, audit_entries

    st.subheader("审计日志")
    a, b, c, d, e = st.columns(5)
    who = a.text_input("操作人", key="al_who")
    action = b.selectbox("动作", [""] + list(ACTION_ZH), format_func=lambda k: ACTION_ZH.get(k, "全部"), key="al_action")
    subject = c.text_input("政策、企业或兑现编号", key="al_subject")
    first, last = audit_days(common.ledger(), common.actor()) or (clock.today(), clock.today())
    since = d.date_input("起始日期", first, key="al_since")
    until = e.date_input("截止日期", max(last, clock.today()), key="al_until")
    titles = {p.id: p.title for p in common.current_library().policies}
    df = audit_entries(common.ledger(), common.actor(), who, action, subject, since, until, titles=titles)
    bad = int((df["核验"] != "通过").sum())
    st.caption(f"{len(df)} 条（最多显示 5000 条）" + (f"；其中 {bad} 条核验未通过" if bad else "；逐条核验通过"))
    common.show_frame(df)
    if len(df):
        common.offer_download("导出审计日志（Excel）", "审计日志.xlsx", table_bytes(df, "xlsx"), "audit_log")
