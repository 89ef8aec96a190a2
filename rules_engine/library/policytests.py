"""Run the test cases written beside each policy (OpenFisca-style YAML cases).

Every case runs through both the reference and the vectorized evaluator, so a
policy's own tests double as a parity check between the two.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import ir
from ..backends import reference, vectorized
from ..data.frame import to_frame
from ..data.tags import TagDictionary
from ..data.values import fmt_yuan

STATUS_ZH = {"eligible": "符合", "not_eligible": "不符合", "undetermined": "待补充数据"}


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
        why = f"；未满足：{'、'.join(ref.failed)}" if ref.failed else ""
        why += f"；缺少数据：{'、'.join(ref.missing)}" if ref.missing else ""
        problems.append(f"结果：预期「{STATUS_ZH[case.status]}」，实为「{STATUS_ZH[got]}」{why}")
    if case.amount is not None and got == case.status and ref.amount_fen != round(case.amount * 100):
        problems.append(f"金额：预期 {fmt_yuan(round(case.amount * 100))} 元，实为 {fmt_yuan(ref.amount_fen)} 元")
    if case.missing is not None and tuple(sorted(ref.missing)) != case.missing:
        problems.append(f"缺少的数据：预期 {'、'.join(case.missing) or '（无）'}，实为 {'、'.join(ref.missing) or '（无）'}")
    v = vec.iloc[0]
    vmissing = tuple(x for x in str(v["missing"]).split(",") if x)
    if (v["status"], int(v["amount_fen"]), vmissing) != (got, ref.amount_fen, ref.missing):
        problems.append(f"两个引擎结果不一致：参考实现为「{STATUS_ZH[got]}」{fmt_yuan(ref.amount_fen)} 元，"
                        f"向量化引擎为「{STATUS_ZH.get(str(v['status']), v['status'])}」{fmt_yuan(int(v['amount_fen']))} 元")
    return CaseResult(policy, case, not problems, tuple(problems))


def run_policy_tests(policies: list[ir.Policy], dictionary: TagDictionary) -> list[CaseResult]:
    return [run_case(p, c, dictionary) for p in policies for c in p.cases]
