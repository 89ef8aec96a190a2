"""免申即享 政策计算器 · 政策沙盘 · 兑现批次: the Streamlit front end.

    streamlit run ui/app.py        (or: bash scripts/demo.sh)

Sign in with a local account (ui/accounts.yaml, or $MIANSHEN_ACCOUNTS). What a page shows
depends on the role: an enterprise account sees its own data only, whatever the URL says.

Sessions: Streamlit lets a second connection that presents a session id resume that session.
So the id of a session is marked non-resumable when someone signs in and when they sign out
(a stolen id opens a fresh, signed-out session), a signed-in session is bound to the
connection it signed in on, and it expires after 30 minutes idle or 8 hours in all. A page
refresh opens a new connection: the person stays signed in through an HttpOnly cookie holding
a server-side session token (ui/websession.py, served by ui/server.py), which sign-out,
30 minutes idle and 8 hours end on the server, whatever the browser keeps.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `ui` and `rules_engine` from the checkout

import streamlit as st  # noqa: E402

from rules_engine.errors import EngineError  # noqa: E402
from rules_engine.service import auth, keys  # noqa: E402
from rules_engine.service.accounts import ROLE_ZH, AccountError, load_accounts  # noqa: E402
from ui import common, websession, zh  # noqa: E402
from ui.views import batch, calculator, contracts, data, finance, overview, review, sandbox  # noqa: E402

# page key -> (title, render, roles that may open it)
PAGES = {
    "overview": ("总览", overview.render, {"official", "auditor", "finance"}),
    "calculator": ("政策计算器 / 政策体检", calculator.render, {"enterprise", "official"}),
    "policies": ("政策管理与沙盘", sandbox.render, {"official"}),
    "review": ("受理审核", review.render, {"official", "auditor"}),
    "batch": ("兑现批次", batch.render, {"official", "auditor"}),
    "contracts": ("合同履约", contracts.render, {"official", "enterprise", "auditor"}),
    "finance": ("财务支付", finance.render, {"finance"}),
    "data": ("数据", data.render, {"official", "auditor"}),
}
IDLE_S = keys.IDLE_MINUTES * 60  # the same ends as the server-side session the cookie holds
MAX_S = keys.SESSION_HOURS * 3600

st.set_page_config(page_title="免申即享 政策兑现平台", layout="wide", menu_items={})
# A metric's value wraps (before 元) and shrinks with the window rather than ending in 「…」:
# a sum of money must never be shown cut short.
st.html("<style>[data-testid='stMetricValue'], [data-testid='stMetricValue'] * {white-space: normal !important;"
        " overflow: visible !important; text-overflow: clip !important; word-break: keep-all;}"
        " [data-testid='stMetricValue'] {font-size: clamp(1.25rem, 2.4vw, 2.25rem);}"
        # Tables and charts carry Streamlit's own toolbar (English: Show/hide columns, Download as
        # CSV, Search, Fullscreen) and Vega's menu (Save as PNG, Open in Vega Editor: the data sent
        # to another site). Both bypass the audited, neutralised download path: hidden; every table
        # a user may take away has its own 导出 button.
        " [data-testid='stElementToolbar'], .vega-embed details, .vega-actions {display: none !important;}"
        # Tables (common.show_frame): cells wrap so every column shows; with less than 600 px of
        # room (a phone, a narrow column) each row becomes a card of 「列名：值」 lines.
        " .mx-wrap {container-type: inline-size; width: 100%;}"
        " .mx-table {width: 100%; border-collapse: collapse; font-size: 0.875rem; line-height: 1.45;}"
        " .mx-table th, .mx-table td {border-bottom: 1px solid rgba(49, 51, 63, 0.12); padding: 0.35rem 0.5rem;"
        " text-align: left; vertical-align: top; overflow-wrap: anywhere;}"
        " .mx-table th {font-weight: 600; background: rgba(49, 51, 63, 0.04);}"
        " @container (max-width: 600px) {"
        " .mx-table thead {display: none;}"
        " .mx-table tr {display: block; border: 1px solid rgba(49, 51, 63, 0.15); border-radius: 0.5rem;"
        " margin-bottom: 0.5rem; padding: 0.3rem 0.6rem;}"
        " .mx-table td {display: block; border: none; padding: 0.1rem 0;}"
        " .mx-table td::before {content: attr(data-label) \"：\"; color: rgba(49, 51, 63, 0.65);}}</style>")
st.html(zh.SCRIPT, unsafe_allow_javascript=True, width="content")  # Streamlit's own words in Chinese


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
    from ui import security

    security.unbind(ctx.session_id)
    try:
        rt = get_instance()
        rt.mark_session_nonresumable(ctx.session_id)
        rt.media_file_mgr.clear_session_refs(ctx.session_id)
        rt.media_file_mgr.remove_orphaned_files()
    except RuntimeError:  # no runtime (AppTest)
        pass


def sign_out(why: str) -> None:
    if "user" in st.session_state:
        auth.signed_out(common.ledger(), st.session_state["user"], _address(), why, st.session_state.get("web_token"))
    _retire_session()
    st.session_state.clear()
    st.session_state["browser_script"] = websession.CLEAR_COOKIE_SCRIPT


def _run_browser_script() -> None:
    """Set or clear the session cookie (one fetch, same origin; see ui/websession.py)."""
    if script := st.session_state.pop("browser_script", None):
        st.html(script, unsafe_allow_javascript=True, width="content")


def _signed_in(account: object, since: float, token: str) -> None:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    from ui import security

    if (ctx := get_script_run_ctx()) is not None:  # this page's files go to this person only
        security.bind(ctx.session_id, token)
    now = time.time()
    st.session_state.update(user=account, signed_in_at=since, seen_at=now, touched_at=now,
                            connection=_connection(), web_token=token)


def _resume() -> bool:
    """After a refresh: sign in again from the session cookie, if the server still honours it."""
    token = st.context.cookies.get(websession.COOKIE)
    if not token:
        return False
    try:
        account, since = auth.resume(common.ledger(), load_accounts(), token, _address())
    except (EngineError, AccountError) as exc:
        st.session_state["signed_out"] = str(exc)
        st.session_state["browser_script"] = websession.CLEAR_COOKIE_SCRIPT
        return False
    _signed_in(account, since.timestamp(), token)
    return True


def login() -> None:
    st.title("免申即享 政策兑现平台")
    st.caption("惠企政策“免申即享”：政策计算器、政策沙盘、兑现批次")
    if msg := st.session_state.pop("signed_out", None):
        st.info(msg)
    _run_browser_script()
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
                token = auth.open_web_session(common.ledger(), account)
                _signed_in(account, time.time(), token)
                st.session_state["browser_script"] = websession.set_cookie_script(websession.issue_ticket(token))
                st.rerun()
    if not accounts:
        st.warning("没有可用账户：演示账户只在演示模式（MIANSHEN_DEMO=1）下可用。")


def _still_valid() -> bool:
    now = time.time()
    why = None
    if st.session_state.get("connection") != _connection():
        # Another connection presents this session's id (a refresh, or a stolen id): the id is
        # retired, and only the session cookie, which a stolen id does not carry, signs in again.
        _retire_session()
        st.session_state.clear()
        return _resume()
    if now - st.session_state.get("seen_at", 0) > IDLE_S:
        why = f"超过 {keys.IDLE_MINUTES} 分钟未操作，已自动退出，请重新登录"
    elif now - st.session_state.get("signed_in_at", 0) > MAX_S:
        why = f"登录已超过 {keys.SESSION_HOURS} 小时，请重新登录"
    if why:
        sign_out(why)
        st.session_state["signed_out"] = why
        return False
    st.session_state["seen_at"] = now
    if now - st.session_state.get("touched_at", 0) > 60 and st.session_state.get("web_token"):
        keys.touch_session(common.ledger(), st.session_state["web_token"])  # the server's idle clock
        st.session_state["touched_at"] = now
    return True


def main() -> None:
    signed_in = _still_valid() if "user" in st.session_state else _resume()
    if not signed_in:
        login()
        return
    _run_browser_script()
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
