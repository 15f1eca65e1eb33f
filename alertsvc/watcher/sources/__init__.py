"""Gauge sources, one module per source. Each exposes a pure ``parse(...) -> ParsedDoc``.

The kinds a ``[[watcher.stations]]`` entry may name are ``alertsvc.config.WATCH_SOURCES``
(one list, checked when the configuration is loaded).
"""

from __future__ import annotations
