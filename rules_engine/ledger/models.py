"""Ledger tables (SQLAlchemy 2.x). The schema is created by the Alembic migrations in
`migrations/`; a test checks the two never drift apart."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, query_expression


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class BatchRun(Base):
    __tablename__ = "batch_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    started_by: Mapped[str] = mapped_column(String(64))
    as_of: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))  # running | completed | abandoned
    policies: Mapped[dict[str, Any]] = mapped_column(JSON)  # id -> {version, hash}
    data_hash: Mapped[str] = mapped_column(String(64))
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    data_version_id: Mapped[int | None] = mapped_column(Integer)  # the files it read (DataVersion), if any


class DataVersion(Base):
    """A set of department files as the data stood at one moment: made current on the 数据 page,
    or read by a batch run. Each file is named with its SHA-256, so a replay reads exactly these
    bytes or refuses; the files themselves are kept (uploads are never overwritten)."""

    __tablename__ = "data_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime)
    recorded_by: Mapped[str] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(16))  # activated | batch
    as_of: Mapped[dt.date] = mapped_column(Date)
    files: Mapped[list[Any]] = mapped_column(JSON)  # [{path, source, as_of, encoding, columns, sha256}]
    digest: Mapped[str] = mapped_column(String(64))  # SHA-256 of `files` as canonical JSON


class LedgerSetting(Base):
    """Settings fixed when the ledger was created (the mode: production, test or demo)."""

    __tablename__ = "ledger_settings"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


class PolicyText(Base):
    """The exact text of every policy file a batch evaluated, by its SHA-256 (the hash a batch
    run records per policy), so that the batch can be replayed after the file has changed."""

    __tablename__ = "policy_texts"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    policy_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    first_seen_at: Mapped[dt.datetime] = mapped_column(DateTime)


class Payout(Base):
    __tablename__ = "payouts"
    __table_args__ = (
        UniqueConstraint("policy_id", "credit_code", "period", name="uq_payout_key"),
        Index("ix_payouts_status", "status"),
        Index("ix_payouts_enterprise", "credit_code"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    policy_id: Mapped[str] = mapped_column(String(64))
    policy_version: Mapped[int] = mapped_column(Integer)
    credit_code: Mapped[str] = mapped_column(String(18))
    period: Mapped[str] = mapped_column(String(16))  # "once", "2026" or "2026-06-30", by the policy's limit
    benefit_year: Mapped[int] = mapped_column(Integer)
    exclusive_group: Mapped[str | None] = mapped_column(String(128))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batch_runs.id"))
    source: Mapped[str] = mapped_column(String(16))  # batch | event
    enterprise_name: Mapped[str | None] = mapped_column(String(200))
    region: Mapped[str | None] = mapped_column(String(6))
    bank_account: Mapped[str | None] = mapped_column(String(40))
    explanation: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The policy's title as the explanation recorded it, read by lists without loading the record.
    title: Mapped[str | None] = query_expression()
    notice_start: Mapped[dt.date | None] = mapped_column(Date)
    notice_end: Mapped[dt.date | None] = mapped_column(Date)
    payment_file: Mapped[str | None] = mapped_column(String(200))
    bank_reference: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)

    @property
    def reference(self) -> str:
        """The reference the finance system and the bank see for this payout."""
        return f"MS{self.id:010d}"


MAX_ID = 2**31 - 1


def payout_id(reference: str) -> int | None:
    """The payout id a reference names, or None if it cannot name one."""
    ref = reference.strip()
    if not (ref.startswith("MS") and ref[2:].isascii() and ref[2:].isdigit() and len(ref) <= 20):
        return None
    n = int(ref[2:])
    return n if 0 < n <= MAX_ID else None


class PaymentFile(Base):
    """A payment file as issued: its exact bytes, their hash and control totals. It is recorded
    and committed before the file is written anywhere, so every file on disk is known here,
    and a lost file can be downloaded again byte for byte."""

    __tablename__ = "payment_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    format: Mapped[str] = mapped_column(String(8))  # csv | xlsx
    sha256: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(Integer)
    total_fen: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)

    @property
    def reference(self) -> str:
        return f"PF{self.id:08d}"


class PaymentLine(Base):
    """One payout in one payment file. A bank result applies only to an open line of the file it
    names, with the same amount and account; once answered, a line is never answered again."""

    __tablename__ = "payment_lines"
    __table_args__ = (
        UniqueConstraint("file_id", "payout_id", name="uq_payment_line"),
        UniqueConstraint("bank_reference", name="uq_payment_line_bank_reference"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("payment_files.id"), index=True)
    payout_id: Mapped[int] = mapped_column(ForeignKey("payouts.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    account: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16))  # open | paid | failed
    bank_reference: Mapped[str | None] = mapped_column(String(64))
    answered_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class PayoutEvent(Base):
    __tablename__ = "payout_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payout_id: Mapped[int] = mapped_column(ForeignKey("payouts.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(DateTime)


class Clawback(Base):
    __tablename__ = "clawbacks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payout_id: Mapped[int] = mapped_column(ForeignKey("payouts.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(DateTime)


class OutboxMessage(Base):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payout_id: Mapped[int | None] = mapped_column(ForeignKey("payouts.id"))
    kind: Mapped[str] = mapped_column(String(32))
    dedupe_key: Mapped[str] = mapped_column(String(128), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # pending | sent | dead
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class AuditEntry(Base):
    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(32))  # ISO text, so the hashed form survives every backend
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(128))
    details: Mapped[str] = mapped_column(Text)  # canonical JSON text, hashed as stored
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class BatchLock(Base):
    """One row. Holding it (holder not null) is the right to run a batch."""

    __tablename__ = "batch_lock"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    holder: Mapped[str | None] = mapped_column(String(128))
    pid: Mapped[int | None] = mapped_column(Integer)
    host: Mapped[str | None] = mapped_column(String(128))
    acquired_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class TagEvent(Base):
    """An inbound tag update, for the worker to poll (one of its event sources)."""

    __tablename__ = "tag_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    credit_code: Mapped[str] = mapped_column(String(64))
    tag: Mapped[str] = mapped_column(String(64))
    value: Mapped[str | None] = mapped_column(Text)  # as text; the tag dictionary types it
    as_of: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[dt.datetime] = mapped_column(DateTime)


class DeadLetter(Base):
    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(200))  # where the event came from, with its position
    raw: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(DateTime)


class WorkerOffset(Base):
    """How far the worker has read each source; advanced in the same transaction as the effects."""

    __tablename__ = "worker_offsets"

    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)


class TagOverride(Base):
    """The newest value of a tag from events, laid over the base data on restart."""

    __tablename__ = "tag_overrides"

    credit_code: Mapped[str] = mapped_column(String(18), primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text)  # JSON of the natural value
    as_of: Mapped[dt.date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)


class LoginThrottle(Base):
    """Failed sign-ins per account and per address: back-off and lockout survive a restart
    and hold across the UI and API processes."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # "user:NAME" or "addr:IP"
    failures: Mapped[int] = mapped_column(Integer)
    lockouts: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[dt.datetime] = mapped_column(DateTime)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime)


