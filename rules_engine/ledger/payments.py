"""Payment files for the finance system and the bank's answers to them.

A payment file is recorded (its lines, control totals, exact bytes and their SHA-256) in the
same transaction that assigns its payouts, and written to disk only after that commits: a file
on disk is always one the ledger knows. A bank result line applies only if it names a file the
ledger issued, with that file's hash, and an open line of that file with the same payout,
amount and account; an answered line is never answered again, so an old result file replayed
after a retry changes nothing, and a reference that was never exported is refused.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from ..data.exporting import table_bytes, yuan
from ..errors import DataError, Invalid, NotFound
from . import anchor, audit, lifecycle
from .db import insert_many
from .models import MAX_ID, BudgetIndicator, PaymentFile, PaymentLine, Payout, payout_id
from .verify import payment_line, payouts_digest

COLUMNS = ["支付文件编号", "兑现编号", "统一社会信用代码", "收款单位", "收款账号", "金额（元）", "政策", "政策版本"]
RESULT_COLUMNS = {  # the bank's result file: Chinese headers, or the English ones machines send
    "file": ("支付文件编号", "file"), "sha256": ("支付文件SHA256", "file_sha256"), "reference": ("兑现编号", "reference"),
    "amount": ("金额（元）", "amount"), "account": ("收款账号", "account"), "result": ("结果", "result"),
    "bank_reference": ("银行流水号", "bank_reference"), "message": ("说明", "message"),
}
PAID = ("成功", "paid", "success", "ok")
FAILED = ("失败", "failed", "failure", "fail")

AMOUNT = re.compile(r"[0-9]{1,15}\.[0-9]{2}")  # yuan as the payment file writes it: ASCII digits, two places


@dataclass(frozen=True)
class Issued:
    file: PaymentFile
    missing_account: list[str]

    @property
    def control(self) -> bytes:
        return control_bytes(self.file)


def control_frame(f: PaymentFile, checkpoint: anchor.Checkpoint | None) -> pd.DataFrame:
    row = {"支付文件编号": f.reference, "笔数": f.count, "合计金额（元）": yuan(f.total_fen),
           "生成时间": f.created_at.isoformat(timespec="seconds"), "生成人": f.created_by}
    if checkpoint is not None:
        row |= {"审计锚点序号": checkpoint.seq, "审计锚点哈希": checkpoint.hash, "锚点时间": checkpoint.at,
                "锚点签名（Ed25519）": checkpoint.signature}
    return pd.DataFrame([row])


def control_bytes(f: PaymentFile) -> bytes:
    """The CSV companion (`….control.csv`): totals and the main file's hash."""
    df = control_frame(f, None).assign(**{"SHA256": f.sha256})
    return table_bytes(df, "csv", money=["合计金额（元）"])


def issue(s: Session, actor: str, fmt: str, now: dt.datetime) -> Issued:
    """Approved payouts not yet in any payment file, with a bank account: one line each."""
    q = select(Payout).where(Payout.status == "approved", Payout.payment_file.is_(None)).order_by(Payout.id)
    rows = list(s.scalars(q.with_for_update()))
    ready = [p for p in rows if p.bank_account]
    missing = [p.reference for p in rows if not p.bank_account]
    if not ready:  # an empty file would be recorded, signed and sent for nothing
        raise Invalid("没有可支付的兑现记录（已审批、尚未进入支付文件且有备案银行账号），不生成空的支付文件"
                      + (f"；{len(missing)} 笔缺少银行账号：{'、'.join(missing[:10])}" if missing else ""))
    _within_budget(s, ready)
    f = PaymentFile(name="", format=fmt, sha256="", count=len(ready), total_fen=sum(p.amount_fen for p in ready),
                    created_at=now.replace(microsecond=0), created_by=actor, content=b"")
    s.add(f)
    s.flush()
    f.name = f"支付文件-{f.reference}.{fmt}"
    seq, head = audit.head(s)
    checkpoint = anchor.sign(seq, head)
    df = pd.DataFrame([[f.reference, p.reference, p.credit_code, p.enterprise_name or "", p.bank_account,
                        yuan(p.amount_fen), (p.explanation or {}).get("title", p.policy_id), p.policy_version]
                       for p in ready], columns=COLUMNS)
    f.content = table_bytes(df, fmt, money=["金额（元）"],
                            sheets={"控制合计": (control_frame(f, checkpoint), ["合计金额（元）"])})
    f.sha256 = hashlib.sha256(f.content).hexdigest()
    ids = [p.id for p in ready]
    assigned = 0
    for part in lifecycle.chunks(ids):
        res = s.execute(update(Payout).where(Payout.id.in_(part), Payout.status == "approved",
                                             Payout.payment_file.is_(None))
                        .values(payment_file=f.reference).execution_options(synchronize_session=False))
        assigned += res.rowcount  # type: ignore[attr-defined]
    if assigned != len(ids):
        raise lifecycle.ConcurrentChange("另一操作员同时生成了支付文件，本次未生成，请刷新后重试")
    insert_many(s.connection(), PaymentLine.__table__,  # type: ignore[arg-type]
                [dict(file_id=f.id, payout_id=p.id, amount_fen=p.amount_fen, account=p.bank_account, status="open",
                      bank_reference=None, answered_at=None) for p in ready])
    audit.append(s, actor, "export_payment_file", f.reference,
                 {"file_id": f.id, "name": f.name, "count": f.count, "total_fen": f.total_fen, "sha256": f.sha256,
                  "lines_digest": payouts_digest([payment_line(p.id, p.amount_fen, p.bank_account or "") for p in ready]),
                  "missing_account": missing, "checkpoint": [checkpoint.seq, checkpoint.hash]}, at=now)
    return Issued(f, missing)


