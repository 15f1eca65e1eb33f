"""Typed gauge readings and station thresholds: what every source yields.

A reading always carries an aware observation time and a quality flag. A value of None
means "no valid reading" (closed station, missing value, bad quality code): it is never
taken as 0 m, and a station absent from a document yields no reading at all.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field

__all__ = ["LEVELS", "ParsedDoc", "Quality", "Reading", "StationMeta", "parse_time"]

# 警戒レベル the watcher raises; 2 is 氾濫注意水位 (the lowest line, used for the all-clear)
LEVELS = (3, 4, 5)


class Quality(enum.StrEnum):
    """Quality of one reading as the source states it."""

    OK = "ok"
    PROVISIONAL = "provisional"  # valid, subject to revision (USGS P, 水文水質DB *)
    MISSING = "missing"  # 欠測
    CLOSED = "closed"  # 閉局
    INVALID = "invalid"  # any other non-valid code

    @property
    def valid(self) -> bool:
        return self in (Quality.OK, Quality.PROVISIONAL)


@dataclass(frozen=True, slots=True)
class Reading:
    """One observation. ``level_m`` is None unless ``quality.valid``."""

    station_id: str
    observed_at: dt.datetime
    level_m: float | None
    quality: Quality = Quality.OK
    code: str = ""  # the source's own quality code, kept for the audit record

    def __post_init__(self) -> None:
        if self.observed_at.tzinfo is None:
            raise ValueError("Reading.observed_at must be timezone-aware")


@dataclass(frozen=True, slots=True)
class StationMeta:
    """What a source publishes about a station: name and thresholds per 警戒レベル.

    ``thresholds`` maps 2..5 to metres (2 = 氾濫注意水位 or the source's lowest line);
    ``floor_m`` is the 観測開始水位 of a 危機管理型水位計 (below it the gauge is silent).
    """

    station_id: str
    name: str = ""
    thresholds: dict[int, float] = field(default_factory=dict)
    floor_m: float | None = None


@dataclass
class ParsedDoc:
    """One source document: readings, station metadata and per-item warnings."""

    readings: list[Reading] = field(default_factory=list)
    stations: dict[str, StationMeta] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def parse_time(value: object, *, default_tz: dt.tzinfo | None = None) -> dt.datetime:
    """ISO 8601 text -> aware datetime. ValueError when unparseable or naive without default."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected an ISO 8601 time, got {value!r}")
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        if default_tz is None:
            raise ValueError(f"time without a UTC offset: {value!r}")
        parsed = parsed.replace(tzinfo=default_tz)
    return parsed
