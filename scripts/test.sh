#!/usr/bin/env bash
# Set up, then run every check CI runs: lint, types, the policy library, the test suite
# (the ledger tests run against SQLite and a real PostgreSQL server started here; Spark runs
# in local mode; the UI is driven in Debian's Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/sysdeps.sh
MIANSHEN_TEST_PG_URL=$(bash scripts/pg.sh)
export MIANSHEN_TEST_PG_URL
trap 'bash scripts/pg.sh stop' EXIT  # the test server does not outlive the tests
.venv/bin/ruff check rules_engine tests ui
.venv/bin/mypy
.venv/bin/mianshen validate
.venv/bin/mianshen test
# The sample library is pinned to the sample data's date (2026-06-30), so that CI does
# not turn red on the day its policies expire; `mianshen lint` alone judges by today.
.venv/bin/mianshen lint --today 2026-06-30
# One worker per core (at most 4), each test file on one worker (module fixtures are built
# once); every worker has its own PostgreSQL database on the one server (tests/conftest.py).
.venv/bin/python -m pytest -q --durations=15 -n auto --maxprocesses 4 --dist loadfile --ignore tests/test_ui_speed.py "$@"
# The UI's speed is timed alone: a second worker on the same cores would time the machine.
.venv/bin/python -m pytest -q tests/test_ui_speed.py