class ApiKey(Base):
    """A key for another system (the enterprise portal, the finance or the budget system). Only
    a hash of the secret is stored; the key is shown once when it is made or rotated."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    credit_code: Mapped[str | None] = mapped_column(String(18))
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(64))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class ApiSession(Base):
    """A person's session, of the API or of the web UI (after signing in with a password); the
    token is stored hashed. It ends 8 hours after sign-in, after 30 minutes unused, or on sign-out."""

    __tablename__ = "api_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    credit_code: Mapped[str | None] = mapped_column(String(18))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    seen_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # last use; 30 minutes idle ends it


class BudgetIndicator(Base):
    """A budgeted policy's indicator (预算指标) from the integrated budget system, or from the
    policy file until the budget system sets it."""

    __tablename__ = "budget_indicators"

    policy_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    total_fen: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(32))  # policy | budget_system
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)


class Invitation(Base):
    """即申即享: a match that waits for the enterprise to confirm (确认享受) or decline. Only a
    confirmation creates the payout candidate, keyed like any payout (policy, enterprise, period)."""

    __tablename__ = "invitations"
    __table_args__ = (UniqueConstraint("policy_id", "credit_code", "period", name="uq_invitation_key"),
                      Index("ix_invitations_enterprise", "credit_code"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    policy_id: Mapped[str] = mapped_column(String(64))
    policy_version: Mapped[int] = mapped_column(Integer)
    credit_code: Mapped[str] = mapped_column(String(18))
    period: Mapped[str] = mapped_column(String(16))
    benefit_year: Mapped[int] = mapped_column(Integer)
    exclusive_group: Mapped[str | None] = mapped_column(String(128))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))  # open | confirmed | declined | expired
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batch_runs.id"))
    enterprise_name: Mapped[str | None] = mapped_column(String(200))
    region: Mapped[str | None] = mapped_column(String(6))
    bank_account: Mapped[str | None] = mapped_column(String(40))
    explanation: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    expires_on: Mapped[dt.date] = mapped_column(Date)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    payout_id: Mapped[int | None] = mapped_column(ForeignKey("payouts.id"))

    @property
    def reference(self) -> str:
        return f"YQ{self.id:010d}"


class Application(Base):
    """申报: the enterprise applies (a form pre-filled from its archive, answers for what the data
    cannot prove, evidence files); an official accepts, returns for correction, or rejects."""

    __tablename__ = "applications"
    __table_args__ = (UniqueConstraint("policy_id", "credit_code", "period", name="uq_application_key"),
                      Index("ix_applications_enterprise", "credit_code"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    policy_id: Mapped[str] = mapped_column(String(64))
    policy_version: Mapped[int] = mapped_column(Integer)
    credit_code: Mapped[str] = mapped_column(String(18))
    period: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))  # submitted | returned | accepted | rejected
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)  # tag -> value as text (what the data could not prove)
    statement: Mapped[str] = mapped_column(Text)
    amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    payout_id: Mapped[int | None] = mapped_column(ForeignKey("payouts.id"))

    @property
    def reference(self) -> str:
        return f"SB{self.id:010d}"


class SuppliedValue(Base):
    """待补充数据 closed by the enterprise: a self-declared value with its statement and evidence,
    kept apart from department data and used for that enterprise only once verified."""

    __tablename__ = "supplied_values"
    __table_args__ = (Index("ix_supplied_enterprise", "credit_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    credit_code: Mapped[str] = mapped_column(String(18))
    tag: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(Text)  # as typed; the tag dictionary types it
    statement: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # submitted | verified | rejected
    submitted_by: Mapped[str] = mapped_column(String(64))
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    reason: Mapped[str | None] = mapped_column(Text)

    @property
    def reference(self) -> str:
        return f"BC{self.id:010d}"


class Attachment(Base):
    """An evidence file (an application's, a supplied value's or an objection's), stored with its
    hash; it is served only to the enterprise it belongs to and to officials."""

    __tablename__ = "attachments"
    __table_args__ = (Index("ix_attachments_owner", "owner_kind", "owner_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_kind: Mapped[str] = mapped_column(String(16))  # application | supplied | objection
    owner_id: Mapped[int] = mapped_column(Integer)
    credit_code: Mapped[str] = mapped_column(String(18))
    name: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[dt.datetime] = mapped_column(DateTime)


class Objection(Base):
    """An enterprise's objection to a decision or a payout, or its rating after payment (评价);
    an official answers, and the enterprise sees the answer."""

    __tablename__ = "objections"
    __table_args__ = (Index("ix_objections_enterprise", "credit_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # objection | rating
    credit_code: Mapped[str] = mapped_column(String(18))
    subject: Mapped[str] = mapped_column(String(64))  # a payout reference or a policy id
    text: Mapped[str] = mapped_column(Text)
    rating: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # open | answered
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    answered_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class PolicyVersion(Base):
    """Every published version of a policy file, as published: its text, hash, who and when. The
    library directory holds the current version; this keeps all of them (diff, rollback)."""

    __tablename__ = "policy_versions"
    __table_args__ = (UniqueConstraint("policy_id", "version", name="uq_policy_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    policy_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    file: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    published_by: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[dt.datetime] = mapped_column(DateTime)


class PolicyDraft(Base):
    """A policy version submitted for publication (起草 → 审核 → 发布, 双人复核): a second official
    approves it (the file is then written and the version kept) or returns it with a reason. The
    text is fixed at submission and hashed, so what the reviewer approves is what is published."""

    __tablename__ = "policy_drafts"
    __table_args__ = (Index("ix_policy_drafts_status", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    policy_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    base_version: Mapped[int | None] = mapped_column(Integer)  # the published version it replaces
    file: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text)  # the author's reason for the change
    status: Mapped[str] = mapped_column(String(16))  # submitted | returned | withdrawn | published
    author: Mapped[str] = mapped_column(String(64))
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime)
    reviewer: Mapped[str | None] = mapped_column(String(64))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    reason: Mapped[str | None] = mapped_column(Text)  # why it was returned


class SigningKey(Base):
    """A signer's Ed25519 public key (合同签署). The private key is handed to the signer once
    when it is made and never stored: a signature the platform holds is one it could not forge."""

    __tablename__ = "signing_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))  # the account that signs with it
    party: Mapped[str] = mapped_column(String(16))  # government | enterprise
    credit_code: Mapped[str | None] = mapped_column(String(18))  # an enterprise signer's enterprise
    public_key: Mapped[str] = mapped_column(String(64))  # raw Ed25519 public key, hex
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(64))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Contract(Base):
    """One version of a support agreement (合同履约): its text as drafted, hashed; signed by both
    parties it is in force and never changes; an amendment (补充协议) is the next version."""

    __tablename__ = "contracts"
    __table_args__ = (UniqueConstraint("number", "version", name="uq_contract_version"),
                      Index("ix_contracts_enterprise", "credit_code"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(48))
    version: Mapped[int] = mapped_column(Integer)
    credit_code: Mapped[str] = mapped_column(String(18))
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # drafted | signed (in force) | superseded | void
    drafted_by: Mapped[str] = mapped_column(String(64))
    drafted_at: Mapped[dt.datetime] = mapped_column(DateTime)
    in_force_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class ContractSignature(Base):
    __tablename__ = "contract_signatures"
    __table_args__ = (UniqueConstraint("contract_id", "party", name="uq_contract_party"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    party: Mapped[str] = mapped_column(String(16))  # government | enterprise
    key_id: Mapped[int] = mapped_column(ForeignKey("signing_keys.id"))
    signer: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))  # what was signed
    signature: Mapped[str] = mapped_column(String(128))  # Ed25519 signature, hex
    signed_at: Mapped[dt.datetime] = mapped_column(DateTime)


class MilestoneCheck(Base):
    """The last decision on one milestone of a contract number: met, missed, pending (not yet
    met, still time) or undetermined (data missing), with what it read."""

    __tablename__ = "milestone_checks"

    number: Mapped[str] = mapped_column(String(48), primary_key=True)
    milestone: Mapped[str] = mapped_column(String(16), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)  # values, sources, missing, amount
    checked_at: Mapped[dt.datetime] = mapped_column(DateTime)
    payout_id: Mapped[int | None] = mapped_column(ForeignKey("payouts.id"))


class RecoveryClaim(Base):
    """追回: what an enterprise owes back for a missed milestone, never more than the contract
    paid and not yet claimed; settled by repayment, by offset against a later payout, or written
    off by a second official with a reason."""

    __tablename__ = "recovery_claims"
    __table_args__ = (UniqueConstraint("number", "milestone", name="uq_claim_milestone"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(48))
    milestone: Mapped[str] = mapped_column(String(16))
    credit_code: Mapped[str] = mapped_column(String(18), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    settled_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(24))  # open | settled | write_off_requested | written_off
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    settlements: Mapped[list[Any]] = mapped_column(JSON)  # [{kind, fen, by, at, reference, reason}]
    write_off_by: Mapped[str | None] = mapped_column(String(64))
    write_off_reason: Mapped[str | None] = mapped_column(Text)
