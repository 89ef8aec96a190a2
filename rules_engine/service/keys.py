"""Who is calling the API: per-system keys and per-person sessions.

A key is `msk_<id>_<secret>`; a session token is `mss_<secret>`. Only SHA-256 hashes of the
secrets are stored (they are 256-bit random, so no slow hash is needed), compared in constant
time. Keys are scoped by their role (the service layer's permissions), an enterprise key or
session to its own credit code. Keys can be rotated (new secret, the old one stops at once)
and revoked; making, rotating and revoking a key is audited."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from ..errors import EngineError, Invalid, NotFound
from ..ledger import audit
from ..ledger.models import ApiKey, ApiSession
from .accounts import Account
from .actors import ROLES, Actor, require

SESSION_HOURS = 8
IDLE_MINUTES = 30


class Unauthenticated(EngineError):
    code = "unauthenticated"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedKey:
    id: int
    name: str
    role: str
    key: str  # shown once


def create_key(sf: sessionmaker[Session], actor: Actor, name: str, role: str,
               credit_code: str | None = None) -> IssuedKey:
    require(actor, "apikey.manage")
    if role not in ROLES or role == "system":
        raise Invalid(f"角色应为 {'、'.join(r for r in ROLES if r != 'system')} 之一，而不是 {role!r}")
    Actor(name or "?", role, credit_code)  # the same checks as any actor (an enterprise key needs its code)
    secret = secrets.token_urlsafe(32)
    with sf.begin() as s:
        k = ApiKey(name=name[:100], role=role, credit_code=credit_code, secret_hash=_hash(secret),
                   created_at=dt.datetime.now(), created_by=actor.name, revoked_at=None, last_used_at=None)
        s.add(k)
        s.flush()
        audit.append(s, actor.name, "api_key_create", f"key {k.id}", {"name": name, "role": role,
                                                                      "credit_code": credit_code})
        return IssuedKey(k.id, k.name, role, f"msk_{k.id}_{secret}")


def rotate_key(sf: sessionmaker[Session], actor: Actor, key_id: int) -> IssuedKey:
    require(actor, "apikey.manage")
    secret = secrets.token_urlsafe(32)
    with sf.begin() as s:
        k = s.get(ApiKey, key_id, with_for_update=True)
        if k is None or k.revoked_at is not None:
            raise NotFound(f"没有可用的 API 密钥 {key_id}")
        k.secret_hash = _hash(secret)
        audit.append(s, actor.name, "api_key_rotate", f"key {k.id}", {"name": k.name})
        issued = IssuedKey(k.id, k.name, k.role, f"msk_{k.id}_{secret}")
    forget()
    return issued


def revoke_key(sf: sessionmaker[Session], actor: Actor, key_id: int) -> None:
    require(actor, "apikey.manage")
    with sf.begin() as s:
        k = s.get(ApiKey, key_id, with_for_update=True)
        if k is None:
            raise NotFound(f"没有 API 密钥 {key_id}")
        k.revoked_at = k.revoked_at or dt.datetime.now()
        audit.append(s, actor.name, "api_key_revoke", f"key {k.id}", {"name": k.name})
    forget()


def list_keys(sf: sessionmaker[Session], actor: Actor) -> list[ApiKey]:
    require(actor, "apikey.manage")
    with sf() as s:
        return list(s.scalars(select(ApiKey).order_by(ApiKey.id)))


def open_session(sf: sessionmaker[Session], account: Account, now: dt.datetime | None = None) -> str:
    """A token for a person who has just signed in (service.auth.sign_in)."""
    token = "mss_" + secrets.token_urlsafe(32)
    now = now or dt.datetime.now()
    with sf.begin() as s:
        s.add(ApiSession(token_hash=_hash(token), username=account.username, role=account.role,
                         credit_code=account.credit_code, created_at=now, seen_at=now,
                         expires_at=now + dt.timedelta(hours=SESSION_HOURS), revoked_at=None))
    return token


def session_row(s: Session, token: object, *, lock: bool = False) -> ApiSession | None:
    """The session a token stands for, if it is one of ours (whatever its state)."""
    if not isinstance(token, str) or not token.startswith("mss_") or len(token) > 100:
        return None
    return s.get(ApiSession, _hash(token), with_for_update=lock)


def session_ended(row: ApiSession, now: dt.datetime) -> str | None:
    """Why a person's session can no longer be used, in Chinese; None while it can."""
    if row.revoked_at is not None:
        return "已退出登录，请重新登录"
    if row.expires_at <= now:
        return f"登录已超过 {SESSION_HOURS} 小时，请重新登录"
    if now - (row.seen_at or row.created_at) > dt.timedelta(minutes=IDLE_MINUTES):
        return f"超过 {IDLE_MINUTES} 分钟未操作，已自动退出，请重新登录"
    return None


