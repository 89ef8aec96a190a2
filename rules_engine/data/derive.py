"""Derived tags. 企业划型 by 《中小企业划型标准规定》（工信部联企业〔2011〕300号）, and for 金融业
(J) by 《金融业企业划型标准规定》（银发〔2015〕309号）, which the 2011 rule does not cover.

Each sector has thresholds on employees (人), revenue and total assets (万元):
an enterprise reaching every threshold of a level is of that level; large when
it reaches both "large" thresholds. Unknown inputs give an unknown size.

Revenue and total assets are yearly facts: the size is computed from the latest year the
data holds (上年 营业收入 and 年末资产总额 of the same year), never from a mix of years; an
enterprise without that year's figures has no size. The finance rule's measure is the year's
average of the four quarter-end total assets; the data holds the year-end figure, used as is.
A sector neither rule covers (金融业 without a measure here: 中央银行, 监管, 信托公司 (信托资产);
公共管理 S, 国际组织 T) gets no size: unknown, not 其他未列明行业.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..periods import split_slot

# sector: industry prefixes, and (large, medium, small) thresholds, each a dict of
# measure -> minimum (employees in persons, revenue/assets in 万元). Micro is below small.
Levels = tuple[dict[str, int], dict[str, int], dict[str, int]] | None  # None: no rule covers the sector
YI = 10000  # 1 亿元 in 万元
RULES: list[tuple[str, tuple[str, ...], Levels]] = [
    # 银发〔2015〕309号, by total assets (万元); the finest prefixes first
    ("金融业（无本数据可用的划型指标）", ("J661", "J665", "J6911"), None),
    ("贷款公司、小额贷款公司及典当行", ("J6633", "J6635"),
     ({"assets": 1000 * YI}, {"assets": 200 * YI}, {"assets": 50 * YI})),
    ("银行业存款类金融机构", ("J662",), ({"assets": 40000 * YI}, {"assets": 5000 * YI}, {"assets": 50 * YI})),
    ("银行业非存款类金融机构", ("J663", "J664"), ({"assets": 1000 * YI}, {"assets": 200 * YI}, {"assets": 50 * YI})),
    ("证券业金融机构", ("J67",), ({"assets": 1000 * YI}, {"assets": 100 * YI}, {"assets": 10 * YI})),
    ("保险业金融机构", ("J68",), ({"assets": 5000 * YI}, {"assets": 400 * YI}, {"assets": 20 * YI})),
    ("金融控股公司", ("J692",), ({"assets": 40000 * YI}, {"assets": 5000 * YI}, {"assets": 50 * YI})),
    ("其他金融机构", ("J69",), ({"assets": 1000 * YI}, {"assets": 200 * YI}, {"assets": 50 * YI})),
    ("两项规定均未覆盖的门类", ("J", "S", "T"), None),
    # 工信部联企业〔2011〕300号
    ("农林牧渔业", ("A",), ({"revenue": 20000}, {"revenue": 500}, {"revenue": 50})),
    ("工业", ("B", "C", "D"), ({"employees": 1000, "revenue": 40000}, {"employees": 300, "revenue": 2000},
                                {"employees": 20, "revenue": 300})),
    ("建筑业", ("E",), ({"revenue": 80000, "assets": 80000}, {"revenue": 6000, "assets": 5000},
                      {"revenue": 300, "assets": 300})),
    ("批发业", ("F51",), ({"employees": 200, "revenue": 40000}, {"employees": 20, "revenue": 5000},
                        {"employees": 5, "revenue": 1000})),
    ("零售业", ("F52",), ({"employees": 300, "revenue": 20000}, {"employees": 50, "revenue": 500},
                        {"employees": 10, "revenue": 100})),
    ("仓储业", ("G59",), ({"employees": 200, "revenue": 30000}, {"employees": 100, "revenue": 1000},
                        {"employees": 20, "revenue": 100})),
    ("邮政业", ("G60",), ({"employees": 1000, "revenue": 30000}, {"employees": 300, "revenue": 2000},
                        {"employees": 20, "revenue": 100})),
    ("交通运输业", ("G",), ({"employees": 1000, "revenue": 30000}, {"employees": 300, "revenue": 3000},
                         {"employees": 20, "revenue": 200})),
    ("住宿和餐饮业", ("H",), ({"employees": 300, "revenue": 10000}, {"employees": 100, "revenue": 2000},
                          {"employees": 10, "revenue": 100})),
    ("信息传输业", ("I63", "I64"), ({"employees": 2000, "revenue": 100000}, {"employees": 100, "revenue": 1000},
                                   {"employees": 10, "revenue": 100})),
    ("软件和信息技术服务业", ("I65",), ({"employees": 300, "revenue": 10000}, {"employees": 100, "revenue": 1000},
                                 {"employees": 10, "revenue": 50})),
    ("房地产开发经营", ("K701",), ({"revenue": 200000, "assets": 10000}, {"revenue": 1000, "assets": 5000},
                             {"revenue": 100, "assets": 2000})),
    ("物业管理", ("K702",), ({"employees": 1000, "revenue": 5000}, {"employees": 300, "revenue": 1000},
                         {"employees": 100, "revenue": 500})),
    ("租赁和商务服务业", ("L",), ({"employees": 300, "assets": 120000}, {"employees": 100, "assets": 8000},
                            {"employees": 10, "assets": 100})),
    ("其他未列明行业", ("",), ({"employees": 300}, {"employees": 100}, {"employees": 10})),
]
SIZES = ("大型", "中型", "小型", "微型")
WAN_FEN = 100 * 10000  # 1 万元 in fen


def enterprise_size(df: pd.DataFrame) -> pd.Categorical:
    """企业划型 for every row of a storage frame; unknown where a needed input is missing."""
    n = len(df)
    year = latest_year(df)
    measures = {
        "employees": _col(df, "employees", 1),
        "revenue": _col(df, f"revenue@{year}", WAN_FEN),
        "assets": _col(df, f"total_assets@{year}", WAN_FEN),
    }
    industry = df["industry"] if "industry" in df else pd.Series([None] * n, dtype="str")
    cat = industry.astype("category")
    codes = cat.cat.codes.to_numpy()
    cats = [str(c) for c in cat.cat.categories]
    out = np.full(n, None, dtype=object)
    # no industry, or one too coarse to pick the sector (F is wholesale F51 or retail F52): unknown
    refined = [p for _, prefixes, _ in RULES for p in prefixes if p]
    coarse = np.array([any(len(c) < len(p) and p.startswith(c) for p in refined) for c in cats] + [False], bool)
    done = (codes < 0) | coarse[codes]
    for _, prefixes, levels in RULES:
        # decide each distinct industry code once, then spread to rows by category code
        lut = np.array([c.startswith(prefixes) for c in cats] + [False], dtype=bool)
        sector = ~done & lut[codes]
        if not sector.any():
            continue
        if levels is None:  # no rule covers it: the size stays unknown
            done |= sector
            continue
        decided = np.zeros(n, bool)
        for size, need in zip(SIZES, levels):
            known = np.ones(n, bool)
            meets = np.ones(n, bool)
            for m, threshold in need.items():
                values, null, unit = measures[m]
                known &= ~null
                meets &= values >= threshold * unit
            undecided = sector & ~decided
            decided |= undecided & ~known  # a needed input is missing: size unknown
            hit = sector & ~decided & meets
            out[hit] = size
            decided |= hit
        out[sector & ~decided] = "微型"
        done |= sector
    return pd.Categorical(out, categories=list(SIZES))



def latest_year(df: pd.DataFrame) -> str:
    """The latest year for which the frame holds 营业收入 or 资产总额 ("" if none)."""
    years = [split_slot(str(c))[1] for c in df.columns if split_slot(str(c))[0] in ("revenue", "total_assets")]
    return max((y for y in years if y), default="")


def _col(df: pd.DataFrame, key: str, unit: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Storage integers, null mask, and the storage units per threshold unit."""
    if key not in df:
        return np.zeros(len(df), np.int64), np.ones(len(df), bool), unit
    s = df[key]
    return s.to_numpy(dtype=np.int64, na_value=0), s.isna().to_numpy(), unit


DERIVATIONS = {"enterprise_size": enterprise_size}  # derived tag -> function of a storage frame
