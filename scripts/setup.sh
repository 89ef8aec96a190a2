#!/usr/bin/env bash
# Create .venv and install the project with its dev tools. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] < (3, 13)))'; then
  echo "Python 3.11 or 3.12 is required (durable-rules does not build on 3.13); found $("$PY" --version)" >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
# setuptools advises on every editable build, 3 times, that a folder named like the package may
# shadow it (it is this folder, on purpose): that advice only is silenced; deprecations are fixed in pyproject.toml
PYTHONWARNINGS="ignore:Editable installation" .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
