"""Load on the enterprise portal's query: N concurrent clients, each an enterprise with its own
API key, each asking for its eligible / undetermined / near-miss policies over and over.

    .venv/bin/python benchmarks/api_load.py --clients 50 --requests 40

Starts `mianshen serve` on 127.0.0.1 over the bundled sample (SQLite ledger in a temporary
folder), prints throughput and p50/p95/p99 latency: for every request, for each client's first
request (the check-up is computed), and for the rest (served from the per-enterprise cache).
The target (issue #15): p95 ≤ 50 ms for the enterprise's query on the sample."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rules_engine import service  # noqa: E402
from rules_engine.api import local  # noqa: E402
from rules_engine.data.datasets import SAMPLE_MANIFEST, load_dataset  # noqa: E402
from rules_engine.data.tags import load_dictionary  # noqa: E402
from rules_engine.service import Actor, keys  # noqa: E402


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=40, help="per client")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    env = {**os.environ, "MIANSHEN_DB": f"sqlite:///{tmp / 'l.db'}", "MIANSHEN_AUDIT_KEY": str(tmp / "k.pem"),
           "MIANSHEN_AUDIT_CHECKPOINTS": str(tmp / "c.jsonl")}
    os.environ.update({k: env[k] for k in ("MIANSHEN_AUDIT_KEY", "MIANSHEN_AUDIT_CHECKPOINTS")})
    sf = service.open_ledger(env["MIANSHEN_DB"])
    codes = load_dataset(SAMPLE_MANIFEST, load_dictionary()).frame["credit_code"].astype(str).tolist()
    step = max(1, len(codes) // args.clients)
    clients = [(c, keys.create_key(sf, Actor("基准测试", "official"), f"企业{i}", "enterprise", c).key)
               for i, c in enumerate(codes[::step][: args.clients])]
    proc, url = local.start(env, workers=args.workers)
    try:
        cold: list[float] = []
        warm: list[float] = []
        errors: list[int] = []

        async def client(code: str, key: str, start: asyncio.Event) -> None:
            async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
                await start.wait()
                for n in range(args.requests):
                    t0 = time.perf_counter()
                    r = await c.get(f"/api/v1/enterprises/{code}/policies")
                    (cold if n == 0 else warm).append(time.perf_counter() - t0)
                    if r.status_code != 200:
                        errors.append(r.status_code)

        async def everyone() -> float:
            start = asyncio.Event()
            tasks = [asyncio.create_task(client(c, k, start)) for c, k in clients]
            await asyncio.sleep(0.5)  # every client connected and waiting
            t0 = time.perf_counter()
            start.set()
            await asyncio.gather(*tasks)
            return time.perf_counter() - t0

        # one event loop drives all clients: 50 client threads would fight the server for the GIL-free cores
        wall = asyncio.run(everyone())
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    total = cold + warm
    print(f"server: {args.workers} uvicorn worker(s); the clients (one asyncio loop) run on the same 2 cores")
    print(f"{len(clients)} clients × {args.requests} requests, {len(total)} in {wall:.2f} s: "
          f"{len(total) / wall:.0f} requests/s, {len(errors)} errors")
    for name, xs in (("all", total), ("first per client (computed)", cold), ("repeat (cached)", warm)):
        print(f"  {name:30} p50 {pct(xs, 50):7.1f} ms  p95 {pct(xs, 95):7.1f} ms  p99 {pct(xs, 99):7.1f} ms  "
              f"mean {statistics.mean(xs) * 1000:6.1f} ms")
    p95 = pct(warm, 95)
    print(f"target p95 ≤ 50 ms for repeat queries: {'met' if p95 <= 50 else 'MISSED'} ({p95:.1f} ms)")


if __name__ == "__main__":
    main()
