"""The three delivery tiers beyond the batch, and closing 待补充数据.

* 即申即享: a batch writes an invitation; the enterprise confirms (确认享受) or declines; only a
  confirmation creates the payout candidate, in the same transaction, compare-and-set on the
  invitation (two clicks, two tabs or a retry after a crash create one payout at most).
* 申报: the enterprise applies on a form pre-filled from its archive, answering only what the
  data cannot prove, with evidence files; an official accepts (the amount is computed then, from
  the archive and the answers), returns it for correction, or rejects it, with a reason.
* 待补充数据: the enterprise supplies a missing value with a statement and evidence. It is kept
  apart from department data and used for that enterprise only once an official verifies it;
  a department value that later disagrees is reported as a conflict, never overwritten.
* Objections and ratings, answered by officials.

Every step is audited with its actor; every state change is compare-and-set."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from .. import grant, ir
from ..backends.reference import evaluate
from ..data.frame import KEY, row_of, storage_dtype, to_storage
from ..data.values import coerce, fmt_value, yuan
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..explain import Provenance
from ..ledger import audit
from ..ledger.allocation import period
from ..ledger.lifecycle import STATUS_ZH
from ..ledger.models import Application, Attachment, Invitation, Objection, Payout, PayoutEvent, SuppliedValue
from . import clock
from .actors import Actor
from .ledger import writing
from .platform import Platform

MAX_FILE = 10 * 1024 * 1024
MAX_FILES = 5
SELF_DECLARED = "企业自报（已核验）"
INVITATION_ZH = {"open": "待确认", "confirmed": "已确认", "declined": "已放弃", "expired": "已过期"}
APPLICATION_ZH = {"submitted": "待审核", "returned": "退回补正", "accepted": "已受理通过", "rejected": "未通过"}
SUPPLIED_ZH = {"submitted": "待核验", "verified": "已核验", "rejected": "未采信"}


def _own(actor: Actor, code: str) -> str:
    """The enterprise an action is for: an enterprise actor acts for itself only."""
    code = code.strip().upper()
    if actor.role == "enterprise":
        if code != actor.credit_code:
            raise Forbidden("企业账户只能办理本企业的事项")
    elif actor.role != "official":
        raise Forbidden("只有企业本身或政策管理人员可以办理")
    return code


def _official(actor: Actor) -> None:
    if actor.role != "official":
        raise Forbidden("只有政策管理人员可以审核")


def _files(s: Session, kind: str, owner: int, code: str, files: list[tuple[str, bytes]], actor: Actor,
           now: dt.datetime) -> list[str]:
    if len(files) > MAX_FILES:
        raise Invalid(f"每次最多上传 {MAX_FILES} 个证明材料")
    out = []
    for name, data in files:
        if len(data) > MAX_FILE:
            raise Invalid(f"{name}：文件超过 {MAX_FILE // 1024 // 1024} MB")
        digest = hashlib.sha256(data).hexdigest()
        safe = "".join(ch for ch in name.replace("\\", "/").rsplit("/", 1)[-1] if ch.isprintable())[:200] or "材料"
        s.add(Attachment(owner_kind=kind, owner_id=owner, credit_code=code, name=safe, sha256=digest, size=len(data),
                         content=data, uploaded_by=actor.name, uploaded_at=now))
        out.append(digest)
    return out


def _payout(s: Session, policy: ir.Policy, code: str, per: str, fen: int, prof: Mapping[str, object],
            exp: dict[str, Any], actor: Actor, why: str, now: dt.datetime) -> Payout:
    """The payout candidate an invitation or an application becomes (the unique key makes a
    second one impossible, whatever happens)."""
    if s.scalar(select(Payout.id).where(Payout.policy_id == policy.id, Payout.credit_code == code,
                                        Payout.period == per)) is not None:
        raise Conflict(f"《{policy.title}》本期已有兑现记录，不再重复生成")
    p = Payout(policy_id=policy.id, policy_version=policy.version, credit_code=code, period=per,
               benefit_year=int(per[:4]) if per[:4].isdigit() else now.year,
               exclusive_group=policy.exclusive.group if policy.exclusive else None, amount_fen=fen,
               status="candidate", batch_id=None, source="invitation" if why == "confirm" else "application",
               enterprise_name=_text(prof.get("name")), region=_text(prof.get("region")),
               bank_account=_text(prof.get("bank_account")), explanation=exp, created_at=now, updated_at=now)
    s.add(p)
    s.flush()
    s.add(PayoutEvent(payout_id=p.id, from_status=None, to_status="candidate", actor=actor.name,
                      reason="企业确认享受" if why == "confirm" else "申报审核通过", at=now))
    from ..ledger.verify import created_record

    audit.append(s, actor.name, "event_candidate", p.reference, created_record(p, why), at=now)
    return p


def _text(v: object) -> str | None:
    return None if v is None else str(v)


def _policy(p: Platform, policy_id: str) -> ir.Policy:
    try:
        return p.library.get(policy_id)
    except KeyError:
        raise NotFound(f"没有政策 {policy_id!r}") from None


# ------------------------------------------------------------------ the enterprise's profile


def supplied_overlay(s: Session, code: str, d: Any) -> dict[str, object]:
    """Verified self-declared values of one enterprise, in natural units, newest last."""
    out: dict[str, object] = {}
    for v in s.scalars(select(SuppliedValue).where(SuppliedValue.credit_code == code,
                                                   SuppliedValue.status == "verified").order_by(SuppliedValue.id)):
        if v.tag in d:
            out[v.tag] = coerce(d[v.tag].type, v.value)
    return out


def profile(p: Platform, code: str) -> tuple[dict[str, object], dict[str, Provenance]]:
    """The archive row, with verified self-declared values filling only what the departments did
    not deliver (a delivered value that disagrees is a conflict, see conflicts())."""
    ds, d = p.data.dataset, p.dictionary
    try:
        i = ds.index_of(code)
    except KeyError:
        raise NotFound(f"档案中没有统一社会信用代码为 {code[:18]!r} 的企业") from None
    row = row_of(ds.frame, i, d)
    prov = {k: Provenance(d.sources[s].label, a, f) for k, (s, a, f) in ds.provenance_of(i).items()}
    with p.ledger() as s:
        for tag, value in supplied_overlay(s, code, d).items():
            if row.get(tag) is None:
                row[tag] = value
                prov[tag] = Provenance(SELF_DECLARED, None)
    return row, prov


def overlay_frame(frame: pd.DataFrame, sf: sessionmaker[Session], d: Any, as_at: dt.datetime | None = None
                  ) -> tuple[pd.DataFrame, dict[str, set[str]]]:
    """The batch's data with verified self-declared values filled in where departments delivered
    nothing (the same rule as profile()), and the cells so filled (tag -> credit codes). `as_at`:
    only values verified by then (a replay of a past batch)."""
    with sf() as s:
        q = select(SuppliedValue).where(SuppliedValue.status == "verified")
        if as_at is not None:
            q = q.where(SuppliedValue.decided_at <= as_at)
        rows = list(s.scalars(q.order_by(SuppliedValue.id)))
    declared: dict[str, set[str]] = {}
    if not rows:
        return frame, declared
    out = frame.copy()
    where = {str(c): i for i, c in enumerate(out[KEY].astype(str))}
    for v in rows:
        i = where.get(v.credit_code)
        if i is None or v.tag not in d:
            continue
        if v.tag not in out.columns:  # no department delivers it at all: the value is all there is
            out[v.tag] = pd.Series([None] * len(out), index=out.index, dtype=object)
        col = out[v.tag]
        if col.isna().iat[i]:
            t = d[v.tag].type
            values = col.astype(object).to_numpy(copy=True)
            values[i] = to_storage(t, coerce(t, v.value))
            # the tag's storage type, not the column's: a code column's categories are those it held,
            # and a code it did not hold would have become missing
            out[v.tag] = pd.Series(values, index=out.index).astype(storage_dtype(t))  # type: ignore[call-overload]
            declared.setdefault(v.tag, set()).add(v.credit_code)
    return out, declared


# ------------------------------------------------------------------ 即申即享


def invitations(p: Platform, actor: Actor, code: str) -> list[Invitation]:
    code = _own(actor, code) if actor.role == "enterprise" else code.strip().upper()
    with p.ledger() as s:
        return list(s.scalars(select(Invitation).where(Invitation.credit_code == code).order_by(Invitation.id)))


def _invitation(s: Session, ref: str) -> Invitation:
    digits = ref.strip().upper().removeprefix("YQ")
    inv = s.get(Invitation, int(digits)) if digits.isascii() and digits.isdigit() and len(digits) <= 10 else None
    if inv is None:
        raise NotFound(f"没有邀约 {ref!r}")
    return inv


def decide_invitation(p: Platform, actor: Actor, ref: str, confirm: bool) -> Invitation:
    """确认享受 (confirm) or 放弃 (decline) an open invitation; a confirmation creates the payout
    candidate in the same transaction."""
    now = clock.now()
    with writing(p.ledger) as s:
        inv = _invitation(s, ref)
        _own(actor, inv.credit_code)
        if inv.status != "open":
            raise Conflict(f"邀约 {inv.reference} 当前为「{INVITATION_ZH.get(inv.status, inv.status)}」，不能再次办理")
        if inv.expires_on < clock.today():
            raise Conflict(f"邀约 {inv.reference} 已于 {inv.expires_on} 过期")
        to = "confirmed" if confirm else "declined"
        moved = s.execute(update(Invitation).where(Invitation.id == inv.id, Invitation.status == "open")
                          .values(status=to, decided_at=now, decided_by=actor.name)
                          .execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
        if moved != 1:
            raise Conflict(f"邀约 {inv.reference} 已被同时办理，本次未执行")
        audit.append(s, actor.name, "invitation_" + to, inv.reference,
                     {"policy": inv.policy_id, "credit_code": inv.credit_code, "amount_fen": inv.amount_fen}, at=now)
        if confirm:
            policy = _policy(p, inv.policy_id)
            prof = {"name": inv.enterprise_name, "region": inv.region, "bank_account": inv.bank_account}
            exp = {**(inv.explanation or {}), "origin": {"kind": "invitation", "reference": inv.reference}}
            pay = _payout(s, policy, inv.credit_code, inv.period, inv.amount_fen, prof, exp, actor, "confirm", now)
            s.execute(update(Invitation).where(Invitation.id == inv.id).values(payout_id=pay.id))
        s.flush()
        s.refresh(inv)
        s.expunge(inv)
    p.checkups.pop(inv.credit_code, None)
    return inv


def expire_invitations(p: Platform, actor: Actor) -> int:
    """Open invitations past their date become expired (recorded, one audit entry listing them)."""
    _official(actor) if actor.role != "system" else None
    today, now = clock.today(), clock.now()
    with writing(p.ledger) as s:
        ids = list(s.scalars(select(Invitation.id).where(Invitation.status == "open",
                                                         Invitation.expires_on < today).with_for_update()))
        if ids:
            s.execute(update(Invitation).where(Invitation.id.in_(ids), Invitation.status == "open")
                      .values(status="expired", decided_at=now, decided_by=actor.name)
                      .execution_options(synchronize_session=False))
            audit.append(s, actor.name, "invitations_expired", f"{len(ids)} invitations", {"ids": ids}, at=now)
    return len(ids)


# ------------------------------------------------------------------ 申报


@dataclass(frozen=True)
class FormField:
    tag: str
    label: str
    unit: str
    known: str | None  # the archive's value, shown and not asked
    source: str | None


def application_form(p: Platform, actor: Actor, code: str, policy_id: str) -> list[FormField]:
    """表单自动生成: every value the policy needs; those the archive holds are filled in, the
    rest are what the enterprise is asked for (材料智能调用)."""
    code = _own(actor, code)
    policy = _policy(p, policy_id)
    if policy.tier is not ir.Tier3.APPLY:
        raise Invalid(f"《{policy.title}》为{policy.tier.value}，无需申报")
    row, prov = profile(p, code)
    d = p.dictionary
    return [FormField(t, d[t].label, d[t].type.unit or "", None if row.get(t) is None else fmt_value(d[t].type, row[t]),
                      prov[t].source if t in prov and row.get(t) is not None else None)
            for t in ir.policy_tags(policy, p.data.as_of) if t in d and not d[t].derived]


def submit_application(p: Platform, actor: Actor, code: str, policy_id: str, answers: dict[str, str],
                       statement: str, files: list[tuple[str, bytes]]) -> Application:
    """A new application, or a returned one submitted again. Answers are typed by the tag
    dictionary; only tags the archive lacks may be answered."""
    code = _own(actor, code)
    form = {f.tag: f for f in application_form(p, actor, code, policy_id)}
    policy = _policy(p, policy_id)
    clean: dict[str, str] = {}
    for tag, raw in answers.items():
        if tag not in form:
            raise Invalid(f"{tag} 不是本政策需要的数据")
        if form[tag].known is not None:
            raise Invalid(f"{form[tag].label} 已由部门数据提供（{form[tag].known}），无需填写")
        if str(raw).strip():
            try:
                coerce(p.dictionary[tag].type, raw)
            except ValueError as exc:
                raise Invalid(f"{form[tag].label}：{exc}") from None
            clean[tag] = str(raw).strip()
    if not statement.strip():
        raise Invalid("请填写申报说明（承诺所填内容真实）")
    now = clock.now()
    per = period(policy, p.data.as_of)
    with writing(p.ledger) as s:
        app = s.scalars(select(Application).where(Application.policy_id == policy.id, Application.credit_code == code,
                                                  Application.period == per).with_for_update()).first()
        if app is None:
            app = Application(policy_id=policy.id, policy_version=policy.version, credit_code=code, period=per,
                              status="submitted", answers=clean, statement=statement.strip()[:4000], amount_fen=None,
                              reason=None, created_at=now, updated_at=now, decided_by=None, payout_id=None)
            s.add(app)
            s.flush()
        elif app.status == "returned":
            app.status, app.answers, app.statement, app.updated_at = "submitted", clean, statement.strip()[:4000], now
        else:
            raise Conflict(f"本期已申报（{APPLICATION_ZH.get(app.status, app.status)}），不能重复申报")
        hashes = _files(s, "application", app.id, code, files, actor, now)
        audit.append(s, actor.name, "application_submit", app.reference,
                     {"policy": policy.key, "credit_code": code, "answers": clean, "files": hashes}, at=now)
        s.flush()
        s.expunge(app)
    return app


def applications(p: Platform, actor: Actor, code: str | None = None, status: str | None = None) -> list[Application]:
    if actor.role == "enterprise":
        code = _own(actor, code or actor.credit_code or "")
    elif actor.role not in ("official", "auditor"):
        raise Forbidden("无权查看申报")
    with p.ledger() as s:
        q = select(Application).order_by(Application.id)
        if code:
            q = q.where(Application.credit_code == code)
        if status:
            q = q.where(Application.status == status)
        return list(s.scalars(q))


def _with_answers(p: Platform, policy: ir.Policy, app: Application) -> tuple[dict[str, object], dict[str, Provenance], Any]:
    """The enterprise's archive with its application's answers where the archive is silent, and
    the policy's decision on them."""
    row, prov = profile(p, app.credit_code)
    d = p.dictionary
    for tag, raw in (app.answers or {}).items():
        if row.get(tag) is None and tag in d:
            row[tag] = coerce(d[tag].type, raw)
            prov[tag] = Provenance(f"企业申报填写（{app.reference}）", None)
    return row, prov, evaluate(policy, row, p.data.as_of)


