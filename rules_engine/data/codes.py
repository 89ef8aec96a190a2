"""Names of region codes (行政区划代码) and industry codes (GB/T 4754-2017) for display."""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "enterprises"


@cache
def regions() -> dict[str, str]:
    """code -> name for the shipped region table."""
    with open(DATA / "regions.csv", encoding="utf-8") as fh:
        return {r["code"]: r["name"] for r in csv.DictReader(fh)}


@cache
def industries() -> dict[str, str]:
    with open(DATA / "industries.csv", encoding="utf-8") as fh:
        return {r["code"]: r["name"] for r in csv.DictReader(fh)}


@cache
def code_children(hierarchy: str) -> dict[str, tuple[str, ...]]:
    """parent code -> its child codes in table order ("" -> the top level), for choosing a
    code level by level (市 → 区县; 门类 → 大类 → 中类)."""
    with open(DATA / ("regions.csv" if hierarchy == "region" else "industries.csv"), encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    out: dict[str, list[str]] = {}
    for r in rows:
        out.setdefault(r["parent"] or "", []).append(r["code"])
    return {k: tuple(v) for k, v in out.items()}


def code_name(code: str, hierarchy: str) -> str:
    table = regions() if hierarchy == "region" else industries()
    return table.get(code, "")


@cache
def _industry_levels() -> tuple[frozenset[str], frozenset[str]]:
    """(sections, divisions) of GB/T 4754-2017; the table lists every one of both levels."""
    with open(DATA / "industries.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return (frozenset(r["code"] for r in rows if r["level"] == "section"),
            frozenset(r["code"] for r in rows if r["level"] == "division"))


def industry_code_problem(code: str) -> str:
    """Why `code` is not a GB/T 4754-2017 industry code, or "" when it is one.

    Every level is a code: section C, division C39, group C391, class C3911. Sections and
    divisions are checked against the table (it lists all 20 and all 97); a group or class
    must lie in an existing division (the table lists only some of the 1,380 classes).
    """
    sections, divisions = _industry_levels()
    if not (code[:1].isascii() and code[:1].isupper()) or not (code[1:].isascii() and (code[1:].isdigit() or len(code) == 1)):
        return "应为门类字母加 2–4 位数字（如 C、C39、C391、C3911）"
    if code[0] not in sections:
        return f"没有门类 {code[0]}（门类为 A–T）"
    if len(code) == 2 or len(code) > 5:
        return "应为门类字母加 2–4 位数字（如 C、C39、C391、C3911）"
    if len(code) >= 3 and code[:3] not in divisions:
        return f"门类 {code[0]} 下没有大类 {code[1:3]}"
    return ""
