#!/usr/bin/env bash
# Set up, then run the main job: match the bundled sample enterprises against the policy library.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/mianshen match --out out/results.csv "$@"
