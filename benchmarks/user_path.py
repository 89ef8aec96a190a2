"""What users run, timed as they run it (issue #34): `mianshen match`, `mianshen batch run`,
an incremental batch after a delivery, the calculator, and the province job streamed to Parquet,
each beside the bare engine (and Polars and DuckDB) measured in the same sitting.

    .venv/bin/python benchmarks/user_path.py                     # match, batch, incremental, calculator
    .venv/bin/python benchmarks/user_path.py --province          # also 10^7 x 1,000 to Parquet, and Spark
    .venv/bin/python benchmarks/user_path.py --only batch        # one section

Commands run as subprocesses (`.venv/bin/mianshen ...`), each in a fresh wrapper process so its
peak memory (RSS) is its own. PostgreSQL figures need $MIANSHEN_TEST_PG_URL (scripts/pg.sh).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import engine  # noqa: E402  (the data, the policy sets and the engine's own jobs)
import policysets  # noqa: E402

BENCH = engine.BENCH
MIANSHEN = str(Path(sys.executable).parent / "mianshen")
AS_OF = "2026-06-30"
WRAP = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
        "r = subprocess.run(sys.argv[1:], capture_output=True, text=True); w = time.perf_counter() - t; "
        "sys.stdout.write(r.stdout + r.stderr); "
        "print('@@', w, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, r.returncode)")


def cli(*args: str, env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MiB, output) of one `mianshen` command."""
    out = subprocess.run([sys.executable, "-c", WRAP, MIANSHEN, *args], capture_output=True, text=True,  # noqa: S603
                         cwd=ROOT, env={**os.environ, **(env or {})}, timeout=7200).stdout
    body, _, tail = out.rpartition("@@")
    wall, rss, rc = tail.split()
    if rc != "0":
        raise RuntimeError(f"mianshen {' '.join(args)} failed:\n{body[-3000:]}")
    return float(wall), float(rss), body


def seconds(label: str, text: str) -> float:
    """A duration the command printed: 「匹配 1.39 秒」."""
    found = re.findall(label + r" ([0-9.]+) 秒", text.replace("\n", ""))
    if not found:
        raise RuntimeError(f"no 「{label}」 in:\n{text[-2000:]}")
    return float(found[-1])


def listed(values: object) -> str:
    return ", ".join(f"{v:.2f}" for v in values)  # type: ignore[attr-defined]


def policies_dir(n: int) -> Path:
    folder = BENCH / f"policies-{n}"
    if len(list(folder.glob("gen-*.yaml"))) != n:
        policysets.write_distinct_policies(n, folder)
    return folder


def fresh_ledger(kind: str, name: str) -> str | None:
    if kind == "sqlite":
        for f in BENCH.glob(f"{name}.db*"):
            f.unlink()
        return f"sqlite:///{BENCH / f'{name}.db'}"
    url = os.environ.get("MIANSHEN_TEST_PG_URL")
    if not url:
        return None
    import sqlalchemy as sa

    with sa.create_engine(url).begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    return url


def audit_env() -> dict[str, str]:
    key = BENCH / "keys" / "audit.pem"
    env = {"MIANSHEN_AUDIT_KEY": str(key), "MIANSHEN_AUDIT_CHECKPOINTS": str(BENCH / "keys" / "checkpoints.jsonl")}
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([MIANSHEN, "audit", "init-key"], env={**os.environ, **env}, check=True,  # noqa: S603
                       capture_output=True)
    return env


# ------------------------------------------------------------------ 1. mianshen match


