"""合同履约: officials draft, sign and monitor support agreements (due soon, at risk, missed,
recovered) and settle recovery claims; an enterprise sees its contracts and each milestone with
its explanation, signs, and objects with evidence. Every action is a call to the service layer."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import streamlit as st

from rules_engine.errors import EngineError
from rules_engine.library.contracts import render_zh, template_fields
from rules_engine.service import clock, tiers
from rules_engine.service import contracts as svc
from rules_engine.service.auditview import SETTLE_ZH
from ui import common

SOON_DAYS = 30
FIELD_ZH = {"number": "合同编号", "project": "项目名称", "credit_code": "企业统一社会信用代码", "name": "企业名称",
            "government": "甲方（政府部门）", "contact": "联系电话", "start": "生效日期（如 2026-12-01）",
            "total": "支持资金总额（元，可写万）", "year": "考核年度", "invest_target": "技改投资目标（元）",
            "invest_award": "技改达标拨付（元）", "tax_target": "纳税目标（元）", "tax_award_cap": "纳税奖励上限（元）",
            "jobs_target": "参保职工目标（人）", "jobs_award": "用工达标拨付（元）"}


def _do(label: str, action: Any, done: str | None = None) -> None:
    common.act("ct", label, action, done)


def _milestone_rows(states: list[Any], today: dt.date) -> pd.DataFrame:
    rows = []
    for x in states:
        soon = x.state in ("pending", "undetermined") and 0 <= (x.deadline - today).days <= SOON_DAYS
        rows.append({"合同": x.number, "履约节点": x.name, "截止（含宽限）": str(x.deadline),
                     "状态": x.state_zh + ("（即将到期）" if soon else ""),
                     "拨付（元）": common.amount(x.amount_fen) if x.amount_fen else "",
                     "兑现记录": x.payout or x.unpaid, "追回（元）": common.amount(x.claim_fen) if x.claim_fen else "",
                     "缺少的数据": "、".join(_labels(x.explanation.get("missing") or []))})
    return pd.DataFrame(rows)


def _labels(tags: list[str]) -> list[str]:
    d = common.dictionary()
    return [d[t].label if t in d else t for t in tags]


def _explanation(x: Any) -> None:
    e = x.explanation or {}
    if not e:
        st.caption("尚未核查。")
        return
    basis = (e.get("policy") or {}).get("basis") or {}
    st.caption(common.md(f"依据：{basis.get('document', '')}（{basis.get('number', '')}）{basis.get('article', '')}；"
                         f"按截止日 {e.get('as_of', '')} 评估"))
    rows = []
    for c in e.get("conditions") or []:
        values = "；".join(f"{v['label']}={v['value']}（{v['source']}{'，' + v['as_of'] if v.get('as_of') else ''}）"
                          for v in c.get("values") or [])
        rows.append({"条件": c.get("text", ""), "结果": {True: "√ 满足", False: "× 不满足", None: "？待补充"}[c.get("outcome")],
                     "取值与来源": values or "—", "差距/缺少": c.get("gap") or "、".join(_labels(c.get("missing") or [])),
                     "条款": c.get("article", "")})
    common.show_frame(pd.DataFrame(rows))
    if e.get("amount_steps"):
        st.code("\n".join(e["amount_steps"]), language=None, wrap_lines=True)


def _sign_box(number: str, version: int, sha256: str, key: str) -> None:
    """Generate a key (offered once), or upload one's key file and sign the text's hash."""
    me, sf = common.actor(), common.ledger()
    st.caption(f"签署的是本文本的 SHA-256：{sha256}。私钥只在本页面内存中使用，不上传保存。")
    a, b = st.columns(2)
    if a.button("生成签署密钥", key=f"kg_{key}", help="此前的密钥将停用；私钥只提供这一次下载"):
        try:
            kid, pem = svc.new_signing_key(sf, me)
        except EngineError as exc:
            st.error(common.md(exc))
        else:
            st.session_state[f"file_key_{key}"] = (f"签署密钥{kid}.pem", pem)
    if held := st.session_state.get(f"file_key_{key}"):
        with a:
            common.offer_download("下载签署私钥（只此一次）", held[0], held[1], f"key_{key}",
                                  mime="application/x-pem-file")
    up = b.file_uploader("签署私钥文件", type=["pem"], key=f"up_{key}", max_upload_size=1)
    if b.button("签署", key=f"sign_{key}", type="primary", disabled=up is None):
        assert up is not None
        _do("签署", lambda: (svc.sign(sf, me, number, version,
                                     svc.signature_of(up.getvalue(), number, version, sha256)),
                            f"已签署合同 {number} 第 {version} 版")[1])


def _states(number: str) -> list[Any]:
    """A contract's milestones; none when its text cannot be read (its card says why)."""
    try:
        return svc.states(common.ledger(), common.actor(), number, common.dictionary())
    except EngineError:
        return []