@dataclass(frozen=True)
class ApplicationReview:
    """What a reviewer sees of an application: who, for what, when, the values the decision
    reads (each with where it came from) and what accepting would grant."""

    application: Application
    title: str
    enterprise: str
    submitted_at: dt.datetime
    values: list[tuple[str, str, str]]  # (label, value, source)
    status_zh: str  # the decision on archive and answers: 符合 / 不符合 / 待补充数据
    amount_fen: int
    failed: list[str]


def application_review(p: Platform, actor: Actor, app: Application) -> ApplicationReview:
    if actor.role not in ("official", "auditor"):
        raise Forbidden("无权查看申报")
    policy = _policy(p, app.policy_id)
    row, prov, dec = _with_answers(p, policy, app)
    d = p.dictionary
    values = [(d[t].label, fmt_value(d[t].type, row[t]) if row.get(t) is not None else "（无）",
               prov[t].source if t in prov and row.get(t) is not None else "")
              for t in ir.policy_tags(policy, p.data.as_of) if t in d]
    name = row.get("name")
    return ApplicationReview(app, policy.title, str(name) if name else app.credit_code, app.updated_at, values,
                             RESULT_ZH[dec.status.label], dec.amount_fen if dec.status is ir.Status.ELIGIBLE else 0,
                             [c.label or c.text for c in policy.conditions if c.id in dec.failed])


