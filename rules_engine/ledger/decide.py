"""A full decision on one enterprise for the event worker: durable-rules decides the status,
the per-row evaluator computes the exact amount (durable-rules has no arithmetic that keeps
fen exact). Here, not in backends/durable.py, so that no backend imports another."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from .. import ir
from ..backends.durable import DurableEngine
from ..backends.reference import Decision, Evaluator


def decide(engine: DurableEngine, policy: ir.Policy, row: dict[str, object], as_of: dt.date,
           sid: str = "e") -> Decision:
    status = engine.status(policy, row, as_of, sid)
    fen = 0
    if status is not ir.Status.NOT_ELIGIBLE:
        amount, _ = Evaluator(row, as_of).amount(ir.at(policy, as_of).benefit)
        if amount is None:
            status = ir.Status.UNDETERMINED
        else:
            fen = int(max(amount, Decimal(0)) * 100)
    return Decision(policy.id, policy.version, status, fen, (), (), ())
