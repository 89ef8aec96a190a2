"""The finance system (财政涉企支付系统): payment files and bank results."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from .. import service
from .deps import ERRORS, Ref, Who, plat
from .models import BankResults, ImportOut, PaymentFileOut, _file

router = APIRouter()


@router.post("/api/v1/payment-files", response_model=PaymentFileOut, responses=ERRORS, tags=["财政涉企支付系统"])
def issue_file(request: Request, who: Who) -> PaymentFileOut:
    """把已审批、尚未进入支付文件的记录生成一份支付文件（超出预算指标则拒绝）。"""
    issued = service.export_payment_file(plat(request).ledger, who, "csv")
    return _file(issued.file, issued.missing_account)


@router.get("/api/v1/payment-files/{reference}", response_model=PaymentFileOut, responses=ERRORS,
         tags=["财政涉企支付系统"])
def file_info(request: Request, reference: Ref, who: Who) -> PaymentFileOut:
    """支付文件的控制合计与 SHA-256。"""
    return _file(service.payment_file(plat(request).ledger, who, reference))


@router.get("/api/v1/payment-files/{reference}/content", responses={200: {"content": {"text/csv": {}}}, **ERRORS},
         tags=["财政涉企支付系统"])
def file_content(request: Request, reference: Ref, who: Who) -> Response:
    """支付文件原文（与登记的 SHA-256 一致；每次下载记入审计日志）。"""
    f = service.payment_file(plat(request).ledger, who, reference)
    media = "text/csv; charset=utf-8" if f.format == "csv" else \
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(f.content, media_type=media, headers={"X-Content-SHA256": f.sha256,
                                                          "Content-Disposition": f"attachment; filename={f.reference}.{f.format}"})


@router.post("/api/v1/bank-results", response_model=ImportOut, responses=ERRORS, tags=["财政涉企支付系统"])
def bank_results(request: Request, body: BankResults, who: Who) -> ImportOut:
    """银行回单：逐行须对应已导出支付文件中的一笔（文件编号与哈希、兑现编号、金额、账号）。按银行流水号幂等。"""
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["file", "file_sha256", "reference", "amount", "account", "result", "bank_reference", "message"])
    for x in body.lines:
        w.writerow([x.file, x.file_sha256, x.reference, x.amount, x.account, x.result, x.bank_reference, x.message])
    r = service.import_bank_results(plat(request).ledger, who, buf.getvalue().encode("utf-8"))
    return ImportOut(paid=r.paid, failed=r.failed, unchanged=r.unchanged, problems=r.problems)
