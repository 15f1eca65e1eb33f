"""The demo's river: a SYNTHETIC 危機管理型水位計 series on the 遠賀川 at 直方, area-feed shaped.

Not real data. Ten-minute readings: normal, then rising about 1.2 m/h, over 氾濫開始水位,
falling back. The gauge's lines (危険水位 4.0 m -> level 3, 氾濫開始水位 5.0 m -> level 4
by the default mapping) make the watcher recommend level 3 ahead of time (lead-time
rule), raise level 4, leave both levels and propose the all-clear.
"""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

__all__ = ["DEMO_CODE", "DEMO_LEVELS", "demo_snapshots"]

DEMO_CODE = "4020400900"  # synthetic 10-digit gauge code in 直方市 (40204)
# metres, every 10 minutes
DEMO_LEVELS = (
    *(2.0, 2.0, 2.05, 2.2, 2.4, 2.6, 2.8, 3.0, 3.2, 3.4, 3.6, 3.8),
    *(4.0, 4.2, 4.4, 4.6, 4.8, 5.0, 5.2, 5.3, 5.2, 5.0, 4.7, 4.3),
    *(3.8, 3.5, 3.2, 3.0, 2.8, 2.6, 2.5, 2.4, 2.3, 2.2),
)
_JST = ZoneInfo("Asia/Tokyo")


def demo_snapshots(end: dt.datetime) -> list[tuple[dt.datetime, bytes]]:
    """One upstream-shaped document (``{"obss": [...]}``) per reading, the last at ``end``."""
    start = end - dt.timedelta(minutes=10 * (len(DEMO_LEVELS) - 1))
    out: list[tuple[dt.datetime, bytes]] = []
    for i, level in enumerate(DEMO_LEVELS):
        at = (start + dt.timedelta(minutes=10 * i)).astimezone(_JST).replace(microsecond=0)
        doc = {
            "obss": [
                {
                    "code": DEMO_CODE,
                    "name": "遠賀川／直方 (合成データ / synthetic)",
                    "obsTime": at.isoformat(),
                    "point": 9999,
                    "level": level,
                    "townCode": "40204",
                    "prefCode": "40000",
                    "over": 1 if level >= 4.0 else 0,
                    "startLevel": 1.5,
                    "warnLevel": 4.0,
                    "fladLevel": 5.0,
                    "qt": None,
                    "lat": 33.7441,
                    "lon": 130.7297,
                }
            ]
        }
        out.append((at, json.dumps(doc, ensure_ascii=False).encode("utf-8")))
    return out
