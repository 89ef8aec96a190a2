"""政策管理 and 政策沙盘: browse the library, edit a policy (form and YAML side by side) with live
errors, run its cases, and see a draft's reach and cost on the current data before publishing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from rules_engine import ir
from rules_engine.data.codes import code_name
from rules_engine.data.frame import KEY
from rules_engine.errors import EngineError, PolicyLoadError
from rules_engine.library.loader import load_policy_text
from rules_engine.library.policytests import run_policy_tests
from rules_engine.library.yamledit import edit_scalars, scalar_spans
from rules_engine.service import policies
from rules_engine.sources import FrameSource
from ui import common

FORM_FIELDS = [("version", "版本号"), ("title", "政策名称"), ("department", "主管部门"), ("summary", "政策摘要"),
               ("valid_from", "生效日期"), ("valid_to", "截止日期")]


def _library_table(policies: list[ir.Policy], query: str) -> pd.DataFrame:
    rows = [{"编号": p.id, "政策名称": p.title, "主管部门": p.department, "兑现方式": p.tier,
             "状态": ir.POLICY_STATUS_ZH.get(p.status, p.status),
             "有效期": f"{p.valid_from} 至 {p.valid_to or '长期'}", "版本": p.version,
             "预算（元）": common.amount(int(p.budget.total * 100)) if p.budget else ""}
            for p in policies]
    df = pd.DataFrame(rows)
    if query.strip():
        q = query.strip()
        df = df[df["编号"].str.contains(q, regex=False) | df["政策名称"].str.contains(q, regex=False)
                | df["主管部门"].str.contains(q, regex=False)]
    return df


def _validate(text: str, name: str) -> tuple[ir.Policy | None, list[str]]:
    try:
        return load_policy_text(text, common.dictionary(), path=name), []
    except PolicyLoadError as exc:
        return None, [str(p) for p in exc.problems]


def _editor(source: Path) -> ir.Policy | None:
    key = f"yaml::{source}"
    if key not in st.session_state:
        st.session_state[key] = source.read_text(encoding="utf-8") if source.exists() else ""
    text = st.session_state[key]
    if st.session_state.get(f"form_of::{source}") != text:
        # the YAML changed since the form was filled: refill it from the YAML, so that applying
        # the form never writes stale values back over the edit
        for k in [k for k in st.session_state if str(k).startswith(f"ff::{source}::")]:
            del st.session_state[k]
        st.session_state[f"form_of::{source}"] = text
    spans = scalar_spans(text)
    left, right = st.columns([2, 3])
    with left, st.form(f"form::{source}"):
        st.markdown("**表单**")
        changes: dict[tuple[Any, ...], str] = {}
        for fld, label in FORM_FIELDS:
            if (fld,) in spans:
                changes[(fld,)] = st.text_input(label, spans[(fld,)][2], key=f"ff::{source}::{fld}")
        i = 0
        while ("conditions", i, "when") in spans:
            lab = spans.get(("conditions", i, "label"), (0, 0, f"条件{i + 1}"))[2]
            changes[("conditions", i, "when")] = st.text_input(f"条件 {i + 1}：{lab}", spans[("conditions", i, "when")][2],
                                                              key=f"ff::{source}::c{i}")
            i += 1
        if st.form_submit_button("应用表单修改"):
            st.session_state[key] = edit_scalars(text, changes)
            st.rerun()
    with right:
        st.markdown("**YAML 文本**")
        st.text_area("YAML", key=key, height=560, label_visibility="collapsed")
    draft, problems = _validate(st.session_state[key], f"{source.parent.name}/{source.name}")
    if problems:
        st.error(f"校验未通过：{len(problems)} 处问题")
        for p in problems:
            st.code(p, language=None)
    else:
        st.success("校验通过")
    return draft


def _breakdown(frame: pd.DataFrame, idx: np.ndarray, fen: np.ndarray, by: str) -> pd.DataFrame:
    """The draft's money by district, industry section or enterprise size, by name."""
    if by == "region":
        names = common.region_names()
        key = [names.get(c, c or "（未知）") for c in frame["region"].astype(str).iloc[idx]]
    elif by == "industry":
        key = [code_name(c[:1], "industry") or "（未知）" for c in frame["industry"].astype(str).iloc[idx]]
    else:
        key = list(frame["enterprise_size"].astype(str).iloc[idx]) if "enterprise_size" in frame \
            else ["（未知）"] * len(idx)
    return pd.DataFrame({"名称": key, "类别": "测算金额", "fen": fen})


