"""Local accounts for the UI: roles, the enterprise an account belongs to, scrypt-hashed passwords.

The file is YAML (default: ui/accounts.yaml, or $MIANSHEN_ACCOUNTS):

    accounts:
      - {username: guanyuan, role: official, name: 合肥市经信局, password: "scrypt$16384$8$1$<salt>$<hash>"}
      - {username: qiye01, role: enterprise, credit_code: 91340102000395962B, password: "scrypt$..."}

Roles: enterprise (its own data only), official (all work pages), auditor (read-only ledger,
audit verification, data quality). `mianshen accounts hash` prints a hash for a password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import EngineError, os_reason

ROLES = ("enterprise", "official", "auditor", "finance")
ROLE_ZH = {"enterprise": "企业", "official": "政策管理人员", "auditor": "审计人员", "finance": "财务人员"}
N, R, P = 2**14, 8, 1


class AccountError(EngineError):
    """The accounts file is malformed."""


@dataclass(frozen=True)
class Account:
    username: str
    role: str
    name: str
    password_hash: str
    credit_code: str | None = None


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${N}${R}${P}${b64(salt).decode()}${b64(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(base64.b64decode(digest)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(digest))


def default_path() -> Path:
    return Path(os.environ.get("MIANSHEN_ACCOUNTS", Path(__file__).resolve().parents[2] / "ui" / "accounts.yaml"))


def load_accounts(path: Path | str | None = None) -> dict[str, Account]:
    path = Path(path or default_path())
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise AccountError(f"{path}：无法读取账户文件（{os_reason(exc)}）") from None
    out: dict[str, Account] = {}
    for i, a in enumerate(raw.get("accounts") or [], 1):
        where = f"{path}: account {i}"
        if not isinstance(a, dict) or not a.get("username") or not a.get("password"):
            raise AccountError(f"{where}：须有 username 和 password")
        role = a.get("role")
        if role not in ROLES:
            raise AccountError(f"{where}（{a['username']}）：role 应为 {'、'.join(ROLES)} 之一，实为 {role!r}")
        if role == "enterprise" and not a.get("credit_code"):
            raise AccountError(f"{where}（{a['username']}）：企业账户须写明 credit_code（统一社会信用代码）")
        if not str(a["password"]).startswith("scrypt$"):
            raise AccountError(f"{where}（{a['username']}）：password 须为 scrypt 哈希"
                               f"（用 mianshen accounts hash 生成），不能是明文")
        if a.get("demo") and os.environ.get("MIANSHEN_DEMO") != "1":
            continue  # demo accounts (published passwords) sign in only in demo mode
        out[str(a["username"])] = Account(str(a["username"]), role, str(a.get("name") or a["username"]),
                                          str(a["password"]), str(a["credit_code"]) if a.get("credit_code") else None)
    return out


_DUMMY: list[str] = []


def authenticate(accounts: dict[str, Account], username: str, password: str) -> Account | None:
    """The account, or None. An unknown name costs exactly one scrypt, like a known one (a
    fresh hash each time cost two and told names apart by timing)."""
    a = accounts.get(username.strip())
    if a is None:
        if not _DUMMY:
            _DUMMY.append(hash_password(secrets.token_hex(16)))
        check_password(password, _DUMMY[0])
        return None
    return a if check_password(password, a.password_hash) else None
