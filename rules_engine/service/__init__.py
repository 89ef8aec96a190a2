"""The service layer: one function per user operation. It checks who may do it, owns the
transaction, audits, and anchors the audit head after every write. The CLI, the web UI and
the HTTP API call these functions and nothing below them."""

from .actors import Actor, require
from .ledger import (
    ApprovalSchedule,
    PayoutFilter,
    approval_schedule,
    approve_due,
    explain_payout,
    export_notice,
    export_payment_file,
    import_bank_results,
    init_audit_key,
    list_payouts,
    open_ledger,
    payment_file,
    publish_candidates,
    retry,
    revoke,
    run_batch,
    status_counts,
    summary,
    verify_audit,
    withdraw,
)

__all__ = [
    "Actor", "require", "ApprovalSchedule", "PayoutFilter", "approval_schedule", "approve_due", "explain_payout", "export_notice", "export_payment_file", "import_bank_results", "init_audit_key",
    "list_payouts", "open_ledger", "payment_file", "publish_candidates", "retry", "revoke", "run_batch",
    "status_counts", "summary", "verify_audit", "withdraw",
]
