"""Publishing a policy version, 起草 → 审核 → 发布 (双人复核): one official submits a draft, another
approves it (or returns it with a reason); only then is the file in the library replaced,
atomically, and every published version (the one replaced included) kept in the ledger with its
text and hash. Rollback is a new version carrying an old version's text, reviewed the same way."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from .. import ir
from ..data.exporting import write_atomic
from ..data.tags import TagDictionary
from ..errors import Conflict, Forbidden, Invalid, NotFound, PolicyLoadError
from ..language.render_zh import Renderer, fmt_money
from ..ledger import audit
from ..ledger.models import AuditEntry, PolicyDraft, PolicyVersion
from ..library.loader import load_policy_text
from ..library.policytests import run_policy_tests
from ..library.yamledit import with_version
from . import clock
from .actors import Actor, require
from .ledger import writing


def _keep(s: Session, policy_id: str, version: int, file: str, text: str, who: str, at: dt.datetime) -> None:
    if s.scalar(select(PolicyVersion.id).where(PolicyVersion.policy_id == policy_id,
                                               PolicyVersion.version == version)) is None:
        s.add(PolicyVersion(policy_id=policy_id, version=version, file=file[:300],
                            sha256=hashlib.sha256(text.encode()).hexdigest(), text=text, published_by=who,
                            published_at=at))


LIMIT_ZH = {ir.Limit.ONCE: "同一企业限享受一次", ir.Limit.ONCE_PER_YEAR: "每年度限享受一次", ir.Limit.UNLIMITED: "不限次数"}
ALLOCATION_ZH = {ir.Allocation.PRO_RATA: "超出预算时按比例分配", ir.Allocation.PRIORITY: "超出预算时按优先顺序分配"}
DRAFT_STATUS_ZH = {"submitted": "待审核", "returned": "已退回", "withdrawn": "已撤回", "published": "已发布"}


def _library_file(library: Path, source: Path | str) -> tuple[Path, str]:
    """The policy file inside the library, and its name relative to it; anything outside the
    library (a path from a form, a draft row edited in the database) is refused."""
    root = library.resolve()
    path = (root / source).resolve() if not Path(source).is_absolute() else Path(source).resolve()
    if path.suffix != ".yaml" or not path.is_relative_to(root):
        raise Invalid(f"政策文件须是政策库内的 .yaml 文件：{Path(source).name}")
    return path, path.relative_to(root).as_posix()


def _checked(text: str, dictionary: TagDictionary, name: str) -> ir.Policy:
    draft = load_policy_text(text, dictionary, name)
    failed = [r for r in run_policy_tests([draft], dictionary) if not r.ok]
    if failed:
        raise Invalid(f"测试用例未全部通过（{len(failed)} 个未通过），不能提交或发布")
    return draft


def _published(path: Path, dictionary: TagDictionary) -> tuple[str, ir.Policy | None]:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    return text, (load_policy_text(text, dictionary, str(path)) if text else None)


def replaced(dictionary: TagDictionary, draft: PolicyDraft, library: Path) -> tuple[str, ir.Policy | None]:
    """The published text and policy a draft replaces: the file it will be written to, as it
    stands now. Never another version of the same id elsewhere in the library (a retired one in
    an archive folder once became the reviewer's baseline: a cut from 60 % to 50 % showed as +1,670
    enterprises)."""
    path, _ = _library_file(library, draft.file)
    try:
        return _published(path, dictionary)
    except PolicyLoadError:
        return path.read_text(encoding="utf-8"), None


def submit_draft(sf: sessionmaker[Session], actor: Actor, dictionary: TagDictionary, text: str, source: Path | str,
                 library: Path, note: str = "") -> PolicyDraft:
    """起草 → 审核: the draft must load, pass its own test cases and carry a higher version than
    the published one; another official reviews it before anything is published."""
    require(actor, "policy.draft")
    path, name = _library_file(library, source)
    draft = _checked(text, dictionary, name)
    _, old = _published(path, dictionary)
    if old is not None and (old.id != draft.id or draft.version <= old.version):
        raise Conflict(f"新版本号须大于已发布的 v{old.version}（当前草稿 v{draft.version}）"
                       if old.id == draft.id else f"草稿的政策编号 {draft.id} 与文件中的 {old.id} 不同")
    now = clock.now()
    sha = hashlib.sha256(text.encode()).hexdigest()
    with writing(sf) as s:
        if s.scalar(select(PolicyDraft.id).where(PolicyDraft.policy_id == draft.id, PolicyDraft.version == draft.version,
                                                 PolicyDraft.status == "submitted")) is not None:
            raise Conflict(f"《{draft.title}》v{draft.version} 已有待审核的草稿")
        row = PolicyDraft(policy_id=draft.id, version=draft.version, base_version=old.version if old else None,
                          file=name, text=text, sha256=sha, note=note.strip()[:2000], status="submitted",
                          author=actor.name, submitted_at=now)
        s.add(row)
        s.flush()
        audit.append(s, actor.name, "policy_draft_submitted", f"{draft.id} v{draft.version}",
                     {"draft": row.id, "file": name, "sha256": sha, "replaces": row.base_version, "note": row.note},
                     at=now)
        s.expunge(row)
    return row


def _review(s: Session, draft_id: int, status: str, actor: Actor, now: dt.datetime, reason: str | None) -> PolicyDraft:
    """submitted → `status`, compare-and-set: of two officials clicking at once, one wins."""
    done = s.execute(update(PolicyDraft).where(PolicyDraft.id == draft_id, PolicyDraft.status == "submitted")
                     .values(status=status, reviewer=actor.name, reviewed_at=now, reason=reason))
    row = s.get(PolicyDraft, draft_id)
    if row is None:
        raise NotFound(f"没有草稿 {draft_id}")
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"草稿 {draft_id} 当前为「{DRAFT_STATUS_ZH.get(row.status, row.status)}」，不能再审核")
    return row


def _not_author(s: Session, draft_id: int, actor: Actor) -> PolicyDraft:
    row = s.get(PolicyDraft, draft_id)
    if row is None:
        raise NotFound(f"没有草稿 {draft_id}")
    if row.author == actor.name:
        raise Forbidden("不能审核本人起草的政策：发布须由另一名政策管理人员复核（双人复核）")
    return row


def approve_draft(sf: sessionmaker[Session], actor: Actor, dictionary: TagDictionary, draft_id: int,
                  library: Path) -> str:
    """审核通过 → 发布: a second official publishes exactly the text that was submitted, onto the
    version it was written against; the replaced version is kept."""
    require(actor, "policy.review")
    now = clock.now()
    with writing(sf) as s:
        row = _not_author(s, draft_id, actor)
        submitted = s.scalar(select(AuditEntry.details).where(AuditEntry.action == "policy_draft_submitted",
                                                              AuditEntry.subject == f"{row.policy_id} v{row.version}")
                             .order_by(AuditEntry.seq.desc()).limit(1))
        sha = hashlib.sha256(row.text.encode()).hexdigest()
        if sha != row.sha256 or submitted is None or json.loads(submitted).get("sha256") != sha:
            raise Conflict(f"草稿 {draft_id} 的内容与提交时不符（哈希不一致），不能发布；请作者重新提交")
        path, name = _library_file(library, row.file)
        draft = _checked(row.text, dictionary, name)
        old_text, old = _published(path, dictionary)
        if (old.version if old else None) != row.base_version:
            raise Conflict(f"草稿基于 v{row.base_version}，而已发布版本现为 v{old.version if old else '（无）'}："
                           "请作者按现行版本重新起草")
        _review(s, draft_id, "published", actor, now, None)
        if old is not None:
            _keep(s, old.id, old.version, name, old_text, "（发布前版本）", now)
        _keep(s, draft.id, draft.version, name, row.text, f"{row.author}（复核：{actor.name}）", now)
        audit.append(s, actor.name, "policy_published", f"{draft.id} v{draft.version}",
                     {"draft": draft_id, "file": name, "sha256": sha, "author": row.author, "reviewer": actor.name,
                      "replaces": row.base_version}, at=now)
        write_atomic(path, row.text.encode("utf-8"))  # inside the transaction: a failed write publishes nothing
    return f"已发布 {draft.title}（v{draft.version}），起草：{row.author}，复核：{actor.name}；此前版本已存档"


def return_draft(sf: sessionmaker[Session], actor: Actor, draft_id: int, reason: str) -> str:
    """审核退回: with the reviewer's reason, which the author reads."""
    require(actor, "policy.review")
    if not reason.strip():
        raise Invalid("退回须写明理由")
    now = clock.now()
    with writing(sf) as s:
        _not_author(s, draft_id, actor)
        row = _review(s, draft_id, "returned", actor, now, reason.strip()[:2000])
        audit.append(s, actor.name, "policy_draft_returned", f"{row.policy_id} v{row.version}",
                     {"draft": draft_id, "reason": row.reason}, at=now)
    return f"已退回草稿 {draft_id}（《{row.policy_id}》v{row.version}）"


