"""What periods cost: the same engine run with and without three years of history.

    .venv/bin/python benchmarks/periods.py                 # 10^6 enterprises × 200 distinct policies
    .venv/bin/python benchmarks/periods.py --rows 200000   # smaller

Two runs on the same 10^6 generated enterprises, each in its own process (peak memory is its own):

* one year: the frame holds one period of every yearly fact (上年, 2025) and one quarter of
  季度纳税, and 200 distinct policies read `tag[上年]` only (period_share 0): what the engine did
  before periods, when `tax_paid` was a snapshot;
* three years: the frame holds 2023-2025 and five quarters, and the 200 policies are the same
  generator with about 28 % of them adding a condition over several years (sum, min, max,
  each year, growth rate).

Each job times `vectorized.match` (resolution of the periods included: it runs inside) and the
command users run for a summary (`mianshen match`'s path: FrameSource.results over the same
frame), and reports the frame's memory. Targets (issue #30): three years within 1.3× of one
year's time; the frame's memory for three years ≤ 2× one year's.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from engine import AS_OF, dataset, rss_mib  # noqa: E402 - the engine benchmark's data (out/bench/), shared

from rules_engine import ir  # noqa: E402
from rules_engine.backends import vectorized  # noqa: E402
from rules_engine.data.datasets import load_storage_parquet  # noqa: E402
from rules_engine.data.tags import load_dictionary  # noqa: E402
from rules_engine.periods import split_slot  # noqa: E402

D = load_dictionary()
ONE_YEAR = {"2025", "2026Q1"}  # the periods a one-year frame keeps


def job(rows: int, history: bool) -> dict:
    from policysets import distinct_policy_set

    from rules_engine.sources import FrameSource

    frame = load_storage_parquet(dataset(rows), D).frame
    if not history:
        frame = frame[[c for c in frame.columns if not split_slot(str(c))[1] or split_slot(str(c))[1] in ONE_YEAR]]
    frame_mib = frame.memory_usage(deep=True).sum() / 2**20
    slots = sum(1 for c in frame.columns if "@" in str(c))
    policies = distinct_policy_set(200, D, period_share=0.3 if history else 0.0)
    with_periods = sum(any(isinstance(n, ir.Over | ir.Growth) for n in _nodes(p)) for p in policies)
    times, summary = [], []
    for _ in range(3):
        t = time.perf_counter()
        res = vectorized.match(frame, policies, AS_OF, explain_failures=False, missing=False)
        times.append(time.perf_counter() - t)
    eligible = sum(r.counts()[0] for r in res.results)
    for _ in range(2):
        t = time.perf_counter()
        out = FrameSource(frame).results(policies, AS_OF, (ir.Status.ELIGIBLE, ir.Status.UNDETERMINED))
        summary.append(time.perf_counter() - t)
    return {"engine_s": min(times), "engine_all": times, "results_s": min(summary), "frame_mib": frame_mib,
            "rss_mib": rss_mib(), "slots": slots, "columns": frame.shape[1], "eligible": eligible,
            "results_rows": len(out), "multi_year_policies": with_periods}


def _nodes(p: ir.Policy) -> list[object]:
    stack: list[object] = [c.pred for c in p.conditions]
    out = []
    while stack:
        n = stack.pop()
        out.append(n)
        stack.extend(ir.children(n))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--job", choices=["one", "three"])
    a = ap.parse_args()
    if a.job:
        print(json.dumps(job(a.rows, a.job == "three")))
        return
    dataset(a.rows)
    print(f"periods: {a.rows:,} enterprises × 200 distinct policies, evaluation date {AS_OF}", flush=True)
    got = {}
    for which in ("one", "three"):
        out = subprocess.run([sys.executable, __file__, "--rows", str(a.rows), "--job", which],  # noqa: S603
                             capture_output=True, text=True, check=True, cwd=ROOT)
        got[which] = json.loads(out.stdout.strip().splitlines()[-1])
        g = got[which]
        print(f"  {which} year{'s' if which == 'three' else ''}: {g['columns']} columns ({g['slots']} periods), "
              f"frame {g['frame_mib']:.0f} MiB, peak RSS {g['rss_mib']:.0f} MiB; policies with multi-year "
              f"conditions {g['multi_year_policies']}; engine {g['engine_s']:.2f} s "
              f"(runs {', '.join(f'{x:.2f}' for x in g['engine_all'])}); results contract {g['results_s']:.2f} s; "
              f"eligible pairs {g['eligible']:,}", flush=True)
    one, three = got["one"], got["three"]
    print(f"  ratio three/one: engine {three['engine_s'] / one['engine_s']:.2f}× (target ≤ 1.3), results "
          f"{three['results_s'] / one['results_s']:.2f}×, frame memory {three['frame_mib'] / one['frame_mib']:.2f}× "
          f"(target ≤ 2)")


if __name__ == "__main__":
    main()
