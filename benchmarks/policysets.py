"""Policy sets for benchmarks.

`distinct_policy_set` is the headline: seeded, every policy its own region scope, sector filter,
thresholds, tag combinations, exclusions and benefit formula, written as policy YAML and loaded
(so type-checked) by the loader like any library file. `policy_set` is the older set: the
library's policies cloned per city, each clone carrying its own region condition (same shapes,
so the engine's shared sub-conditions make clones cheap: a best case, reported beside the other).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from decimal import Decimal
from pathlib import Path

from rules_engine import ir
from rules_engine.data.codes import industries, regions
from rules_engine.data.tags import TagDictionary
from rules_engine.library.loader import Library, load_policy_text


def policy_set(n: int, lib: Library, as_of: dt.date, keep_budgets: bool = True) -> list[ir.Policy]:
    """n policies: the library's active ones in force, then clones with distinct ids and one city
    as region scope each, the region condition rewritten to that city."""
    base = [p for p in lib.active() if p.in_force(as_of)]
    cities = [c for c in regions() if c.endswith("00") and not c.endswith("0000")]
    out = list(base)
    k = 0
    while len(out) < n:
        p = base[k % len(base)]
        city = cities[(k // len(base)) % len(cities)]
        region = ir.Tag("region", ir.TagType(ir.Kind.CODE, hierarchy="region"))
        scope = ir.Condition("region_scope", ir.Under(region, (city,)), f"region under {city}")
        conditions = (scope,) + tuple(c for c in p.conditions if c.id != "region_scope")
        clone = dataclasses.replace(p, id=f"{p.id}-{city}-{k}", regions=(city,), conditions=conditions)
        out.append(clone if keep_budgets else dataclasses.replace(clone, budget=None))
        k += 1
    return out[:n]


# ------------------------------------------------------------------ genuinely distinct policies

# (tag, thresholds in the tag's unit; 万 for money) — magnitudes real notices use
THRESHOLDS: dict[str, tuple[float, ...]] = {
    "employees": (5, 10, 20, 30, 50, 100, 200, 300, 500, 1000),
    "insured_staff": (3, 5, 10, 20, 30, 50, 100, 200),
    "revenue": (100, 200, 300, 500, 1000, 2000, 3000, 5000, 10000, 20000),
    "total_assets": (200, 500, 1000, 2000, 5000, 10000),
    "tax_paid": (10, 20, 30, 50, 100, 200, 500, 1000),
    "rd_expense": (10, 20, 50, 100, 200, 500, 1000),
    "rd_ratio": (1, 2, 3, 4, 5, 6),
    "export_value": (50, 100, 200, 500, 1000, 3000),
    "tech_renovation_investment": (50, 100, 200, 300, 500, 1000, 2000),
    "energy_saving_rate": (1, 2, 3, 5, 8),
    "registered_capital": (50, 100, 200, 500, 1000, 3000),
    "output_value": (500, 1000, 2000, 5000, 10000),
    "invention_patents": (1, 2, 3, 5, 10),
    "graduate_hires": (1, 2, 3, 5, 10),
    "ui_months_paid": (6, 12, 24, 36),
    "high_level_talents": (1, 2, 3),
    "disabled_staff_ratio": (0.5, 1, 1.5, 2),
}
MONEY = {"revenue", "total_assets", "tax_paid", "rd_expense", "export_value", "tech_renovation_investment",
         "registered_capital", "output_value"}
AT_MOST = {"layoff_rate": (3, 5, 5.5, 8, 10, 20)}
QUALIFICATIONS = (("is_hitech", "hitech_cert_date"), ("is_tech_sme", "tech_sme_date"),
                  ("is_srdi_provincial", "srdi_provincial_date"), ("is_little_giant", "little_giant_date"),
                  ("is_above_scale", "above_scale_date"), ("has_first_set", "first_set_date"))
CATEGORIES = {
    "enterprise_size": ("大型", "中型", "小型", "微型"),
    "tax_credit_rating": ("A", "B", "M", "C", "D"),
    "green_factory_level": ("国家级", "省级", "市级"),
    "rd_center_level": ("国家级", "省级", "市级"),
    "ownership": ("国有", "集体", "私营", "外商投资", "港澳台投资"),
}
EXCLUSIONS = ("serious_dishonest", "dishonest_debtor", "abnormal_operation", "safety_blacklist", "zombie")
PERIODIC = {"revenue", "total_assets", "tax_paid", "rd_expense", "rd_ratio", "export_value",
            "tech_renovation_investment", "output_value"}  # yearly facts: read as tag[上年]
GROWTH = ("tax_paid", "rd_expense", "export_value")
# conditions over several years (连续增长, 近三年累计, 每年): a share of the policies (`period_share`)
PERIOD_CONDITIONS = (
    lambda r: f"sum(rd_expense, 近3年) >= {r.choice((100, 200, 300, 500, 1000))}万",
    lambda r: f"min(revenue, 近{r.choice(('2', '3'))}年) >= {r.choice((500, 1000, 2000, 5000))}万",
    lambda r: f"每年(tax_paid, 近3年) > {r.choice((0, 10, 50))}万",
    lambda r: f"growth(revenue, 上年, 前年) >= {r.choice((5, 10, 15, 20, 30))}%",
    lambda r: f"growth(tax_paid, 上年) >= {r.choice((0, 5, 10, 20))}% and tax_paid[前年] > tax_paid[大前年]",
    lambda r: f"max(export_value, 近3年) >= {r.choice((100, 500, 1000))}万",
)
BASES = ("rd_expense", "tech_renovation_investment", "tax_paid", "export_value", "ui_paid_last_year", "revenue")


def _read(tag: str) -> str:
    """How a condition reads a tag: a yearly fact's last complete year."""
    return f"{tag}[上年]" if tag in PERIODIC else tag
