#!/usr/bin/env bash
# Create .venv (Python 3.11) and install alertsvc with its development tools.
# Idempotent: a second run only reinstalls when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
"$PY" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' \
  || { echo "alertsvc needs Python 3.11 (found: $("$PY" --version 2>&1))" >&2; exit 1; }
# FAX pages need a Japanese TrueType font (reportlab embeds TrueType outlines only, so
# not the CFF-based fonts-noto-cjk); the FAX tests read the PDF back with pdftotext
if [ "$(id -u)" = 0 ] && { [ ! -f /usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf ] \
    || ! command -v pdftotext >/dev/null 2>&1; }; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    fonts-ipaexfont-gothic poppler-utils) >/dev/null 2>&1 \
    || echo "fonts-ipaexfont-gothic / poppler-utils not installable: FAX cannot render" >&2
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
# the door-knock PDF embeds a Japanese font found at run time, and its tests read the PDF
# back with poppler's pdftotext/pdftoppm: Debian packages, installed only when we are root
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  missing=""
  [ -e /usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf ] \
    || ls /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc >/dev/null 2>&1 \
    || missing="$missing fonts-ipaexfont"
  command -v pdftotext >/dev/null 2>&1 || missing="$missing poppler-utils"
  if [ -n "$missing" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null 2>&1 \
           && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null 2>&1; } \
      || echo "setup: could not install$missing; the PDF tests will skip" >&2
  fi
fi
