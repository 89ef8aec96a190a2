"""The public notice (公示) list. Payment files and bank results: payments.py."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..data.datasets import mask_text
from ..data.exporting import table_bytes, yuan
from .models import Payout

NOTICE_COLUMNS = ["政策", "企业名称", "统一社会信用代码", "行政区划", "拟兑现金额（元）", "公示期", "异议渠道"]


def notice_list(s: Session, fmt: str, status: str = "publicized") -> tuple[bytes, int]:
    """The 公示 list as file bytes. Personal and bank data never appear; names that look like a
    natural person's (an individual business, 个体工商户) are masked."""
    rows = s.scalars(select(Payout).where(Payout.status == status).order_by(Payout.policy_id, Payout.credit_code))
    data = [[(p.explanation or {}).get("title", p.policy_id),
             mask_text(p.enterprise_name) if p.enterprise_name and len(p.enterprise_name) <= 4 else p.enterprise_name or "",
             p.credit_code, p.region or "", yuan(p.amount_fen),
             f"{p.notice_start} 至 {p.notice_end}" if p.notice_start else "",
             (p.explanation or {}).get("contact") or "政务服务热线12345"] for p in rows]
    df = pd.DataFrame(data, columns=NOTICE_COLUMNS)
    return table_bytes(df, fmt, money=["拟兑现金额（元）"]), len(df)