def withdraw_draft(sf: sessionmaker[Session], actor: Actor, draft_id: int) -> str:
    """The author takes back a draft not yet reviewed."""
    require(actor, "policy.draft")
    now = clock.now()
    with writing(sf) as s:
        row = s.get(PolicyDraft, draft_id)
        if row is None or row.author != actor.name:
            raise Forbidden("只能撤回本人起草的草稿")
        row = _review(s, draft_id, "withdrawn", actor, now, None)
        audit.append(s, actor.name, "policy_draft_withdrawn", f"{row.policy_id} v{row.version}", {"draft": draft_id},
                     at=now)
    return f"已撤回草稿 {draft_id}"


def drafts(sf: sessionmaker[Session], actor: Actor, status: str | None = "submitted",
           policy_id: str | None = None) -> list[PolicyDraft]:
    require(actor, "policy.history")
    q = select(PolicyDraft).order_by(PolicyDraft.id.desc())
    if status:
        q = q.where(PolicyDraft.status == status)
    if policy_id:
        q = q.where(PolicyDraft.policy_id == policy_id)
    with sf() as s:
        return list(s.scalars(q))


def rollback(sf: sessionmaker[Session], actor: Actor, dictionary: TagDictionary, policy_id: str, to_version: int,
             source: Path | str, library: Path) -> PolicyDraft:
    """回退: an earlier version's text submitted as a new version (current + 1), reviewed like
    any other draft; nothing published is ever overwritten in place."""
    old = {v.version: v for v in versions(sf, actor, policy_id)}.get(to_version)
    if old is None:
        raise NotFound(f"《{policy_id}》没有存档的 v{to_version}")
    path, _ = _library_file(library, source)
    _, current = _published(path, dictionary)
    if current is None or current.id != policy_id:
        raise NotFound(f"政策库中没有《{policy_id}》")
    text = with_version(old.text, current.version + 1)
    return submit_draft(sf, actor, dictionary, text, source, library, f"回退到 v{to_version} 的内容")


