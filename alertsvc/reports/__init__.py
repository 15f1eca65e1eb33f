"""Officer-facing files: the preview map (HTML) and the target list (CSV)."""

from __future__ import annotations
