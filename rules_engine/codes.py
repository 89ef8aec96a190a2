"""Names of region codes (行政区划代码) and industry codes (GB/T 4754-2017) for display."""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "enterprises"


@cache
def regions() -> dict[str, str]:
    """code -> name for the shipped region table."""
    with open(DATA / "regions.csv", encoding="utf-8") as fh:
        return {r["code"]: r["name"] for r in csv.DictReader(fh)}


@cache
def industries() -> dict[str, str]:
    with open(DATA / "industries.csv", encoding="utf-8") as fh:
        return {r["code"]: r["name"] for r in csv.DictReader(fh)}


def code_name(code: str, hierarchy: str) -> str:
    table = regions() if hierarchy == "region" else industries()
    return table.get(code, "")
