"""Dirty department data against the same data delivered clean: what the loader loses.

    .venv/bin/python benchmarks/dirty_data.py --n 20000 --seed 2025

`mianshen generate --dirty` writes both deliveries (rules_engine/generate.write_dirty). This
loads both, matches every library policy on each, and prints the cells and rows lost, the
cells normalised, and the (enterprise, policy) decisions that differ, each difference
attributed: to a rejected cell the policy reads (directly or through a derived tag's
inputs), to an industry code delivered at section level only, or to nothing (must be 0).
tests/test_data.py runs it at a small size in CI.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rules_engine import ir  # noqa: E402
from rules_engine.data.datasets import load_dataset  # noqa: E402
from rules_engine.data.generate import write_dirty  # noqa: E402
from rules_engine.data.tags import load_dictionary  # noqa: E402
from rules_engine.library.loader import load_library  # noqa: E402
from rules_engine.periods import split_slot  # noqa: E402
from rules_engine.sources import FrameSource  # noqa: E402

AS_OF = dt.date(2026, 6, 30)


def compare(n: int, seed: int, workdir: Path) -> dict[str, object]:
    d = load_dictionary()
    lib = load_library(ROOT / "policies", d)
    policies = lib.active()
    clean_m, dirty_m = write_dirty(workdir, n, seed, AS_OF)
    t0 = time.perf_counter()
    clean = load_dataset(clean_m, d)
    dirty = load_dataset(dirty_m, d)
    load_s = time.perf_counter() - t0
    cell_rejects = [r for r in dirty.rejects if r.column]
    row_rejects = [r for r in dirty.rejects if not r.column]
    # the tags each enterprise lost, widened by derivation: a lost input can change a derived tag
    lost: dict[str, set[str]] = {}
    for r in cell_rejects:
        lost.setdefault(r.credit_code, set()).add(r.tag)
    for tags in lost.values():
        tags.update(t.key for t in d if t.derived and {split_slot(x)[0] for x in tags} & set(t.inputs))
    ind = dirty.frame.set_index("credit_code")["industry"].astype(object)
    coarse = {c for c, v in ind.items() if isinstance(v, str) and len(v) == 1}
    reads_industry = {"industry", *(t.key for t in d if t.derived and "industry" in t.inputs)}

    def decisions(ds: object) -> dict[tuple[str, str], tuple[str, int]]:
        res = FrameSource(ds.frame).results(policies, AS_OF)  # type: ignore[attr-defined]
        return {(r.credit_code, r.policy): (r.status, int(r.amount_fen)) for r in res.itertuples()}

    a, b = decisions(clean), decisions(dirty)
    tags_of = {p.id: set(ir.policy_tags(p, AS_OF)) for p in policies}
    why: Counter[str] = Counter()
    unexplained = []
    for key in a.keys() | b.keys():
        if a.get(key) == b.get(key):
            continue
        code, pid = key
        if lost.get(code, set()) & tags_of[pid]:
            why["读取了被拒收的单元格"] += 1
        elif code in coarse and tags_of[pid] & reads_industry:
            why["行业代码仅到门类"] += 1
        else:
            why["无法解释"] += 1
            unexplained.append((key, a.get(key), b.get(key)))
    rows_in = len(clean.frame)
    return {
        "enterprises": n, "policies": len(policies), "decisions": len(a), "load_s": round(load_s, 2),
        "rows_clean": rows_in, "rows_dirty": len(dirty.frame), "rows_lost": rows_in - len(dirty.frame),
        "row_rejects": len(row_rejects), "cells_rejected": len(cell_rejects),
        "cells_normalised": len(dirty.normalised), "conflicts": len(dirty.conflicts),
        "section_only_codes": len(coarse),
        "delivered_sizes": int((dirty.provenance["enterprise_size"] >= 0).sum()),
        "decisions_differing": sum(why.values()), "share_differing": sum(why.values()) / max(len(a), 1),
        "by_cause": dict(why), "unexplained": unexplained[:10],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=2025)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = compare(args.n, args.seed, Path(tmp))
    for k, v in out.items():
        print(f"{k:>22}: {v:.4%}" if k == "share_differing" else f"{k:>22}: {v}")


if __name__ == "__main__":
    main()
