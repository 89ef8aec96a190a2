"""免申即享 政策计算器 · 政策沙盘 · 兑现批次: the Streamlit front end.

    streamlit run ui/app.py        (or: bash scripts/demo.sh)

Sign in with a local account (ui/accounts.yaml, or $MIANSHEN_ACCOUNTS). What a page shows
depends on the role: an enterprise account sees its own data only, whatever the URL says.

Sessions: Streamlit lets a second connection that presents a session id resume that session.
So the id of a session is marked non-resumable when someone signs in and when they sign out
(a stolen id opens a fresh, signed-out session), a signed-in session is bound to the
connection it signed in on, and it expires after 30 minutes idle or 8 hours in all.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `ui` and `rules_engine` from the checkout

import streamlit as st  # noqa: E402

from rules_engine.accounts import ROLE_ZH, AccountError, load_accounts  # noqa: E402
from rules_engine.errors import EngineError  # noqa: E402
from rules_engine.service import auth  # noqa: E402
from ui import common  # noqa: E402
from ui.views import batch, calculator, data, overview, review, sandbox  # noqa: E402

# page key -> (title, render, roles that may open it)
PAGES = {
    "overview": ("总览", overview.render, {"official", "auditor"}),
    "calculator": ("政策计算器 / 政策体检", calculator.render, {"enterprise", "official"}),
    "policies": ("政策管理与沙盘", sandbox.render, {"official"}),
    "review": ("受理审核", review.render, {"official", "auditor"}),
    "batch": ("兑现批次", batch.render, {"official", "auditor"}),
    "data": ("数据", data.render, {"official", "auditor"}),
}
IDLE_S = 30 * 60
MAX_S = 8 * 3600

st.set_page_config(page_title="免申即享 政策兑现平台", layout="wide", menu_items={})


def _connection() -> str:
    """What identifies the browser connection this session is served on (its WebSocket
    handshake key, new for every connection). AppTest has no connection: nothing to bind."""
    key = st.context.headers.get("Sec-Websocket-Key")
    return key if isinstance(key, str) else ""


def _address() -> str | None:
    ip = st.context.ip_address
    return ip if isinstance(ip, str) else None


def _drop_orphaned_downloads() -> None:
    """Streamlit keeps a download it no longer shows for one more clean-up pass (reachable by
    URL at /media meanwhile); two passes remove it now."""
    from streamlit.runtime import exists, get_instance

    if exists():
        get_instance().media_file_mgr.remove_orphaned_files()
        get_instance().media_file_mgr.remove_orphaned_files()


def _retire_session() -> None:
    """Make this session id unusable for any later connection and drop its files from /media."""
    from streamlit.runtime import get_instance
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None:
        return
    try:
        rt = get_instance()
        rt.mark_session_nonresumable(ctx.session_id)
        rt.media_file_mgr.clear_session_refs(ctx.session_id)
        rt.media_file_mgr.remove_orphaned_files()
    except RuntimeError:  # no runtime (AppTest)
        pass


def sign_out(why: str) -> None:
    if "user" in st.session_state:
        auth.signed_out(common.ledger(), st.session_state["user"], _address(), why)
    _retire_session()
    st.session_state.clear()


def login() -> None:
    st.title("免申即享 政策兑现平台")
    st.caption("惠企政策“免申即享”：政策计算器、政策沙盘、兑现批次")
    if msg := st.session_state.pop("signed_out", None):
        st.info(msg)
    try:
        accounts = load_accounts()
    except AccountError as exc:
        st.error(f"账户配置有误：{exc}")
        st.stop()
    with st.form("login"):
        username = st.text_input("用户名")
        password = st.text_input("密码", type="password")
        if st.form_submit_button("登录"):
            try:
                account = auth.sign_in(common.ledger(), accounts, username, password, _address())
            except EngineError as exc:
                st.error(str(exc))
            else:
                _retire_session()  # rotate: the id used before signing in can never be resumed
                st.session_state.clear()
                now = time.time()
                st.session_state.update(user=account, signed_in_at=now, seen_at=now, connection=_connection())
                st.rerun()
    if not accounts:
        st.warning("没有可用账户：演示账户只在演示模式（MIANSHEN_DEMO=1）下可用。")


def _still_valid() -> bool:
    now = time.time()
    why = None
    if st.session_state.get("connection") != _connection():
        why = "会话已绑定到登录时的连接，检测到新的连接，请重新登录"
    elif now - st.session_state.get("seen_at", 0) > IDLE_S:
        why = "超过 30 分钟未操作，已自动退出，请重新登录"
    elif now - st.session_state.get("signed_in_at", 0) > MAX_S:
        why = "登录已超过 8 小时，请重新登录"
    if why:
        sign_out(why)
        st.session_state["signed_out"] = why
        return False
    st.session_state["seen_at"] = now
    return True


def main() -> None:
    if "user" not in st.session_state or not _still_valid():
        login()
        return
    me = common.user()
    allowed = [k for k, (_, _, roles) in PAGES.items() if me.role in roles]
    wanted = st.query_params.get("page")
    if "page" not in st.session_state:
        st.session_state["page"] = wanted if wanted in allowed else allowed[0]
    with st.sidebar:
        st.markdown(f"**{common.md(me.name)}**  \n{ROLE_ZH[me.role]}（{common.md(me.username)}）")
        page = st.radio("页面", allowed, format_func=lambda k: PAGES[k][0], key="page")
        if st.button("退出登录"):
            sign_out("用户退出")
            st.rerun()
    st.query_params["page"] = page
    _drop_orphaned_downloads()
    PAGES[page][1]()


main()
