#!/usr/bin/env bash
# Set up, then run every check CI runs: lint, types, the policy library, the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check rules_engine tests
.venv/bin/mypy
.venv/bin/mianshen validate
.venv/bin/mianshen test
.venv/bin/python -m pytest "$@"
