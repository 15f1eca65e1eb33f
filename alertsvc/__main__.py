from __future__ import annotations

from alertsvc.cli import main

main()