def _outcome(frame: pd.DataFrame, policy: ir.Policy, as_of: dt.date) -> tuple[np.ndarray, np.ndarray]:
    """Each enterprise's status label and amount (fen) under `policy`, row for row with `frame`,
    through the one results contract every backend keeps."""
    res = FrameSource(frame).results([policy], as_of).set_index("credit_code")
    keys = frame[KEY].astype(str)
    return (res["status"].astype(str).reindex(keys).to_numpy(),
            res["amount_fen"].reindex(keys).fillna(0).astype("int64").to_numpy())


def _impact(draft: ir.Policy, published: ir.Policy | None) -> None:
    cd = common.data()
    frame = cd.dataset.frame
    status, fen = _outcome(frame, draft, cd.as_of)
    elig = np.flatnonzero((status == ir.Status.ELIGIBLE.label) & (fen > 0))
    und = int((status == ir.Status.UNDETERMINED.label).sum())
    total = int(fen[elig].sum())
    a, b, c, d = st.columns(4)
    a.metric("符合企业", f"{len(elig)} 家")
    b.metric("待补充数据", f"{und} 家")
    c.metric("测算总金额", common.yuan(total))
    if draft.budget:
        budget = int(draft.budget.total * 100)
        d.metric("预算", common.yuan(budget), delta=("超出 " if total > budget else "结余 ") + common.yuan(abs(total - budget)),
                 delta_color="inverse" if total > budget else "normal")
        if total > budget:
            st.warning(f"测算金额超出预算 {common.yuan(total - budget)}：将按政策的预算分配规则"
                       f"（{policies.ALLOCATION_ZH[draft.budget.allocation]}）分配，部分企业只能部分兑现或不予兑现。")
    else:
        d.metric("预算", "未设预算")
    if len(elig):
        cols = st.columns(3)
        for col, (by, title) in zip(cols, [("region", "地区（区县）"), ("industry", "行业门类"), ("size", "企业规模")]):
            with col:
                common.amount_bars(_breakdown(frame, elig, fen[elig], by), "名称", title, top=10)
    if published is None:
        return
    old_status, old_amount = _outcome(frame, published, cd.as_of)
    old_fen = np.where(old_status == ir.Status.ELIGIBLE.label, old_amount, 0)
    new_fen = np.where(status == ir.Status.ELIGIBLE.label, fen, 0)
    changed = np.flatnonzero(old_fen != new_fen)
    st.markdown(f"**与已发布版本（v{published.version}）相比**")
    gain, loss = int((new_fen > old_fen).sum()), int((new_fen < old_fen).sum())
    x, y, z = st.columns(3)
    x.metric("受益增加", f"{gain} 家")
    y.metric("受益减少", f"{loss} 家")
    z.metric("总金额变化", common.yuan(int(new_fen.sum() - old_fen.sum())))
    if len(changed):
        diff = pd.DataFrame({"统一社会信用代码": frame[KEY].astype(str).iloc[changed].to_numpy(),
                             "企业名称": frame["name"].astype(str).iloc[changed].to_numpy(),
                             "原金额（元）": old_fen[changed], "新金额（元）": new_fen[changed],
                             "变化（元）": new_fen[changed] - old_fen[changed]}).sort_values("变化（元）")
        for money in ("原金额（元）", "新金额（元）", "变化（元）"):
            diff[money] = [common.amount(int(v)) for v in diff[money]]
        common.show_frame(diff)
    else:
        st.caption("草稿与已发布版本对当前数据的结果相同。")


def _do(action: Callable[[], str]) -> None:
    """Run a publishing step; its message (or the refusal) shows after the rerun."""
    try:
        out = action()
    except EngineError as exc:
        st.session_state["publish_err"] = f"未完成：{exc}"
        return
    common.library.clear()
    st.session_state["published"] = out


def _submit(text: str, source: Path, note: str) -> None:
    def go() -> str:
        d = policies.submit_draft(common.ledger(), common.actor(), common.dictionary(), text, source,
                                  common.policies_dir(), note)
        st.session_state.pop(f"yaml::{source}", None)
        return f"已提交审核：草稿 {d.id}（{d.policy_id} v{d.version}），须由另一名政策管理人员复核后发布"
    _do(go)


