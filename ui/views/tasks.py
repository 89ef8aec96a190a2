"""The enterprise's own business under the calculator: invitations to confirm (即申即享), 申报
applications, missing data to supply (待补充数据), objections and ratings. Every action is a call
to the service layer; an enterprise account acts for itself only."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from rules_engine import ir
from rules_engine.errors import EngineError
from rules_engine.explain import CheckUp
from rules_engine.service import tiers
from ui import common


def _do(label: str, action) -> None:  # type: ignore[no-untyped-def]
    try:
        msg = action()
    except EngineError as exc:
        st.session_state["task_err"] = f"{label}未完成：{exc}"
    else:
        st.session_state["task_msg"] = msg
    st.rerun()


def _files(key: str) -> list[tuple[str, bytes]]:
    up = st.file_uploader("证明材料（PDF、图片、表格、文档或压缩包）", accept_multiple_files=True, key=key,
                          type=["pdf", "png", "jpg", "jpeg", "xlsx", "xls", "doc", "docx", "zip"],
                          max_upload_size=tiers.MAX_FILE // 1024 // 1024)  # the browser refuses what the service would
    return [(f.name, f.getvalue()) for f in up or []]


def render(code: str, cu: CheckUp) -> None:
    p = common.platform()
    me = common.actor()
    if msg := st.session_state.pop("task_msg", None):
        st.success(msg)
    if msg := st.session_state.pop("task_err", None):
        st.error(msg)
    st.subheader("我的办理事项", anchor="banli")
    invs = [i for i in tiers.invitations(p, me, code)]
    open_invs = [i for i in invs if i.status == "open"]
    st.markdown("**即申即享：待确认的政策**")
    if not open_invs:
        st.caption("暂无待确认的邀约。")
    for inv in open_invs:
        title = inv.explanation.get("title", inv.policy_id)
        with st.container(border=True):
            st.markdown(f"《{common.md(title)}》　可享 **{common.yuan(inv.amount_fen)}**　请于 {inv.expires_on} 前确认")
            st.caption("确认后进入公示，公示无异议即拨付至备案对公账户；放弃后本期不再邀约。")
            a, b = st.columns(2)
            if a.button("确认享受", key=f"confirm_{inv.id}", type="primary"):
                _do("确认享受", lambda inv=inv, t=title: (tiers.decide_invitation(p, me, inv.reference, True),
                                                     f"已确认享受《{t}》，进入公示流程")[1])
            if b.button("放弃", key=f"decline_{inv.id}"):
                _do("放弃", lambda inv=inv, t=title: (tiers.decide_invitation(p, me, inv.reference, False),
                                                  f"已放弃《{t}》")[1])
    if len(invs) > len(open_invs):
        common.show_frame(pd.DataFrame([{"政策": i.explanation.get("title", i.policy_id),
                                         "金额（元）": common.amount(i.amount_fen),
                                         "状态": tiers.INVITATION_ZH.get(i.status, i.status),
                                         "办理时间": f"{i.decided_at:%Y-%m-%d %H:%M}" if i.decided_at else ""}
                                        for i in invs if i.status != "open"]))
    _applications(p, me, code, cu)
    _supply(p, me, code, cu)
    _objections(p, me, code)


def _applications(p, me, code: str, cu: CheckUp) -> None:  # type: ignore[no-untyped-def]
    st.markdown("**申报：需要申请的政策**")
    mine = {a.policy_id: a for a in tiers.applications(p, me, code)}
    if mine:
        titles = {x.id: x.title for x in p.library.policies}
        common.show_frame(pd.DataFrame([{"编号": a.reference, "政策": titles.get(a.policy_id, a.policy_id),
                                         "状态": tiers.APPLICATION_ZH.get(a.status, a.status),
                                         "审核意见": a.reason or "", "核定金额（元）": common.amount(a.amount_fen) if a.amount_fen
                                         else ""} for a in mine.values()]))
    candidates = [e for e in cu.eligible + cu.undetermined if e.policy.tier is ir.Tier3.APPLY
                  and (e.policy.id not in mine or mine[e.policy.id].status == "returned")]
    if not candidates:
        st.caption("暂无可申报的政策。")
        return
    pick = st.selectbox("选择要申报的政策", [e.policy.id for e in candidates], key="apply_pick",
                        format_func=lambda i: next(e.policy.title for e in candidates if e.policy.id == i))
    form = tiers.application_form(p, me, code, pick)
    with st.form(f"apply_{pick}"):
        st.caption("以下数据已从企业档案自动带入（无需提交材料）；只需填写档案中没有的数据。")
        known = [f for f in form if f.known is not None]
        if known:
            common.show_frame(pd.DataFrame([{"数据": f.label, "档案值": f.known, "来源": f.source or ""} for f in known]))
        answers = {f.tag: st.text_input(f"{f.label}" + (f"（{f.unit}）" if f.unit else ""), key=f"ans_{pick}_{f.tag}")
                   for f in form if f.known is None}
        statement = st.text_area("申报说明与承诺", placeholder="本单位承诺所填内容真实、准确", key=f"stmt_{pick}")
        files = _files(f"files_{pick}")
        if st.form_submit_button("提交申报", type="primary"):
            _do("提交申报", lambda: (tiers.submit_application(p, me, code, pick, answers, statement, files),
                                 "申报已提交，等待主管部门审核")[1])


def _supply(p, me, code: str, cu: CheckUp) -> None:  # type: ignore[no-untyped-def]
    st.markdown("**待补充数据：补充后可重新判定**")
    d = common.dictionary()
    missing = sorted({t for e in cu.undetermined for t in e.decision.missing if t in d and not d[t].derived})
    pending = {v.tag: v for v in tiers.supplied(p, me, code) if v.status == "submitted"}
    done = [v for v in tiers.supplied(p, me, code) if v.status != "submitted"]
    if done:
        common.show_frame(pd.DataFrame([{"数据": d[v.tag].label if v.tag in d else v.tag, "补充值": v.value,
                                         "状态": tiers.SUPPLIED_ZH.get(v.status, v.status),
                                         "核验意见": v.reason or ""} for v in done]))
    todo = [t for t in missing if t not in pending]
    for t in pending:
        st.caption(f"{d[t].label}：已提交，等待核验")
    if not todo:
        if not pending:
            st.caption("没有需要补充的数据。")
        return
    tag = st.selectbox("选择要补充的数据", todo, format_func=lambda t: d[t].label, key="supply_tag")
    needed_by = [e.policy.title for e in cu.undetermined if tag in e.decision.missing]
    st.caption(f"影响的政策：{'、'.join(needed_by)}；数据通常由{d.sources[d[tag].source].label}提供。")
    with st.form(f"supply_{tag}"):
        unit = d[tag].type.unit
        value = st.text_input(f"{d[tag].label}" + (f"（{unit}）" if unit else ""), key=f"sv_{tag}")
        statement = st.text_area("数据来源说明与承诺", key=f"ss_{tag}")
        files = _files(f"sf_{tag}")
        if st.form_submit_button("提交补充数据", type="primary"):
            _do("提交补充数据", lambda: (tiers.supply_value(p, me, code, tag, value, statement, files),
                                   f"{d[tag].label}已提交，主管部门核验后将重新判定")[1])


def _objections(p, me, code: str) -> None:  # type: ignore[no-untyped-def]
    st.markdown("**异议与评价**")
    mine = tiers.objections(p, me, code)
    if mine:
        common.show_frame(pd.DataFrame([{"类型": "评价" if o.kind == "rating" else "异议", "事项": o.subject,
                                         "内容": o.text, "评分": o.rating or "", "答复": o.answer or "（待答复）"
                                         if o.kind == "objection" else ""} for o in mine]))
    with st.form("objection"):
        subject = st.text_input("兑现编号或政策编号（如 MS0000000001）", key="obj_subject")
        text = st.text_area("异议或意见", key="obj_text")
        rating = st.select_slider("服务评价（可选）", options=[0, 1, 2, 3, 4, 5], value=0, key="obj_rating",
                                  format_func=lambda r: "不评价" if r == 0 else "★" * r)
        files = _files("obj_files")
        if st.form_submit_button("提交"):
            _do("提交", lambda: (tiers.raise_objection(p, me, code, subject.strip(), text, files, rating or None),
                               "已提交，主管部门答复后可在此查看")[1])
