"""Seeded, reproducible synthetic enterprises for Anhui province.

Distributions are skewed (log-normal size), correlated (revenue with staff and
assets, R&D with high-tech status, insurance with staff) and have missing values
at realistic rates. `sample` writes per-department CSV files with a manifest;
`chunks` streams storage frames of any size with bounded memory.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from ..periods import Period, PeriodKind, slot, split_slot
from . import creditcode
from .codes import industries, regions
from .derive import enterprise_size

# Share of enterprises by city (合肥 and 芜湖 dominate, as in the real register).
CITY_WEIGHT = {
    "340100": 30, "340200": 11, "340300": 5, "340400": 4, "340500": 5, "340600": 3, "340700": 3,
    "340800": 6, "341000": 2.5, "341100": 6, "341200": 7, "341300": 4.5, "341500": 4, "341600": 3.5,
    "341700": 2, "341800": 3.5,
}
SECTION_WEIGHT = {
    "A": 3, "B": 0.5, "C": 26, "D": 1, "E": 7, "F": 26, "G": 5, "H": 5, "I": 7, "J": 0.5, "K": 3,
    "L": 9, "M": 4, "N": 0.5, "O": 1.5, "P": 0.3, "Q": 0.3, "R": 0.7,
}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰志红鹏飞建国文斌浩宇晨欣怡子涵俊杰嘉"
NAME_HEAD = "徽皖江淮黄山巢湖长江科创新华瑞丰鑫源恒达宏远中天博宇泰和金诚德信润泽嘉盛"
NAME_TAIL = {"A": "农业", "B": "矿业", "C": "制造", "D": "能源", "E": "建设", "F": "商贸", "G": "物流",
             "H": "餐饮", "I": "信息科技", "J": "金融服务", "K": "置业", "L": "商务服务", "M": "科技",
             "N": "环境", "O": "服务", "P": "教育科技", "Q": "健康", "R": "文化传媒"}

# department file -> tags it delivers, its as-of lag (days before the run date), share of
# enterprises absent from it, and the share of empty cells among those present
DEPARTMENTS: dict[str, tuple[str, tuple[str, ...], int, float, float]] = {
    "market": ("market", ("name", "region", "industry", "registration_date", "ownership",
                          "independent_legal_person", "registered_capital", "legal_rep_name", "legal_rep_id",
                          "contact_phone", "abnormal_operation"), 1, 0.0, 0.01),
    "tax": ("tax", ("revenue", "tax_paid", "rd_expense", "rd_ratio", "tax_credit_rating"), 35, 0.02, 0.03),
    # 按季申报: one row per enterprise and quarter, the quarter in a `period` column (所属期)
    "tax_quarterly": ("tax", ("tax_paid_q",), 20, 0.02, 0.03),
    "stats": ("stats", ("employees", "total_assets", "is_above_scale", "above_scale_date", "output_value"),
              80, 0.03, 0.03),
    "hrss": ("hrss", ("insured_staff", "ui_paid_last_year", "ui_months_paid", "layoff_rate", "graduate_hires",
                      "youth_unemployed_hires", "graduate_hires_1y", "disabled_staff_ratio",
                      "high_level_talents"), 30, 0.03, 0.04),
    "science": ("science", ("is_hitech", "hitech_cert_date", "is_tech_sme", "tech_sme_date",
                            "invention_patents"), 20, 0.02, 0.02),
    "economy": ("economy", ("is_srdi_provincial", "srdi_provincial_date", "is_little_giant", "little_giant_date",
                            "has_first_set", "first_set_date", "green_factory_level", "rd_center_level",
                            "tech_renovation_investment", "energy_saving_rate", "zombie"), 45, 0.03, 0.03),
    "credit": ("credit", ("serious_dishonest",), 1, 0.01, 0.0),
    "court": ("court", ("dishonest_debtor",), 1, 0.01, 0.0),
    "safety": ("safety", ("safety_blacklist",), 15, 0.02, 0.0),
    "commerce": ("commerce", ("export_value",), 60, 0.04, 0.02),
    "finance": ("finance", ("bank_account", "bank_account_on_file"), 10, 0.02, 0.0),
}


def _days(d: dt.date) -> int:
    return (d - dt.date(1970, 1, 1)).days


def _dates(days: np.ndarray, null: np.ndarray) -> pd.Series:
    s = pd.Series(days.astype("datetime64[D]").astype("datetime64[s]"))
    s[null] = pd.NaT
    return s


def _money(fen: np.ndarray, null: np.ndarray | None = None) -> pd.Series:
    s = pd.Series(fen.astype(np.int64), dtype="Int64")
    if null is not None:
        s[null] = pd.NA
    return s


def _bool(v: np.ndarray) -> pd.Series:
    return pd.Series(v, dtype="boolean")


def generate(n: int, seed: int = 2025, as_of: dt.date = dt.date(2026, 6, 30), start: int = 0) -> pd.DataFrame:
    """`n` enterprises as a storage frame (no missing values yet: see `with_gaps`)."""
    rng = np.random.default_rng([seed, start])
    region_rows = [(c, n) for c, n in regions().items() if not c.endswith("00")]
    cities = list(CITY_WEIGHT)
    cw = np.array([CITY_WEIGHT[c] for c in cities])
    city = rng.choice(len(cities), n, p=cw / cw.sum())
    districts = {c: [r for r, _ in region_rows if r[:4] == c[:4]] for c in cities}
    region = np.array([districts[cities[ci]][k % len(districts[cities[ci]])]
                       for ci, k in zip(city, rng.integers(0, 1 << 30, n))], dtype=object)

    classes = [c for c in industries() if len(c) == 5]
    sec = np.array([c[0] for c in classes])
    w = np.array([SECTION_WEIGHT.get(s, 0.1) / (sec == s).sum() for s in sec])
    industry = np.array(classes, dtype=object)[rng.choice(len(classes), n, p=w / w.sum())]
    section = np.array([c[0] for c in industry])
    manuf = section == "C"
    tech_sector = np.isin(np.array([c[:3] for c in industry]), ["C39", "C40", "C27", "C35", "C38", "I65", "I64",
                                                                  "M73", "M74", "M75", "C34", "C36"])

    age_years = np.minimum(rng.exponential(7.5, n), 40)
    as_of_days = _days(as_of)
    reg_days = as_of_days - (age_years * 365.25).astype(np.int64) - rng.integers(0, 30, n)

    employees = np.maximum(1, np.round(rng.lognormal(2.4 + 0.6 * manuf, 1.15, n))).astype(np.int64)
    employees = np.minimum(employees, 60000)
    per_head = rng.lognormal(np.log(300000), 0.7, n)  # yuan of revenue per employee
    revenue_fen = np.round(employees * per_head * 100).astype(np.int64)
    assets_fen = np.round(revenue_fen * rng.lognormal(0, 0.6, n)).astype(np.int64)
    capital_fen = (np.round(rng.lognormal(np.log(2e6), 1.2, n) / 10000) * 10000 * 100).astype(np.int64)
    tax_fen = np.round(revenue_fen * rng.uniform(0.01, 0.07, n)).astype(np.int64)
    tax_prev_fen = np.round(tax_fen * rng.lognormal(-0.05, 0.2, n)).astype(np.int64)

    hitech = (tech_sector | manuf) & (rng.random(n) < np.where(tech_sector, 0.22, 0.06) * np.minimum(
        1.5, 0.4 + np.log10(employees + 1) / 2))
    hitech_date = as_of_days - rng.integers(0, 3 * 365, n)
    rd_ratio_target = np.where(hitech, rng.uniform(2.5, 9.0, n),
                               np.where(tech_sector | manuf, rng.exponential(1.2, n), 0.0))
    has_rd = hitech | ((tech_sector | manuf) & (rng.random(n) < 0.55))
    rd_fen = np.where(has_rd, np.round(revenue_fen * rd_ratio_target / 100), 0).astype(np.int64)
    rd_prev_fen = np.round(rd_fen * rng.lognormal(-0.1, 0.3, n)).astype(np.int64)
    # rd_ratio to 0.01 %, from the exact integers, rounded half up
    rd_ratio = ((rd_fen * 20000 + revenue_fen) // np.maximum(2 * revenue_fen, 1)).astype(np.int64)

    tech_sme = (tech_sector | manuf | hitech) & (employees < 500) & (rng.random(n) < 0.25 + 0.4 * hitech)
    tech_sme_date = as_of_days - rng.integers(0, 365 * 2, n)
    srdi = (manuf | tech_sector) & (employees >= 10) & (employees < 1000) & (rng.random(n) < 0.04 + 0.2 * hitech)
    srdi_date = as_of_days - rng.integers(0, 365 * 3, n)
    giant = srdi & (rng.random(n) < 0.12)
    giant_date = as_of_days - rng.integers(0, 365 * 2, n)
    revenue_wan = revenue_fen / 1e6
    above_scale = manuf & (revenue_wan >= 2000)
    above_date = np.where(rng.random(n) < 0.2, as_of_days - rng.integers(0, 365, n),
                          as_of_days - rng.integers(365, 365 * 10, n))
    first_set = manuf & (rng.random(n) < 0.01 + 0.05 * hitech)
    first_set_date = as_of_days - rng.integers(0, 365 * 2, n)
    green = np.where(manuf & (rng.random(n) < 0.06), rng.choice(["国家级", "省级", "市级"], n, p=[0.1, 0.4, 0.5]), "无")
    center = np.where((manuf | tech_sector) & (rng.random(n) < 0.05),
                      rng.choice(["国家级", "省级", "市级"], n, p=[0.05, 0.35, 0.6]), "无")
    patents = np.where(hitech, rng.poisson(8, n), np.where(tech_sector, rng.poisson(0.6, n), 0))
    renovation_fen = np.where(manuf & (rng.random(n) < 0.25),
                              np.round(revenue_fen * rng.uniform(0.02, 0.3, n)), 0).astype(np.int64)
    energy_saving = np.where(manuf, np.round(rng.normal(2.0, 3.0, n) * 100), 0).astype(np.int64)

    insured = np.minimum(employees, np.round(employees * rng.beta(8, 1.5, n))).astype(np.int64)
    ui_fen = np.round(insured * rng.lognormal(np.log(5500 * 12 * 0.005), 0.25, n) * 100).astype(np.int64)
    ui_months = np.where(rng.random(n) < 0.85, rng.integers(12, 120, n), rng.integers(0, 12, n))
    ui_months = np.minimum(ui_months, np.maximum(0, (age_years * 12).astype(np.int64)))
    layoff = np.where(rng.random(n) < 0.7, 0, np.round(rng.exponential(3.5, n) * 100)).astype(np.int64)
    layoff = np.minimum(layoff, 10000)
    grads = rng.poisson(np.minimum(employees * 0.03, 40))
    youth = rng.poisson(np.minimum(employees * 0.01, 15))
    grads_1y = np.minimum(grads, rng.binomial(grads, 0.7))
    disabled = np.where(rng.random(n) < 0.3, np.round(rng.uniform(0, 3, n) * 100), 0).astype(np.int64)
    talents = np.where(hitech | tech_sector, rng.poisson(0.8, n), 0)

    export = rng.random(n) < np.where(manuf, 0.2, 0.04)
    export_fen = np.where(export, np.round(revenue_fen * rng.uniform(0.05, 0.8, n)), 0).astype(np.int64)
    export_prev_fen = np.round(export_fen * rng.lognormal(-0.05, 0.25, n)).astype(np.int64)

    rating = rng.choice(list("ABMCD"), n, p=[0.22, 0.5, 0.2, 0.06, 0.02])
    ownership = rng.choice(["国有", "集体", "私营", "外商投资", "港澳台投资", "其他"], n,
                           p=[0.03, 0.01, 0.86, 0.04, 0.03, 0.03])

    serial = np.arange(start, start + n)
    codes = np.array([creditcode.make(r, int(s) * 7919 % 10**8 + 1) for r, s in zip(region, serial)], dtype=object)
    names_idx = rng.integers(0, len(NAME_HEAD), (n, 2))
    name = np.array([f"安徽{NAME_HEAD[a]}{NAME_HEAD[b]}{NAME_TAIL.get(s, '实业')}有限公司{('' if k == 0 else str(k))}"
                     for (a, b), s, k in zip(names_idx, section, serial // (len(NAME_HEAD) ** 2))], dtype=object)
    rep = np.array([SURNAMES[i % len(SURNAMES)] + GIVEN[j % len(GIVEN)] + GIVEN[k % len(GIVEN)]
                    for i, j, k in rng.integers(0, 1000, (n, 3))], dtype=object)
    births = reg_days - rng.integers(25 * 365, 55 * 365, n)
    rep_id = np.array([_id_number(r, int(b), int(s)) for r, b, s in zip(region, births, rng.integers(0, 999, n))],
                      dtype=object)
    phone = np.array([f"1{p:010d}" for p in rng.integers(3 * 10**9, 9 * 10**9, n)], dtype=object)
    account = np.array([f"{a:019d}" for a in rng.integers(10**17, 9 * 10**18, n)], dtype=object)

    # History of the periodic facts (drawn last, so that the draws above stay as they were): the
    # last complete year Y (上年 on the run date), Y-1 and Y-2; quarterly tax for the last five
    # complete quarters (上季度 and the same quarter a year earlier). Growth varies by enterprise, so 连续增长 and 增长20% conditions split.
    y = as_of.year - 1
    output_ratio = rng.uniform(0.9, 1.2, n)
    grow = rng.lognormal(0.05, 0.18, (2, n))
    revenue_hist = [np.round(revenue_fen / (grow[0] * grow[1])), np.round(revenue_fen / grow[0]), revenue_fen]
    tax_prev2_fen = np.round(tax_prev_fen * rng.lognormal(-0.05, 0.2, n)).astype(np.int64)
    rd_prev2_fen = np.round(rd_prev_fen * rng.lognormal(-0.1, 0.3, n)).astype(np.int64)
    export_prev2_fen = np.round(export_prev_fen * rng.lognormal(-0.05, 0.25, n)).astype(np.int64)
    q_now = Period(PeriodKind.QUARTER, as_of.year, (as_of.month - 1) // 3 + 1)
    q_share = rng.uniform(0.18, 0.32, (5, n))
    periodic = {
        **{slot("revenue", Period(PeriodKind.YEAR, y - 2 + k)): _money(np.asarray(v).astype(np.int64))
           for k, v in enumerate(revenue_hist)},
        slot("total_assets", Period(PeriodKind.YEAR, y)): _money(assets_fen),
        slot("output_value", Period(PeriodKind.YEAR, y)): _money(
            np.where(manuf, np.round(revenue_fen * output_ratio), 0), ~manuf),
        **{slot("tax_paid", Period(PeriodKind.YEAR, y - 2 + k)): _money(v)
           for k, v in enumerate((tax_prev2_fen, tax_prev_fen, tax_fen))},
        **{slot("tax_paid_q", q_now.shift(k - 5)): _money(np.round(tax_fen * q_share[k]).astype(np.int64))
           for k in range(5)},
        **{slot("rd_expense", Period(PeriodKind.YEAR, y - 2 + k)): _money(v)
           for k, v in enumerate((rd_prev2_fen, rd_prev_fen, rd_fen))},
        slot("rd_ratio", Period(PeriodKind.YEAR, y)): _money(rd_ratio),
        **{slot("export_value", Period(PeriodKind.YEAR, y - 2 + k)): _money(v)
           for k, v in enumerate((export_prev2_fen, export_prev_fen, export_fen))},
        slot("tech_renovation_investment", Period(PeriodKind.YEAR, y)): _money(renovation_fen),
    }

    df = pd.DataFrame({
        "credit_code": pd.Series(codes, dtype="str"),
        "name": pd.Series(name, dtype="str"),
        "region": pd.Categorical(region),
        "industry": pd.Categorical(industry),
        "registration_date": _dates(reg_days, np.zeros(n, bool)),
        "ownership": pd.Categorical(ownership, categories=["国有", "集体", "私营", "外商投资", "港澳台投资", "其他"]),
        "independent_legal_person": _bool(rng.random(n) < 0.93),
        "registered_capital": _money(capital_fen),
        "legal_rep_name": pd.Series(rep, dtype="str"),
        "legal_rep_id": pd.Series(rep_id, dtype="str"),
        "contact_phone": pd.Series(phone, dtype="str"),
        "employees": _money(employees),
        "is_above_scale": _bool(above_scale),
        "above_scale_date": _dates(above_date, ~above_scale),
        "tax_credit_rating": pd.Categorical(rating, categories=list("ABMCD")),
        "energy_saving_rate": _money(energy_saving, ~manuf),
        "insured_staff": _money(insured),
        "ui_paid_last_year": _money(ui_fen),
        "ui_months_paid": _money(ui_months),
        "layoff_rate": _money(layoff),
        "graduate_hires": _money(grads),
        "youth_unemployed_hires": _money(youth),
        "graduate_hires_1y": _money(grads_1y),
        "disabled_staff_ratio": _money(disabled),
        "high_level_talents": _money(talents),
        "is_hitech": _bool(hitech),
        "hitech_cert_date": _dates(hitech_date, ~hitech),
        "is_tech_sme": _bool(tech_sme),
        "tech_sme_date": _dates(tech_sme_date, ~tech_sme),
        "is_srdi_provincial": _bool(srdi),
        "srdi_provincial_date": _dates(srdi_date, ~srdi),
        "is_little_giant": _bool(giant),
        "little_giant_date": _dates(giant_date, ~giant),
        "has_first_set": _bool(first_set),
        "first_set_date": _dates(first_set_date, ~first_set),
        "green_factory_level": pd.Categorical(green, categories=["国家级", "省级", "市级", "无"]),
        "invention_patents": _money(patents),
        "rd_center_level": pd.Categorical(center, categories=["国家级", "省级", "市级", "无"]),
        "dishonest_debtor": _bool(rng.random(n) < 0.02),
        "abnormal_operation": _bool(rng.random(n) < 0.04),
        "safety_blacklist": _bool(rng.random(n) < 0.006),
        "serious_dishonest": _bool(rng.random(n) < 0.01),
        "zombie": _bool(rng.random(n) < 0.01),
        "bank_account": pd.Series(account, dtype="str"),
        "bank_account_on_file": _bool(rng.random(n) < 0.92),
        **periodic,
    })
    return df


def _id_number(region: str, birth_days: int, seq: int) -> str:
    birth = (dt.date(1970, 1, 1) + dt.timedelta(days=birth_days)).strftime("%Y%m%d")
    body = f"{region}{birth}{seq:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, weights)) % 11]
    return body + check


def with_gaps(df: pd.DataFrame, seed: int = 2025, start: int = 0) -> pd.DataFrame:
    """Blank cells at each department's rate; absent enterprises lose all of that department's tags."""
    rng = np.random.default_rng([seed, start, 7])
    out = df.copy()
    n = len(df)
    for _, tags, _, absent_rate, empty_rate in DEPARTMENTS.values():
        absent = rng.random(n) < absent_rate
        for t in _columns_of(out, tags):
            if t in ("name", "region", "industry"):
                continue
            blank = absent | (rng.random(n) < empty_rate)
            out.loc[blank, t] = None
    out["enterprise_size"] = enterprise_size(out)
    return out


def chunks(total: int, chunk: int = 250_000, seed: int = 2025,
           as_of: dt.date = dt.date(2026, 6, 30)) -> Iterator[pd.DataFrame]:
    """Storage frames of `chunk` rows until `total` rows: memory stays bounded by the chunk."""
    for start in range(0, total, chunk):
        size = min(chunk, total - start)
        yield with_gaps(generate(size, seed, as_of, start), seed, start)


# ------------------------------------------------------------------ department files


def _cell(series: pd.Series, kind: str) -> list[str]:
    """Natural-unit text for CSV cells, exactly."""
    out = []
    for v in series.astype(object):
        if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and np.isnan(v)):
            out.append("")
        elif kind == "money2":
            i = int(v)
            out.append(f"{'-' if i < 0 else ''}{abs(i) // 100}.{abs(i) % 100:02d}")
        elif kind == "date":
            out.append(pd.Timestamp(v).date().isoformat())
        elif kind == "bool":
            out.append("是" if v else "否")
        else:
            out.append(str(v))
    return out


def _columns_of(df: pd.DataFrame, tags: tuple[str, ...]) -> list[str]:
    """The frame's columns for these tags: a periodic tag's slots (revenue@2025, ...), oldest first."""
    out = []
    for t in tags:
        if t in df:
            out.append(t)
        out += [c for c in df.columns if split_slot(str(c))[0] == t and "@" in str(c)]
    return out


def header_of(column: str) -> str:
    """A storage column as a department file's header: the period in brackets (revenue[2025])."""
    tag, period = split_slot(column)
    return f"{tag}[{period}]" if period else tag


