"""Publishing a policy version: the file in the library is replaced atomically, and every
published version (the one replaced included) is kept in the ledger with its text and hash."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ..errors import Conflict, Invalid
from ..exporting import write_atomic
from ..ledger import audit
from ..ledger.models import PolicyVersion
from ..loader import load_policy_text
from ..policytests import run_policy_tests
from ..tags import TagDictionary
from .actors import Actor


def _keep(s: Session, policy_id: str, version: int, file: str, text: str, who: str, at: dt.datetime) -> None:
    if s.scalar(select(PolicyVersion.id).where(PolicyVersion.policy_id == policy_id,
                                               PolicyVersion.version == version)) is None:
        s.add(PolicyVersion(policy_id=policy_id, version=version, file=file[:300],
                            sha256=hashlib.sha256(text.encode()).hexdigest(), text=text, published_by=who,
                            published_at=at))


def publish_policy(sf: sessionmaker[Session], actor: Actor, dictionary: TagDictionary, text: str,
                   source: Path) -> str:
    """Replace the published file `source` by `text`: it must load, pass its own test cases and
    carry a higher version than the published one. Returns a message for the user."""
    if actor.role != "official":
        raise Invalid("只有政策管理人员可以发布政策")
    draft = load_policy_text(text, dictionary, str(source))
    failed = [r for r in run_policy_tests([draft], dictionary) if not r.ok]
    if failed:
        raise Invalid(f"测试用例未全部通过（{len(failed)} 个未通过），不能发布")
    old_text = source.read_text(encoding="utf-8") if source.exists() else ""
    old = load_policy_text(old_text, dictionary, str(source)) if old_text else None
    if old is not None and (old.id != draft.id or draft.version <= old.version):
        raise Conflict(f"新版本号须大于已发布的 v{old.version}（当前草稿 v{draft.version}）")
    now = dt.datetime.now()
    with sf.begin() as s:
        if old is not None:
            _keep(s, old.id, old.version, str(source), old_text, "（发布前版本）", now)
        _keep(s, draft.id, draft.version, str(source), text, actor.name, now)
        audit.append(s, actor.name, "policy_published", f"{draft.id} v{draft.version}",
                     {"file": source.name, "sha256": hashlib.sha256(text.encode()).hexdigest(),
                      "replaces": old.version if old else None}, at=now)
        write_atomic(source, text.encode("utf-8"))  # inside the transaction: a failed write publishes nothing
    return f"已发布 {draft.title}（v{draft.version}）；此前版本已存档"


def versions(sf: sessionmaker[Session], actor: Actor, policy_id: str) -> list[PolicyVersion]:
    if actor.role not in ("official", "auditor"):
        raise Invalid("无权查看政策版本")
    with sf() as s:
        return list(s.scalars(select(PolicyVersion).where(PolicyVersion.policy_id == policy_id)
                              .order_by(PolicyVersion.version)))
