"""Gauge sources, one module per source. Each exposes a pure ``parse(...) -> ParsedDoc``.

``SOURCE_KINDS`` names the kinds a ``[[watcher.stations]]`` entry may use.
"""

from __future__ import annotations

__all__ = ["SOURCE_KINDS"]

SOURCE_KINDS = (
    "area_feed",
    "river_json",
    "suimon_dat",
    "uk_ea",
    "usgs",
    "generic_json",
    "generic_csv",
)
