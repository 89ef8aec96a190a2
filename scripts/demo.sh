#!/usr/bin/env bash
# Set up, match the bundled sample enterprises against the policy library (summary printed,
# results in out/results.csv), then open the web UI on the same data: http://127.0.0.1:8501
# (demo accounts in the README) and on a demo ledger (out/demo/ledger.db, made once: a batch run
# and its 公示 dated back so the notice has ended and approval is open today). PORT, ADDRESS and
# MIANSHEN_DB (another ledger) may be set in the environment.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/mianshen match --out out/results.csv "$@"
[ -f "${MIANSHEN_AUDIT_KEY:-out/keys/audit-ed25519.pem}" ] || .venv/bin/mianshen audit init-key  # once: the key that signs audit checkpoints
if [ -z "${MIANSHEN_DB:-}" ]; then
  export MIANSHEN_DB=sqlite:///out/demo/ledger.db
  [ -f out/demo/ledger.db ] || .venv/bin/mianshen batch demo --db "$MIANSHEN_DB"
fi
echo "web UI: http://${ADDRESS:-127.0.0.1}:${PORT:-8501}  (accounts: guanyuan / guanyuan-demo, fuhe / fuhe-demo, qiye01 / qiye01-demo, qiye02 / qiye02-demo, shenji / shenji-demo, caiwu / caiwu-demo)"
export MIANSHEN_DEMO=1  # the demo accounts (passwords in the README) sign in only in demo mode
exec .venv/bin/streamlit run ui/server.py --server.headless true --server.address "${ADDRESS:-127.0.0.1}" \
  --server.port "${PORT:-8501}" --browser.gatherUsageStats false
