"""数据: load department data files, see the data-quality report and the rejected rows."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from rules_engine.data.quality import quality_report
from rules_engine.errors import EngineError
from rules_engine.service import data as data_service
from ui import common


def _report(ds, as_of: dt.date) -> None:  # type: ignore[no-untyped-def]
    rep = quality_report(ds, common.dictionary(), as_of)
    a, b, c, d = st.columns(4)
    a.metric("企业数", f"{len(ds.frame)}")
    b.metric("来源文件", f"{len(rep.sources)}")
    c.metric("拒收（行或单元格）", f"{len(rep.rejects)}")
    d.metric("冲突值", f"{len(rep.conflicts)}")
    st.markdown("**来源与时效**")
    common.show_frame(rep.sources.rename(columns={"file": "文件", "source": "部门", "as_of": "数据日期",
                                                  "age_days": "距评估日（天）", "rows": "行数", "rejected": "拒收"}))
    st.markdown("**拒收的行**（其余行照常使用）")
    if len(rep.rejects):
        common.show_frame(rep.rejects.rename(columns={"file": "文件", "row": "行号", "credit_code": "信用代码",
                                                      "column": "列", "raw": "原值", "reason": "原因"}))
    else:
        st.caption("无")
    st.markdown("**标签覆盖率**")
    cov = rep.coverage.rename(columns={"tag": "标签", "label": "名称", "source": "部门", "filled": "有值",
                                       "coverage": "覆盖率"})
    common.show_frame(cov.assign(覆盖率=[f"{float(v):.1%}" for v in cov["覆盖率"]]))
    if len(rep.by_column):
        st.markdown("**按列统计**：按最接近的分读取（浮点导出造成的尾差）、拒收与冲突的单元格")
        common.show_frame(rep.by_column.rename(columns={"file": "文件", "column": "列", "normalised": "按分归一",
                                                        "rejected": "拒收", "conflicting": "冲突"}))
    if len(rep.conflicts):
        st.markdown("**冲突值**（较新数据优先；企业划型：部门报送值优先于平台计算值）")
        common.show_frame(rep.conflicts.astype(str).rename(columns={
            "credit_code": "统一社会信用代码", "tag": "标签", "kept": "采用值", "kept_from": "采用来源",
            "dropped": "舍弃值", "dropped_from": "舍弃来源"}))


def render() -> None:
    me = common.user()
    cd = common.data()
    st.header("数据")
    if msg := st.session_state.pop("data_msg", None):
        st.success(msg)
    st.caption(f"当前数据：{cd.label}，评估日期 {cd.as_of}")
    if me.role == "official":
        with st.expander("导入部门数据文件", expanded=False), st.form("upload"):
            d = common.dictionary()
            files = st.file_uploader("数据文件（CSV、XLSX）", type=["csv", "xlsx"], accept_multiple_files=True)
            source = st.selectbox("提供部门", list(d.sources), format_func=lambda k: d.sources[k].label)
            encoding = st.selectbox("文件编码", list(data_service.ENCODINGS),
                                    format_func=lambda e: {"utf-8": "UTF-8（含带 BOM）", "gb18030": "GBK / GB18030"}[e])
            as_of = st.date_input("数据日期", cd.as_of)
            go = st.form_submit_button("导入并检查")
        if go and files:
            try:
                ds, new = data_service.stage(common.actor(), d, common.data_path(),
                                             [(f.name, f.getvalue()) for f in files], source, as_of, encoding)
            except EngineError as exc:
                st.error(f"导入失败：{exc}")
            else:
                st.session_state["staged"] = (ds, new, data_service.source_mismatch(d, new))
        if "staged" in st.session_state:
            ds, new, warnings = st.session_state["staged"]
            for w in warnings:
                st.warning(w)
            st.info(f"已检查 {'、'.join(f.name for f in new)}：见下方报告。确认后在当前数据之上生效（持久保存并记入审计日志）。")
            if st.button("设为当前数据", type="primary"):
                try:
                    data_service.activate(common.ledger(), common.actor(), common.data_path(), new, cd.as_of)
                except EngineError as exc:
                    st.session_state["data_msg"] = f"未生效：{exc}"
                else:
                    common.current_data.clear()
                    st.session_state["data_msg"] = "已生效：当前数据已更新"
                del st.session_state["staged"]
                st.rerun()
            _report(ds, cd.as_of)
            return
    _report(cd.dataset, cd.as_of)