def touch_session(sf: sessionmaker[Session], token: str, now: dt.datetime | None = None) -> None:
    """Record use of a session (at most once a minute: no write per request or page run)."""
    now = now or dt.datetime.now()
    with sf.begin() as s:
        s.execute(update(ApiSession).where(ApiSession.token_hash == _hash(token), ApiSession.revoked_at.is_(None),
                                           or_(ApiSession.seen_at.is_(None),
                                               ApiSession.seen_at < now - dt.timedelta(minutes=1)))
                  .values(seen_at=now))


def close_session(sf: sessionmaker[Session], token: str) -> None:
    with sf.begin() as s:
        row = s.get(ApiSession, _hash(token))
        if row is not None and row.revoked_at is None:
            row.revoked_at = dt.datetime.now()
            audit.append(s, row.username, "sign_out", "api", {})
    forget()


CACHE_S = 2.0  # a revocation or sign-out in another process takes effect within this
_seen: dict[str, tuple[float, Actor]] = {}


def forget() -> None:
    _seen.clear()


def bearer_token(authorization: str | None) -> str | None:
    """The credential of an `Authorization: Bearer <token>` header (the scheme is case-insensitive,
    RFC 7235); a header in any other form stands for nobody (a bare key was once accepted)."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("身份凭证格式应为 Authorization: Bearer <API 密钥或会话令牌>")
    return token.strip()


def actor_for(sf: sessionmaker[Session], bearer: str | None) -> Actor:
    """The actor a bearer credential stands for; Unauthenticated if it stands for nobody. A
    credential checked in the last CACHE_S seconds is not looked up again (the enterprise
    portal asks many times a second); revoking or rotating in this process forgets at once."""
    import time

    if not bearer:
        raise Unauthenticated("缺少身份凭证：请在 Authorization 头中提供 Bearer API 密钥或会话令牌")
    key = _hash(bearer)
    hit = _seen.get(key)
    if hit is not None and time.monotonic() - hit[0] < CACHE_S:
        return hit[1]
    actor = _lookup(sf, bearer)
    if len(_seen) > 100_000:
        _seen.clear()
    _seen[key] = (time.monotonic(), actor)
    return actor


def _lookup(sf: sessionmaker[Session], bearer: str) -> Actor:
    now = dt.datetime.now()
    actor: Actor | None = None
    stale = False
    if bearer.startswith("msk_"):
        _, _, rest = bearer.partition("_")
        kid, _, secret = rest.partition("_")
        if kid.isascii() and kid.isdigit() and len(kid) < 10 and secret:
            with sf.begin() as s:
                k = s.get(ApiKey, int(kid))
                if k is not None and k.revoked_at is None and hmac.compare_digest(k.secret_hash, _hash(secret)):
                    if k.last_used_at is None or now - k.last_used_at > dt.timedelta(minutes=1):
                        k.last_used_at = now  # at most once a minute: no write per request
                    return Actor(f"api:{k.name}", k.role, k.credit_code)
    elif bearer.startswith("mss_"):
        with sf() as s:
            row = session_row(s, bearer)
            if row is not None and session_ended(row, now) is None:
                actor = Actor(row.username, row.role, row.credit_code)
                stale = row.seen_at is None or now - row.seen_at > dt.timedelta(minutes=1)
        if actor is not None:
            if stale:
                touch_session(sf, bearer, now)
            return actor
    raise Unauthenticated("身份凭证无效、已过期或已吊销")
