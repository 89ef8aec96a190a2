"""兑现批次: run a batch, review candidates, 公示, approve, payment file, ledger, audit verification.
Auditors see the ledger and the audit verification, read-only."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st
from sqlalchemy import func, select

from rules_engine.datasets import mask_text
from rules_engine.errors import EngineError
from rules_engine.ledger import audit, exports, lifecycle
from rules_engine.ledger.batch import run_batch
from rules_engine.ledger.models import BatchRun, Payout
from ui import common


def _run_batch() -> None:
    me = common.user()
    cd = common.data()
    lib = common.current_library()
    bar = st.progress(0, text="准备数据与政策…")
    bar.progress(20, text=f"匹配 {len(cd.dataset.frame)} 家企业 × {len(lib.active())} 项政策，分配预算…")
    try:
        r = run_batch(common.ledger(), cd.dataset.frame, lib.policies, cd.as_of, me.username, common.dictionary())
    except EngineError as exc:
        bar.empty()
        st.error(f"批次未能运行：{exc}")
        return
    bar.progress(100, text="完成")
    skipped = "，".join(f"{k} {v}" for k, v in r.skipped.items()) or "无"
    st.session_state["batch_msg"] = (f"批次 {r.batch_id} 完成：新增待公示 {r.created} 笔，合计 "
                                     f"{common.yuan(r.created_fen)}；未生成：{skipped}")


def _download(label: str, build, name: str, key: str) -> None:  # type: ignore[no-untyped-def]
    """Build an export into a temporary file (the library writes files and audits them) and offer it."""
    if st.button(label, key=f"build_{key}"):
        with tempfile.TemporaryDirectory() as tmp, common.ledger().begin() as s:
            out = Path(tmp) / name
            result = build(s, out)
            st.session_state[f"file_{key}"] = (out.read_bytes(), result)
    if f"file_{key}" in st.session_state:
        data, result = st.session_state[f"file_{key}"]
        st.caption(result)
        st.download_button(f"下载 {name}", data, file_name=name, key=f"dl_{key}")


def _ledger_frame(status: list[str], policy: str, region: str) -> pd.DataFrame:
    with common.ledger()() as s:
        q = select(Payout).order_by(Payout.id)
        if status:
            q = q.where(Payout.status.in_(status))
        if policy:
            q = q.where(Payout.policy_id == policy)
        if region:
            q = q.where(Payout.region.startswith(region))
        rows = s.scalars(q.limit(5000)).all()
        return pd.DataFrame([{
            "编号": p.reference, "政策": (p.explanation or {}).get("title", p.policy_id), "版本": p.policy_version,
            "统一社会信用代码": p.credit_code, "企业名称": p.enterprise_name, "地区": p.region,
            "金额（元）": p.amount_fen / 100, "状态": common.PAYOUT_ZH.get(p.status, p.status),
            "银行账号": mask_text(p.bank_account) if p.bank_account else "",
            "公示期": f"{p.notice_start} 至 {p.notice_end}" if p.notice_start else "", "批次": p.batch_id,
        } for p in rows])


def _transition(status: str, action: str, on_date: dt.date) -> None:
    me = common.user()
    done, refused = 0, []
    with common.ledger().begin() as s:
        for p in s.scalars(select(Payout).where(Payout.status == status).order_by(Payout.id)):
            try:
                if action == "publish":
                    lifecycle.publish(s, p, me.username, on_date)
                else:
                    lifecycle.approve(s, p, me.username, on_date)
                done += 1
            except lifecycle.TransitionError as exc:
                refused.append(str(exc))
    st.session_state["batch_msg"] = f"{'列入公示' if action == 'publish' else '审批通过'} {done} 笔" + (
        f"；{len(refused)} 笔未处理（例：{refused[0]}）" if refused else "")


def render() -> None:
    me = common.user()
    official = me.role == "official"
    st.header("兑现批次")
    if msg := st.session_state.pop("batch_msg", None):
        st.success(msg)
    with common.ledger()() as s:
        counts = dict(s.execute(select(Payout.status, func.count()).group_by(Payout.status)).all())  # type: ignore[arg-type]
        runs = s.scalars(select(BatchRun).order_by(BatchRun.id.desc()).limit(10)).all()
        last_end = s.execute(select(func.max(Payout.notice_end)).where(Payout.status == "publicized")).scalar()
    cols = st.columns(len(common.PAYOUT_ZH))
    for col, (k, zh) in zip(cols, common.PAYOUT_ZH.items()):
        col.metric(zh, counts.get(k, 0))
    if official:
        st.subheader("1. 运行批次")
        cd = common.data()
        st.caption(f"数据：{cd.label}（评估日期 {cd.as_of}）；同一政策、企业、期间只会生成一次，重复运行不会重复兑现。")
        if st.button("开始批次", type="primary"):
            _run_batch()
            st.rerun()
        st.subheader("2. 审核与公示")
        start = st.date_input("公示开始日期", dt.date.today(), key="notice_start")
        a, b = st.columns(2)
        if a.button(f"全部待公示（{counts.get('candidate', 0)} 笔）列入公示", disabled=not counts.get("candidate")):
            _transition("candidate", "publish", start)
            st.rerun()
        with b:
            _download("生成公示名单", lambda s, out: f"公示名单 {exports.notice_list(s, out, me.username)} 笔",
                      "公示名单.xlsx", "notice")
        st.subheader("3. 审批与支付")
        day = st.date_input("审批日期（公示期满后）", (last_end + dt.timedelta(days=1)) if last_end else dt.date.today(),
                            key=f"approve_day_{last_end}")
        c, d = st.columns(2)
        if c.button(f"公示期满的（{counts.get('publicized', 0)} 笔）审批通过", disabled=not counts.get("publicized")):
            _transition("publicized", "approve", day)
            st.rerun()

        def pay(s, out):  # type: ignore[no-untyped-def]
            f = exports.payment_file(s, out, me.username)
            return f"支付文件 {f.count} 笔，合计 {common.yuan(f.total_fen)}，SHA-256 {f.sha256[:16]}…" + (
                f"；{len(f.missing_account)} 笔缺少银行账号未列入" if f.missing_account else "")
        with d:
            _download("生成支付文件", pay, "支付文件.xlsx", "payment")
    st.subheader("兑现台账")
    f1, f2, f3 = st.columns(3)
    status = f1.multiselect("状态", list(common.PAYOUT_ZH), format_func=lambda k: common.PAYOUT_ZH[k], key="lg_status")
    policy = f2.selectbox("政策", [""] + [p.id for p in common.current_library().policies], key="lg_policy",
                          format_func=lambda i: i or "全部")
    region = f3.text_input("地区代码前缀", key="lg_region")
    df = _ledger_frame(status, policy, region)
    st.caption(f"{len(df)} 笔（最多显示 5000 笔）")
    common.show_frame(df, height=320)
    st.subheader("审计核验")
    if st.button("核验审计链"):
        with common.ledger()() as s:
            n, breaks = audit.verify(s)
        if breaks:
            st.error(f"审计链有 {len(breaks)} 处异常：")
            for b_ in breaks:
                st.code(str(b_), language=None)
        else:
            st.success(f"审计链完整：{n} 条记录逐条核验通过")
    if runs:
        st.subheader("批次记录")
        common.show_frame(pd.DataFrame([{
            "批次": r.id, "开始": r.started_at.strftime("%Y-%m-%d %H:%M"), "操作人": r.started_by,
            "评估日期": r.as_of, "状态": r.status, "新增": (r.summary or {}).get("created", 0),
            "金额（元）": (r.summary or {}).get("created_fen", 0) / 100} for r in runs]))
