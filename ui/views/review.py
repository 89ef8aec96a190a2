"""受理审核 (officials): applications to review, supplied data to verify, objections to answer,
conflicts between self-declared and department data, and the data requests that would unlock
the most pending benefit. Auditors see the same lists, read-only."""

from __future__ import annotations

from collections.abc import Sized

import pandas as pd
import streamlit as st

from rules_engine.data.exporting import table_bytes
from rules_engine.errors import EngineError
from rules_engine.service import tiers
from ui import common


def _do(label: str, action) -> None:  # type: ignore[no-untyped-def]
    try:
        st.session_state["review_msg"] = action()
    except EngineError as exc:
        st.session_state["review_err"] = f"{label}未完成：{exc}"
    st.rerun()


def _attachments(p, me, kind: str, owner: int) -> None:  # type: ignore[no-untyped-def]
    for aid, name, size in tiers.attachments_of(p, me, kind, owner):
        a = tiers.attachment(p, me, aid)
        common.offer_download(f"{name}（{size // 1024 + 1} KB）", name, a.content, f"att_{aid}")


def render() -> None:
    p = common.platform()
    me = common.actor()
    can_act = me.role == "official"
    st.header("受理审核")
    if msg := st.session_state.pop("review_msg", None):
        st.success(msg)
    if msg := st.session_state.pop("review_err", None):
        st.error(msg)
    d = common.dictionary()
    titles = {x.id: x.title for x in p.library.policies}
    all_apps = tiers.applications(p, me, status="submitted")
    all_sup = tiers.supplied(p, me, status="submitted")
    all_objs = [o for o in tiers.objections(p, me) if o.status == "open"]
    q_col, p_col = st.columns([3, 2])
    query = q_col.text_input("查找：企业名称、统一社会信用代码、政策名称或编号", key="review_q").strip()
    in_queue = sorted({a.policy_id for a in all_apps}, key=lambda i: titles.get(i, i))
    policy = p_col.selectbox("申报的政策", ["", *in_queue], key="review_policy",
                             format_func=lambda i: titles.get(i, i) if i else "全部政策")

    def hit(*texts: str) -> bool:
        return not query or any(query.upper() in t.upper() for t in texts if t)

    apps = [a for a in all_apps if (not policy or a.policy_id == policy)
            and hit(a.reference, a.credit_code, common.enterprise_name(a.credit_code), titles.get(a.policy_id, ""))]
    sup = [v for v in all_sup if not policy and hit(v.reference, v.credit_code, common.enterprise_name(v.credit_code),
                                                    d[v.tag].label if v.tag in d else v.tag)]
    objs = [o for o in all_objs if not policy and hit(o.credit_code, common.enterprise_name(o.credit_code), o.subject,
                                                      o.text)]

    def count(shown: Sized, total: Sized) -> str:
        return f"{len(shown)}" if len(shown) == len(total) else f"{len(shown)}/{len(total)}"

    t1, t2, t3, t4, t5 = st.tabs([f"申报审核（{count(apps, all_apps)}）", f"补充数据核验（{count(sup, all_sup)}）",
                                  f"异议处理（{count(objs, all_objs)}）", "数据冲突", "缺数清单"])
    with t1:
        if not apps:
            st.caption("没有符合查找条件的申报。" if all_apps else "没有待审核的申报。")
        for a in apps:
            r = tiers.application_review(p, me, a)
            with st.expander(f"{a.reference}　{common.md(r.title)}　{common.md(r.enterprise)}（{a.credit_code}）",
                             expanded=len(apps) == 1):
                st.write(f"提交时间：{r.submitted_at:%Y-%m-%d %H:%M}　按档案与申报内容判定：{r.status_zh}"
                         + (f"，核定金额 {common.yuan(r.amount_fen)}" if r.amount_fen else "")
                         + (f"（未满足：{'、'.join(r.failed)}）" if r.failed else ""))
                st.write("申报说明：", a.statement)
                common.show_frame(pd.DataFrame([{"数据": label, "数值": value, "来源": source}
                                                for label, value, source in r.values]))
                _attachments(p, me, "application", a.id)
                if can_act:
                    reason = st.text_input("审核意见", key=f"ar_{a.id}")
                    x, y, z = st.columns(3)
                    for col, (label, decision) in zip((x, y, z), (("通过", "accept"), ("退回补正", "return"),
                                                                   ("不予通过", "reject"))):
                        if col.button(label, key=f"a_{decision}_{a.id}"):
                            _do(label, lambda a=a, dec=decision, lab=label, why=reason: (
                                tiers.review_application(p, me, a.reference, dec, why), f"{a.reference} {lab}")[1])
    with t2:
        if not sup:
            st.caption("没有符合查找条件的补充数据。" if all_sup else "没有待核验的补充数据。")
        for v in sup:
            label = d[v.tag].label if v.tag in d else v.tag
            with st.expander(f"{v.reference}　{common.md(common.enterprise_name(v.credit_code))}（{v.credit_code}）　"
                             f"{label} = {common.md(v.value)}", expanded=len(sup) == 1):
                st.write("说明：", v.statement)
                _attachments(p, me, "supplied", v.id)
                if can_act:
                    reason = st.text_input("核验意见", key=f"sr_{v.id}")
                    x, y = st.columns(2)
                    if x.button("核验通过", key=f"s_ok_{v.id}"):
                        def ok(v=v, why=reason) -> str:  # type: ignore[no-untyped-def]
                            r = tiers.verify_supplied(p, me, v.reference, True, why)
                            return f"{v.reference} 已核验；重新判定：{tiers.changes_zh(p, r)}"
                        _do("核验", ok)
                    if y.button("不予采信", key=f"s_no_{v.id}"):
                        _do("核验", lambda v=v, why=reason: (tiers.verify_supplied(p, me, v.reference, False, why),
                                               f"{v.reference} 不予采信")[1])
    with t3:
        if not objs:
            st.caption("没有符合查找条件的异议。" if all_objs else "没有待答复的异议。")
        for o in objs:
            with st.expander(f"{common.md(common.enterprise_name(o.credit_code))}（{o.credit_code}）　{common.md(o.subject)}",
                             expanded=len(objs) == 1):
                st.write(o.text)
                _attachments(p, me, "objection", o.id)
                if can_act:
                    answer = st.text_area("答复", key=f"oa_{o.id}")
                    if st.button("答复", key=f"ob_{o.id}"):
                        _do("答复", lambda o=o, ans=answer: (tiers.answer_objection(p, me, o.id, ans), "已答复")[1])
    with t4:
        found = tiers.conflicts(p, me)
        if found:
            common.show_frame(pd.DataFrame([{"统一社会信用代码": c.credit_code, "数据": d[c.tag].label,
                                             "企业自报（已核验）": c.supplied, "部门数据": c.delivered,
                                             "来源": c.source} for c in found]))
        else:
            st.caption("企业自报数据与部门数据没有冲突。")
    with t5:
        st.caption("各部门缺哪些数据会让最多的待兑现金额无法判定：据此发出数据共享需求。金额为估算。")
        req = tiers.data_requests(p, me)
        money = "可释放金额（估算，元）"
        common.show_frame(req.head(50).assign(**{money: [common.amount(int(v * 100)) for v in req[money].head(50)]}))
        common.offer_download("下载缺数清单（Excel）", "缺数清单.xlsx",
                              table_bytes(req, "xlsx", money=[money]), "requests")