def _department_files(df: pd.DataFrame) -> dict[str, tuple[list[str], list[list[str]]]]:
    """file name -> (header, rows of cell text) for every department, as departments export them:
    one column per period of a yearly fact (revenue[2025]); the quarterly file has one row per
    enterprise and quarter with the quarter in a `period` column."""
    from .tags import load_dictionary

    d = load_dictionary()
    out = {}

    def kind_of(col: str) -> str:
        kind, scale = d[col].type.kind.value, d[col].type.scale
        return ("money2" if kind in ("money",) or (kind == "number" and scale == 2)
                else "date" if kind == "date" else "bool" if kind == "bool" else "text")

    for fname, (_, tags, _, _, _) in DEPARTMENTS.items():
        cols = _columns_of(df, tags)
        if fname == "tax_quarterly":
            records = []
            for c in cols:
                part = df[["credit_code", c]][df[c].notna()]
                period = split_slot(c)[1]
                records += [[code, period, v] for code, v in zip(_cell(part["credit_code"], "text"),
                                                                  _cell(part[c], kind_of(c)), strict=True)]
            out[fname] = (["credit_code", "period", *tags], records)
            continue
        part = df[["credit_code", *cols]]
        present = part[cols].notna().any(axis=1) | (fname == "market")
        part = part[present]
        rows = [_cell(part["credit_code"], "text")] + [_cell(part[c], kind_of(c)) for c in cols]
        out[fname] = (["credit_code", *map(header_of, cols)], [list(r) for r in zip(*rows)])
    return out


