#!/usr/bin/env bash
# Set up (with the benchmark extras), then run every benchmark and print its figures.
# About 40 minutes: 10^6 × 200 with Polars and DuckDB side by side ~12, province scale (10^7
# enterprises, generated once into out/bench/ in ~7) ~10, the ledger and evaluator comparison ~10;
# the backends comparison (10^6 rows in process, in PostgreSQL, on Spark local[1/2/4]) ~5 more;
# what users run (#34: match, batch run, incremental, calculator, 10^7 x 1,000 to Parquet, Spark) ~25 more.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/sysdeps.sh  # Java for Spark local mode
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev,bench]'
MIANSHEN_TEST_PG_URL=$(bash scripts/pg.sh)
export MIANSHEN_TEST_PG_URL
.venv/bin/python benchmarks/engine.py --province "$@"
.venv/bin/python benchmarks/durable_events.py
.venv/bin/python benchmarks/backends.py --rows 1000000
.venv/bin/python benchmarks/periods.py --rows 1000000
.venv/bin/python benchmarks/user_path.py --province