UNITS = ("graduate_hires", "graduate_hires_1y", "youth_unemployed_hires", "invention_patents", "insured_staff",
         "high_level_talents")
SECTION_WEIGHT = {"C": 6, "I": 2, "M": 2, "F": 1, "G": 1, "A": 1, "E": 1, "L": 1, "D": 0.5, "K": 0.3}


def _number(x: float) -> str:
    return format(Decimal(str(x)).normalize(), "f")


def _threshold(r: random.Random, tag: str, values: tuple[float, ...]) -> str:
    v = r.choice(values[: max(2, len(values) * 2 // 3)]) * r.choice((1, 1, 1.2, 1.5, 2, 0.8, 0.5, 0.6, 3, 0.4))
    if tag in MONEY:
        return f"{_number(round(v, 1))}万"
    kind_int = all(float(x).is_integer() for x in values)
    return _number(round(v) if kind_int else round(v, 1))


def _conditions(r: random.Random, counties: list[str], period_share: float = 0.3) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if r.random() < 0.6:  # sector filter: a section, a division or a few of them
        secs = [s for s in SECTION_WEIGHT for _ in range(int(SECTION_WEIGHT[s] * 2) or 1)]
        divisions = [c for c in industries() if len(c) == 3]
        k = r.choice((1, 1, 2, 3))
        picks = sorted({r.choice(secs) if r.random() < 0.5 else r.choice(divisions) for _ in range(k)})
        sector = picks[0] if len(picks) == 1 else "(" + ", ".join(picks) + ")"
        out.append(("sector", f"industry under {sector}"))
    for i, tag in enumerate(r.sample(sorted(THRESHOLDS), r.choice((1, 1, 2, 2, 3)))):
        op = r.choice((">=", ">=", ">"))
        out.append((f"t{i}", f"{_read(tag)} {op} {_threshold(r, tag, THRESHOLDS[tag])}"))
    if r.random() < 0.25:
        tag, vals = next(iter(AT_MOST.items()))
        out.append(("cap", f"{tag} <= {_number(r.choice(vals))}"))
    if r.random() < 0.45:
        flag, date = r.choice(QUALIFICATIONS)
        if r.random() < 0.5:
            out.append(("qual", f"{flag} and {date} within {r.choice((6, 12, 18, 24, 36))} months"))
        else:
            out.append(("qual", flag))
    if r.random() < 0.4:
        tag = r.choice(sorted(CATEGORIES))
        vals = r.sample(CATEGORIES[tag], r.randint(1, min(3, len(CATEGORIES[tag]) - 1)))
        joined = ", ".join(f'"{v}"' for v in vals)
        out.append(("cat", f"{tag} in ({joined})" if r.random() < 0.8 else f"{tag} not in ({joined})"))
    if r.random() < 0.2:
        a = r.choice(GROWTH)
        out.append(("growth", f"{a}[上年] > {a}[前年]" if r.random() < 0.5
                    else f"{a}[上年] - {a}[前年] >= {r.choice((5, 10, 20, 50))}万"))
    if r.random() < period_share:
        out.append(("years", r.choice(PERIOD_CONDITIONS)(r)))
    if r.random() < 0.25:
        unit = r.choice(("years", "months", "days"))
        n = {"years": r.choice((1, 2, 3, 5)), "months": r.choice((6, 12, 24, 36)), "days": r.choice((180, 365, 730))}
        out.append(("age", f"registration_date within {n[unit]} {unit}"
                           if r.random() < 0.5 else f"years_since(registration_date) >= {r.choice((1, 2, 3, 5))}"))
    excl = r.sample(EXCLUSIONS, r.randint(1, 3))
    out.append(("credit", " and ".join(f"not {e}" for e in excl)))
    if r.random() < 0.1:
        out.append(("legal", "independent_legal_person"))
    return out


def _benefit(r: random.Random, indent: str = "  ") -> list[str]:
    kind = r.choice(("fixed", "fixed", "percent", "percent", "per_unit", "tiers", "cases", "sum"))
    amount = lambda: r.choice((1, 2, 3, 5, 8, 10, 20, 30, 50, 100)) * r.choice((1000, 10000))  # noqa: E731
    if kind == "fixed":
        return [f"{indent}fixed: {amount()}"]
    if kind == "percent":
        rate = r.choice((0.5, 1, 2, 3, 5, 8, 10, 15, 20, 30, 50, 60))
        return [f"{indent}percent: {{of: \"{_read(r.choice(BASES))}\", rate: {_number(rate)}%}}",
                f"{indent}cap: {amount() * r.choice((1, 5, 10))}"]
    if kind == "per_unit":
        return [f"{indent}per_unit: {{quantity: {r.choice(UNITS)}, rate: {r.choice((500, 1000, 2000, 3000, 5000))}}}",
                f"{indent}cap: {amount() * 10}"]
    if kind == "tiers":
        tag = r.choice(("revenue", "tax_paid", "employees", "rd_expense", "invention_patents"))
        steps = sorted(r.sample(THRESHOLDS[tag], 3), reverse=True)
        amounts = sorted((amount() for _ in steps), reverse=True)
        unit = "万" if tag in MONEY else ""
        rows = [f"{indent}    - {{at_least: {_number(s)}{unit}, amount: {a}}}" for s, a in zip(steps, amounts)]
        return [f"{indent}tiers:", f"{indent}  by: {_read(tag)}", f"{indent}  tiers:", *rows]
    if kind == "cases":
        flag = r.choice([q for q, _ in QUALIFICATIONS])
        sizes = ", ".join(f'"{s}"' for s in r.sample(("中型", "小型", "微型"), 2))
        first = f"{flag}" if r.random() < 0.5 else f"enterprise_size in ({sizes})"
        return [f"{indent}cases:", f"{indent}  - when: {first}", f"{indent}    fixed: {amount() * 2}",
                f"{indent}  - otherwise:", f"{indent}      fixed: {amount()}"]
    return [f"{indent}sum:", f"{indent}  - fixed: {amount()}",
            f"{indent}  - per_unit: {{quantity: {r.choice(UNITS)}, rate: {r.choice((500, 1000, 2000))}}}"]


def distinct_policy_text(i: int, r: random.Random, scopes: list[str], period_share: float = 0.3) -> str:
    conds = _conditions(r, scopes, period_share)
    lines = [f"id: gen-{i:04d}", "version: 1", f"title: 生成政策{i:04d}", "department: 基准测试",
             "basis: {document: 基准测试政策（生成）, number: 基测〔2026〕1号, article: 第一条}",
             "tier: 免申即享", "valid_from: 2026-01-01", "valid_to: 2028-12-31", f"regions: [{r.choice(scopes)}]",
             "conditions:"]
    for cid, when in conds:
        lines += [f"  - id: {cid}", f"    when: {when}", f"    label: 条件{cid}"]
    lines += ["benefit:", *_benefit(r)]
    return "\n".join(lines) + "\n"


def distinct_policy_texts(n: int, seed: int = 2025, period_share: float = 0.3) -> list[str]:
    """n seeded policy texts that share no region scope+condition set; `period_share` of them
    (about) add a condition over several years (sum, min, max, each year, growth)."""
    r = random.Random(seed)  # noqa: S311 - seeded benchmark data, not secrets
    codes = list(regions())
    cities = [c for c in codes if c.endswith("00") and c != "340000"]
    counties = [c for c in codes if not c.endswith("00")]
    # a provincial platform's library: ~30 % province-wide, ~55 % one city, ~15 % one county
    scopes = ["340000"] * 30 + cities * (55 // len(cities) + 1) + counties[:15]
    return [distinct_policy_text(i, r, scopes, period_share) for i in range(n)]


def distinct_policy_set(n: int, dictionary: TagDictionary, seed: int = 2025,
                        period_share: float = 0.3) -> list[ir.Policy]:
    """distinct_policy_texts, each loaded (type-checked) by the loader."""
    return [load_policy_text(text, dictionary, f"<gen-{i:04d}>")
            for i, text in enumerate(distinct_policy_texts(n, seed, period_share))]


def write_distinct_policies(n: int, folder: Path, seed: int = 2025) -> Path:
    """The same n policies as distinct_policy_set, as YAML files in `folder`: what the commands read."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("gen-*.yaml"):
        old.unlink()
    for i, text in enumerate(distinct_policy_texts(n, seed)):
        (folder / f"gen-{i:04d}.yaml").write_text(text, encoding="utf-8")
    return folder


def shape_counts(policies: list[ir.Policy]) -> tuple[int, int]:
    """(distinct condition predicates, distinct benefit formulas) across a set."""
    preds = {c.pred for p in policies for c in p.conditions}
    return len(preds), len({p.benefit for p in policies})