def _write(directory: Path, fname: str, header: list[str], records: list[list[str]],
           encoding: str = "utf-8") -> Path:
    path = directory / f"{fname}.csv"
    with open(path, "w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(records)
    return path


def _manifest(directory: Path, seed: int, as_of: dt.date, n: int, files: list[dict[str, str]],
              note: str = "") -> Path:
    manifest = directory / "manifest.yaml"
    manifest.write_text(
        "# Department files of the bundled sample (synthetic, seeded; see rules_engine/generate.py)\n" + note
        + yaml.safe_dump({"seed": seed, "as_of": as_of.isoformat(), "enterprises": n, "files": files},
                         allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    return manifest


def write_sample(directory: Path | str, n: int = 3000, seed: int = 2025,
                 as_of: dt.date = dt.date(2026, 6, 30), with_flaws: bool = True) -> Path:
    """Write per-department CSV files and a manifest; returns the manifest path.

    With `with_flaws`, a few realistic bad rows are planted (a credit code with a
    wrong check character, a duplicated row, an unparseable number) so that the
    rejects report has something real to show.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    df = with_gaps(generate(n, seed, as_of), seed)
    files = []
    for fname, (header, records) in _department_files(df).items():
        source, lag = DEPARTMENTS[fname][0], DEPARTMENTS[fname][2]
        if with_flaws and fname == "tax" and len(records) > 10:
            bad = list(records[3])
            bad[0] = bad[0][:-1] + ("0" if bad[0][-1] != "0" else "1")  # wrong check character
            records.append(bad)
            records.append(list(records[5]))  # an exact duplicate row
            odd = list(records[7])
            odd[header.index([h for h in header if h.startswith("revenue[")][-1])] = "约100万"  # not a number
            records[7] = odd
        path = _write(directory, fname, header, records)
        files.append({"path": path.name, "source": source, "as_of": (as_of - dt.timedelta(days=lag)).isoformat()})
    return _manifest(directory, seed, as_of, n, files)


# What a dirty delivery does to a cell of each kind (the raw text a department system exports)
GARBAGE = {"money": ["约100万", "12..5", "—", "1,23,4"], "number": ["约20", "N/A", "3..0"],
           "date": ["2025-13-01", "2025/02/30", "去年"], "bool": ["待定", "2"], "category": ["未知等级"],
           "code": ["Z99", "C1"], "text": []}


def write_dirty(directory: Path | str, n: int = 3000, seed: int = 2025,
                as_of: dt.date = dt.date(2026, 6, 30)) -> tuple[Path, Path]:
    """The same enterprises delivered twice: `clean/` as a careful department would export them,
    `dirty/` the way real systems do. Returns both manifests.

    Dirty: money through a float pipeline (4999999.9900000002235…) in a fifth of the money
    cells; section-only industry codes (C, F) for 3 % of enterprises; 企业划型 delivered by
    统计局 for 40 % of them (the true size); one bad non-key cell in 1 % of the rows of every
    file; 人社局's file in GBK and 科技局's with a UTF-8 byte-order mark.
    """
    from .tags import load_dictionary

    d = load_dictionary()
    directory = Path(directory)
    df = with_gaps(generate(n, seed, as_of), seed)
    files = _department_files(df)
    rng = np.random.default_rng([seed, 16])
    out = []
    for name in ("clean", "dirty"):
        (directory / name).mkdir(parents=True, exist_ok=True)
    clean_files, dirty_files = [], []
    for fname, (header, records) in files.items():
        source, lag = DEPARTMENTS[fname][0], DEPARTMENTS[fname][2]
        entry = {"path": f"{fname}.csv", "source": source, "as_of": (as_of - dt.timedelta(days=lag)).isoformat()}
        _write(directory / "clean", fname, header, records)
        clean_files.append(dict(entry))
        dirty = [list(r) for r in records]
        hdr = list(header)
        kinds = ["text"] + [d[t.replace("[", "@").rstrip("]")].type.kind.value if t != "period" else "period"
                            for t in header[1:]]
        for r in dirty:
            for j, k in enumerate(kinds):
                if k == "money" and r[j] and rng.random() < 0.2:
                    r[j] = f"{float(r[j]):.17g}" if rng.random() < 0.5 else f"{float(r[j]):.35g}"
        if fname == "market":
            j = hdr.index("industry")
            for r in dirty:
                if r[j] and rng.random() < 0.03:
                    r[j] = r[j][0]  # only the section: C, F
        if fname == "stats":
            sizes = df.set_index("credit_code")["enterprise_size"].astype(object)
            hdr.append("enterprise_size")
            for r in dirty:
                v = sizes.get(r[0])
                r.append(str(v) if isinstance(v, str) and rng.random() < 0.4 else "")
            kinds.append("category")
        for r in dirty:
            if rng.random() < 0.01:
                choices = [j for j in range(1, len(kinds)) if GARBAGE.get(kinds[j])]
                j = int(rng.choice(choices))
                r[j] = str(rng.choice(GARBAGE[kinds[j]]))
        encoding = "gbk" if fname == "hrss" else "utf-8-sig" if fname == "science" else "utf-8"
        _write(directory / "dirty", fname, hdr, dirty, encoding)
        dirty_files.append({**entry, **({"encoding": "gbk"} if encoding == "gbk" else {})})
    out.append(_manifest(directory / "clean", seed, as_of, n, clean_files))
    out.append(_manifest(directory / "dirty", seed, as_of, n, dirty_files,
                         "# delivered dirty (mianshen generate --dirty): see generate.write_dirty\n"))
    return out[0], out[1]