def _diff_table(old_text: str, new_text: str) -> None:
    rows = policies.diff(common.dictionary(), old_text, new_text)
    if rows:  # a static table: each cell wraps, the whole changed condition is read (a grid cut it short)
        st.table(pd.DataFrame(rows, columns=["项目", "原版本", "新版本"]).set_index("项目"))
    else:
        st.caption("两个版本的内容相同。")


def _review_queue() -> None:
    """审核: drafts waiting for a second official; the author may only withdraw their own."""
    me = common.actor()
    queue = policies.drafts(common.ledger(), me)
    st.subheader(f"待审核的草稿（{len(queue)}）")
    if not queue:
        st.caption("没有待审核的草稿。")
        return
    common.show_frame(pd.DataFrame([{"草稿编号": d.id, "政策编号": d.policy_id, "版本": f"v{d.version}",
                                     "替换": f"v{d.base_version}" if d.base_version else "（新政策）",
                                     "起草人": d.author, "提交时间": d.submitted_at.strftime("%Y-%m-%d %H:%M"),
                                     "修改说明": d.note} for d in queue]))
    by_id = {d.id: d for d in queue}
    pick = st.selectbox("审核草稿", list(by_id), key="review_pick",
                        format_func=lambda i: f"草稿 {i}：{by_id[i].policy_id} v{by_id[i].version}（{by_id[i].author}）")
    d = by_id[pick]
    old_text, replaced = policies.replaced(common.dictionary(), d, common.policies_dir())
    try:
        draft = load_policy_text(d.text, common.dictionary(), d.file)
    except PolicyLoadError as exc:
        st.error(f"草稿已不能加载：{exc}")
        return
    st.markdown("**与现行版本的差异**")
    if old_text:
        _diff_table(old_text, d.text)
    results = run_policy_tests([draft], common.dictionary())
    st.markdown(f"**测试用例**：{sum(r.ok for r in results)} 通过，{sum(not r.ok for r in results)} 未通过")
    st.markdown("**影响测算**")
    _impact(draft, replaced)
    own = d.author == me.name
    if own:
        st.info("这是您起草的草稿：须由另一名政策管理人员审核（双人复核）。")
        if st.button("撤回草稿", key=f"withdraw_{d.id}"):
            _do(lambda: policies.withdraw_draft(common.ledger(), me, d.id))
            st.rerun()
        return
    a, b = st.columns(2)
    if a.button("审核通过并发布", type="primary", key=f"approve_{d.id}"):
        _do(lambda: policies.approve_draft(common.ledger(), me, common.dictionary(), d.id, common.policies_dir()))
        st.rerun()
    reason = b.text_input("退回理由", key=f"reason_{d.id}")
    if b.button("退回", key=f"return_{d.id}"):
        _do(lambda: policies.return_draft(common.ledger(), me, d.id, reason))
        st.rerun()


def _history(published: ir.Policy, source: Path) -> None:
    """版本历史: every published version kept; a diff between any two; rollback as a new version."""
    me = common.actor()
    kept = policies.versions(common.ledger(), me, published.id)
    own = policies.drafts(common.ledger(), me, status=None, policy_id=published.id)
    st.subheader(f"版本历史：{published.title}")
    texts = {v.version: v.text for v in kept}
    texts.setdefault(published.version, source.read_text(encoding="utf-8"))
    rows = [{"版本": f"v{v.version}", "发布人": v.published_by, "发布时间": v.published_at.strftime("%Y-%m-%d %H:%M"),
             "内容哈希": v.sha256[:16]} for v in kept]
    if published.version not in {v.version for v in kept}:
        rows.append({"版本": f"v{published.version}", "发布人": "（政策库初始版本）", "发布时间": "", "内容哈希": ""})
    common.show_frame(pd.DataFrame(rows))
    if own:
        st.markdown("**草稿与审核记录**")
        common.show_frame(pd.DataFrame([{"草稿编号": d.id, "版本": f"v{d.version}", "状态": policies.DRAFT_STATUS_ZH[d.status],
                                         "起草人": d.author, "审核人": d.reviewer or "", "退回理由": d.reason or ""}
                                        for d in own]))
    numbers = sorted(texts)
    if len(numbers) < 2:
        return
    a, b = st.columns(2)
    left = a.selectbox("比较版本", numbers, index=len(numbers) - 2, key="hist_a", format_func=lambda v: f"v{v}")
    right = b.selectbox("与版本", numbers, index=len(numbers) - 1, key="hist_b", format_func=lambda v: f"v{v}")
    _diff_table(texts[left], texts[right])
    back = [v for v in numbers if v != published.version and v in {k.version for k in kept}]
    if back:
        to = st.selectbox("回退到", back, key="hist_back", format_func=lambda v: f"v{v}")
        if st.button("以此版本内容起草新版本（回退）", key="hist_rollback"):
            def go() -> str:
                d = policies.rollback(common.ledger(), me, common.dictionary(), published.id, to, source,
                                      common.policies_dir())
                return f"已提交审核：草稿 {d.id}（v{d.version}，内容同 v{to}），须由另一名政策管理人员复核后发布"
            _do(go)
            st.rerun()