def _rows(p: ir.Policy, dictionary: TagDictionary) -> dict[str, str]:
    """A policy as labelled Chinese lines, the unit of comparison between two versions."""
    r = Renderer(dictionary)
    rows = {"版本号": f"v{p.version}", "政策名称": p.title, "主管部门": p.department,
            "政策依据": f"{p.basis.document}（{p.basis.number}）{p.basis.article}", "兑现方式": p.tier.value,
            "生效日期": p.valid_from.isoformat(), "截止日期": p.valid_to.isoformat() if p.valid_to else "长期有效",
            "适用地区": "、".join(r.code(c, "region") for c in p.regions) or "不限",
            "奖补标准": r.formula(p.benefit), "享受限制": LIMIT_ZH[p.limit], "政策摘要": p.summary,
            "就高不重复": f"组 {p.exclusive.group}" + (f"，优先级 {p.exclusive.precedence}"
                                                   if p.exclusive.precedence is not None else "")
            if p.exclusive else "无",
            "预算": f"{fmt_money(p.budget.total)}，{ALLOCATION_ZH[p.budget.allocation]}" if p.budget else "未设预算",
            "兑现时限": f"{p.time_limit} 个工作日" if p.time_limit else "未规定"}
    for c in p.conditions:
        rows[f"条件 {c.id}" + (f"（{c.label}）" if c.label else "")] = r.pred(c.pred)
    return rows


def diff(dictionary: TagDictionary, old_text: str, new_text: str) -> list[tuple[str, str, str]]:
    """What changed between two versions, line by line in Chinese: (item, before, after); an
    item only one side has shows （无） on the other."""
    old = _rows(load_policy_text(old_text, dictionary, "old.yaml"), dictionary)
    new = _rows(load_policy_text(new_text, dictionary, "new.yaml"), dictionary)
    keys = list(old) + [k for k in new if k not in old]
    return [(k, old.get(k, "（无）"), new.get(k, "（无）")) for k in keys if old.get(k) != new.get(k)]


def versions(sf: sessionmaker[Session], actor: Actor, policy_id: str) -> list[PolicyVersion]:
    require(actor, "policy.history")
    with sf() as s:
        return list(s.scalars(select(PolicyVersion).where(PolicyVersion.policy_id == policy_id)
                              .order_by(PolicyVersion.version)))
