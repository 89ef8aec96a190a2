"""Signing in: password check with back-off and lockout per account and per address.

After MAX_FAILURES wrong passwords in a row for an account (or from an address), both are
locked for LOCK_MINUTES, doubling with each further lockout; while locked even the right
password is refused. The refusal reads the same for an unknown name as for a known one, and
both cost one scrypt, so names cannot be enumerated by message or by timing."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session, sessionmaker

from ..errors import EngineError
from ..ledger import audit
from ..ledger.models import LoginThrottle
from . import keys
from .accounts import Account, authenticate

MAX_FAILURES = 5
LOCK_MINUTES = 15


class SignInRefused(EngineError):
    code = "sign_in_refused"


def _keys(username: str, address: str | None) -> list[str]:
    return [f"user:{username.strip().lower()}"[:200]] + ([f"addr:{address}"[:200]] if address else [])


def sign_in(sf: sessionmaker[Session], accounts: dict[str, Account], username: str, password: str,
            address: str | None, now: dt.datetime | None = None) -> Account:
    now = now or dt.datetime.now()
    typed, username = username, "".join(ch for ch in username if ch.isprintable())  # NUL cannot be stored
    throttle = _keys(username, address)
    with sf.begin() as s:
        rows = {k: s.get(LoginThrottle, k, with_for_update=True) for k in throttle}
        locked = [r.locked_until for r in rows.values() if r is not None and r.locked_until and r.locked_until > now]
        if locked:  # audited in a transaction that commits: the refusal is raised after it
            audit.append(s, username.strip()[:64] or "（空）", "sign_in_locked", address or "", {}, at=now)
    if locked:
        minutes = max(1, -int(-(max(locked) - now).total_seconds() // 60))
        raise SignInRefused(f"登录失败次数过多，账户或来源地址已临时锁定，请 {minutes} 分钟后再试")
    account = authenticate(accounts, typed, password)
    if "\x00" in password:  # HMAC pads keys with NUL: scrypt takes "pw\x00" for "pw"; no one types it
        account = None
    with sf.begin() as s:
        rows = {k: s.get(LoginThrottle, k, with_for_update=True) for k in throttle}
        if account is not None:
            for r in rows.values():
                if r is not None:
                    s.delete(r)
            audit.append(s, account.username, "sign_in", address or "", {"role": account.role}, at=now)
            return account
        for k, r in rows.items():
            if r is None:
                r = LoginThrottle(key=k, failures=0, lockouts=0, last_failure_at=now, locked_until=None)
                s.add(r)
            r.failures += 1
            r.last_failure_at = now
            if r.failures >= MAX_FAILURES:
                r.locked_until = now + dt.timedelta(minutes=LOCK_MINUTES * 2 ** min(r.lockouts, 6))
                r.lockouts += 1
                r.failures = 0
        audit.append(s, username.strip()[:64] or "（空）", "sign_in_failed", address or "", {}, at=now)
    raise SignInRefused("用户名或密码错误")


def open_web_session(sf: sessionmaker[Session], account: Account, now: dt.datetime | None = None) -> str:
    """A session token for the web UI, kept by the browser in an HttpOnly cookie so that a page
    refresh does not sign the person out (ui/websession.py)."""
    return keys.open_session(sf, account, now)


def resume(sf: sessionmaker[Session], accounts: dict[str, Account], token: object, address: str | None,
           now: dt.datetime | None = None) -> tuple[Account, dt.datetime]:
    """The account, and when it signed in, of a session the browser presents again after a
    refresh. Refused (SignInRefused, in Chinese) if the token is unknown, signed out, older than
    8 hours, idle over 30 minutes, or if the account is gone or changed since; an ended session
    is revoked so it cannot be tried again. Resuming is audited and counts as use."""
    now = now or dt.datetime.now()
    why: str | None = None
    with sf.begin() as s:
        row = keys.session_row(s, token, lock=True)
        if row is None:
            why = "登录凭据无效，请重新登录"
        else:
            why = keys.session_ended(row, now)
            account = accounts.get(row.username)
            if why is None and (account is None or account.role != row.role
                                or account.credit_code != row.credit_code):
                why = "账户已停用或已变更，请重新登录"
            if why is not None and row.revoked_at is None:
                row.revoked_at = now
            if why is None and account is not None:
                row.seen_at = now
                audit.append(s, account.username, "session_resumed", address or "", {"role": account.role}, at=now)
                return account, row.created_at
    raise SignInRefused(why)


def signed_out(sf: sessionmaker[Session], account: Account, address: str | None, why: str,
               token: str | None = None) -> None:
    """Audit a sign-out and end the web session's token with it."""
    with sf.begin() as s:
        row = keys.session_row(s, token, lock=True) if token else None
        if row is not None and row.revoked_at is None and row.username == account.username:
            row.revoked_at = dt.datetime.now()
        audit.append(s, account.username, "sign_out", address or "", {"why": why})
