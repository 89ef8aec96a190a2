"""数据: load department data files, see the data-quality report and the rejected rows."""

from __future__ import annotations

import datetime as dt
import os

import streamlit as st

from rules_engine.datasets import SourceFile, load_dataset, load_manifest
from rules_engine.errors import EngineError
from rules_engine.quality import quality_report
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
    common.show_frame(cov, column_config={"覆盖率": st.column_config.ProgressColumn(min_value=0, max_value=1,
                                                                                 format="percent")}, height=300)
    if len(rep.conflicts):
        st.markdown("**冲突值**（较新数据优先）")
        common.show_frame(rep.conflicts)


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
            as_of = st.date_input("数据日期", cd.as_of)
            go = st.form_submit_button("导入并检查")
        if go and files:
            folder = common.ROOT / "out" / "uploads" / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            folder.mkdir(parents=True, exist_ok=True)
            new = []
            for f in files:
                path = folder / os.path.basename(f.name)
                path.write_bytes(f.getvalue())
                new.append(SourceFile(path.name, source, as_of, path=path))
            try:
                base = load_manifest(common.data_path()) if common.data_path().suffix in (".yaml", ".yml") else []
                ds = load_dataset([*base, *new], d)
            except EngineError as exc:
                st.error(f"导入失败：{exc}")
            else:
                st.session_state["staged"] = (ds, [f.name for f in new])
        if "staged" in st.session_state:
            ds, names = st.session_state["staged"]
            st.info(f"已检查 {', '.join(names)}：见下方报告。确认后替换当前数据。")
            if st.button("设为当前数据", type="primary"):
                cd.dataset = ds
                cd.label = f"{cd.label} + {', '.join(names)}"
                del st.session_state["staged"]
                st.session_state["data_msg"] = "已替换当前数据"
                st.rerun()
            _report(ds, cd.as_of)
            return
    _report(cd.dataset, cd.as_of)

