"""What every page shares: the loaded dictionary, library and data, the ledger, the signed-in
account, and small display helpers. Only the library's public API is used."""

from __future__ import annotations

import html
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import altair as alt
import pandas as pd
import streamlit as st

from rules_engine.data.datasets import SAMPLE_MANIFEST, masked
from rules_engine.data.tags import TagDictionary, load_dictionary
from rules_engine.data.values import fmt_yuan, yuan_text
from rules_engine.ir import Policy
from rules_engine.library.loader import Library, load_library
from rules_engine.service import Actor, open_ledger
from rules_engine.service.accounts import Account
from rules_engine.service.platform import CurrentData, Platform, load_data

if TYPE_CHECKING:  # the UI reaches the ledger only through the service layer
    from sqlalchemy.orm import Session, sessionmaker

    from rules_engine.explain import Explanation
    from rules_engine.service.portal import Step

    Ledger = sessionmaker[Session]

ROOT = Path(__file__).resolve().parent.parent
STATUS_ZH = {"eligible": "符合", "undetermined": "待补充数据", "not_eligible": "不符合"}
PAYOUT_ZH = {"candidate": "待公示", "publicized": "公示中", "approved": "已审批", "paid": "已支付",
             "failed": "支付失败", "withdrawn": "已撤回", "revoked": "已追回"}


def policies_dir() -> Path:
    return Path(os.environ.get("MIANSHEN_POLICIES", ROOT / "policies"))


def data_path() -> Path:
    """MIANSHEN_DATA, else the data an official activated (persisted), else the sample."""
    from rules_engine.service.data import current_manifest

    return current_manifest(Path(os.environ.get("MIANSHEN_DATA", SAMPLE_MANIFEST)))


def ledger_url() -> str:
    return os.environ.get("MIANSHEN_DB", "")  # empty: the ledger's default


@st.cache_resource(show_spinner=False)
def dictionary() -> TagDictionary:
    return load_dictionary()


@st.cache_resource(show_spinner="正在加载政策库…")
def library(path: str) -> Library:
    return load_library(path, dictionary())


def current_library() -> Library:
    return library(str(policies_dir()))


@st.cache_resource(show_spinner="正在加载企业数据…")
def current_data(path: str) -> CurrentData:
    """The enterprise data every page works on; the 数据 page can replace it for everyone."""
    return load_data(Path(path), dictionary())


def data() -> CurrentData:
    return current_data(str(data_path()))


@st.cache_resource(show_spinner=False)
def _ledger(url: str) -> Ledger:
    return open_ledger(url or None)


def ledger() -> Ledger:
    return _ledger(ledger_url())


def platform() -> Platform:
    """The service layer's view of what this page works on."""
    return Platform(dictionary(), current_library(), data(), ledger())


def user() -> Account:
    u = st.session_state.get("user")
    assert isinstance(u, Account), "pages are only rendered for a signed-in account"
    return u


def actor() -> Actor:
    """The signed-in account as the service layer's actor."""
    u = user()
    return Actor(u.username, u.role, u.credit_code)


def md(text: object) -> str:
    """Department data as literal text inside Markdown: every Markdown and HTML metacharacter
    escaped, so a name like ![x](http://…) or [点击领取](http://…) shows as typed and fetches nothing."""
    out = []
    for ch in str(text):
        if ch in MD_SPECIAL:
            out.append("\\" + ch)
        elif ch in "\r\n":
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


MD_SPECIAL = set("\\`*_{}[]()<>#+-.!|~$:&=\"'")


def act(page: str, label: str, action: Any, done: str | None = None, failed: str = "未完成") -> None:
    """Run one service call, keep what it says (`done`, else what it returned) or its domain
    error for the rerun that follows, and rerun. A file's problems keep their lines and carets."""
    from rules_engine.errors import EngineError, PolicyLoadError

    try:
        result = action()
        st.session_state[f"{page}_msg"] = done if done is not None else result
    except PolicyLoadError as exc:
        st.session_state[f"{page}_err"] = f"{label}{failed}：文件有 {len(exc.problems)} 处问题"
        st.session_state[f"{page}_err_detail"] = "\n\n".join(str(p) for p in exc.problems[:20])
    except EngineError as exc:
        st.session_state[f"{page}_err"] = f"{label}{failed}：{md(exc)}"
    st.rerun()


def messages(page: str) -> None:
    """What the last `act` of this page said."""
    if msg := st.session_state.pop(f"{page}_msg", None):
        st.success(msg)
    if msg := st.session_state.pop(f"{page}_err", None):
        st.error(msg)
    if detail := st.session_state.pop(f"{page}_err_detail", None):
        st.code(detail, language=None)