def _highlighted(text: str, start: int, end: int, marks: list[tuple[int, int, str]]) -> str:
    """The article's text as HTML with each traced span marked; every character of the document
    is escaped first (a policy text is external input)."""
    import html

    marks = sorted((max(a, start), min(b, end), role) for a, b, role in marks if a < end and b > start)
    out, pos = [], start
    for a, b, role in marks:
        if a < pos:
            continue
        out.append(html.escape(text[pos:a]))
        colour = {"条件": "#fff3b0", "金额": "#c8f7c5", "上限": "#d6eaff", "分档": "#c8f7c5"}.get(role, "#eeeeee")
        out.append(f'<mark style="background:{colour}" title="{html.escape(role)}">{html.escape(text[a:b])}</mark>')
        pos = b
    out.append(html.escape(text[pos:end]))
    return '<div style="white-space:pre-wrap;line-height:1.8">' + "".join(out) + "</div>"


def _from_text() -> None:
    """从政策原文起草: upload or paste the document, check each draft against its text (open
    items first), edit, submit for the same two-person review."""
    from rules_engine.drafting.reader import DocumentError
    from rules_engine.service import drafting

    st.subheader("从政策原文起草")
    st.caption("上传或粘贴政策原文：每个支持条款起草为一条政策，条件与金额在原文中标出；未识别的内容列为待核对事项，不作猜测。"
               "草稿须经核对、提交审核，由另一名政策管理人员复核后发布。")
    up = st.file_uploader("政策原文（文本、DOCX 文档、带文字层的 PDF）", type=["txt", "docx", "pdf"], key="draft_upload",
                          max_upload_size=32)
    pasted = st.text_area("或粘贴原文", key="draft_paste", height=120)
    if st.button("起草", key="draft_go", disabled=not (up or pasted.strip())):
        data, name = (up.getvalue(), up.name) if up else (pasted.encode("utf-8"), "粘贴的原文")
        try:
            st.session_state["draft_doc"] = drafting.draft_document(common.actor(), common.dictionary(), data, name)
        except DocumentError as exc:
            st.session_state.pop("draft_doc", None)
            st.error(str(exc))
    doc = st.session_state.get("draft_doc")
    if doc is None:
        return
    st.markdown(f"**{doc.header.title or '（未识别标题）'}** {doc.header.number}　"
                f"起草 {len(doc.drafts)} 条，用时 {doc.elapsed_s:.2f} 秒")
    for n in doc.source.notes:
        st.caption(n)
    if doc.opens:
        st.warning("整份文件待核对：\n\n" + "\n".join(f"- {o.message}" for o in doc.opens))
    if not doc.drafts:
        st.info("未找到支持条款（给予…奖励、补助、补贴）。")
        return
    by_id = {d.policy_id: d for d in doc.drafts}
    pick = st.selectbox("草稿", list(by_id), key="draft_pick",
                        format_func=lambda k: f"{by_id[k].article}（{k}）" + (f"：待核对 {len(by_id[k].opens)} 项"
                                                                          if by_id[k].opens else ""))
    d = by_id[pick]
    if d.opens:
        st.warning("待核对事项：\n\n" + "\n".join(f"- {o.message}" for o in d.opens))
    left, right = st.columns([2, 3])
    text = doc.source.text
    spans = [p.span for p in d.parts]
    start = min([a for a, _ in spans] + [next((o.span[0] for o in d.opens if o.span[1] > o.span[0]), len(text))])
    art = text.rfind("\n", 0, min(a for a, _ in spans) if spans else start) + 1
    end = text.find("\n", max(b for _, b in spans) if spans else start)
    end = len(text) if end < 0 else end
    with left:
        st.markdown("**原文**（黄色：条件；绿色：金额；蓝色：上限）")
        st.markdown(_highlighted(text, art, end, [(p.span[0], p.span[1], p.role) for p in d.parts]),
                    unsafe_allow_html=True)
        st.table(pd.DataFrame([{"类别": p.role, "草稿": p.rule, "原文": text[p.span[0]:p.span[1]]} for p in d.parts]))
    key = f"draft_yaml::{doc.source.name}::{d.policy_id}"
    with right:
        st.markdown("**政策 YAML（可修改）**")
        st.text_area("YAML", value=d.yaml, key=key, height=420, label_visibility="collapsed")
    edited = st.session_state.get(key, d.yaml)
    policy, problems = _validate(edited, f"drafted/{d.policy_id}.yaml")
    if problems:
        st.error(f"校验未通过：{len(problems)} 处问题")
        for p in problems:
            st.code(p, language=None)
        return
    results = run_policy_tests([policy], common.dictionary()) if policy else []
    failed = [r for r in results if not r.ok]
    st.markdown(f"**边界测试用例**：{len(results) - len(failed)} 通过，{len(failed)} 未通过（请逐个确认预期结果与金额）")
    common.show_frame(pd.DataFrame([{"用例": r.case.name, "预期": {"eligible": "符合", "not_eligible": "不符合",
                                                                "undetermined": "待补充数据"}[r.case.status],
                                     "金额（元）": common.amount(int(r.case.amount * 100)) if r.case.amount is not None else "",
                                     "结果": "通过" if r.ok else "未通过"} for r in results]))
    note = st.text_input("修改说明（审核人可见）", key=f"draft_note::{d.policy_id}",
                         value=f"由政策原文起草：{doc.header.number} {d.article}")
    if st.button("提交审核", type="primary", key=f"draft_submit::{d.policy_id}", disabled=bool(failed)):
        def go() -> str:
            row = policies.submit_draft(common.ledger(), common.actor(), common.dictionary(), edited,
                                        f"drafted/{d.policy_id}.yaml", common.policies_dir(), note)
            return f"已提交审核：草稿 {row.id}（{row.policy_id} v{row.version}），须由另一名政策管理人员复核后发布"
        _do(go)
        st.rerun()


