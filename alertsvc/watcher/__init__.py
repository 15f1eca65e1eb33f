"""The river watcher: gauge sources, a pure decision core, and the store of what it decided.

* ``readings``  typed readings and thresholds every source yields
* ``sources``   one module per gauge source (parsers are pure; fetching goes through ``http``)
* ``decide``    the pure decision core: thresholds -> 警戒レベル, debounce, hysteresis,
  lead-time prediction, stale data (no I/O)
* ``store``     watch_events and per-station state in the database
* ``service``   one poll: fetch, decide, record, draft or send
"""

from __future__ import annotations

__all__: list[str] = []
