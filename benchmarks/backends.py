"""The same match where the data lives: vectorized (in process), PostgreSQL (in database) and
Spark local mode with 1, 2 and 4 partitions, on this machine.

    MIANSHEN_TEST_PG_URL=$(bash scripts/pg.sh) .venv/bin/python benchmarks/backends.py [--rows 1000000]

Each backend computes every (enterprise, policy) result of the 29 active library policies and
the job keeps what a batch needs: eligible pairs with amounts, counted and summed where they
are computed. The three totals must be equal; the script stops if they are not.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from rules_engine import generate, ir, spark_backend, sql_backend, vectorized  # noqa: E402
from rules_engine.cli import DEFAULT_POLICIES  # noqa: E402
from rules_engine.datasets import load_storage_parquet, write_storage_parquet  # noqa: E402
from rules_engine.loader import load_library  # noqa: E402
from rules_engine.tags import load_dictionary  # noqa: E402

AS_OF = dt.date(2026, 6, 30)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    d = load_dictionary()
    policies = load_library(DEFAULT_POLICIES, d).active()
    path = ROOT / "out" / "bench" / f"backends-{args.rows}.parquet"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_storage_parquet(generate.with_gaps(generate.generate(args.rows)), path)
    df = load_storage_parquet(path, d).frame
    n = len(df)
    print(f"{n:,} enterprises × {len(policies)} policies = {n * len(policies):,} pairs; 2 cores")

    t = time.perf_counter()
    res = vectorized.match(df, policies, AS_OF, explain_failures=False)
    elig = sum(int(((r.status_sparse == ir.Status.ELIGIBLE) & (r.amount_sparse > 0)).sum()) for r in res.results)
    fen = sum(int(r.amount_sparse[(r.status_sparse == ir.Status.ELIGIBLE)].clip(min=0).sum()) for r in res.results)
    base = time.perf_counter() - t
    print(f"vectorized (in process)       {base:8.2f} s   eligible {elig:,}  {fen:,} fen")

    url = os.environ.get("MIANSHEN_TEST_PG_URL")
    if url:
        engine = sa.create_engine(url)
        t = time.perf_counter()
        with engine.begin() as conn:
            sql_backend.write_table(conn, "bench_enterprises", df, d)
            conn.exec_driver_sql("ANALYZE bench_enterprises")
        print(f"  (loading the table into PostgreSQL: {time.perf_counter() - t:.1f} s, not counted)")
        with engine.begin() as conn:
            table = sql_backend.reflect(conn, "bench_enterprises")
            t = time.perf_counter()
            written = sql_backend.match_into(conn, table, policies, AS_OF, "bench_results")
            pg_s = time.perf_counter() - t
            pg = conn.execute(sa.text("SELECT count(*), coalesce(sum(amount_fen), 0) FROM bench_results "
                                      "WHERE status = 'eligible' AND amount_fen > 0")).one()
            conn.exec_driver_sql("DROP TABLE bench_results")
        assert (pg[0], int(pg[1])) == (elig, fen), (pg, elig, fen)
        print(f"PostgreSQL (INSERT…SELECT)    {pg_s:8.2f} s   {written:,} result rows into a table; same totals")
    else:
        print("PostgreSQL: skipped (set MIANSHEN_TEST_PG_URL=$(bash scripts/pg.sh))")

    from pyspark.sql import functions as F

    times = {}
    for parts in (1, 2, 4):
        spark = spark_backend.local_session(parts, f"bench-{parts}")
        sdf = spark.read.parquet(str(path)).repartition(parts).cache()
        sdf.count()
        out, _ = spark_backend.match_frame(sdf, policies, AS_OF)
        ok = out.where((F.col("status") == 2) & (F.col("amount_fen") > 0))
        t = time.perf_counter()
        row = ok.agg(F.count("*").alias("n"), F.sum("amount_fen").alias("fen")).collect()[0]
        times[parts] = time.perf_counter() - t
        assert (row["n"], int(row["fen"])) == (elig, fen), (row, elig, fen)
        print(f"Spark local[{parts}], {parts} partition(s) {times[parts]:8.2f} s   same totals; "
              f"speed-up over 1: {times[1] / times[parts]:.2f}×")
        spark.stop()
    per_pair = times[1] / (n * len(policies))
    print(f"Spark, one core: {per_pair * 1e9:.0f} ns per pair")
    national = 1.8e8 * len(policies)
    for cores in (64, 256):
        print(f"estimate, 1.8×10^8 entities × {len(policies)} policies on {cores} cores at 80% efficiency: "
              f"{national * per_pair / (cores * 0.8) / 60:.1f} min")


if __name__ == "__main__":
    main()
