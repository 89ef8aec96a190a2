"""合同履约: support agreements drafted, signed online by both parties, checked from data,
paid in stages through the ledger and recovered (追回) when a milestone is missed.

* Draft: an official registers a contract version (from a template or a file); it is loaded and
  type-checked like a policy, its canonical text hashed. A number's next version is an amendment
  (补充协议): same enterprise, drafted only once the version before is signed.
* Sign: each party signs the hash with its own Ed25519 key (made by `new_signing_key`, the private
  half handed over once, never stored). The signature is checked before it is recorded; the audit
  entry holds it and the checkpoint after the transaction anchors it (上链存证). When both have
  signed, the version is in force and the one before is superseded.
* Check: every milestone of every contract in force is decided from the enterprise's archive
  (department data plus verified self-declared values), as of its due date, with the calculator's
  explanation: met, pending (not yet met, still time), missed (after due date and grace) or
  undetermined (data missing: what and from whom). Batches and the event worker call `check`.
* Pay: a met milestone creates a payout candidate (公示, approval, payment file, bank result as any
  other); the ledger's unique key pays a milestone once across versions; never beyond the total.
* Recover: a missed milestone with a recovery clause creates a claim, never more than the contract
  paid and not yet claimed, settled by repayment, by offset against a later payout of the same
  enterprise, or written off by a second official with a reason.

Every transition is compare-and-set and audited."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from .. import ir
from ..data.datasets import Dataset
from ..data.frame import row_of
from ..data.tags import TagDictionary
from ..data.values import yuan_text
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..explain import Explainer, Provenance
from ..ledger import audit
from ..ledger.contracts import MilestoneState, check_enterprise, loaded, signed_codes
from ..ledger.models import AuditEntry, ContractSignature, MilestoneCheck, Payout, RecoveryClaim, SigningKey
from ..ledger.models import Contract as ContractRow
from ..library import contracts as lang
from . import clock
from .actors import Actor
from .auditview import PARTY_ZH
from .ledger import writing

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "policies" / "contracts" / "templates"
PURPOSE = "mianshen-contract-v1"
PARTIES = PARTY_ZH
STATUS_ZH = {"drafted": "待签署", "signed": "已生效", "superseded": "已被补充协议替代", "void": "已作废"}
CLAIM_ZH = {"open": "待追回", "settled": "已结清", "write_off_requested": "核销待复核", "written_off": "已核销"}


def _official(actor: Actor) -> None:
    if actor.role != "official":
        raise Forbidden("只有政策管理人员可以办理合同")


def _reader(actor: Actor, credit_code: str) -> None:
    if actor.role == "enterprise" and actor.credit_code != credit_code:
        raise Forbidden("企业账户只能查看本企业的合同")
    if actor.role not in ("enterprise", "official", "auditor", "finance"):
        raise Forbidden("无权查看合同")


def _changed(s: Session, stmt: Any) -> int:
    """Rows an UPDATE changed: 0 means another operator got there first (compare-and-set)."""
    return int(s.execute(stmt.execution_options(synchronize_session=False)).rowcount)  # type: ignore[attr-defined]



# ------------------------------------------------------------------ templates and drafting


def templates() -> dict[str, str]:
    """Template name -> text (policies/contracts/templates/*.yaml)."""
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(TEMPLATES.glob("*.yaml"))}


def from_template(name: str, fields: dict[str, str]) -> str:
    texts = templates()
    if name not in texts:
        raise NotFound(f"没有合同模板 {name!r}；可用：{'、'.join(texts) or '无'}")
    try:
        return lang.fill_template(texts[name], fields)
    except ValueError as exc:
        raise Invalid(str(exc)) from None


def draft_from_template(sf: sessionmaker[Session], actor: Actor, template: str, fields: dict[str, str],
                        d: TagDictionary) -> ContractRow:
    _official(actor)  # before the template is filled: its fields are no one else's business
    return draft(sf, actor, from_template(template, fields), d, f"{template}.yaml")


def draft(sf: sessionmaker[Session], actor: Actor, text: str, d: TagDictionary, name: str = "合同.yaml") -> ContractRow:
    """Register a contract version for signing (loaded and type-checked first: PolicyLoadError
    names the line of every problem)."""
    _official(actor)
    c = lang.load_contract_text(text, d, name)
    now = clock.now()
    with writing(sf) as s:
        before = s.scalars(select(ContractRow).where(ContractRow.number == c.number)
                           .order_by(ContractRow.version.desc()).with_for_update()).first()
        want = 1 if before is None else before.version + 1
        if before is not None and before.status == "drafted":
            raise Conflict(f"合同 {c.number} 第 {before.version} 版尚未签署完毕；签署或作废后才能起草下一版")
        if c.version != want:
            raise Invalid(f"合同 {c.number} 的下一版应为第 {want} 版，文件写的是第 {c.version} 版")
        if before is not None and before.credit_code != c.credit_code:
            raise Invalid(f"补充协议不能更换企业方：原合同为 {before.credit_code}，文件为 {c.credit_code}")
        row = ContractRow(number=c.number, version=c.version, credit_code=c.credit_code, title=c.title,
                          text=lang.canonical(text).decode("utf-8"), sha256=c.sha256, status="drafted",
                          drafted_by=actor.name, drafted_at=now, in_force_at=None)
        s.add(row)
        try:
            s.flush()
        except IntegrityError:
            raise Conflict(f"合同 {c.number} 第 {c.version} 版已登记") from None
        audit.append(s, actor.name, "contract_drafted", f"{c.number}@{c.version}",
                     {"sha256": c.sha256, "credit_code": c.credit_code, "total_fen": c.total_fen,
                      "milestones": [m.id for m in c.milestones]}, at=now)
        s.expunge(row)
    return row


def void(sf: sessionmaker[Session], actor: Actor, number: str, version: int, reason: str) -> None:
    """Withdraw a version no one has finished signing (a signed one is changed by amendment only)."""
    _official(actor)
    if not reason.strip():
        raise Invalid("作废须写明原因")
    with writing(sf) as s:
        row = _row(s, number, version)
        n = _changed(s, update(ContractRow).where(ContractRow.id == row.id, ContractRow.status == "drafted")
                      .values(status="void"))
        if n != 1:
            raise Conflict(f"合同 {number} 第 {version} 版状态为「{STATUS_ZH.get(row.status, row.status)}」，不能作废")
        audit.append(s, actor.name, "contract_voided", f"{number}@{version}", {"reason": reason}, at=clock.now())


def _row(s: Session, number: str, version: int | None = None) -> ContractRow:
    q = select(ContractRow).where(ContractRow.number == number.strip())
    q = q.where(ContractRow.version == version) if version else q.order_by(ContractRow.version.desc())
    row = s.scalars(q).first()
    if row is None:
        raise NotFound(f"没有合同 {number!r}" + (f" 第 {version} 版" if version else ""))
    return row


def contract(sf: sessionmaker[Session], actor: Actor, number: str, version: int | None = None) -> ContractRow:
    with sf() as s:
        row = _row(s, number, version)
        _reader(actor, row.credit_code)
        s.expunge(row)
    return row


def contracts(sf: sessionmaker[Session], actor: Actor, credit_code: str | None = None) -> list[ContractRow]:
    """The latest version of each contract (an enterprise: its own only)."""
    if actor.role == "enterprise":
        credit_code = actor.credit_code
    elif actor.role not in ("official", "auditor", "finance"):
        raise Forbidden("无权查看合同")
    with sf() as s:
        latest = select(ContractRow.number, func.max(ContractRow.version).label("v")).group_by(ContractRow.number)
        if credit_code:
            latest = latest.where(ContractRow.credit_code == credit_code)
        sub = latest.subquery()
        rows = list(s.scalars(select(ContractRow).join(sub, (ContractRow.number == sub.c.number)
                                                       & (ContractRow.version == sub.c.v)).order_by(ContractRow.number)))
        for r in rows:
            s.expunge(r)
    return rows


# ------------------------------------------------------------------ keys and signatures


def message(number: str, version: int, sha256: str) -> bytes:
    """What a signature covers: the contract's number, version and the hash of its canonical text."""
    return f"{PURPOSE}\n{number}\n{version}\n{sha256}\n".encode()


def new_signing_key(sf: sessionmaker[Session], actor: Actor) -> tuple[int, bytes]:
    """A signing key for `actor` (an enterprise account signs for its enterprise, an official for
    the government): (key id, the private key as PEM, shown once). Earlier keys are revoked."""
    if actor.role not in ("enterprise", "official"):
        raise Forbidden("只有企业账户和政策管理人员可以签署合同")
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
    now = clock.now()
    party = "enterprise" if actor.role == "enterprise" else "government"
    with writing(sf) as s:
        _changed(s, update(SigningKey).where(SigningKey.owner == actor.name, SigningKey.revoked_at.is_(None))
                  .values(revoked_at=now))
        row = SigningKey(owner=actor.name, party=party, credit_code=actor.credit_code, public_key=public,
                         created_at=now, created_by=actor.name, revoked_at=None)
        s.add(row)
        s.flush()
        audit.append(s, actor.name, "signing_key_created", f"key:{row.id}",
                     {"party": party, "credit_code": actor.credit_code, "public_key": public}, at=now)
        kid = row.id
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return kid, pem


def signature_of(private_pem: bytes, number: str, version: int, sha256: str) -> str:
    """Sign on the signer's side (the CLI, the page the signer uploads the key to): the key is
    used in memory and dropped."""
    try:
        key = serialization.load_pem_private_key(private_pem, password=None)
    except (ValueError, TypeError):
        raise Invalid("签名私钥文件不能读取：应为签署密钥生成时下载的 PEM 文件") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise Invalid("签名私钥应为 Ed25519 密钥")
    return key.sign(message(number, version, sha256)).hex()


def sign(sf: sessionmaker[Session], actor: Actor, number: str, version: int, signature_hex: str) -> ContractRow:
    """Record `actor`'s signature of a drafted version, once checked against the actor's key."""
    if actor.role not in ("enterprise", "official"):
        raise Forbidden("只有合同双方可以签署")
    party = "enterprise" if actor.role == "enterprise" else "government"
    now = clock.now()
    with writing(sf) as s:
        row = _row(s, number, version)
        if party == "enterprise" and row.credit_code != actor.credit_code:
            raise Forbidden("企业账户只能签署本企业的合同")
        if row.status != "drafted":
            raise Conflict(f"合同 {number} 第 {version} 版状态为「{STATUS_ZH.get(row.status, row.status)}」，不能再签署")
        if lang.digest(row.text) != row.sha256:
            raise Conflict("合同文本与登记时的哈希不符（数据库被改动），不能签署")
        key = s.scalars(select(SigningKey).where(SigningKey.owner == actor.name, SigningKey.revoked_at.is_(None))
                        .order_by(SigningKey.id.desc())).first()
        if key is None:
            raise Invalid("还没有签署密钥：请先生成签署密钥（mianshen contracts keygen）")
        if party == "enterprise" and key.credit_code != row.credit_code:
            raise Forbidden("该签署密钥不属于合同的企业方")
        try:
            Ed25519PublicKey.from_public_bytes(bytes.fromhex(key.public_key)).verify(
                bytes.fromhex(signature_hex.strip()), message(row.number, row.version, row.sha256))
        except (InvalidSignature, ValueError):
            raise Invalid("签名不能通过核验：签名与合同文本或签署密钥不符") from None
        s.add(ContractSignature(contract_id=row.id, party=party, key_id=key.id, signer=actor.name, sha256=row.sha256,
                                signature=signature_hex.strip().lower(), signed_at=now))
        try:
            s.flush()
        except IntegrityError:
            raise Conflict(f"{PARTIES[party]}已签署合同 {number} 第 {version} 版") from None
        audit.append(s, actor.name, "contract_signed", f"{number}@{version}",
                     {"party": party, "key_id": key.id, "sha256": row.sha256, "signature": signature_hex.strip().lower()},
                     at=now)
        parties = set(s.scalars(select(ContractSignature.party).where(ContractSignature.contract_id == row.id)))
        if parties == set(PARTIES):
            n = _changed(s, update(ContractRow).where(ContractRow.id == row.id, ContractRow.status == "drafted")
                         .values(status="signed", in_force_at=now))
            if n != 1:
                raise Conflict("合同状态已被他人改变，请刷新后重试")
            _changed(s, update(ContractRow).where(ContractRow.number == row.number, ContractRow.version < row.version,
                                                ContractRow.status == "signed").values(status="superseded"))
            audit.append(s, "系统", "contract_in_force", f"{number}@{version}", {"sha256": row.sha256}, at=now)
        s.flush()
        s.refresh(row)
        s.expunge(row)
    return row


@dataclass
class Verification:
    number: str
    version: int
    sha256: str
    signatures: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and {x["party"] for x in self.signatures} == set(PARTIES)


def verify_signed(text: str, number: str, version: int, signatures: Iterable[dict[str, Any]]) -> Verification:
    """Anyone's check of a contract: the text's hash, and each signature against its public key.
    `signatures`: [{party, signer, public_key (hex), sha256, signature (hex)}]."""
    sha = lang.digest(text)
    v = Verification(number, version, sha)
    for sig in signatures:
        party = str(sig.get("party", ""))
        v.signatures.append({k: sig.get(k) for k in ("party", "signer", "public_key", "signature", "signed_at")})
        if sig.get("sha256") != sha:
            v.problems.append(f"{PARTIES.get(party, party)}签署的文本哈希与本文本不符")
            continue
        try:
            Ed25519PublicKey.from_public_bytes(bytes.fromhex(str(sig["public_key"]))).verify(
                bytes.fromhex(str(sig["signature"])), message(number, version, sha))
        except (InvalidSignature, ValueError, KeyError):
            v.problems.append(f"{PARTIES.get(party, party)}（{sig.get('signer')}）的签名不能通过核验")
    missing = set(PARTIES) - {str(x.get("party")) for x in v.signatures}
    if missing:
        v.problems.append("缺少" + "、".join(PARTIES[p] for p in sorted(missing)) + "的签名")
    return v


def _signatures(s: Session, contract_id: int) -> list[dict[str, Any]]:
    return [{"party": sig.party, "signer": sig.signer, "public_key": key.public_key, "sha256": sig.sha256,
             "signature": sig.signature, "signed_at": sig.signed_at.isoformat()}
            for sig, key in s.execute(select(ContractSignature, SigningKey)
                                      .join(SigningKey, SigningKey.id == ContractSignature.key_id)
                                      .where(ContractSignature.contract_id == contract_id)
                                      .order_by(ContractSignature.id))]


def signatures(sf: sessionmaker[Session], actor: Actor, number: str, version: int) -> list[dict[str, Any]]:
    """A version's signatures with their public keys (what the pages show; no audit log read)."""
    with sf() as s:
        row = _row(s, number, version)
        _reader(actor, row.credit_code)
        return _signatures(s, row.id)


def evidence(sf: sessionmaker[Session], actor: Actor, number: str, version: int | None = None) -> dict[str, Any]:
    """What a third party needs to verify a signed version without the database: the text and the
    signatures with their public keys, and the audit entries that recorded them (a signing
    entry with the signature it recorded)."""
    with sf() as s:
        row = _row(s, number, version)
        _reader(actor, row.credit_code)
        entries = [{"seq": e.seq, "action": e.action, "hash": e.hash, "at": e.at,
                    **({"signature": json.loads(e.details).get("signature")} if e.action == "contract_signed" else {})}
                   for e in s.scalars(select(AuditEntry).where(AuditEntry.subject == f"{row.number}@{row.version}")
                                      .order_by(AuditEntry.seq))]
        return {"number": row.number, "version": row.version, "credit_code": row.credit_code, "status": row.status,
                "sha256": row.sha256, "text": row.text, "signatures": _signatures(s, row.id), "audit": entries}


def verify(sf: sessionmaker[Session], actor: Actor, number: str, version: int | None = None) -> Verification:
    """The registered version checked as a third party would, plus the audit log's record of each
    signature (a signature row inserted or edited in the database is not in the log)."""
    ev = evidence(sf, actor, number, version)
    v = verify_signed(ev["text"], ev["number"], ev["version"], ev["signatures"])
    if v.sha256 != ev["sha256"]:
        v.problems.append("合同文本与登记时的哈希不符（数据库被改动）")
    logged = {e.get("signature") for e in ev["audit"] if e["action"] == "contract_signed"}
    for sig in ev["signatures"]:
        if sig["signature"] not in logged:
            v.problems.append(f"{PARTIES.get(sig['party'], sig['party'])}的签名不在审计日志中（直接写入数据库）")
    return v


# ------------------------------------------------------------------ checking milestones


def check(sf: sessionmaker[Session], actor: Actor, data: Dataset, d: TagDictionary,
          codes: Iterable[str] | None = None, policies: Sequence[ir.Policy] = ()) -> list[MilestoneState]:
    """Decide every milestone of every contract in force (of `codes`' enterprises, or all) from
    the current data; pay what is met, claim back what is missed, record each state change.
    `policies`: the library in force (就高不重复 with a contract that names a group)."""
    if actor.role not in ("official", "system"):
        raise Forbidden("只有政策管理人员或系统可以核查合同履约")
    today, now = clock.today(), clock.now()
    wanted = {c.strip().upper() for c in codes} if codes is not None else None
    with sf() as s:
        todo = sorted(signed_codes(s) if wanted is None else signed_codes(s) & wanted)
    out: list[MilestoneState] = []
    if not todo:
        return out
    ex = Explainer(d)
    with writing(sf) as s:
        for code in todo:
            prof, prov = _profile(s, data, code, d)
            out += check_enterprise(s, code, prof, prov, d, actor.name, today, now, ex,
                                    [p for p in policies if p.status == "active"])
    return out


def _profile(s: Session, ds: Dataset, code: str, d: TagDictionary) -> tuple[dict[str, object], dict[str, Provenance]]:
    from .tiers import SELF_DECLARED, supplied_overlay

    try:
        i = ds.index_of(code)
    except KeyError:
        return {}, {}
    row = row_of(ds.frame, i, d)
    prov = {k: Provenance(d.sources[src].label, a, f) for k, (src, a, f) in ds.provenance_of(i).items()}
    for tag, value in supplied_overlay(s, code, d).items():
        if row.get(tag) is None:
            row[tag] = value
            prov[tag] = Provenance(SELF_DECLARED, None)
    return row, prov


def states(sf: sessionmaker[Session], actor: Actor, number: str, d: TagDictionary) -> list[MilestoneState]:
    """Each milestone's last decision (as recorded by the last check)."""
    with sf() as s:
        row = _row(s, number)
        _reader(actor, row.credit_code)
        out = []
        text_row = s.scalars(select(ContractRow).where(ContractRow.number == row.number, ContractRow.status == "signed")
                             ).first() or row
        checks = {x.milestone: x for x in s.scalars(select(MilestoneCheck).where(MilestoneCheck.number == row.number))}
        claims = {x.milestone: x.amount_fen for x in s.scalars(select(RecoveryClaim)
                                                                .where(RecoveryClaim.number == row.number))}
        c = loaded(text_row, d)
        for m in c.milestones:
            x = checks.get(m.id)
            out.append(MilestoneState(c.number, c.version, c.credit_code, m.id, m.name, m.due, m.deadline,
                                      x.state if x else "pending", x.detail if x else {},
                                      int((x.detail or {}).get("amount_fen", 0)) if x and x.state == "met" else 0,
                                      f"MS{x.payout_id:010d}" if x and x.payout_id else None, claims.get(m.id, 0),
                                      str((x.detail or {}).get("unpaid", "")) if x else ""))
    return out


def milestone_of(s: Session, pid: str, version: int, d: TagDictionary) -> ir.Policy | None:
    """The milestone policy a contract payout names (its contract version's registered text)."""
    parts = lang.split_policy_id(pid)
    if parts is None:
        return None
    row = s.scalars(select(ContractRow).where(ContractRow.number == parts[0], ContractRow.version == version)).first()
    if row is None:
        return None
    c = loaded(row, d)
    try:
        return lang.milestone_policy(c, c.milestone(parts[1]))
    except KeyError:
        return None


# ------------------------------------------------------------------ recovery claims


def claims(sf: sessionmaker[Session], actor: Actor, credit_code: str | None = None) -> list[RecoveryClaim]:
    if actor.role == "enterprise":
        credit_code = actor.credit_code
    elif actor.role not in ("official", "auditor", "finance"):
        raise Forbidden("无权查看追回记录")
    with sf() as s:
        q = select(RecoveryClaim).order_by(RecoveryClaim.id)
        if credit_code:
            q = q.where(RecoveryClaim.credit_code == credit_code)
        rows = list(s.scalars(q))
        for r in rows:
            s.expunge(r)
    return rows


def _claim_row(s: Session, claim_id: int) -> RecoveryClaim:
    c = s.get(RecoveryClaim, claim_id, with_for_update=True)
    if c is None:
        raise NotFound(f"没有追回记录 {claim_id}")
    return c


def _settle(s: Session, c: RecoveryClaim, kind: str, fen: int, actor: Actor, reference: str, reason: str,
            now: dt.datetime) -> None:
    remaining = c.amount_fen - c.settled_fen
    if c.status not in ("open",):
        raise Conflict(f"追回记录 {c.id} 状态为「{CLAIM_ZH.get(c.status, c.status)}」，不能再结算")
    if not (0 < fen <= remaining):
        raise Invalid(f"结算金额应大于 0 且不超过待追回的 {yuan_text(remaining)}")
    settled = c.settled_fen + fen
    status = "settled" if settled == c.amount_fen else "open"
    n = _changed(s, update(RecoveryClaim).where(RecoveryClaim.id == c.id, RecoveryClaim.settled_fen == c.settled_fen,
                                              RecoveryClaim.status == "open")
                  .values(settled_fen=settled, status=status,
                          settlements=[*c.settlements, {"kind": kind, "fen": fen, "by": actor.name,
                                                        "at": now.isoformat(), "reference": reference,
                                                        "reason": reason}]))
    if n != 1:
        raise Conflict("追回记录已被他人处理，请刷新后重试")
    audit.append(s, actor.name, "recovery_settled", f"claim:{c.id}",
                 {"kind": kind, "fen": fen, "reference": reference, "reason": reason, "settled_fen": settled}, at=now)


def repaid(sf: sessionmaker[Session], actor: Actor, claim_id: int, fen: int, bank_reference: str) -> None:
    """The enterprise paid back `fen` (the bank's reference of the transfer)."""
    _official(actor)
    if not bank_reference.strip():
        raise Invalid("请填写退回款项的银行流水号")
    with writing(sf) as s:
        _settle(s, _claim_row(s, claim_id), "repaid", fen, actor, bank_reference.strip()[:64], "企业退回", clock.now())


def offset(sf: sessionmaker[Session], actor: Actor, claim_id: int, payout_ref: str, reason: str) -> None:
    """Withhold a later payout of the same enterprise (not yet approved) against the claim: the
    payout is withdrawn with the reason, and its whole amount settles the claim."""
    from ..ledger import lifecycle
    from ..ledger.models import payout_id

    _official(actor)
    now = clock.now()
    with writing(sf) as s:
        c = _claim_row(s, claim_id)
        pid = payout_id(payout_ref)
        p = s.get(Payout, pid, with_for_update=True) if pid else None
        if p is None:
            raise NotFound(f"没有兑现记录 {payout_ref!r}")
        if p.credit_code != c.credit_code:
            raise Invalid("只能抵扣同一企业的兑现")
        if p.status not in ("candidate", "publicized"):
            raise Conflict(f"兑现记录 {p.reference} 已审批或已结束，不能抵扣（只能抵扣待公示、公示中的兑现）")
        if p.amount_fen > c.amount_fen - c.settled_fen:
            raise Invalid(f"兑现金额 {yuan_text(p.amount_fen)} 高于待追回的 {yuan_text(c.amount_fen - c.settled_fen)}："
                          "整笔抵扣会多扣企业的钱，请改为企业退回")
        why = f"抵扣合同 {c.number} 追回款（追回记录 {c.id}）：{reason}".strip("：")
        lifecycle.withdraw(s, p, actor.name, why, now=now, details={"offset_claim": c.id})
        _settle(s, c, "offset", p.amount_fen, actor, p.reference, reason, now)


def request_write_off(sf: sessionmaker[Session], actor: Actor, claim_id: int, reason: str) -> None:
    _official(actor)
    if len(reason.strip()) < 4:
        raise Invalid("核销须写明原因（如企业破产清算、经批准豁免）")
    with writing(sf) as s:
        c = _claim_row(s, claim_id)
        n = _changed(s, update(RecoveryClaim).where(RecoveryClaim.id == c.id, RecoveryClaim.status == "open")
                      .values(status="write_off_requested", write_off_by=actor.name,
                              write_off_reason=reason.strip()))
        if n != 1:
            raise Conflict(f"追回记录 {c.id} 状态为「{CLAIM_ZH.get(c.status, c.status)}」，不能申请核销")
        audit.append(s, actor.name, "recovery_write_off_requested", f"claim:{c.id}",
                     {"reason": reason.strip(), "remaining_fen": c.amount_fen - c.settled_fen}, at=clock.now())


def approve_write_off(sf: sessionmaker[Session], actor: Actor, claim_id: int, approve: bool = True) -> None:
    """A second official approves (or refuses) the write-off another requested."""
    _official(actor)
    now = clock.now()
    with writing(sf) as s:
        c = _claim_row(s, claim_id)
        if c.status != "write_off_requested":
            raise Conflict(f"追回记录 {c.id} 没有待复核的核销申请")
        if c.write_off_by == actor.name:
            raise Forbidden("核销须由申请人以外的另一名工作人员复核")
        remaining = c.amount_fen - c.settled_fen
        if approve:
            values: dict[str, Any] = {
                "status": "written_off", "settled_fen": c.amount_fen,
                "settlements": [*c.settlements, {"kind": "written_off", "fen": remaining, "by": actor.name,
                                                 "at": now.isoformat(), "reference": c.write_off_by or "",
                                                 "reason": c.write_off_reason or ""}]}
        else:
            values = {"status": "open", "write_off_by": None, "write_off_reason": None}
        n = _changed(s, update(RecoveryClaim).where(RecoveryClaim.id == c.id,
                                                  RecoveryClaim.status == "write_off_requested").values(**values))
        if n != 1:
            raise Conflict("追回记录已被他人处理，请刷新后重试")
        audit.append(s, actor.name, "recovery_written_off" if approve else "recovery_write_off_refused",
                     f"claim:{c.id}", {"requested_by": c.write_off_by, "reason": c.write_off_reason,
                                       "fen": remaining}, at=now)
