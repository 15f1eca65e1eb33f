"""Synthetic gauge documents for tests, replays and benchmarks (labelled synthetic)."""

from __future__ import annotations

import datetime as dt
import json

__all__ = ["river_station_doc"]


def river_station_doc(
    now: dt.datetime, values: list[float], *, name: str = "合成観測所 (synthetic)"
) -> str:
    """A 川の防災情報-shaped station document: lines 3/4/5/6 m, 10-minute values ending at
    ``now``, every one valid (``stgCcd`` 0)."""
    start = now - dt.timedelta(minutes=10 * (len(values) - 1))
    return json.dumps(
        {
            "obsFcd": "0901000400101",
            "obsNm": name,
            "warnStg": 3.0,
            "spclWarnStg": 4.0,
            "dngStg": 5.0,
            "fldStg": 6.0,
            "min10Values": [
                {
                    "obsTime": (start + dt.timedelta(minutes=10 * i)).isoformat(),
                    "stg": v,
                    "stgCcd": 0,
                }
                for i, v in enumerate(values)
            ],
        }
    )
