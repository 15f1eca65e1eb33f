#!/usr/bin/env bash
# The README's demo command: set up a fresh machine and run the whole path on the
# embedded default (SQLite file, bundled demo data, local provider simulator).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/alertsvc demo "$@"
