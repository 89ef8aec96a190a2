"""Turn eligible pairs into payouts: per-enterprise limits, then 就高不重复, then budgets.

Pure functions over plain records, so the rules are testable without a database.

* Limits: a payout is keyed by (policy, enterprise, period), where the period encodes
  the limit: "once" for once ever, the year for once a year, the as-of date otherwise.
  A key already in the ledger (in any state) is never created again.
* 就高不重复: within one exclusivity group, an enterprise gets one award per benefit year:
  the highest amount; a tie goes to the higher precedence, then to the policy id that
  sorts first. A payout from the group already in 公示 or later for that year wins; a
  candidate not yet published competes like a new one and, if beaten, is superseded
  (withdrawn by the caller). So the batch and the event worker reach the same award
  whatever order the data arrives in.
* Budgets: committed = the policy's active payouts in the ledger; what remains is shared.
  pro_rata: each gets floor(amount × remaining / demand); the fen left over go one each to
  the largest remainders (ties by credit code), so the total is exactly the remainder.
  priority: in descending order of the priority tags (then credit code), each is paid in
  full while the money lasts; the first that does not fit gets what is left; the rest
  get nothing this run and are reported as unfunded.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from .. import ir
from ..data.values import fmt_yuan


@dataclass(slots=True)  # not frozen (never mutated): a frozen __init__ costs 1.9 µs against 0.4
class Candidate:
    policy: ir.Policy
    credit_code: str
    amount_fen: int  # the formula's amount before allocation
    priority: tuple[Any, ...] = ()  # values of the budget's priority tags, for Allocation.PRIORITY
    granted_fen: int = -1  # after allocation
    note: str = ""

    @property
    def group(self) -> str | None:
        return self.policy.exclusive.group if self.policy.exclusive else None

    def grant(self, fen: int, note: str = "") -> Candidate:
        # not dataclasses.replace: it re-reads the fields by name, 15 µs a call, 1.5 s per 10^5
        return Candidate(self.policy, self.credit_code, self.amount_fen, self.priority, fen, note)


@dataclass
class Existing:
    """What the ledger already holds, as far as allocation needs it."""

    keys: set[tuple[str, str, str]] = field(default_factory=set)  # (policy, credit_code, period)
    group_years: set[tuple[str, str, int]] = field(default_factory=set)  # active: (group, credit_code, year)
    committed_fen: dict[str, int] = field(default_factory=dict)  # active amounts per policy id
    # unpublished candidates of a group, by (group, credit_code, year): (payout id, as a Candidate)
    replaceable: dict[tuple[str, str, int], tuple[int, Candidate]] = field(default_factory=dict)


@dataclass
class Outcome:
    granted: list[Candidate]
    skipped: list[tuple[Candidate, str]]  # with the reason, for the batch summary
    superseded: list[tuple[int, Candidate]] = field(default_factory=list)  # (payout id, the award replacing it)


# Why an eligible pair was not paid (the text before the colon is the batch summary's key)
SKIP_PERIOD = "本期已兑现或已有记录"
SKIP_GROUP = "就高不重复：同组政策本年度已兑现"
SKIP_BEATEN = "就高不重复：改由同组金额更高（或优先）的政策兑现"
SKIP_BUDGET = "预算已用完"


def period(policy: ir.Policy, as_of: dt.date) -> str:
    if policy.limit is ir.Limit.ONCE:
        return "once"
    if policy.limit is ir.Limit.ONCE_PER_YEAR:
        return str(as_of.year)
    return as_of.isoformat()


def allocate(cands: list[Candidate], existing: Existing, as_of: dt.date) -> Outcome:
    skipped: list[tuple[Candidate, str]] = []

    # 1. per-enterprise limits
    open_: list[Candidate] = []
    periods: dict[tuple[str, int], str] = {}  # by (id, version): Policy.key without its f-string
    for c in cands:
        if (per := periods.get((c.policy.id, c.policy.version))) is None:
            per = periods[(c.policy.id, c.policy.version)] = period(c.policy, as_of)
        if (c.policy.id, c.credit_code, per) in existing.keys:
            skipped.append((c, f"{SKIP_PERIOD}：{per}"))
        else:
            open_.append(c)

    # 2. 就高不重复: the group's unpublished candidate in the ledger competes with the new ones
    best: dict[tuple[str, str], Candidate] = {}
    held: dict[tuple[str, str], int] = {}  # best[k] is the ledger's own candidate with this payout id
    kept: list[Candidate] = []
    for c in open_:
        if c.group is None:
            kept.append(c)
            continue
        if (c.group, c.credit_code, as_of.year) in existing.group_years:
            skipped.append((c, f"{SKIP_GROUP}：{c.group}（{as_of.year} 年）"))
            continue
        k = (c.group, c.credit_code)
        if k not in best and (c.group, c.credit_code, as_of.year) in existing.replaceable:
            held[k], best[k] = existing.replaceable[(c.group, c.credit_code, as_of.year)]
        if k not in best or _beats(c, best[k]):
            if k in best and k not in held:
                skipped.append((best[k], f"{SKIP_BEATEN}：{c.policy.title}（{c.policy.id}）"))
            best[k] = c
        else:
            skipped.append((c, f"{SKIP_BEATEN}：{best[k].policy.title}（{best[k].policy.id}）"))
    committed = dict(existing.committed_fen)
    superseded: list[tuple[int, Candidate]] = []
    for k, c in best.items():
        if k in held:
            if c is existing.replaceable[(k[0], k[1], as_of.year)][1]:
                continue  # the ledger's candidate still wins: nothing new
            old = existing.replaceable[(k[0], k[1], as_of.year)][1]
            superseded.append((held[k], c))
            committed[old.policy.id] = committed.get(old.policy.id, 0) - old.amount_fen
        kept.append(c)

    # 3. budgets
    by_policy: dict[tuple[str, int], list[Candidate]] = {}
    for c in kept:
        by_policy.setdefault((c.policy.id, c.policy.version), []).append(c)  # Policy.key, without its f-string
    granted: list[Candidate] = []
    for group in by_policy.values():
        policy = group[0].policy
        if policy.budget is None:
            granted += [c.grant(c.amount_fen) for c in group]
            continue
        total = int(policy.budget.total * 100)
        remaining = max(0, total - committed.get(policy.id, 0))
        shares, notes = _share(group, remaining, policy.budget.allocation)
        for c, fen, note in zip(group, shares, notes):
            if fen > 0:
                granted.append(c.grant(fen, note))
            else:
                skipped.append((c, note or SKIP_BUDGET))
    granted.sort(key=lambda c: (c.policy.id, c.credit_code))
    # a supersession stands only if its award was granted (a budget can still refuse it)
    paid = {(c.policy.id, c.credit_code) for c in granted}
    return Outcome(granted, skipped, [(pid, c) for pid, c in superseded if (c.policy.id, c.credit_code) in paid])


def _beats(a: Candidate, b: Candidate) -> bool:
    return ir.exclusive_rank(a.policy, a.amount_fen) > ir.exclusive_rank(b.policy, b.amount_fen)


def _share(group: list[Candidate], remaining: int, how: ir.Allocation) -> tuple[list[int], list[str]]:
    demand = sum(c.amount_fen for c in group)
    if demand <= remaining:
        return [c.amount_fen for c in group], [""] * len(group)
    if how is ir.Allocation.PRO_RATA:
        shares = [c.amount_fen * remaining // demand for c in group]
        rems = [c.amount_fen * remaining % demand for c in group]
        left = remaining - sum(shares)
        order = sorted(range(len(group)), key=lambda i: (-rems[i], group[i].credit_code))
        for i in order[:left]:
            shares[i] += 1
        note = f"预算不足，按比例分配：需求 {fmt_yuan(demand)} 元，可用 {fmt_yuan(remaining)} 元"
        return shares, [note] * len(group)
    order = sorted(range(len(group)), key=lambda i: (_desc(group[i].priority), group[i].credit_code))
    shares = [0] * len(group)
    notes = ["预算不足，按优先顺序未获安排"] * len(group)
    left = remaining
    for rank, i in enumerate(order, 1):
        if left <= 0:
            break
        shares[i] = min(group[i].amount_fen, left)
        notes[i] = f"预算不足，按优先顺序第 {rank} 位" + ("（部分安排）" if shares[i] < group[i].amount_fen else "")
        left -= shares[i]
    return shares, notes


def _desc(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """Sort key: larger first, missing values last."""
    return tuple((v is None, -v if v is not None else 0) for v in values)