def _contract_card(row: Any, official: bool) -> None:
    me, sf, d = common.actor(), common.ledger(), common.dictionary()
    with st.container(border=True):
        st.markdown(f"**{common.md(row.title)}**　{common.md(row.number)} 第 {row.version} 版　"
                    f"状态：**{svc.STATUS_ZH.get(row.status, row.status)}**")
        try:
            text = render_zh(svc.loaded(row, d), d)
        except EngineError as exc:
            st.error(f"合同不能读取：{common.md(exc)}")
            return
        with st.expander("合同文本（中文）"):
            st.code(text, language=None, wrap_lines=True)
        signed = {s["party"] for s in svc.signatures(sf, me, row.number, row.version)}
        st.caption("签署：" + "；".join(f"{label}{'已签署' if p in signed else '未签署'}"
                                       for p, label in svc.PARTIES.items()))
        party = "enterprise" if me.role == "enterprise" else "government"
        if row.status == "drafted" and party not in signed and me.role in ("enterprise", "official"):
            _sign_box(row.number, row.version, row.sha256, f"{row.number}_{row.version}")
        states = svc.states(sf, me, row.number, d)
        common.show_frame(_milestone_rows(states, clock.today()))
        for x in states:
            with st.expander(f"{x.name}：{x.state_zh}"):
                _explanation(x)
        if not official and row.status == "signed":
            with st.expander("对履约核查结果提出异议"):
                pick = st.selectbox("履约节点", [x.milestone for x in states],
                                    format_func=lambda m: next(x.name for x in states if x.milestone == m),
                                    key=f"obj_m_{row.number}")
                text_in = st.text_area("异议内容（说明理由）", key=f"obj_t_{row.number}", max_chars=2000)
                up = st.file_uploader("证明材料", accept_multiple_files=True, key=f"obj_f_{row.number}",
                                      type=["pdf", "png", "jpg", "jpeg", "xlsx", "xls", "doc", "docx", "zip"],
                                      max_upload_size=tiers.MAX_FILE // 1024 // 1024)
                if st.button("提交异议", key=f"obj_b_{row.number}"):
                    files = [(f.name, f.getvalue()) for f in up or []]
                    _do("提交异议", lambda: (tiers.raise_objection(common.platform(), me, me.credit_code or "",
                                                                 f"合同 {row.number} {pick}", text_in, files),
                                           "异议已提交，主管部门将答复")[1])


def _claims(official: bool) -> None:
    me, sf = common.actor(), common.ledger()
    rows = svc.claims(sf, me)
    st.markdown("**追回记录**")
    if not rows:
        st.caption("暂无追回记录。")
        return
    common.show_frame(pd.DataFrame([{
        "编号": c.id, "合同": c.number, "节点": c.milestone, "企业": c.credit_code,
        "应追回（元）": common.amount(c.amount_fen), "已结算（元）": common.amount(c.settled_fen),
        "状态": svc.CLAIM_ZH.get(c.status, c.status), "原因": c.reason,
        "结算": "；".join(f"{SETTLE_ZH.get(x['kind'], x['kind'])} {common.yuan(x['fen'])}（{x['by']}）"
                         for x in c.settlements)} for c in rows]))
    if not official:
        return
    open_ = [c for c in rows if c.status in ("open", "write_off_requested")]
    if not open_:
        return
    c = st.selectbox("办理追回记录", open_, format_func=lambda c: f"{c.id}：{c.number} {c.milestone}，待追回 "
                     f"{common.yuan(c.amount_fen - c.settled_fen)}（{svc.CLAIM_ZH.get(c.status, c.status)}）",
                     key="claim_pick")
    if c.status == "write_off_requested":
        st.info(f"{common.md(c.write_off_by)} 申请核销：{common.md(c.write_off_reason)}；须由另一名工作人员复核。")
        a, b = st.columns(2)
        if a.button("同意核销", key="wo_yes"):
            _do("核销", lambda: svc.approve_write_off(sf, me, c.id, True), f"追回记录 {c.id} 已核销")
        if b.button("不同意", key="wo_no"):
            _do("复核", lambda: svc.approve_write_off(sf, me, c.id, False), f"追回记录 {c.id} 恢复待追回")
        return
    a, b, e = st.columns(3)
    with a:
        yuan_in = st.number_input("退回金额（元）", min_value=0.01, step=0.01, format="%.2f", key="rp_amt")
        ref = st.text_input("银行流水号", key="rp_ref", max_chars=64)
        if st.button("登记退回", key="rp_do"):
            from decimal import Decimal

            fen = int((Decimal(str(yuan_in)) * 100).quantize(Decimal(1)))
            _do("登记退回", lambda: svc.repaid(sf, me, c.id, fen, ref), f"已登记退回 {common.yuan(fen)}")
    with b:
        pay = st.text_input("抵扣的兑现记录（MS 开头，待公示或公示中）", key="of_ref", max_chars=20)
        if st.button("整笔抵扣", key="of_do"):
            _do("抵扣", lambda: svc.offset(sf, me, c.id, pay, "抵扣追回款"), f"已以 {pay} 抵扣")
    with e:
        why = st.text_area("核销原因", key="wo_why", max_chars=500)
        if st.button("申请核销", key="wo_req"):
            _do("申请核销", lambda: svc.request_write_off(sf, me, c.id, why), "已申请核销，待另一名工作人员复核")


def _draft() -> None:
    me, sf, d = common.actor(), common.ledger(), common.dictionary()
    st.subheader("起草合同")
    with st.container(border=True):
        templates = svc.templates()
        way = st.radio("方式", ["按模板", "上传或粘贴 YAML"], horizontal=True, key="ct_way")
        if way == "按模板" and templates:
            name = st.selectbox("模板", list(templates), key="ct_tpl")
            fields = {}
            cols = st.columns(3)
            for i, f in enumerate(template_fields(templates[name])):
                fields[f] = cols[i % 3].text_input(FIELD_ZH.get(f, f), key=f"ct_f_{f}", max_chars=100)
            if st.button("登记合同", key="ct_tpl_go", type="primary"):
                _do("登记合同", lambda: (lambda r: f"已登记合同 {r.number} 第 {r.version} 版，待双方签署")(
                    svc.draft_from_template(sf, me, name, fields, d)))
        else:
            up = st.file_uploader("合同文件（YAML）", type=["yaml", "yml"], key="ct_up", max_upload_size=1)
            text = st.text_area("或粘贴合同 YAML", key="ct_text", height=240)
            if st.button("登记合同", key="ct_yaml_go", type="primary"):
                body = up.getvalue().decode("utf-8", "replace") if up is not None else text
                _do("登记合同", lambda: (lambda r: f"已登记合同 {r.number} 第 {r.version} 版，待双方签署")(
                    svc.draft(sf, me, body, d, up.name if up is not None else "粘贴的合同.yaml")))


def render() -> None:
    me, sf = common.actor(), common.ledger()
    official = me.role == "official"
    st.header("合同履约")
    common.messages("ct")
    rows = svc.contracts(sf, me)
    if official:
        st.caption("招商引资协议、一企一策：双方在线签署，每次数据更新按合同核查履约节点，达成即生成兑现（经公示、审批、"
                   "支付），逾期未达成按约定追回。")
        states = [x for r in rows if r.status == "signed" for x in _states(r.number)]
        today = clock.today()
        cols = st.columns(5)
        cols[0].metric("生效合同", sum(r.status == "signed" for r in rows))
        cols[1].metric("待签署", sum(r.status == "drafted" for r in rows))
        cols[2].metric("即将到期的节点", sum(x.state in ("pending", "undetermined")
                                              and 0 <= (x.deadline - today).days <= SOON_DAYS for x in states))
        cols[3].metric("未达成", sum(x.state == "missed" for x in states))
        cols[4].metric("待追回", common.yuan(sum(c.amount_fen - c.settled_fen for c in svc.claims(sf, me)
                                                 if c.status != "written_off")))
        if st.button("按当前数据核查履约", key="ct_check"):
            p = common.platform()
            _do("核查履约", lambda: (lambda out: f"已核查 {len(out)} 个履约节点")(
                svc.check(sf, me, p.data.dataset, p.dictionary, policies=p.library.policies)))
        _draft()
    elif not rows:
        st.caption("本企业暂无合同。")
    for r in rows:
        _contract_card(r, official)
    _claims(official)