def _within_budget(s: Session, ready: list[Payout]) -> None:
    """Refuse the whole file if, for any policy with a budget indicator, what is paid, what is
    in earlier files awaiting the bank, and this file together exceed the indicator."""
    limits = {b.policy_id: b.total_fen for b in s.scalars(select(BudgetIndicator))}
    in_file: dict[str, int] = {}
    for p in ready:
        if p.policy_id in limits:
            in_file[p.policy_id] = in_file.get(p.policy_id, 0) + p.amount_fen
    if not in_file:
        return
    q = (select(Payout.policy_id, func.sum(Payout.amount_fen))
         .where(Payout.policy_id.in_(list(in_file)),
                or_(Payout.status == "paid", and_(Payout.status == "approved", Payout.payment_file.is_not(None))))
         .group_by(Payout.policy_id))
    out = dict(s.execute(q).all())
    over = [f"{pid}（指标 {yuan(limits[pid])} 元，已支付及在途 {yuan(int(out.get(pid) or 0))} 元，本次 {yuan(fen)} 元）"
            for pid, fen in sorted(in_file.items()) if int(out.get(pid) or 0) + fen > limits[pid]]
    if over:
        raise Invalid("支付文件未生成：以下政策将超出可用预算指标：" + "；".join(over))


def find(s: Session, ref: str) -> PaymentFile:
    ref = ref.strip().upper()
    digits = ref[2:]
    ok = ref.startswith("PF") and digits.isascii() and digits.isdigit() and 0 < int(digits) <= MAX_ID
    f = s.get(PaymentFile, int(digits)) if ok else None
    if f is None:
        raise NotFound(f"没有支付文件 {ref}")
    return f


@dataclass
class ImportResult:
    paid: int = 0
    failed: int = 0
    unchanged: int = 0
    problems: list[str] = field(default_factory=list)
    sha256: str = ""


def _rows(data: bytes) -> list[dict[str, str]]:
    for enc in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise DataError("银行回单文件既不是 UTF-8 也不是 GB18030 编码")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    heads = set(reader.fieldnames or [])
    cols = {k: next((h for h in names if h in heads), None) for k, names in RESULT_COLUMNS.items()}
    need = [RESULT_COLUMNS[k][0] for k in ("file", "sha256", "reference", "amount", "account", "result")
            if cols[k] is None]
    if need:
        raise DataError(f"银行回单缺少列：{'、'.join(need)}（应与所回复的支付文件逐行对应）")
    return [{k: (row.get(c) or "").strip() if c else "" for k, c in cols.items()} for row in reader]


