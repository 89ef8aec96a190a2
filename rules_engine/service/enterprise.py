"""The enterprise's side: 政策计算器 / 政策体检 for one enterprise, and finding enterprises."""

from __future__ import annotations

from ..data.frame import KEY
from ..explain import CheckUp, check_up
from ..ir import Policy
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
