"""Who may do what. Every service function takes an Actor and checks it here first; an
enterprise actor reaches its own enterprise only, whatever a path, a form or a body says."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import Forbidden

ROLES = ("enterprise", "official", "auditor", "finance", "budget", "system")
ROLE_ZH = {"enterprise": "企业", "official": "政策管理人员", "auditor": "审计人员", "finance": "财政涉企支付系统",
           "budget": "预算管理一体化系统", "system": "系统"}

# operation -> roles allowed. Reading one enterprise's data is also allowed to that enterprise.
PERMISSIONS: dict[str, frozenset[str]] = {k: frozenset(v) for k, v in {
    "batch.run": ("official", "system"),
    "payout.read": ("official", "auditor", "finance"),
    "payout.publish": ("official",),
    "payout.approve": ("official",),
    "payout.withdraw": ("official", "system"),
    "payout.retry": ("official", "finance"),
    "payout.revoke": ("official",),
    "notice.export": ("official",),
    "payment.export": ("official", "finance"),
    "payment.read": ("official", "finance", "auditor"),
    "payment.import": ("official", "finance"),
    "audit.verify": ("official", "auditor"),
    "audit.checkpoint": ("official", "system"),
    "enterprise.read": ("official", "auditor"),
    "enterprise.search": ("official",),
    "policy.read": ("enterprise", "official", "auditor", "finance", "budget"),
    "budget.read": ("official", "auditor", "finance", "budget"),
    "budget.set": ("budget",),
    "apikey.manage": ("official", "system"),
    "policy.draft": ("official",),
    "policy.review": ("official",),
    "policy.history": ("official", "auditor"),
}.items()}


@dataclass(frozen=True)
class Actor:
    name: str
    role: str
    credit_code: str | None = None

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise Forbidden("操作人不能为空：每一步操作都要记录是谁做的")
        if self.role not in ROLES:
            raise Forbidden(f"未知角色 {self.role!r}")
        if self.role == "enterprise" and not self.credit_code:
            raise Forbidden("企业账户必须绑定统一社会信用代码")


def require(actor: Actor, operation: str, credit_code: str | None = None) -> None:
    """Raise Forbidden unless `actor` may perform `operation` (on `credit_code`'s data)."""
    if actor.role == "enterprise" and operation.endswith(".read") and credit_code is not None:
        if credit_code == actor.credit_code:
            return
        raise Forbidden("企业账户只能查看本企业的数据")
    if actor.role not in PERMISSIONS.get(operation, frozenset()):
        raise Forbidden(f"{ROLE_ZH.get(actor.role, actor.role)}（{actor.name}）无权执行此操作")
