"""免申即享 政策计算器 · 政策沙盘 · 兑现批次: the Streamlit front end.

    streamlit run ui/app.py        (or: bash scripts/ui.sh)

Sign in with a local account (ui/accounts.yaml, or $MIANSHEN_ACCOUNTS). What a page shows
depends on the role: an enterprise account sees its own data only, whatever the URL says.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `ui` and `rules_engine` from the checkout

import streamlit as st  # noqa: E402

from rules_engine.accounts import ROLE_ZH, AccountError, authenticate, load_accounts  # noqa: E402
from ui import common  # noqa: E402
from ui.views import batch, calculator, data, overview, sandbox  # noqa: E402

# page key -> (title, render, roles that may open it)
PAGES = {
    "overview": ("总览", overview.render, {"official", "auditor"}),
    "calculator": ("政策计算器 / 政策体检", calculator.render, {"enterprise", "official"}),
    "policies": ("政策管理与沙盘", sandbox.render, {"official"}),
    "batch": ("兑现批次", batch.render, {"official", "auditor"}),
    "data": ("数据", data.render, {"official", "auditor"}),
}

st.set_page_config(page_title="免申即享 政策兑现平台", layout="wide")


def login() -> None:
    st.title("免申即享 政策兑现平台")
    st.caption("惠企政策“免申即享”：政策计算器、政策沙盘、兑现批次")
    try:
        accounts = load_accounts()
    except AccountError as exc:
        st.error(f"账户配置有误：{exc}")
        st.stop()
    with st.form("login"):
        username = st.text_input("用户名")
        password = st.text_input("密码", type="password")
        if st.form_submit_button("登录"):
            account = authenticate(accounts, username, password)
            if account is None:
                st.error("用户名或密码错误")
            else:
                st.session_state.clear()
                st.session_state["user"] = account
                st.rerun()
    st.info("演示账户见 README（企业 qiye01、政策管理 guanyuan、审计 shenji）。")


def main() -> None:
    if "user" not in st.session_state:
        login()
        return
    me = common.user()
    allowed = [k for k, (_, _, roles) in PAGES.items() if me.role in roles]
    wanted = st.query_params.get("page")
    if "page" not in st.session_state:
        st.session_state["page"] = wanted if wanted in allowed else allowed[0]
    with st.sidebar:
        st.markdown(f"**{me.name}**  \n{ROLE_ZH[me.role]}（{me.username}）")
        page = st.radio("页面", allowed, format_func=lambda k: PAGES[k][0], key="page")
        if st.button("退出登录"):
            st.session_state.clear()
            st.rerun()
    st.query_params["page"] = page
    PAGES[page][1]()


main()
