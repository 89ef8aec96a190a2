"""政策管理 and 政策沙盘: browse the library, edit a policy (form and YAML side by side) with live
errors, run its cases, and see a draft's reach and cost on the current data before publishing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st
import yaml

from rules_engine import ir, vectorized
from rules_engine.errors import EngineError, PolicyLoadError
from rules_engine.frame import KEY
from rules_engine.loader import load_policy_text
from rules_engine.policytests import run_policy_tests
from rules_engine.service.policies import publish_policy
from ui import common

FORM_FIELDS = [("version", "版本号"), ("title", "政策名称"), ("department", "主管部门"), ("summary", "政策摘要"),
               ("valid_from", "生效日期"), ("valid_to", "截止日期")]


def scalar_spans(text: str) -> dict[tuple[Any, ...], tuple[int, int, str]]:
    """Where each editable scalar sits in the YAML text: path -> (start, end, value). The form edits
    the text at these spans, so comments and layout survive."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return {}
    out: dict[tuple[Any, ...], tuple[int, int, str]] = {}
    if not isinstance(root, yaml.MappingNode):
        return out
    for k, v in root.value:
        if isinstance(v, yaml.ScalarNode):
            out[(k.value,)] = (v.start_mark.index, v.end_mark.index, v.value)
        if k.value == "conditions" and isinstance(v, yaml.SequenceNode):
            for i, item in enumerate(v.value):
                if isinstance(item, yaml.MappingNode):
                    for ck, cv in item.value:
                        if ck.value in ("when", "label") and isinstance(cv, yaml.ScalarNode):
                            out[("conditions", i, ck.value)] = (cv.start_mark.index, cv.end_mark.index, cv.value)
    return out


def _yaml_scalar(value: str) -> str:
    """A plain scalar where YAML reads it back as written, else a double-quoted one."""
    plain_ok = (value and value.strip() == value and ": " not in value and " #" not in value
                and value[0] not in "[]{}&*!|>'\"%@`#,?-" and "\n" not in value)
    if plain_ok:
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def edit_scalars(text: str, changes: dict[tuple[Any, ...], str]) -> str:
    """Apply form values to the YAML text in place, last span first so earlier offsets hold."""
    spans = scalar_spans(text)
    for path, new in sorted(changes.items(), key=lambda kv: -spans[kv[0]][0]):
        start, end, old = spans[path]
        if new != old:
            text = text[:start] + _yaml_scalar(new) + text[end:]
    return text


def _library_table(policies: list[ir.Policy], query: str) -> pd.DataFrame:
    rows = [{"编号": p.id, "政策名称": p.title, "主管部门": p.department, "兑现方式": p.tier,
             "状态": {"active": "有效", "retired": "已废止"}.get(p.status, p.status),
             "有效期": f"{p.valid_from} 至 {p.valid_to or '长期'}", "版本": p.version,
             "预算（元）": common.yuan(int(p.budget.total * 100)).removesuffix(" 元") if p.budget else ""}
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
    if by == "region":
        key = frame["region"].astype(str).str[:4].iloc[idx].to_numpy()
    elif by == "industry":
        key = frame["industry"].astype(str).str[:1].iloc[idx].to_numpy()
    else:
        key = frame["enterprise_size"].astype(str).iloc[idx].to_numpy() if "enterprise_size" in frame \
            else np.full(len(idx), "未知")
    df = pd.DataFrame({"分组": key, "企业数": 1, "金额（元）": fen / 100})
    return df.groupby("分组", as_index=True).sum()


def _impact(draft: ir.Policy, published: ir.Policy | None) -> None:
    cd = common.data()
    frame = cd.dataset.frame
    res = vectorized.match(frame, [draft], cd.as_of, explain_failures=False).results[0]
    status, fen = res.status, res.amount_fen
    elig = np.flatnonzero((status == ir.Status.ELIGIBLE) & (fen > 0))
    und = int((status == ir.Status.UNDETERMINED).sum())
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
            st.warning(f"测算金额超出预算 {common.yuan(total - budget)}：将按政策的预算分配规则（{draft.budget.allocation.value}）"
                       f"分配，部分企业只能部分兑现或不予兑现。")
    else:
        d.metric("预算", "未设预算")
    if len(elig):
        cols = st.columns(3)
        for col, (by, title) in zip(cols, [("region", "按地区"), ("industry", "按行业门类"), ("size", "按企业规模")]):
            with col:
                st.markdown(f"**{title}**")
                st.bar_chart(_breakdown(frame, elig, fen[elig], by)["金额（元）"])
    if published is None:
        return
    old = vectorized.match(frame, [published], cd.as_of, explain_failures=False).results[0]
    old_fen = np.where((old.status == ir.Status.ELIGIBLE), old.amount_fen, 0)
    new_fen = np.where((status == ir.Status.ELIGIBLE), fen, 0)
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
                             "原金额（元）": old_fen[changed] / 100, "新金额（元）": new_fen[changed] / 100,
                             "变化（元）": (new_fen[changed] - old_fen[changed]) / 100})
        common.show_frame(diff.sort_values("变化（元）"), height=300)
    else:
        st.caption("草稿与已发布版本对当前数据的结果相同。")


def _publish(text: str, source: Path) -> None:
    try:
        msg = publish_policy(common.ledger(), common.actor(), common.dictionary(), text, source)
    except EngineError as exc:
        st.session_state["publish_err"] = f"未发布：{exc}"
        return
    common.library.clear()
    st.session_state.pop(f"yaml::{source}", None)
    st.session_state["published"] = msg


def render() -> None:
    st.header("政策管理与沙盘")
    lib = common.current_library()
    if msg := st.session_state.pop("published", None):
        st.success(msg)
    if msg := st.session_state.pop("publish_err", None):
        st.error(msg)
    query = st.text_input("搜索政策（编号、名称、部门）", key="lib_query")
    common.show_frame(_library_table(lib.policies, query), height=260)
    if lib.problems:
        st.warning(f"政策库中有 {len(lib.problems)} 个文件未能加载")
    ids = [p.id + f"@{p.version}" for p in lib.policies]
    by_key = {p.id + f"@{p.version}": p for p in lib.policies}
    pick = st.selectbox("选择政策进行编辑与测算", ids, key="lib_pick",
                        format_func=lambda k: f"{by_key[k].title}（{by_key[k].id} v{by_key[k].version}）")
    published = by_key[pick]
    source = Path(published.source)
    draft = _editor(source)
    if draft is None:
        return
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
        st.info("测试用例未全部通过，不能发布。")
    elif not unchanged and draft.version == published.version:
        st.info(f"修改后请递增版本号（当前 v{published.version}）：已兑现的记录按版本留痕。")
    if st.button("发布", type="primary", disabled=bool(failed) or unchanged or draft.version == published.version,
                 help="写入政策库文件，并记入审计日志" if not unchanged else "草稿与已发布版本相同"):
        _publish(text, source)
        st.rerun()
