"""Snapshot-era tag names, read as the periods they meant.

Before periods the dictionary had `tax_paid` (上年纳税总额) and `tax_paid_prev` (前年纳税总额):
a value always meant the year before, or two years before, the date it was evaluated or
delivered on. Records written then (a payout's inputs, a published policy text in the version
history) are evidence and stay as written; they are read through this table. Migration 0010
applies the same rule to the ledger's working tables (it keeps its own copy: a migration does
not import the code it migrates from).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping

# old name -> (periodic tag, years before the evaluation or delivery date)
LEGACY: dict[str, tuple[str, int]] = {
    "revenue": ("revenue", 1), "total_assets": ("total_assets", 1), "output_value": ("output_value", 1),
    "tax_paid": ("tax_paid", 1), "tax_paid_prev": ("tax_paid", 2), "rd_expense": ("rd_expense", 1),
    "rd_expense_prev": ("rd_expense", 2), "rd_ratio": ("rd_ratio", 1), "export_value": ("export_value", 1),
    "export_value_prev": ("export_value", 2), "tech_renovation_investment": ("tech_renovation_investment", 1),
}
WORDS = {1: "上年", 2: "前年"}


def slot_of(name: str, day: dt.date) -> str:
    """The slot an old name meant on `day` (`tax_paid_prev` on 2026-06-30: `tax_paid@2024`);
    any other name as it is."""
    if name not in LEGACY:
        return name
    tag, back = LEGACY[name]
    return f"{tag}@{day.year - back}"


_NAMES = "|".join(sorted(LEGACY, key=len, reverse=True))
_NAME = re.compile(r"(?<![\w@\[])(" + _NAMES + r")\b(?![\[@])")
_LISTED = re.compile(r"(?<![\w@])(" + _NAMES + r")\b(?![\[@])")  # inside a YAML list: [tax_paid_prev]


def _relative(m: re.Match[str]) -> str:
    tag, back = LEGACY[m.group(1)]
    return f"{tag}[{WORDS[back]}]"


def _slot_on(day: dt.date) -> Callable[[re.Match[str]], str]:
    return lambda m: slot_of(m.group(1), day)


def _quoted(m: re.Match[str]) -> str:
    expr = m.group(2)
    return m.group(1) + (f'"{_NAME.sub(_relative, expr).strip()}"' if _NAME.search(expr) else expr)


def upgrade_policy_text(text: str) -> str:
    """A policy file of the snapshot era in today's syntax: `tax_paid_prev` -> `tax_paid[前年]`,
    `revenue` -> `revenue[上年]` in conditions and formulas (quoted where YAML needs it), and the
    tags and missing lists of its cases named by the year before their date. The rule it
    states is unchanged; ids, labels and titles are left as written."""
    out = []
    day: dt.date | None = None
    for line in text.split("\n"):
        if m := re.search(r"as_of:\s*(\d{4})-", line):
            day = dt.date(int(m.group(1)), 12, 31)
        if day is not None and re.match(r"\s*(-\s*)?tags:", line):
            line = _NAME.sub(_slot_on(day), line)
        elif day is not None and "missing:" in line:
            line = _LISTED.sub(_slot_on(day), line)
        elif re.match(r"\s*(-\s*)?when\s*:", line):
            key, _, rest = line.partition(":")
            line = key + ":" + _NAME.sub(_relative, rest)
        elif re.match(r"\s*-\s+[^:{\[]+$", line):  # a condition written as a bare list item
            line = _NAME.sub(_relative, line)
        elif re.search(r"\b(?:of|by|quantity):", line):
            line = re.sub(r"((?:of|by|quantity): )([^\"'{},\n]+)", _quoted, line)
        elif re.match(r"\s*priority:", line):
            line = _LISTED.sub(lambda m: f'"{_relative(m)}"', line)
        out.append(line)
    return "\n".join(out)


# the Chinese labels of the snapshot-era dictionary that are no label now (a department file may
# still carry them as headers)
LEGACY_LABELS = {
    "上年营业收入": "revenue", "上年工业总产值": "output_value", "上年纳税总额": "tax_paid",
    "前年纳税总额": "tax_paid_prev", "上年研发费用": "rd_expense", "前年研发费用": "rd_expense_prev",
    "上年出口额": "export_value", "前年出口额": "export_value_prev", "上年技术改造设备投资额": "tech_renovation_investment",
}


def column_spec(header: str, as_of: dt.date, current: Mapping[str, str]) -> dict[str, str] | None:
    """For a department file of the snapshot era delivered on `as_of`: the manifest `columns:`
    entry a header needs to name its period (`{period: 2025}`, or `{tag: tax_paid, period: 2024}`
    for `tax_paid_prev` / 前年纳税总额); None for a header that needs none. `current`: today's tag keys
    and labels to their key (`营业收入`, `资产总额`): such a header keeps its name."""
    name = re.split(r"[（(]", header.strip(), maxsplit=1)[0].strip()  # 上年营业收入（万元）: the name part
    key = LEGACY_LABELS.get(name) or current.get(name, name)
    if key not in LEGACY:
        return None
    tag, back = LEGACY[key]
    spec = {"period": str(as_of.year - back)}
    if name != tag and name not in current:
        spec["tag"] = tag
    return spec