def match_section() -> None:
    data, pols = engine.dataset(1_000_000), policies_dir(200)
    print(f"\n## 1. mianshen match, 10^6 enterprises x 200 distinct policies ({engine.shapes(engine.policy_set(200))})")
    runs = [engine.child("match", "1000000", "200", "distinct", "2") for _ in range(3)]
    bare = min(r["seconds"] for r in runs)
    print(f"  bare engine (vectorized.match, decisions and amounts; frame loaded): "
          f"{listed(r['seconds'] for r in runs)} s -> best {bare:.2f} s")
    summary = [cli("match", "--data", str(data), "-p", str(pols), "--as-of", AS_OF) for _ in range(3)]
    m = min(seconds("匹配", o) for _, _, o in summary)
    print(f"  mianshen match (summary): 匹配 {listed(seconds('匹配', o) for _, _, o in summary)} s "
          f"-> {m:.2f} s = {m / bare:.2f}x the engine (target <= 1.3x); wall {min(w for w, _, _ in summary):.2f} s, "
          f"peak RSS {max(r for _, r, _ in summary):.0f} MiB")
    out = BENCH / "match-rows.parquet"
    written = [cli("match", "--data", str(data), "-p", str(pols), "--as-of", AS_OF, "-o", str(out)) for _ in range(2)]
    m = min(seconds("匹配", o) for _, _, o in written)
    w = min(seconds("写出", o.replace("）", " ")) for _, _, o in written)
    rows = re.findall(r"已写出 (\d+) 行", written[0][2])[0]
    print(f"  mianshen match -o rows.parquet ({int(rows):,} eligible and undetermined rows with missing tags): "
          f"匹配 {m:.2f} s = {m / bare:.2f}x the engine (target <= 2x); writing the file {w:.2f} s more; "
          f"wall {min(x for x, _, _ in written):.2f} s, peak RSS {max(r for _, r, _ in written):.0f} MiB")
    for peer in ("polars", "duckdb"):
        r = engine.child("peer", "1000000", "200", peer, "0")
        print(f"  {peer} (same IR, same data, 2 threads): {r['seconds']:.2f} s = {r['seconds'] / bare:.2f}x the engine; "
              f"pairs that differ from the engine: {r['disagreements']:,} of {r['pairs']:,}")


# ------------------------------------------------------------------ 2. mianshen batch run


def batch_section() -> None:
    data, pols, env = engine.dataset(1_000_000), policies_dir(200), audit_env()
    print("\n## 2. mianshen batch run, 10^6 x 200 distinct, end to end "
          "(load storage Parquet -> match -> allocation -> ledger write -> audit checkpoint)")
    for kind in ("sqlite", "postgresql"):
        url = fresh_ledger(kind, "batch")
        if url is None:
            print(f"  {kind}: skipped (set MIANSHEN_TEST_PG_URL)")
            continue
        wall, rss, out = cli("batch", "run", "--actor", "bench", "--db", url, "--data", str(data), "-p", str(pols),
                             "--as-of", AS_OF, env=env)
        created = re.findall(r"新增待公示 (\d+) 笔", out)[0]
        print(f"  {kind}: {wall:.1f} s wall (target <= 60 s), peak RSS {rss:.0f} MiB (target <= 4,096); "
              f"{int(created):,} payouts", flush=True)
    for kind in ("sqlite", "postgresql"):
        url = fresh_ledger(kind, "ledger")
        if url is None:
            continue
        r = [engine.child("ledger", url, "185000")]
        url = fresh_ledger(kind, "ledger")
        r.append(engine.child("ledger", str(url), "185000"))
        print(f"  ledger write of {r[0]['created']:,} payouts ({kind}, run_batch of 1.85x10^5 x 稳岗返还 into an empty "
              f"ledger): {listed(x['seconds'] for x in r)} s (target <= 5 s); idempotent re-run "
              f"{listed(x['rerun_seconds'] for x in r)} s, {r[0]['rerun_created']} new", flush=True)


# ------------------------------------------------------------------ 3. incremental


