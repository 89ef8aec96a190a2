"""财务支付: the finance office's page. Payment files for approved payouts, the bank's result
file imported (bound to the file it answers, idempotent), failed payouts with the bank's reason
and a retry, and the approved payouts no payment file can carry (no bank account on file)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from rules_engine import service
from rules_engine.service.ledger import payment_issues
from ui import common

MAX_RESULT_MB = 10


def render() -> None:
    me, sf = common.actor(), common.ledger()
    st.header("财务支付")
    common.messages("fin")
    counts = service.status_counts(sf, me)
    issues = payment_issues(sf, me)
    failed = [i for i in issues if i.status == "failed"]
    no_account = [i for i in issues if i.status == "approved"]
    a, b, c, d = st.columns(4)
    a.metric("已审批待支付", counts.get("approved", 0))
    b.metric("支付失败", len(failed))
    c.metric("缺少银行账号", len(no_account))
    d.metric("已支付", counts.get("paid", 0))

    st.subheader("1. 支付文件")
    st.caption("支付文件列出已审批且有备案账户的兑现记录；文件先登记哈希与明细再写出，同一笔不会进入两个未回单的文件。")
    if st.button("生成支付文件", key="fin_pay", disabled=not counts.get("approved")):
        def pay() -> str:
            issued = service.export_payment_file(sf, me, "xlsx")
            f = issued.file
            st.session_state["file_fin_payment"] = (f.name, f.content)
            return (f"支付文件 {f.reference}：{f.count} 笔，合计 {common.yuan(f.total_fen)}"
                    + (f"；{len(issued.missing_account)} 笔缺少银行账号未列入" if issued.missing_account else ""))
        common.act("fin", "生成支付文件", pay)
    if held := st.session_state.get("file_fin_payment"):
        common.offer_download(f"下载 {held[0]}", held[0], held[1], "fin_payment")

    st.subheader("2. 导入银行回单")
    st.caption("回单的每一行须对应已生成支付文件中尚未回单的一行；重复导入同一回单不会重复记账，对不上的行逐行报告。")
    n = st.session_state.get("fin_imports", 0)  # a new uploader after each import: the file is not sent twice
    up = st.file_uploader("银行回单（CSV 或 Excel）", type=["csv", "xlsx"], key=f"fin_result_{n}",
                          max_upload_size=MAX_RESULT_MB)
    if st.button("导入回单", key="fin_import", disabled=up is None, type="primary"):
        assert up is not None
        data = up.getvalue()

        def load() -> str:
            r = service.import_bank_results(sf, me, data)
            st.session_state["fin_imports"] = n + 1
            head = f"回单已导入：支付成功 {r.paid} 笔，支付失败 {r.failed} 笔，未变化 {r.unchanged} 笔"
            if r.problems:
                st.session_state["fin_problems"] = r.problems[:200]
                head += f"；{len(r.problems)} 行未采用（见下）"
            return head
        common.act("fin", "导入回单", load)
    for p in st.session_state.pop("fin_problems", []):
        st.code(str(p), language=None)

    st.subheader("3. 支付失败")
    if not failed:
        st.caption("没有支付失败的记录。")
    else:
        common.show_frame(common.masked_frame(pd.DataFrame([{
            "编号": i.reference, "企业名称": i.enterprise_name, "统一社会信用代码": i.credit_code, "政策": i.title,
            "金额（元）": common.amount(i.amount_fen), "银行的失败原因": i.reason, "支付文件": i.payment_file or "",
            "回单时间": i.since.strftime("%Y-%m-%d %H:%M")} for i in failed])))
        pick = st.selectbox("重新支付", [i.reference for i in failed], key="fin_retry_pick",
                            format_func=lambda r: next(f"{i.reference} {i.enterprise_name} {common.yuan(i.amount_fen)}"
                                                       for i in failed if i.reference == r))
        why = st.text_input("理由（如：企业已更正账户）", key="fin_retry_why", max_chars=200)
        if st.button("重新发起支付", key="fin_retry", disabled=not why.strip()):
            common.act("fin", "重新发起支付", lambda: (service.retry(sf, me, pick, why.strip()),
                                      f"{pick} 已重新进入待支付，将列入下一份支付文件")[1])

    st.subheader("4. 缺少银行账号")
    if not no_account:
        st.caption("已审批的记录都有备案账户。")
    else:
        st.caption(f"{len(no_account)} 笔已审批但没有备案的对公账户，不会进入支付文件；请通知企业补充账户（数据页核验后生效）。")
        common.show_frame(pd.DataFrame([{
            "编号": i.reference, "企业名称": i.enterprise_name, "统一社会信用代码": i.credit_code, "政策": i.title,
            "金额（元）": common.amount(i.amount_fen), "审批时间": i.since.strftime("%Y-%m-%d %H:%M")}
            for i in no_account]))