def offer_download(label: str, name: str, data: bytes, key: str, mime: str | None = None) -> None:
    """A download that is audited (who, when, the file's hash) and offered once: after the
    click the bytes leave the session, so the next run drops them from Streamlit's /media."""
    import mimetypes

    from streamlit.runtime.scriptrunner import get_script_run_ctx

    from rules_engine.service.ledger import record_download
    from ui import security

    mime = mime or mimetypes.guess_type(name)[0] or "application/octet-stream"

    def taken() -> None:
        record_download(ledger(), actor(), name, data)
        st.session_state.pop(f"file_{key}", None)
        if (ctx := get_script_run_ctx()) is not None:  # kept until this person's GET, then deleted
            security.pin_download(ctx.session_id, data, mime, name)

    st.download_button(label, data, file_name=name, key=f"dl_{key}", on_click=taken, mime=mime)


@st.cache_resource(show_spinner=False)
def region_names() -> dict[str, str]:
    """Region code -> name (区县 with its city), from enterprises/regions.csv."""
    df = pd.read_csv(ROOT / "enterprises" / "regions.csv", dtype=str)
    name = dict(zip(df["code"], df["name"]))
    parent = dict(zip(df["code"], df["parent"].fillna("")))
    return {c: (f"{name.get(parent[c], '')}{n}" if parent.get(c) and parent[c] != "340000" else n)
            for c, n in name.items()}


def yuan(fen: int) -> str:
    """Money in text: 1,234.56 元."""
    return yuan_text(int(fen))


def amount(fen: int) -> str:
    """Money in a table column headed （元）: 1,234.56."""
    return fmt_yuan(int(fen))


def enterprise_name(code: str) -> str:
    """The name the departments' data gives the enterprise (empty if it is not in the data)."""
    ds = data().dataset
    try:
        name = ds.frame["name"].iloc[ds.index_of(code)]
    except (KeyError, IndexError, ValueError):
        return ""
    return name if isinstance(name, str) else ""


def policy_by_id(policies: list[Policy], pid: str) -> Policy | None:
    """The version in force: active before retired, then the highest version (the library keeps
    retired versions too, and the first file found was once a retired one)."""
    return max((p for p in policies if p.id == pid), key=lambda p: (p.status == "active", p.version), default=None)


def masked_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Personal data masked (names of persons, ID numbers, phones, bank accounts) for display."""
    return masked(df, dictionary())


PAGE_ROWS = 50


def show_frame(df: pd.DataFrame, key: str | None = None) -> None:
    """A table that is never cut: an HTML table whose cells wrap, so every column shows at any
    width, and below 600 px of room each row is a card of 「列名：值」 lines (the CSS is in
    app.py). Streamlit's grid draws on a canvas with one-line cells, so at 1,400 px key columns
    fell off the right edge and a phone showed two or three columns. Long tables are paged.
    Every cell is escaped: department data is text, never markup."""
    if df.empty:
        st.caption("（暂无记录）")
        return
    rows = df
    if len(df) > PAGE_ROWS:
        pages = -(-len(df) // PAGE_ROWS)
        at = st.selectbox(f"共 {len(df)} 条，每页 {PAGE_ROWS} 条", range(pages),
                          key=key or f"page_{'|'.join(map(str, df.columns))}",
                          format_func=lambda i: f"第 {i + 1}/{pages} 页（第 {i * PAGE_ROWS + 1}–"
                                                f"{min(len(df), (i + 1) * PAGE_ROWS)} 条）")
        rows = df.iloc[at * PAGE_ROWS:(at + 1) * PAGE_ROWS]
    st.html(frame_html(rows))


def frame_html(df: pd.DataFrame) -> str:
    cols = [str(c) for c in df.columns]
    head = "".join(f"<th>{_cell(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f'<td data-label="{_cell(c)}">{_cell(v)}</td>' for c, v in zip(cols, row))
                   + "</tr>" for row in df.itertuples(index=False, name=None))
    return f'<div class="mx-wrap"><table class="mx-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _cell(v: object) -> str:
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v)):
        return "—"
    return html.escape(str(v), quote=True).replace("\n", "<br>")


def explanation_block(e: Explanation) -> None:
    """One explanation as every page shows it: basis, each condition with its values and their
    source, the amount's computation and, for a payout, the grant and any disagreement found."""
    p = e.policy
    st.markdown(f"**依据**：{md(p.basis.document)}（{md(p.basis.number)}）{md(p.basis.article)}  \n"
                f"**主管部门**：{md(p.department)}　**联系方式**：{md(p.contact or '政务服务热线12345')}")
    for line in e.param_lines():  # a dated parameter: the value in force and its basis
        st.caption(md(f"参数：{line}"))
    if e.reason:
        st.warning(md(e.reason))
    rows = []
    for c in e.conditions:
        mark = {True: "√ 满足", False: "× 不满足", None: "？待补充"}[c.outcome]
        values = "；".join(f"{v.label}={v.display}（{v.source}{' ' + v.file if v.file else ''}"
                          f"{'，' + str(v.as_of) if v.as_of else ''}）" for v in c.values)
        rows.append({"条件": c.label or c.zh, "结果": mark, "取值与来源": values or "—",
                     "差距/缺少": c.gap or "、".join(c.missing) or "", "条款": c.article or p.basis.article})
    show_frame(pd.DataFrame(rows))
    if e.amount_steps:
        st.markdown("**金额计算**")
        st.code("\n".join(e.amount_steps), language=None, wrap_lines=True)  # phones: no sideways scroll
    if (g := e.grant) is not None:
        st.markdown(f"**兑现**：公式金额 {yuan(g.formula_fen)}，实发金额 {yuan(g.granted_fen)}"
                    + (f"（{md(g.allocation)}）" if g.allocation else "") + f"  \n**来由**：{md(g.origin)}")
        if g.discrepancies:
            st.error("**记录与政策或兑现金额不一致，请核查**：\n\n" + "\n".join(f"- {md(d)}" for d in g.discrepancies))
        else:
            st.caption("按记录的数据以该版本政策重算，结果与记录、兑现金额一致。")


