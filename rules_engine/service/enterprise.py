"""The enterprise's side: 政策计算器 / 政策体检 for one enterprise, and finding enterprises."""

from __future__ import annotations

from sqlalchemy import select

from .. import grant
from ..errors import NotFound
from ..explain import CheckUp, Explanation, check_up
from ..frame import KEY
from ..ir import Policy
from ..ledger.models import Payout, PolicyVersion, payout_id
from ..loader import load_policy_text
from .actors import Actor, require
from .platform import Platform


def check_enterprise(p: Platform, actor: Actor, credit_code: str) -> CheckUp:
    """What `credit_code` meets, might meet and nearly meets, with every reason. An enterprise
    reaches its own archive only; asking for another is refused, never answered."""
    code = credit_code.strip().upper()
    if actor.role == "enterprise":
        require(actor, "enterprise.read", code)
    else:
        require(actor, "enterprise.read")
    cached = p.checkups.get(code)
    if isinstance(cached, CheckUp):
        return cached
    from .tiers import profile

    row, prov = profile(p, code)  # the archive, with verified self-declared values
    cu = check_up(p.library.active(), row, p.data.as_of, p.dictionary, prov)
    if len(p.checkups) < 200_000:
        p.checkups[code] = cu
    return cu


def explain_payout(p: Platform, actor: Actor, reference: str) -> tuple[Payout, Explanation]:
    """Why a payout exists and why it is this amount, as the calculator explains a policy: the
    version of the policy the payout names, re-evaluated on the inputs its record kept, with the
    grant (formula and granted amounts, allocation, origin) and every disagreement between the
    record, its policy and the payout's amount. An enterprise reads its own payouts only."""
    pid = payout_id(reference)
    with p.ledger() as s:
        pay = s.get(Payout, pid) if pid is not None else None
        if pay is None:
            raise NotFound(f"没有兑现记录 {reference.strip()[:40]!r}")
        if actor.role == "enterprise":
            require(actor, "payout.read", pay.credit_code)
        else:
            require(actor, "payout.read")
        s.expunge(pay)
        policy = next((x for x in p.library.policies if x.id == pay.policy_id and x.version == pay.policy_version),
                      None)
        if policy is None:
            text = s.scalar(select(PolicyVersion.text).where(PolicyVersion.policy_id == pay.policy_id,
                                                             PolicyVersion.version == pay.policy_version))
            if text is None:
                raise NotFound(f"兑现记录 {pay.reference} 所依据的政策 {pay.policy_id} 第 {pay.policy_version} 版"
                               "不在政策库和版本历史中，无法重算说明")
            policy = load_policy_text(text, p.dictionary, f"{pay.policy_id}-v{pay.policy_version}.yaml")
    return pay, grant.explain(pay.explanation or {}, policy, pay.amount_fen, p.dictionary)


def search_enterprises(p: Platform, actor: Actor, query: str, limit: int = 20) -> list[tuple[str, str]]:
    require(actor, "enterprise.search")
    f = p.data.dataset.frame
    q = query.strip()
    if not q:
        return []
    hit = f[KEY].astype(str).str.startswith(q.upper()) | f["name"].astype(str).str.contains(q, regex=False)
    return [(str(c), str(n)) for c, n in f.loc[hit, [KEY, "name"]].head(limit).itertuples(index=False)]


def list_policies(p: Platform, actor: Actor, query: str = "") -> list[Policy]:
    require(actor, "policy.read")
    q = query.strip()
    return [x for x in p.library.policies if not q or q in x.id or q in x.title]