def render() -> None:
    st.header("政策管理与沙盘")
    lib = common.current_library()
    if msg := st.session_state.pop("published", None):
        st.success(msg)
    if msg := st.session_state.pop("publish_err", None):
        st.error(msg)
    query = st.text_input("搜索政策（编号、名称、部门）", key="lib_query")
    common.show_frame(_library_table(lib.policies, query))
    if lib.problems:
        st.warning(f"政策库中有 {len(lib.problems)} 个文件未能加载")
    # the versions in force first: the page opens on one (a retired version was once the default)
    ids = [p.id + f"@{p.version}" for p in sorted(lib.policies, key=lambda p: p.status != "active")]
    by_key = {p.id + f"@{p.version}": p for p in lib.policies}
    pick = st.selectbox("选择政策进行编辑与测算", ids, key="lib_pick",
                        format_func=lambda k: f"{by_key[k].title}（{by_key[k].id} v{by_key[k].version}）")
    published = by_key[pick]
    source = Path(published.source)
    draft = _editor(source)
    if draft is not None:
        tab_cases, tab_impact = st.tabs(["测试用例", "影响测算"])
        with tab_cases:
            results = run_policy_tests([draft], common.dictionary())
            failed = [r for r in results if not r.ok]
            st.markdown(f"{len(results) - len(failed)} 通过，{len(failed)} 未通过")
            common.show_frame(pd.DataFrame([{"用例": r.case.name, "引擎": r.where, "结果": "通过" if r.ok else "未通过",
                                             "说明": "；".join(r.problems)} for r in results]))
        with tab_impact:
            _impact(draft, published)
        text = st.session_state[f"yaml::{source}"]
        unchanged = text == source.read_text(encoding="utf-8")
        if failed:
            st.info("测试用例未全部通过，不能提交。")
        elif not unchanged and draft.version == published.version:
            st.info(f"修改后请递增版本号（当前 v{published.version}）：已兑现的记录按版本留痕。")
        note = st.text_input("修改说明（审核人可见）", key=f"note::{source}")
        if st.button("提交审核", type="primary",
                     disabled=bool(failed) or unchanged or draft.version == published.version,
                     help="由另一名政策管理人员复核后发布（双人复核）" if not unchanged else "草稿与已发布版本相同"):
            _submit(text, source, note)
            st.rerun()
    _review_queue()
    _history(published, source)
    _from_text()
