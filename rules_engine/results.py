"""The one shape of match results every backend returns (MatchSource.results).

Columns ir.RESULT_COLUMNS, in this order and with these dtypes, sorted by policy then credit
code: credit_code (str), policy (str), version (int64), status (categorical: not_eligible,
undetermined, eligible), amount_fen (int64, 0 unless there is an amount), missing (str,
comma-joined tags, "" when nothing is missing), failed (str, comma-joined ids of the
conditions that are false, not_in_force outside the policy's validity, "" otherwise)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from .ir import RESULT_COLUMNS, Status

STATUS = pd.CategoricalDtype([s.label for s in Status])
DTYPES: dict[str, Any] = {"credit_code": object, "policy": object, "version": "int64", "status": STATUS,
          "amount_fen": "int64", "missing": object, "failed": object}


def result_frame(rows: Iterable[Sequence[Any]]) -> pd.DataFrame:
    """Tuples in RESULT_COLUMNS order as the contract's frame."""
    return conform(pd.DataFrame(list(rows), columns=list(RESULT_COLUMNS)))


def conform(df: pd.DataFrame) -> pd.DataFrame:
    """Any backend's tidy frame as the contract's: the columns, their dtypes, the order."""
    out = df[list(RESULT_COLUMNS)].astype({k: v for k, v in DTYPES.items() if k != "status"})
    out["status"] = out["status"].astype(str).astype(STATUS)
    for text in ("missing", "failed"):
        out[text] = out[text].fillna("").astype(str).astype(object)  # pandas 3 would make it "str"
    return out.sort_values(["policy", "credit_code"], kind="stable", ignore_index=True)