def next_delivery(share: float = 0.01, seed: int = 34) -> Path:
    """The 10^6 data after a delivery that changes `share` of the enterprises: their turnover,
    tax and staff figures of last year and one certificate (a new year's figures)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    src, dst = engine.dataset(1_000_000), BENCH / f"periods-1000000-next-{seed}"
    if (dst / "_done").exists():
        return dst
    dst.mkdir(parents=True, exist_ok=True)
    r = np.random.default_rng(seed)
    for part in sorted(src.glob("part-*.parquet")):
        t = pq.read_table(part)
        hit = r.random(t.num_rows) < share
        mask = pa.array(hit)
        for name in t.column_names:
            if name.endswith("@2025") and pa.types.is_integer(t.schema.field(name).type):
                col = t[name]
                scaled = pc.cast(pc.round(pc.multiply(pc.cast(col, pa.float64()), 1.3)), pa.int64())
                t = t.set_column(t.schema.get_field_index(name), name, pc.if_else(mask, scaled, col))
        for name in ("high_tech_certified",):
            if name in t.column_names:
                col = t[name]
                t = t.set_column(t.schema.get_field_index(name), name, pc.if_else(mask, pc.invert(col), col))
        pq.write_table(t, dst / part.name)
    (dst / "_done").write_text("")
    return dst


def incremental_section() -> None:
    import sqlalchemy as sa

    old, new, pols, env = engine.dataset(1_000_000), next_delivery(), policies_dir(200), audit_env()
    print("\n## 3. Incremental batch after a delivery that changes 1 % of the enterprises (SQLite)")
    changes = BENCH / "changes.parquet"
    wall, _, out = cli("data-changes", "--old", str(old), "--new", str(new), "-o", str(changes))
    print(f"  mianshen data-changes (the data side, once per delivery): {wall:.1f} s; {' '.join(out.split())[:160]}")
    base = fresh_ledger("sqlite", "inc-base")
    assert base is not None
    cli("batch", "run", "--actor", "bench", "--db", base, "--data", str(old), "-p", str(pols), "--as-of", AS_OF, env=env)
    for name in ("inc-full", "inc-changes"):
        for f in BENCH.glob(f"{name}.db*"):
            f.unlink()
        shutil.copy(BENCH / "inc-base.db", BENCH / f"{name}.db")
    full, _, _ = cli("batch", "run", "--actor", "bench", "--db", f"sqlite:///{BENCH / 'inc-full.db'}", "--data", str(new),
                     "-p", str(pols), "--as-of", AS_OF, env=env)
    inc, _, out = cli("batch", "run", "--actor", "bench", "--db", f"sqlite:///{BENCH / 'inc-changes.db'}",
                      "--changes", str(changes), "-p", str(pols), env=env)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import rules_engine.cli.main"], check=True, cwd=ROOT)  # noqa: S603
    startup = time.perf_counter() - t0
    # the same two batches through the service in one process (a scheduler or the worker: no
    # interpreter start), each timed from reading its data to the signed checkpoint
    for name in ("inc-full", "inc-changes"):
        shutil.copy(BENCH / "inc-base.db", BENCH / f"{name}-p.db")
    job = f"""
import json, sys, time, datetime as dt
from pathlib import Path
from rules_engine import service
from rules_engine.data.changes import read_changes
from rules_engine.data.datasets import load_storage_parquet
from rules_engine.data.tags import load_dictionary
from rules_engine.library.loader import load_library
d = load_dictionary(); lib = load_library(Path({str(pols)!r}), d); who = service.Actor("bench", "official")
out = {{}}
for name, read in (("full", lambda: load_storage_parquet({str(new)!r}, d)), ("changes", lambda: read_changes({str(changes)!r}, d))):
    sf = service.open_ledger("sqlite:///" + {str(BENCH)!r} + f"/inc-{{name}}-p.db")
    t = time.perf_counter()
    service.run_batch(sf, who, read(), lib.policies, dt.date(2026, 6, 30), d)
    out[name] = time.perf_counter() - t
