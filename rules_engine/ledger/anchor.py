"""Anchor the audit chain outside the database.

The hash chain shows an edit, deletion or insertion in the middle of the log, but not a
rewritten tail or a whole chain recomputed by someone with write access to the database. So
after every operation that moves money the head (seq, hash) is signed with an Ed25519 key that
is not in the database and the checkpoint is appended to a file outside it; payment files and
batch reports carry a signed checkpoint too, so the finance system holds copies.
`audit verify` checks the log against every checkpoint: a checkpointed entry that is gone or
different is reported, whatever the database now says.

MIANSHEN_AUDIT_KEY: the private key (PEM, mode 0600), created only by `mianshen audit init-key`:
signing refuses to start without it (a key silently created elsewhere would sign checkpoints no
verifier trusts). MIANSHEN_AUDIT_PUBKEY: the public key (default: the private key's path with
`.pub`), all that `audit verify` reads, so an auditor's machine never holds the private key.
MIANSHEN_AUDIT_CHECKPOINTS: the append-only checkpoint file (JSON lines). Without it, each
ledger gets its own file under out/audit-checkpoints/, named by a hash of its database URL.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..errors import EngineError

KEY_ENV = "MIANSHEN_AUDIT_KEY"
PUBKEY_ENV = "MIANSHEN_AUDIT_PUBKEY"
CHECKPOINTS_ENV = "MIANSHEN_AUDIT_CHECKPOINTS"
PURPOSE = "mianshen-audit-checkpoint-v1"


def key_path() -> Path:
    return Path(os.environ.get(KEY_ENV, "out/keys/audit-ed25519.pem"))


def checkpoints_path(ledger: str) -> Path:
    """`ledger` names the database (its URL, password hidden): checkpoints of one ledger are
    never compared with another's."""
    if os.environ.get(CHECKPOINTS_ENV):
        return Path(os.environ[CHECKPOINTS_ENV])
    name = hashlib.sha256(ledger.encode()).hexdigest()[:16]
    return Path("out/audit-checkpoints") / f"{name}.jsonl"


def pubkey_path() -> Path:
    return Path(os.environ[PUBKEY_ENV]) if os.environ.get(PUBKEY_ENV) else key_path().with_suffix(".pub")


class KeyMissing(EngineError):
    code = "audit_key_missing"


def init_key() -> tuple[Path, Path]:
    """Create the signing key pair (`mianshen audit init-key`); never overwrites a key."""
    path = key_path()
    if path.exists():
        raise EngineError(f"审计签名私钥已存在（{path}），不会覆盖；更换密钥会使此前的签名锚点无法核验")
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    pub = pubkey_path()
    pub.parent.mkdir(parents=True, exist_ok=True)
    pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    return path, pub


_KEYS: dict[tuple[str, float], Ed25519PrivateKey] = {}


def signing_key() -> Ed25519PrivateKey:
    """The private key; an operation that would need a checkpoint refuses to start without it."""
    path = key_path()
    try:
        stamp = (str(path.resolve()), path.stat().st_mtime)
    except OSError:
        raise KeyMissing(f"审计签名私钥不存在（{path}）：涉及资金的操作须先签名锚点才能进行。"
                         f"请运行 mianshen audit init-key 生成密钥，或设置 {KEY_ENV} 指向已有私钥") from None
    if stamp not in _KEYS:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise EngineError(f"{path}：审计签名密钥应为 Ed25519 私钥")
        _KEYS[stamp] = key
    return _KEYS[stamp]


def public_key() -> Ed25519PublicKey:
    """The verifying key, from its own file: verification never reads the private key."""
    path = pubkey_path()
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except OSError:
        raise KeyMissing(f"审计验签公钥不存在（{path}）：请设置 {PUBKEY_ENV} 指向签名密钥对应的公钥文件") from None
    except ValueError:
        raise EngineError(f"{path}：不是可读取的公钥文件") from None
    if not isinstance(key, Ed25519PublicKey):
        raise EngineError(f"{path}：审计验签公钥应为 Ed25519 公钥")
    return key


def _message(seq: int, head: str, at: str) -> bytes:
    return f"{PURPOSE}\n{seq}\n{head}\n{at}".encode()


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    at: str
    signature: str

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash, "at": self.at, "signature": self.signature}


def sign(seq: int, head: str, at: dt.datetime | None = None) -> Checkpoint:
    when = (at or dt.datetime.now()).isoformat(timespec="seconds")
    sig = signing_key().sign(_message(seq, head, when))
    return Checkpoint(seq, head, when, base64.b64encode(sig).decode())


def valid(c: Checkpoint, key: Ed25519PublicKey | None = None) -> bool:
    try:
        (key or public_key()).verify(base64.b64decode(c.signature), _message(c.seq, c.hash, c.at))
        return True
    except (InvalidSignature, ValueError):
        return False


def record(ledger: str, seq: int, head: str) -> Checkpoint:
    """Sign the head and append it to the checkpoint file (after the transaction committed:
    a checkpoint never names an entry that was rolled back)."""
    c = sign(seq, head)
    path = checkpoints_path(ledger)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(c.as_dict()) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return c


def read(ledger: str) -> tuple[list[Checkpoint], list[str]]:
    """The checkpoints whose signature is valid, and a problem for every line that is not."""
    path = checkpoints_path(ledger)
    if not path.exists():
        return [], []
    good: list[Checkpoint] = []
    bad: list[str] = []
    key = public_key()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            c = Checkpoint(int(raw["seq"]), str(raw["hash"]), str(raw["at"]), str(raw["signature"]))
        except (ValueError, KeyError, TypeError):
            bad.append(f"锚点文件第 {n} 行格式不对")
            continue
        if valid(c, key):
            good.append(c)
        else:
            bad.append(f"锚点文件第 {n} 行签名无效（被篡改或并非本平台密钥所签）")
    return good, bad
