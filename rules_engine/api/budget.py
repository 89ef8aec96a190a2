"""The budget system (预算管理一体化系统): indicators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from ..service import budget
from .deps import ERRORS, Who, plat
from .models import IndicatorIn, IndicatorOut

router = APIRouter()


@router.get("/api/v1/budgets", response_model=list[IndicatorOut], responses=ERRORS, tags=["预算管理一体化系统"])
def budgets(request: Request, who: Who) -> list[IndicatorOut]:
    """各预算政策的指标：总额、已承诺、已支付、可用。"""
    return [IndicatorOut(policy_id=i.policy_id, total_fen=i.total_fen, committed_fen=i.committed_fen,
                         paid_fen=i.paid_fen, available_fen=i.available_fen, source=i.source)
            for i in budget.indicators(plat(request).ledger, who)]


@router.put("/api/v1/budgets/{policy_id}", response_model=IndicatorOut, responses=ERRORS, tags=["预算管理一体化系统"])
def set_budget(request: Request, policy_id: Annotated[str, Path(min_length=1, max_length=64)], body: IndicatorIn,
               who: Who) -> IndicatorOut:
    """预算系统下达或调整一项政策的指标（不得低于已承诺与已支付之和）。"""
    i = budget.set_indicator(plat(request).ledger, who, policy_id, body.total_fen)
    return IndicatorOut(policy_id=i.policy_id, total_fen=i.total_fen, committed_fen=i.committed_fen,
                        paid_fen=i.paid_fen, available_fen=i.available_fen, source=i.source)
