"""Run the test cases written beside each policy (OpenFisca-style YAML cases).

Every case runs through both the reference and the vectorized evaluator, so a
policy's own tests double as a parity check between the two.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .. import ir
from ..backends import reference, vectorized
from ..data.frame import to_frame
from ..data.tags import TagDictionary


@dataclass(frozen=True)
class CaseResult:
    policy: ir.Policy
    case: ir.PolicyCase
    ok: bool
    problems: tuple[str, ...]

    @property
    def where(self) -> str:
        return f"{self.policy.source}:{self.case.line}"


def run_case(policy: ir.Policy, case: ir.PolicyCase, dictionary: TagDictionary) -> CaseResult:
    row = dict(case.tags)
    ref = reference.evaluate(policy, row, case.as_of)
    df = to_frame([row], dictionary, columns=[k for k, _ in case.tags])
    vec = vectorized.match(df, [policy], case.as_of).to_frame()
    problems: list[str] = []
    got = ref.status.label
    if got != case.status:
        why = f" (failed: {', '.join(ref.failed)})" if ref.failed else ""
        why += f" (missing: {', '.join(ref.missing)})" if ref.missing else ""
        problems.append(f"status: expected {case.status}, got {got}{why}")
    if case.amount is not None and got == case.status:
        amount = Decimal(ref.amount_fen) / 100
        if amount != case.amount:
            problems.append(f"amount: expected {case.amount}, got {amount:.2f}")
    if case.missing is not None and tuple(sorted(ref.missing)) != case.missing:
        problems.append(f"missing: expected {list(case.missing)}, got {list(ref.missing)}")
    v = vec.iloc[0]
    vmissing = tuple(x for x in str(v["missing"]).split(",") if x)
    if (v["status"], int(v["amount_fen"]), vmissing) != (got, ref.amount_fen, ref.missing):
        problems.append(
            "backends disagree: reference "
            f"{(got, ref.amount_fen, ref.missing)} vs vectorized {(v['status'], int(v['amount_fen']), vmissing)}"
        )
    return CaseResult(policy, case, not problems, tuple(problems))


def run_policy_tests(policies: list[ir.Policy], dictionary: TagDictionary) -> list[CaseResult]:
    return [run_case(p, c, dictionary) for p in policies for c in p.cases]
