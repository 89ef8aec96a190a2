"""Budget indicators (预算指标) for the integrated budget system: what each budgeted policy may
spend, what is committed and paid, and what is still available."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from ..data.values import fmt_yuan
from ..errors import Invalid
from ..ir import Policy
from ..ledger import audit
from ..ledger.lifecycle import ACTIVE
from ..ledger.models import BudgetIndicator, Payout
from .actors import Actor, require


@dataclass(frozen=True)
class Indicator:
    policy_id: str
    total_fen: int
    committed_fen: int  # candidate, publicized, approved, failed: promised, not yet paid
    paid_fen: int
    source: str

    @property
    def available_fen(self) -> int:
        return self.total_fen - self.committed_fen - self.paid_fen


def sync_from_policies(s: Session, policies: list[Policy], actor: str) -> None:
    """Indicators the budget system has not set come from the policy files."""
    now = dt.datetime.now()
    for p in policies:
        if p.budget is None:
            continue
        row = s.get(BudgetIndicator, p.id)
        total = int(p.budget.total * 100)
        if row is None:
            # INSERT ... ON CONFLICT DO NOTHING: two batch runs starting together both read "none" before
            # either holds the batch lock; the second must not die on the first one's row
            values = dict(policy_id=p.id, total_fen=total, source="policy", updated_by=actor, updated_at=now)
            insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
            s.execute(insert(BudgetIndicator).values(**values).on_conflict_do_nothing(index_elements=["policy_id"]))
        elif row.source == "policy" and row.total_fen != total:
            row.total_fen, row.updated_by, row.updated_at = total, actor, now


def indicators(sf: sessionmaker[Session], actor: Actor) -> list[Indicator]:
    require(actor, "budget.read")
    with sf() as s:
        sums = {(pid, st): int(f or 0) for pid, st, f in s.execute(
            select(Payout.policy_id, Payout.status, func.sum(Payout.amount_fen)).group_by(Payout.policy_id,
                                                                                          Payout.status))}
        out = []
        for b in s.scalars(select(BudgetIndicator).order_by(BudgetIndicator.policy_id)):
            paid = sums.get((b.policy_id, "paid"), 0)
            committed = sum(v for (pid, st), v in sums.items() if pid == b.policy_id and st in ACTIVE and st != "paid")
            out.append(Indicator(b.policy_id, b.total_fen, committed, paid, b.source))
        return out


def set_indicator(sf: sessionmaker[Session], actor: Actor, policy_id: str, total_fen: int) -> Indicator:
    """The budget system sets (or changes) a policy's indicator. It may not go below what is
    already committed and paid."""
    require(actor, "budget.set")
    if not 0 <= total_fen < 10**17:
        raise Invalid("预算指标应为 0 至 10^15 元之间的金额（以分计）")
    from .ledger import writing

    with writing(sf) as s:
        used = int(s.scalar(select(func.coalesce(func.sum(Payout.amount_fen), 0)).where(
            Payout.policy_id == policy_id, Payout.status.in_(ACTIVE))) or 0)
        if total_fen < used:
            raise Invalid(f"政策 {policy_id} 已承诺和已支付 {fmt_yuan(used)} 元，预算指标不能低于此数")
        row = s.get(BudgetIndicator, policy_id, with_for_update=True)
        now = dt.datetime.now()
        before = row.total_fen if row else None
        if row is None:
            row = BudgetIndicator(policy_id=policy_id, total_fen=total_fen, source="budget_system",
                                  updated_by=actor.name, updated_at=now)
            s.add(row)
        else:
            row.total_fen, row.source, row.updated_by, row.updated_at = total_fen, "budget_system", actor.name, now
        audit.append(s, actor.name, "budget_indicator_set", policy_id, {"before_fen": before, "after_fen": total_fen})
    return next(i for i in indicators(sf, Actor(actor.name, "budget")) if i.policy_id == policy_id)
