"""What it costs a batch to record the source and date of every value each payout read.

A batch over loaded department files (a Dataset) writes, in each payout's explanation record,
the department and as-of date of every input (`sources`), so that the payout explains itself as
the calculator does; a batch over a bare frame writes `"sources": {}`. Both run here on the same
generated department files (written once into out/bench/), each into a fresh SQLite ledger, three
times in turn, with 稳岗返还 and 8 other policies of the library.

    .venv/bin/python benchmarks/ledger_sources.py --n 200000
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from rules_engine.data.datasets import load_dataset  # noqa: E402
from rules_engine.data.generate import write_sample  # noqa: E402
from rules_engine.data.tags import load_dictionary  # noqa: E402
from rules_engine.ledger.models import Payout  # noqa: E402
from rules_engine.library.loader import load_library  # noqa: E402
from rules_engine.service import Actor, open_ledger, run_batch  # noqa: E402

AS_OF = dt.date(2026, 6, 30)
D = load_dictionary()
LIB = load_library(ROOT / "policies", D)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    where = ROOT / "out" / "bench" / f"departments-{args.n}"
    if not (where / "manifest.yaml").exists():
        t = time.perf_counter()
        write_sample(where, args.n, 2025, AS_OF)
        print(f"generated {args.n:,} enterprises' department files in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    ds = load_dataset(where / "manifest.yaml", D)
    print(f"loaded {len(ds.frame):,} enterprises in {time.perf_counter() - t:.1f} s")
    policies = [p for p in LIB.active() if p.tier.value == "免申即享"][:9]
    print("policies:", ", ".join(p.id for p in policies))
    timing: dict[str, list[float]] = {"dataset (with sources)": [], "bare frame (no sources)": []}
    size: dict[str, float] = {}
    for _ in range(args.runs):
        for name, data in (("dataset (with sources)", ds), ("bare frame (no sources)", ds.frame)):
            with tempfile.TemporaryDirectory() as tmp:
                sf = open_ledger(f"sqlite:///{tmp}/l.db")
                t = time.perf_counter()
                r = run_batch(sf, Actor("bench", "official"), data, policies, AS_OF, D)
                timing[name].append(time.perf_counter() - t)
                with sf() as s:
                    n = s.scalar(select(func.count()).select_from(Payout))
                    total = s.scalar(select(func.sum(func.length(Payout.explanation))))
                size[name] = total / n if n else 0
                created = r.created
    for name, ts in timing.items():
        print(f"{name:26s} median {statistics.median(ts):6.2f} s  (runs: {', '.join(f'{x:.2f}' for x in ts)})  "
              f"{created:,} payouts, {size[name]:.0f} characters of explanation each")


if __name__ == "__main__":
    main()
