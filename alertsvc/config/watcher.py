"""The river watcher's section: [watcher] and its [[watcher.stations]] array of tables.

``WatcherSettings`` holds the poll, debounce, trend and scheduler timings;
``StationSettings`` one watched gauge (its source, its lines in metres, and the zone sets
and policy of each 警戒レベル). ``build_watcher`` reads the section, ``validate_watcher``
checks it; both raise ``ConfigError`` naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from alertsvc.config.coerce import build
from alertsvc.errors import ConfigError

__all__ = [
    "WATCH_POLICIES",
    "WATCH_SOURCES",
    "StationSettings",
    "WatcherSettings",
    "build_watcher",
    "validate_watcher",
]

# gauge source kinds a [[watcher.stations]] entry may name (modules in alertsvc.watcher.sources)
WATCH_SOURCES = (
    "area_feed",
    "river_json",
    "suimon_dat",
    "uk_ea",
    "usgs",
    "generic_json",
    "generic_csv",
)
WATCH_POLICIES = ("recommend", "auto")


@dataclass(frozen=True)
class StationSettings:
    """One watched gauge: where it is read, its lines, and what each 警戒レベル does."""

    id: str = ""
    source: str = ""
    # the document URL (http(s) or file://); uk_ea also needs measures_url
    url: str = ""
    measures_url: str = ""
    # the station's code in the source document (default: id)
    code: str = ""
    name: str = ""
    # lines in metres overriding the source's (0 = take the source's; level2 = 氾濫注意水位)
    level2_m: float = 0.0
    level3_m: float = 0.0
    level4_m: float = 0.0
    level5_m: float = 0.0
    # 危機管理型水位計: which 警戒レベル the feed's 危険水位 / 氾濫開始水位 stand for (0 = none)
    warn_level_is: int = 3
    flad_level_is: int = 4
    # zone sets alerted at each level (level 4/5 default to the level below)
    zone_sets_level3: tuple[str, ...] = ()
    zone_sets_level4: tuple[str, ...] = ()
    zone_sets_level5: tuple[str, ...] = ()
    # recommend: draft + notify the duty officers; auto: send without a person
    policy_level3: str = "recommend"
    policy_level4: str = "recommend"
    policy_level5: str = "recommend"
    # generic_json / generic_csv field paths
    id_field: str = ""
    time_field: str = ""
    level_field: str = ""
    items_path: str = ""
    quality_field: str = ""
    valid_quality: tuple[str, ...] = ()

    @property
    def source_code(self) -> str:
        return self.code or self.id

    def lines(self) -> dict[int, float]:
        """The configured overrides, level -> metres (only those set)."""
        values = {2: self.level2_m, 3: self.level3_m, 4: self.level4_m, 5: self.level5_m}
        return {k: v for k, v in values.items() if v}

    def zone_sets(self, level: int) -> tuple[str, ...]:
        chain = (self.zone_sets_level3, self.zone_sets_level4, self.zone_sets_level5)
        for sets in reversed(chain[: level - 2]):
            if sets:
                return sets
        return ()

    def policy(self, level: int) -> str:
        return {3: self.policy_level3, 4: self.policy_level4, 5: self.policy_level5}[level]


@dataclass(frozen=True)
class WatcherSettings:
    # poll interval of the scheduler in `serve` (cron runs `watch --once` on its own)
    poll_seconds: float = 300.0
    connect_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 10.0
    # retries on connection errors only
    retries: int = 2
    consecutive: int = 2
    rise_rate_m_per_h: float = 0.5
    lead_time_minutes: float = 60.0
    trend_window_minutes: float = 60.0
    trend_min_points: int = 3
    hysteresis_m: float = 0.1
    leave_readings: int = 2
    all_clear_minutes: float = 60.0
    max_age_minutes: float = 30.0
    impossible_rate_m_per_h: float = 5.0
    # scheduler: how late a job may still run, and the follower's retry interval
    misfire_grace_seconds: float = 60.0
    leader_retry_seconds: float = 5.0
    # scheduler in `serve`: dispatcher wake-ups and escalation checks
    dispatch_wakeup_seconds: float = 5.0
    escalation_check_seconds: float = 10.0
    stations: tuple[StationSettings, ...] = ()


def build_watcher(values: Mapping[str, Any], prefix: str) -> WatcherSettings:
    """[watcher] with its [[watcher.stations]] array of tables."""
    rest = dict(values)
    raw_stations = rest.pop("stations", [])
    if not isinstance(raw_stations, list):
        raise ConfigError(f"{prefix}.stations: expected [[watcher.stations]] tables")
    stations = []
    for i, raw in enumerate(raw_stations):
        if not isinstance(raw, dict):
            raise ConfigError(f"{prefix}.stations[{i}]: expected a table")
        stations.append(build(StationSettings, raw, f"{prefix}.stations[{i}]"))
    built = build(WatcherSettings, rest, prefix)
    return replace(built, stations=tuple(stations))


def validate_watcher(w: WatcherSettings, where: str) -> None:
    """Positive timings, and every station complete and unique."""
    for key in (
        "poll_seconds",
        "connect_timeout_seconds",
        "read_timeout_seconds",
        "consecutive",
        "lead_time_minutes",
        "trend_window_minutes",
        "trend_min_points",
        "leave_readings",
        "all_clear_minutes",
        "max_age_minutes",
        "impossible_rate_m_per_h",
        "misfire_grace_seconds",
        "leader_retry_seconds",
        "dispatch_wakeup_seconds",
        "escalation_check_seconds",
        "rise_rate_m_per_h",
    ):
        if getattr(w, key) <= 0:
            raise ConfigError(f"{where}: watcher.{key}: must be greater than 0")
    if w.retries < 0 or w.hysteresis_m < 0:
        raise ConfigError(f"{where}: watcher.retries and watcher.hysteresis_m must be >= 0")
    seen: set[str] = set()
    for i, st in enumerate(w.stations):
        key = f"{where}: watcher.stations[{i}]"
        if not st.id:
            raise ConfigError(f"{key}.id: required")
        if st.id in seen:
            raise ConfigError(f"{key}.id: duplicate station id {st.id!r}")
        seen.add(st.id)
        if st.source not in WATCH_SOURCES:
            raise ConfigError(f"{key}.source: expected one of {', '.join(WATCH_SOURCES)}")
        if not st.url.startswith(("http://", "https://", "file://")):
            raise ConfigError(f"{key}.url: expected an http(s):// or file:// URL, got {st.url!r}")
        if st.source == "uk_ea" and not st.measures_url:
            raise ConfigError(f"{key}.measures_url: required for source uk_ea")
        if st.source.startswith("generic") and not (
            st.id_field and st.time_field and st.level_field
        ):
            raise ConfigError(f"{key}: id_field, time_field and level_field are required")
        for level in (3, 4, 5):
            if st.policy(level) not in WATCH_POLICIES:
                raise ConfigError(
                    f"{key}.policy_level{level}: expected recommend or auto, "
                    f"got {st.policy(level)!r}"
                )
        if not st.zone_sets_level3:
            raise ConfigError(f"{key}.zone_sets_level3: at least one zone set is required")
        for name in ("warn_level_is", "flad_level_is"):
            if getattr(st, name) not in (0, 2, 3, 4, 5):
                raise ConfigError(f"{key}.{name}: expected 0 (unused) or a level 2-5")
        if any(v < 0 for v in st.lines().values()):
            raise ConfigError(f"{key}: a level line cannot be negative")
