"""Benchmark the event worker on durable-rules: events per second, and latency from an
event's arrival to its payout candidate, with 30 and with 200 policies.

    .venv/bin/python benchmarks/durable_events.py [--events 3000]

200 policies are the library's active ones cloned per city (distinct ids and region
scopes, the same shapes of condition), so each event meets about seven times as many
policies that read its tag.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path

from policysets import policy_set
from sqlalchemy import insert

from rules_engine.cli import DEFAULT_POLICIES
from rules_engine.data.datasets import SAMPLE_MANIFEST, load_dataset
from rules_engine.data.tags import load_dictionary
from rules_engine.ledger.db import open_ledger
from rules_engine.ledger.models import TagEvent
from rules_engine.ledger.worker import TableSource, Worker
from rules_engine.library.loader import load_library

AS_OF = dt.date(2026, 6, 30)
TAGS = [("is_hitech", "science"), ("invention_patents", "science"), ("graduate_hires", "hrss"),
        ("serious_dishonest", "credit"), ("disabled_staff_ratio", "hrss"), ("export_value", "commerce"),
        ("tax_paid", "tax"), ("layoff_rate", "hrss")]


def events(n: int, codes: list[str], seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        tag, src = rng.choice(TAGS)
        value = {"is_hitech": rng.random() < 0.5, "serious_dishonest": rng.random() < 0.1,
                 "disabled_staff_ratio": f"{rng.uniform(0, 4):.2f}", "layoff_rate": f"{rng.uniform(0, 9):.2f}"}.get(
            tag, rng.randrange(0, 5_000_000) if tag in ("export_value", "tax_paid") else rng.randrange(0, 20))
        out.append({"credit_code": rng.choice(codes), "tag": tag, "value": json.dumps(value).strip('"'),
                    "as_of": f"2026-06-{1 + i % 28:02d}", "source": src})
    return out


def run(n_policies: int, n_events: int, d, lib, frame) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        _, sf = open_ledger(f"sqlite:///{Path(tmp) / 'bench.db'}")
        policies = policy_set(n_policies, lib, AS_OF, keep_budgets=False)
        w = Worker(sf, d, policies, frame, AS_OF)
        evs = events(n_events, list(frame.credit_code))
        now = dt.datetime.now()
        with sf.begin() as s:
            s.execute(insert(TagEvent), [dict(e, received_at=now) for e in evs])
        warm = time.perf_counter()
        # throughput: the queue drained in chunks of 100 events per transaction
        t0 = time.perf_counter()
        stats = w.run(TableSource(sf), chunk=100)
        elapsed = time.perf_counter() - t0
        # latency: one event at a time into an idle worker, arrival to committed candidate
        lat: list[float] = []
        more = events(400, list(frame.credit_code), seed=99)
        for e in more:
            with sf.begin() as s:
                s.execute(insert(TagEvent), [dict(e, received_at=dt.datetime.now())])
            before = len(stats.latencies)
            one = w.run(TableSource(sf), chunk=1)
            lat += one.latencies[before:] if len(one.latencies) > before else one.latencies
        _ = warm
        return {"policies": n_policies, "events": stats.events, "seconds": elapsed,
                "events_per_s": stats.events / elapsed, "evaluations": stats.evaluations,
                "candidates": stats.created, "withdrawn": stats.withdrawn,
                "latency_ms_p50": 1000 * statistics.median(lat) if lat else float("nan"),
                "latency_ms_p95": 1000 * statistics.quantiles(lat, n=20)[18] if len(lat) >= 20 else float("nan"),
                "latency_samples": len(lat), "rulesets": len(w.engine.registered)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=3000)
    args = ap.parse_args()
    d = load_dictionary()
    lib = load_library(DEFAULT_POLICIES, d)
    frame = load_dataset(SAMPLE_MANIFEST, d).frame
    print(f"machine: {platform.processor() or platform.machine()}, {platform.python_version()}, "
          f"{dt.date.today()}; SQLite ledger; 3,000 base enterprises")
    print(f"{'policies':>8} {'events':>7} {'seconds':>8} {'events/s':>9} {'evals':>7} {'cand.':>6} "
          f"{'p50 ms':>7} {'p95 ms':>7} {'samples':>7}")
    for n in (30, 200):
        r = run(n, args.events, d, lib, frame)
        print(f"{r['policies']:>8} {r['events']:>7} {r['seconds']:>8.2f} {r['events_per_s']:>9.0f} "
              f"{r['evaluations']:>7} {r['candidates']:>6} {r['latency_ms_p50']:>7.1f} {r['latency_ms_p95']:>7.1f} "
              f"{r['latency_samples']:>7}")


if __name__ == "__main__":
    main()
