#!/usr/bin/env bash
# The README's test command: set up, lint, type-check, run the whole suite.
# PostgreSQL tests run when $ALERTSVC_TEST_POSTGRES_URL is set (.ci/run sets it).
# Tests run in 3 pytest-xdist processes (each gets its own PostgreSQL database and temp
# dirs): many tests wait on servers and subprocesses, so 3 beat 2 on a 2-core machine.
# ALERTSVC_TEST_WORKERS=0 runs them in this one process.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check alertsvc tests scripts
.venv/bin/ruff format --check alertsvc tests scripts
.venv/bin/mypy alertsvc
.venv/bin/python -m pytest -n "${ALERTSVC_TEST_WORKERS:-3}" "$@"