RESULT_ZH = {"eligible": "符合", "not_eligible": "不符合", "undetermined": "待补充数据"}


def changes_zh(p: Platform, r: Any) -> str:
    """What a verification changed, by policy title and in Chinese (「《…》：待补充数据→符合」)."""
    titles = {x.id: x.title for x in p.library.policies}
    changed = [f"《{titles.get(k, k)}》：{RESULT_ZH.get(r.before[k], r.before[k])}→{RESULT_ZH.get(r.after[k], r.after[k])}"
               for k in r.after if r.after[k] != r.before.get(k)]
    return "；".join(changed) or "结果无变化"


def review_application(p: Platform, actor: Actor, ref: str, decision: str, reason: str) -> Application:
    """accept / return / reject, with a reason. Accepting computes the amount from the archive and
    the answers, and refuses if the policy's conditions do not hold with them."""
    _official(actor)
    if decision not in ("accept", "return", "reject"):
        raise Invalid("审核结论应为 accept（通过）、return（退回补正）或 reject（不通过）")
    if not reason.strip():
        raise Invalid("审核必须写明理由")
    now = clock.now()
    with writing(p.ledger) as s:
        digits = ref.strip().upper().removeprefix("SB")
        app = s.get(Application, int(digits)) if digits.isascii() and digits.isdigit() and len(digits) <= 10 else None
        if app is None:
            raise NotFound(f"没有申报 {ref!r}")
        if app.status != "submitted":
            raise Conflict(f"申报 {app.reference} 当前为「{APPLICATION_ZH.get(app.status)}」，不能审核")
        to = {"accept": "accepted", "return": "returned", "reject": "rejected"}[decision]
        fen = None
        pay_id = None
        if decision == "accept":
            policy = _policy(p, app.policy_id)
            row, prov, dec = _with_answers(p, policy, app)
            if dec.status is not ir.Status.ELIGIBLE or dec.amount_fen <= 0:
                why = "、".join(c.label or c.text for c in policy.conditions if c.id in dec.failed) or "数据不全"
                raise Invalid(f"按档案与申报内容，《{policy.title}》的条件不成立（{why}），不能通过；可退回补正或不予通过")
            fen = dec.amount_fen
            tags = ir.policy_tags(policy, p.data.as_of)
            exp = grant.record(policy, p.data.as_of, grant.inputs_of(policy, row, p.data.as_of), fen, fen,
                               origin={"kind": "application", "reference": app.reference},
                               sources={t: v for t, v in prov.items() if t in tags})
            pay_id = _payout(s, policy, app.credit_code, app.period, fen, row, exp, actor, "apply", now).id
        moved = s.execute(update(Application).where(Application.id == app.id, Application.status == "submitted")
                          .values(status=to, reason=reason.strip()[:2000], decided_by=actor.name, updated_at=now,
                                  amount_fen=fen, payout_id=pay_id)
                          .execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
        if moved != 1:
            raise Conflict(f"申报 {app.reference} 已被同时审核，本次未执行")
        audit.append(s, actor.name, "application_" + to, app.reference,
                     {"reason": reason.strip(), "amount_fen": fen}, at=now)
        s.flush()
        s.refresh(app)
        s.expunge(app)
    return app


# ------------------------------------------------------------------ 待补充数据


def supply_value(p: Platform, actor: Actor, code: str, tag: str, value: str, statement: str,
                 files: list[tuple[str, bytes]]) -> SuppliedValue:
    code = _own(actor, code)
    d = p.dictionary
    tdef = d.resolve(tag)
    if tdef is None or tdef.derived or tdef.key == KEY:
        raise Invalid(f"{tag!r} 不是可以补充的数据项")
    try:
        coerce(tdef.type, value)
    except ValueError as exc:
        raise Invalid(f"{tdef.label}：{exc}") from None
    if not str(value).strip():
        raise Invalid(f"请填写{tdef.label}")
    if not statement.strip():
        raise Invalid("请说明数据来源并承诺真实")
    if not files:
        raise Invalid("请上传证明材料")
    now = clock.now()
    with writing(p.ledger) as s:
        v = SuppliedValue(credit_code=code, tag=tdef.key, value=str(value).strip()[:200],
                          statement=statement.strip()[:2000], status="submitted", submitted_by=actor.name,
                          submitted_at=now, decided_by=None, decided_at=None, reason=None)
        s.add(v)
        s.flush()
        hashes = _files(s, "supplied", v.id, code, files, actor, now)
        audit.append(s, actor.name, "supply_value", v.reference,
                     {"credit_code": code, "tag": tdef.key, "value": v.value, "files": hashes}, at=now)
        s.expunge(v)
    return v


def supplied(p: Platform, actor: Actor, code: str | None = None, status: str | None = None) -> list[SuppliedValue]:
    if actor.role == "enterprise":
        code = _own(actor, code or actor.credit_code or "")
    elif actor.role not in ("official", "auditor"):
        raise Forbidden("无权查看补充数据")
    with p.ledger() as s:
        q = select(SuppliedValue).order_by(SuppliedValue.id)
        if code:
            q = q.where(SuppliedValue.credit_code == code)
        if status:
            q = q.where(SuppliedValue.status == status)
        return list(s.scalars(q))


@dataclass(frozen=True)
class Reevaluated:
    value: SuppliedValue
    before: dict[str, str]  # policy id -> status label
    after: dict[str, str]


def verify_supplied(p: Platform, actor: Actor, ref: str, accept: bool, reason: str) -> Reevaluated:
    """An official verifies (or refuses) a supplied value; the enterprise's policies are evaluated
    again, before and after, so the official sees what it changed."""
    _official(actor)
    if not reason.strip():
        raise Invalid("核验必须写明理由")
    now = clock.now()
    digits = ref.strip().upper().removeprefix("BC")
    with p.ledger() as s:
        v = s.get(SuppliedValue, int(digits)) if digits.isascii() and digits.isdigit() and len(digits) <= 10 else None
    if v is None:
        raise NotFound(f"没有补充数据 {ref!r}")
    active = [x for x in p.library.active() if x.in_force(p.data.as_of)]
    row, _ = profile(p, v.credit_code)
    before = {x.id: evaluate(x, row, p.data.as_of).status.label for x in active}
    with writing(p.ledger) as s:
        to = "verified" if accept else "rejected"
        moved = s.execute(update(SuppliedValue).where(SuppliedValue.id == v.id, SuppliedValue.status == "submitted")
                          .values(status=to, decided_by=actor.name, decided_at=now, reason=reason.strip()[:2000])
                          .execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
        if moved != 1:
            raise Conflict(f"补充数据 {v.reference} 已被处理，本次未执行")
        audit.append(s, actor.name, "supplied_" + to, v.reference,
                     {"credit_code": v.credit_code, "tag": v.tag, "value": v.value, "reason": reason.strip()}, at=now)
        v = s.get(SuppliedValue, v.id)  # type: ignore[assignment]
        assert v is not None
        s.expunge(v)
    p.checkups.pop(v.credit_code, None)
    row, _ = profile(p, v.credit_code)
    after = {x.id: evaluate(x, row, p.data.as_of).status.label for x in active}
    return Reevaluated(v, before, after)


@dataclass(frozen=True)
class DataConflict:
    credit_code: str
    tag: str
    supplied: str
    delivered: str
    source: str


def conflicts(p: Platform, actor: Actor) -> list[DataConflict]:
    """Verified self-declared values that department data now contradicts."""
    _official(actor) if actor.role != "auditor" else None
    ds, d = p.data.dataset, p.dictionary
    out = []
    with p.ledger() as s:
        rows = list(s.scalars(select(SuppliedValue).where(SuppliedValue.status == "verified")))
    for v in rows:
        try:
            i = ds.index_of(v.credit_code)
        except KeyError:
            continue
        archive = row_of(ds.frame.iloc[[i]], 0, d).get(v.tag)
        mine = coerce(d[v.tag].type, v.value)
        if archive is not None and archive != mine:
            src = ds.provenance_of(i).get(v.tag, ("", None, ""))[0]
            out.append(DataConflict(v.credit_code, v.tag, fmt_value(d[v.tag].type, mine),
                                    fmt_value(d[v.tag].type, archive), d.sources[src].label if src in d.sources else src))
    return out


# ------------------------------------------------------------------ objections and ratings


def raise_objection(p: Platform, actor: Actor, code: str, subject: str, text: str,
                    files: list[tuple[str, bytes]], rating: int | None = None) -> Objection:
    code = _own(actor, code)
    if rating is not None and not 1 <= rating <= 5:
        raise Invalid("评价为 1 到 5 星")
    if not text.strip() and rating is None:
        raise Invalid("请填写异议内容")
    now = clock.now()
    kind = "rating" if rating is not None else "objection"
    with writing(p.ledger) as s:
        if subject.startswith("MS"):
            owner = s.scalar(select(Payout.credit_code).where(Payout.id == int(subject[2:]))) \
                if subject[2:].isascii() and subject[2:].isdigit() and len(subject) <= 12 else None
            if owner != code:
                raise NotFound(f"本企业没有兑现记录 {subject}")
        o = Objection(kind=kind, credit_code=code, subject=subject[:64], text=text.strip()[:4000], rating=rating,
                      status="open" if kind == "objection" else "answered", answer=None, answered_by=None,
                      created_at=now, answered_at=None)
        s.add(o)
        s.flush()
        hashes = _files(s, "objection", o.id, code, files, actor, now)
        audit.append(s, actor.name, "objection_" + kind, subject[:64], {"id": o.id, "rating": rating,
                                                                        "files": hashes}, at=now)
        s.expunge(o)
    return o


def answer_objection(p: Platform, actor: Actor, objection_id: int, answer: str) -> Objection:
    _official(actor)
    if not answer.strip():
        raise Invalid("请填写答复")
    now = clock.now()
    with writing(p.ledger) as s:
        moved = s.execute(update(Objection).where(Objection.id == objection_id, Objection.status == "open")
                          .values(status="answered", answer=answer.strip()[:4000], answered_by=actor.name,
                                  answered_at=now).execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
        if moved != 1:
            raise Conflict("该异议不存在或已答复")
        audit.append(s, actor.name, "objection_answered", f"objection {objection_id}", {}, at=now)
        o = s.get(Objection, objection_id)
        assert o is not None
        s.expunge(o)
    return o


def objections(p: Platform, actor: Actor, code: str | None = None) -> list[Objection]:
    if actor.role == "enterprise":
        code = _own(actor, code or actor.credit_code or "")
    elif actor.role not in ("official", "auditor"):
        raise Forbidden("无权查看异议")
    with p.ledger() as s:
        q = select(Objection).order_by(Objection.id.desc())
        return list(s.scalars(q.where(Objection.credit_code == code) if code else q))


def attachment(p: Platform, actor: Actor, attachment_id: int) -> Attachment:
    with p.ledger() as s:
        a = s.get(Attachment, attachment_id)
    if a is None:
        raise NotFound("没有该材料")
    if actor.role == "enterprise":
        _own(actor, a.credit_code)
    elif actor.role not in ("official", "auditor"):
        raise Forbidden("无权查看材料")
    return a


STATUS_LABELS = {"payout": STATUS_ZH, "invitation": INVITATION_ZH, "application": APPLICATION_ZH,
                 "supplied": SUPPLIED_ZH}


# ------------------------------------------------------------------ data requests


def data_requests(p: Platform, actor: Actor) -> pd.DataFrame:
    """Per department and tag: how many (enterprise, policy) decisions wait for it, how many
    enterprises, and the benefit it would unlock, estimated as each policy's median eligible
    amount (估算: an undetermined amount is not known) — which data request to send first."""
    from ..sources import FrameSource

    if actor.role not in ("official", "auditor"):
        raise Forbidden("只有政策管理人员和审计人员可以查看")
    d = p.dictionary
    res = FrameSource(p.data.dataset.frame).results(p.library.active(), p.data.as_of,
                                                   (ir.Status.ELIGIBLE, ir.Status.UNDETERMINED))
    status = res["status"].astype(str)
    median = res[status == "eligible"].groupby("policy")["amount_fen"].median().to_dict()
    und = res[status == "undetermined"]
    rows: dict[str, dict[str, Any]] = {}
    for code, pid, missing in zip(und["credit_code"], und["policy"], und["missing"]):
        for tag in str(missing or "").split(","):
            if not tag or tag not in d or d[tag].derived:
                continue
            r = rows.setdefault(tag, {"pairs": 0, "codes": set(), "fen": 0})
            r["pairs"] += 1
            r["codes"].add(code)
            r["fen"] += int(median.get(pid, 0) or 0)
    out = [{"部门": d.sources[d[t].source].label, "数据项": d[t].label, "标签": t, "待定判定数": r["pairs"],
            "涉及企业数": len(r["codes"]), "可释放金额（估算，元）": yuan(r["fen"])} for t, r in rows.items()]
    cols = ["部门", "数据项", "标签", "待定判定数", "涉及企业数", "可释放金额（估算，元）"]
    return pd.DataFrame(out, columns=cols).sort_values(["可释放金额（估算，元）", "待定判定数"], ascending=False,
                                                       ignore_index=True)


def attachments_of(p: Platform, actor: Actor, kind: str, owner: int) -> list[tuple[int, str, int]]:
    """(id, name, size) of the evidence files of one application, supplied value or objection."""
    if actor.role not in ("official", "auditor", "enterprise"):
        raise Forbidden("无权查看材料")
    with p.ledger() as s:
        rows = s.execute(select(Attachment.id, Attachment.name, Attachment.size, Attachment.credit_code).where(
            Attachment.owner_kind == kind, Attachment.owner_id == owner).order_by(Attachment.id)).all()
    return [(i, n, z) for i, n, z, code in rows if actor.role != "enterprise" or code == actor.credit_code]


def delivery_status(p: Platform, actor: Actor, code: str, policies: list[ir.Policy]) -> dict[str, str]:
    """For each eligible policy, where its money is, or why it was not paid: its payout's state,
    its invitation or application, 就高不重复 with the policy that won, an exhausted budget, or
    not matched yet."""
    from ..ledger.models import BudgetIndicator

    code = code.strip().upper()
    if actor.role == "enterprise":
        _own(actor, code)
    elif actor.role not in ("official", "auditor"):
        raise Forbidden("无权查看")
    titles = {x.id: x.title for x in p.library.policies}
    with p.ledger() as s:
        pays = {x.policy_id: x for x in s.scalars(select(Payout).where(Payout.credit_code == code))}
        invs = {x.policy_id: x for x in s.scalars(select(Invitation).where(Invitation.credit_code == code))}
        apps = {x.policy_id: x for x in s.scalars(select(Application).where(Application.credit_code == code))}
        budgets = {b.policy_id: b.total_fen for b in s.scalars(select(BudgetIndicator))}
        used: dict[str, int] = {}
        for pid, fen in s.execute(select(Payout.policy_id, Payout.amount_fen).where(
                Payout.status.in_(("candidate", "publicized", "approved", "paid", "failed")))):
            used[pid] = used.get(pid, 0) + int(fen)
    out: dict[str, str] = {}
    for pol in policies:
        if pol.id in pays:
            out[pol.id] = STATUS_ZH.get(pays[pol.id].status, pays[pol.id].status)
        elif pol.id in invs:
            out[pol.id] = "即申即享：" + INVITATION_ZH.get(invs[pol.id].status, invs[pol.id].status)
        elif pol.id in apps:
            out[pol.id] = "申报：" + APPLICATION_ZH.get(apps[pol.id].status, apps[pol.id].status)
        elif pol.tier is ir.Tier3.APPLY:
            out[pol.id] = "需申报：在下方“我的办理事项”提交"
        elif pol.exclusive and (won := next(
                (pid for pid, group, status in [*((x.policy_id, x.exclusive_group, x.status) for x in pays.values()),
                                                *((x.policy_id, x.exclusive_group, x.status) for x in invs.values())]
                 if group == pol.exclusive.group
                 and status in ("candidate", "publicized", "approved", "paid", "failed", "open", "confirmed")),
                None)):
            out[pol.id] = f"就高不重复：本年度已享受（或待确认）《{titles.get(won, won)}》"
        elif pol.id in budgets and used.get(pol.id, 0) >= budgets[pol.id]:
            out[pol.id] = "预算指标已用完，本期未能安排"
        elif pol.tier is ir.Tier3.CONFIRM:
            out[pol.id] = "即申即享：下一次批次匹配后发出确认邀约，届时在“我的办理事项”一键确认"
        else:
            out[pol.id] = "免申即享：下一次批次匹配后列入公示，无需申请"
    return out
