#!/usr/bin/env bash
# The README's test command: set up, lint, type-check, run the whole suite.
# PostgreSQL tests run when $ALERTSVC_TEST_POSTGRES_URL is set (.ci/run sets it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check alertsvc tests scripts
.venv/bin/ruff format --check alertsvc tests scripts
.venv/bin/mypy alertsvc
.venv/bin/python -m pytest "$@"
