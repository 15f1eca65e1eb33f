#!/usr/bin/env bash
# Create .venv (Python 3.11) and install alertsvc with its development tools.
# Idempotent: a second run only reinstalls when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
"$PY" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' \
  || { echo "alertsvc needs Python 3.11 (found: $("$PY" --version 2>&1))" >&2; exit 1; }
# FAX pages and door-knock sheets need a Japanese font (alertsvc/reports/fonts.py finds
# it); their tests read the PDFs back with poppler's pdftotext/pdftoppm. Debian packages, installed only when we are root.
if [ "$(id -u)" = 0 ] && { [ ! -f /usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf ] \
    || ! command -v pdftotext >/dev/null 2>&1; }; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    fonts-ipaexfont-gothic poppler-utils) >/dev/null 2>&1 \
    || echo "fonts-ipaexfont-gothic / poppler-utils not installable: FAX pages and PDF sheets cannot render" >&2
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.alertsvc-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[dev]'
  touch "$stamp"
fi