print(json.dumps(out))
"""
    got = json.loads(subprocess.run([sys.executable, "-c", job], check=True, cwd=ROOT, capture_output=True,  # noqa: S603
                                    text=True, env={**os.environ, **env}).stdout.strip().splitlines()[-1])
    q = "SELECT policy_id, credit_code, period, amount_fen, status FROM payouts ORDER BY policy_id, credit_code"
    a, b = (sa.create_engine(f"sqlite:///{BENCH / f'{n}.db'}").connect().execute(sa.text(q)).all()
            for n in ("inc-full", "inc-changes"))
    print(f"  full batch over the new data: {full:.1f} s; batch over the change set: {inc:.2f} s = "
          f"{100 * inc / full:.1f} % (target <= 5 %); of it, starting the command (imports): {startup:.2f} s")
    print(f"  ledgers equal: {a == b} ({len(a):,} payouts each); {out.strip().splitlines()[-1][:120]}")
    print(f"  in one process (service.run_batch from reading the data to the checkpoint): full {got['full']:.2f} s, "
          f"change set {got['changes']:.2f} s = {100 * got['changes'] / got['full']:.1f} %")


# ------------------------------------------------------------------ 5. calculator


def calculator_section() -> None:
    print("\n## 5. The calculator (政策体检), one enterprise x 1,000 distinct policies")
    for n in (200, 1000):
        c = engine.calculator(policies=engine.policy_set(n))
        print(f"  {n} policies: median {c['median_ms']:.1f} ms, p95 {c['p95_ms']:.1f} ms (200 sample enterprises; "
              f"target for 1,000: median <= 10 ms, p95 <= 20 ms)")


# ------------------------------------------------------------------ 4. province


def province_section(spark_rows: int) -> None:
    import pyarrow.parquet as pq

    data, pols = engine.dataset(10_000_000), policies_dir(1000)
    print(f"\n## 4. Province: 10^7 enterprises x 1,000 distinct policies ({engine.shapes(engine.policy_set(1000))}), "
          "streamed from storage Parquet to one Parquet file")
    out = BENCH / "province-rows.parquet"
    wall, rss, text = cli("match", "--data", str(data), "-p", str(pols), "--as-of", AS_OF, "-o", str(out))
    rows = pq.ParquetFile(out).metadata.num_rows
    print(f"  mianshen match -o: {wall:.0f} s wall (target <= 600 s), peak RSS {rss:.0f} MiB (target <= 4,096); "
          f"匹配 {seconds('匹配', text):.0f} s, writing {seconds('写出', text.replace('）', ' ')):.0f} s; "
          f"{rows:,} rows, {out.stat().st_size / 2**20:.0f} MiB")
    if not spark_rows:
        return
    # Spark, local mode, on the first `spark_rows` enterprises: the same rows as the engine's
    sub = BENCH / f"spark-{spark_rows}.parquet"
    table = pq.read_table(data / "part-00000.parquet").slice(0, spark_rows)
    pq.write_table(table, sub)
    here, there = BENCH / f"spark-{spark_rows}-vectorized.parquet", BENCH / f"spark-{spark_rows}-rows.parquet"
    w1, _, _ = cli("match", "--data", str(sub), "-p", str(pols), "--as-of", AS_OF, "-o", str(here))
    w2, _, _ = cli("match", "--backend", "spark", "--partitions", "2", "--data", str(sub), "-p", str(pols),
                      "--as-of", AS_OF, "-o", str(there))
    import pandas as pd

    a = pd.read_parquet(here).sort_values(["policy", "credit_code"], ignore_index=True)
    b = pd.read_parquet(there).sort_values(["policy", "credit_code"], ignore_index=True)
    print(f"  {spark_rows:,} x 1,000 on Spark local[2]: {w2:.0f} s wall (vectorized {w1:.1f} s); "
          f"rows identical: {a.astype(str).equals(b.astype(str))} ({len(a):,} rows)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--province", action="store_true", help="also 10^7 x 1,000 streamed to Parquet, and Spark")
    ap.add_argument("--spark-rows", type=int, default=50_000, help="enterprises matched on Spark too (0: none)")
    ap.add_argument("--only", choices=["match", "batch", "incremental", "calculator", "province"])
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}; {dt.date.today()}")
    sections = {"match": match_section, "batch": batch_section, "incremental": incremental_section,
                "calculator": calculator_section}
    for name, fn in sections.items():
        if args.only in (None, name):
            fn()
    if args.only == "province" or (args.only is None and args.province):
        province_section(args.spark_rows)


if __name__ == "__main__":
    main()
