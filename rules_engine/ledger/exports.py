"""Files that leave the ledger: the 公示 list, the payment file for the finance system;
and the one that comes back: the bank's result file."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..datasets import mask_text
from ..errors import DataError, EngineError
from ..values import fmt_yuan
from . import audit, lifecycle
from .models import Payout, payout_id


def _yuan(fen: int) -> str:
    return fmt_yuan(fen, grouped=False)


def _write(df: pd.DataFrame, out: Path, sheets: dict[str, pd.DataFrame] | None = None) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".csv":
        df.to_csv(out, index=False, encoding="utf-8-sig")  # with BOM: Excel opens Chinese CSV correctly
    elif out.suffix.lower() == ".xlsx":
        with pd.ExcelWriter(out, engine="openpyxl") as xw:
            df.to_excel(xw, sheet_name="明细", index=False)
            for name, extra in (sheets or {}).items():
                extra.to_excel(xw, sheet_name=name, index=False)
    else:
        raise EngineError(f"{out}: write .csv or .xlsx")


def notice_list(s: Session, out: Path, actor: str, status: str = "publicized") -> int:
    """The public notice (公示) list. Personal and bank data never appear; names of natural
    persons are masked."""
    rows = s.scalars(select(Payout).where(Payout.status == status).order_by(Payout.policy_id, Payout.credit_code))
    data = [{
        "政策": (p.explanation or {}).get("title", p.policy_id),
        "企业名称": p.enterprise_name or "",
        "统一社会信用代码": p.credit_code,
        "行政区划": p.region or "",
        "拟兑现金额（元）": _yuan(p.amount_fen),
        "公示期": f"{p.notice_start} 至 {p.notice_end}" if p.notice_start else "",
        "异议渠道": (p.explanation or {}).get("contact") or "政务服务热线12345",
    } for p in rows]
    df = pd.DataFrame(data, columns=["政策", "企业名称", "统一社会信用代码", "行政区划", "拟兑现金额（元）", "公示期", "异议渠道"])
    # an individual business (个体工商户) may carry a person's name: mask names that look personal
    df["企业名称"] = pd.Series([mask_text(n) if 0 < len(n) <= 4 else n for n in df["企业名称"]], dtype=object)
    _write(df, out)
    audit.append(s, actor, "export_notice_list", str(out.name), {"rows": len(df), "status": status})
    return len(df)


@dataclass(frozen=True)
class PaymentFile:
    path: Path
    count: int
    total_fen: int
    sha256: str
    missing_account: list[str]


def payment_file(s: Session, out: Path, actor: str) -> PaymentFile:
    """Approved payouts not yet in any payment file: one row each, with control totals.

    A payout enters one payment file only; a failed payment re-enters after `retry`.
    The bank account is written in full here: this file goes to the finance system only.
    """
    name = out.name
    rows = list(s.scalars(select(Payout).where(Payout.status == "approved", Payout.payment_file.is_(None))
                          .order_by(Payout.id)))
    ready = [p for p in rows if p.bank_account]
    missing = [p.reference for p in rows if not p.bank_account]
    df = pd.DataFrame([{
        "reference": p.reference, "credit_code": p.credit_code, "payee": p.enterprise_name or "",
        "account": p.bank_account, "amount": _yuan(p.amount_fen), "policy": p.policy_id,
        "policy_version": p.policy_version,
    } for p in ready], columns=["reference", "credit_code", "payee", "account", "amount", "policy", "policy_version"])
    total = sum(p.amount_fen for p in ready)
    control = pd.DataFrame([{"file": name, "count": len(ready), "total": _yuan(total),
                             "created_at": dt.datetime.now().isoformat(timespec="seconds"), "created_by": actor}])
    _write(df, out, {"控制合计": control})
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    if out.suffix.lower() == ".csv":
        control.assign(sha256=digest).to_csv(out.with_suffix(".control.csv"), index=False, encoding="utf-8-sig")
    for p in ready:
        p.payment_file = name
    audit.append(s, actor, "export_payment_file", name,
                 {"count": len(ready), "total_fen": total, "sha256": digest, "missing_account": missing})
    return PaymentFile(out, len(ready), total, digest, missing)


@dataclass
class ImportResult:
    paid: int = 0
    failed: int = 0
    unchanged: int = 0
    problems: list[str] | None = None


def import_bank_results(s: Session, path: Path, actor: str) -> ImportResult:
    """The bank's result file: reference, result (成功/失败 or paid/failed), bank_reference, message.

    Idempotent: a row already applied is counted as unchanged. Unknown references and
    rows that cannot apply are reported; the other rows are applied."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            fields = set(reader.fieldnames or [])
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the bank result file: {exc}") from None
    need = {"reference", "result"}
    if not need <= fields:
        raise DataError(f"{path}: expected columns {sorted(need)} (and bank_reference, message); found {sorted(fields)}")
    res = ImportResult(problems=[])
    assert res.problems is not None
    for n, row in enumerate(rows, start=2):
        ref = (row.get("reference") or "").strip()
        if not (ref.startswith("MS") and ref[2:].isdigit()):
            res.problems.append(f"row {n}: {ref!r} is not a payout reference")
            continue
        pid = payout_id(ref)
        p = s.get(Payout, pid) if pid is not None else None
        if p is None:
            res.problems.append(f"row {n}: no payout {ref}")
            continue
        result = (row.get("result") or "").strip().lower()
        ok = result in ("成功", "paid", "success", "ok")
        if not ok and result not in ("失败", "failed", "failure", "fail"):
            res.problems.append(f"row {n}: unknown result {result!r} for {ref}")
            continue
        target = "paid" if ok else "failed"
        if p.status == target:
            res.unchanged += 1
            continue
        try:
            if ok:
                lifecycle.mark_paid(s, p, actor, (row.get("bank_reference") or "").strip())
                res.paid += 1
            else:
                lifecycle.mark_failed(s, p, actor, "银行回单：" + ((row.get("message") or "").strip() or "支付失败"))
                res.failed += 1
        except lifecycle.TransitionError as exc:
            res.problems.append(f"row {n}: {exc}")
    return res