def payouts_with_explanation(df: pd.DataFrame, labels: dict[str, str], key: str) -> None:
    """A table of payouts, and below it the explanation of the one picked (`labels`: each
    payout's reference and how the picker names it)."""
    from rules_engine.errors import EngineError
    from rules_engine.service import explain_payout
    from rules_engine.service.portal import timeline

    show_frame(df, key=f"{key}_page")
    ref = st.selectbox("查看一笔兑现的说明（为什么兑现、金额怎么算）", ["", *labels], key=key,
                       format_func=lambda r: labels.get(r, "请选择兑现记录"))
    if not ref:
        return
    try:
        _, e = explain_payout(ledger(), actor(), ref, current_library().policies, dictionary())
        steps = timeline(ledger(), actor(), ref)
    except EngineError as exc:
        st.error(str(exc))
        return
    payout_timeline(steps)
    explanation_block(e)


STEP_MARK = {"已完成": "✅", "进行中": "⏳", "未开始": "○", "未成功": "⚠️", "已终止": "⛔"}


def payout_timeline(steps: list[Step]) -> None:
    """匹配 → 公示 → 审批 → 支付, each with its state and date (what the portals show)."""
    st.markdown("**办理进度**")
    for col, x in zip(st.columns(len(steps)), steps):
        col.markdown(f"{STEP_MARK.get(x.state, '')} **{x.name}**  \n{x.state}" + (f"  \n{md(x.detail)}" if x.detail else ""))


# A category's name wrapped every 9 characters (Vega draws an array as lines): the label column
# stays narrow enough to leave the bars room on a phone or in a third of the page, and no name
# is cut with 「…」 (labelLimit 0).
WRAP = ("length(datum.label) <= 9 ? datum.label : length(datum.label) <= 18 ? "
        "[substring(datum.label, 0, 9), substring(datum.label, 9, 18)] : "
        "[substring(datum.label, 0, 9), substring(datum.label, 9, 18), substring(datum.label, 18, 99)]")


def amount_bars(df: pd.DataFrame, by: str, title: str, top: int, chronological: bool = False) -> None:
    """Horizontal bars of money by `by`, stacked by the column 类别: the `top` largest by name,
    the rest as 其他 (`chronological`: every name, in order); full names; amounts in 万元 on the
    axis, exact yuan in the tooltip; the legend below, and none for a single 类别."""
    g = df.groupby([by, "类别"], as_index=False)["fen"].sum()
    totals = g.groupby(by)["fen"].sum().sort_values(ascending=False)
    keep = set(totals.index) if chronological else set(totals.index[:top])
    g[by] = [x if x in keep else "其他" for x in g[by]]
    g = g.groupby([by, "类别"], as_index=False)["fen"].sum()
    g["金额（万元）"] = [int(f) / 1_000_000 for f in g["fen"]]  # display scale only; the tooltip is exact
    g["金额"] = [yuan(int(f)) for f in g["fen"]]
    order = sorted(keep) if chronological else \
        [x for x in totals.index if x in keep] + (["其他"] if "其他" in set(g[by]) else [])
    lines = max((min(3, -(-len(str(x)) // 9)) for x in order), default=1)
    cat = alt.Y(f"{by}:N", sort=order, title=None, axis=alt.Axis(labelExpr=WRAP, labelLimit=0, labelOverlap=False))
    val = alt.X("金额（万元）:Q", title="金额（万元）", axis=alt.Axis(tickCount=4))
    several = g["类别"].nunique() > 1
    color = alt.Color("类别:N", title="类别", legend=alt.Legend(orient="bottom", direction="horizontal")
                      if several else None)
    chart = alt.Chart(g, title=title).mark_bar().encode(
        cat, val, color=color, tooltip=[alt.Tooltip(f"{by}:N", title=title), "类别:N", "金额:N"])
    # The height is the whole chart's (title, axis and legend included), so they are added to the rows'.
    rows = (14 * lines + 10) * len(order)
    st.altair_chart(chart.properties(height=rows + 110 + (50 if several else 0)), width="stretch")