def apply_results(s: Session, data: bytes, actor: str, now: dt.datetime) -> ImportResult:
    res = ImportResult(sha256=hashlib.sha256(data).hexdigest())
    files: dict[str, PaymentFile | None] = {}
    for n, row in enumerate(_rows(data), start=2):
        where = f"第 {n} 行"
        ref = row["file"].upper()
        if ref not in files:
            try:
                files[ref] = find(s, ref)
            except NotFound:
                files[ref] = None
        f = files[ref]
        if f is None:
            res.problems.append(f"{where}：没有支付文件 {row['file']!r}，该行未入账")
            continue
        if row["sha256"].lower() != f.sha256:
            res.problems.append(f"{where}：支付文件哈希与 {f.reference} 不符，该行未入账")
            continue
        pid = payout_id(row["reference"])
        line = s.scalars(select(PaymentLine).where(PaymentLine.file_id == f.id, PaymentLine.payout_id == pid)).first() \
            if pid is not None else None
        if line is None:
            res.problems.append(f"{where}：支付文件 {f.reference} 中没有兑现记录 {row['reference']!r}，该行未入账")
            continue
        if not AMOUNT.fullmatch(row["amount"]):  # as the payment file writes it: no NaN, 1E+4, ５０００
            res.problems.append(f"{where}：金额 {row['amount']!r} 应为两位小数的数字（如 5000.00），该行未入账")
            continue
        if Decimal(row["amount"]) != yuan(line.amount_fen):
            res.problems.append(f"{where}：金额 {row['amount']!r} 与支付文件中的 {yuan(line.amount_fen)} 元不符，该行未入账")
            continue
        if row["account"] != line.account:
            res.problems.append(f"{where}：收款账号与支付文件中的不符，该行未入账")
            continue
        result = row["result"].lower()
        if result not in PAID + FAILED:
            res.problems.append(f"{where}：无法识别的结果 {row['result']!r}（应为 成功 或 失败）")
            continue
        target = "paid" if result in PAID else "failed"
        bank_ref = row["bank_reference"] or None
        if target == "paid" and not bank_ref:
            res.problems.append(f"{where}：支付成功的行必须有银行流水号")
            continue
        if _answered(s, line, target, bank_ref, where, res):
            continue
        if bank_ref and s.scalar(select(PaymentLine.id).where(  # a bank reference is one transaction, in any case
                func.upper(PaymentLine.bank_reference) == bank_ref.upper(),
                PaymentLine.id != line.id)) is not None:  # this line answered meanwhile: the race below decides
            res.problems.append(f"{where}：银行流水号 {bank_ref} 已用于另一笔支付，该行未入账")
            continue
        moved = s.execute(update(PaymentLine).where(PaymentLine.id == line.id, PaymentLine.status == "open")
                          .values(status=target, bank_reference=bank_ref, answered_at=now)
                          .execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
        if moved != 1:  # another import answered it between our read and our write
            s.refresh(line)
            _answered(s, line, target, bank_ref, where, res)
            continue
        p = s.get(Payout, line.payout_id)
        assert p is not None
        if p.status != "approved" or p.payment_file != f.reference:
            raise Invalid(f"{where}：兑现记录 {p.reference} 当前为「{lifecycle.STATUS_ZH.get(p.status)}」，"
                          f"不在支付文件 {f.reference} 的待回单状态；整份回单未入账，请核对")
        details = {"payment_file": f.reference, "result_sha256": res.sha256}
        if target == "paid":
            lifecycle.mark_paid(s, p, actor, bank_ref or "", now=now, details=details)
            res.paid += 1
        else:
            lifecycle.mark_failed(s, p, actor, "银行回单：" + (row["message"] or "支付失败"), now=now, details=details)
            res.failed += 1
    audit.append(s, actor, "import_bank_results", res.sha256,
                 {"paid": res.paid, "failed": res.failed, "unchanged": res.unchanged, "rejected": len(res.problems)},
                 at=now)
    return res


def _answered(s: Session, line: PaymentLine, target: str, bank_ref: str | None, where: str, res: ImportResult) -> bool:
    """True if the line was answered already: the same answer again counts as unchanged, another
    answer is refused."""
    if line.status == "open":
        return False
    same_ref = (line.bank_reference or "").upper() == (bank_ref or "").upper()
    if line.status == target and (target == "failed" or same_ref):
        res.unchanged += 1
    else:
        res.problems.append(f"{where}：该笔已按银行回单处理为「{lifecycle.STATUS_ZH.get(line.status)}」，不再重复入账")
    return True
