"""Services: the use cases the CLI and the watcher call (preview, send, …).

They load from the database, call the pure cores (targeting, planning) and write
through the outbox. Dependencies point downward: cli → services → rooms → db.
"""

from __future__ import annotations
