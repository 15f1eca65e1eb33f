"""Configuration: TOML in, frozen dataclasses out, secrets from the environment.

Lookup order for the file: ``--config`` > ``$ALERTSVC_CONFIG`` > ``./alertsvc.toml`` >
built-in defaults (the embedded setup: SQLite file, bundled demo data, local provider
simulator). ``$ALERTSVC_DATABASE_URL``, ``$ALERTSVC_TWILIO_BASE_URL`` and
``$ALERTSVC_FCM_BASE_URL`` override the matching keys. Secrets are never in the file:
the file names the environment variable that holds each one.

Every problem raises ``ConfigError`` naming the exact key and what was expected.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin, get_type_hints
from urllib.parse import urlparse

from alertsvc.errors import ConfigError

__all__ = [
    "ApprovalSettings",
    "DatabaseSettings",
    "DispatchSettings",
    "DutySettings",
    "EmailSettings",
    "ExerciseSettings",
    "FaxSettings",
    "FcmSettings",
    "LineSettings",
    "MunicipalitySettings",
    "RateSettings",
    "RegistrySettings",
    "Secret",
    "Settings",
    "StationSettings",
    "TargetingSettings",
    "TwilioSettings",
    "WatcherSettings",
    "WebhookSettings",
    "find_config_path",
    "is_loopback_url",
    "load_settings",
]


def is_loopback_url(url: str) -> bool:
    """True for http(s) URLs on 127.0.0.1 / localhost / ::1 (the provider simulator)."""
    host = (urlparse(url).hostname or "").lower()
    return host in {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class Secret:
    """A secret value that never shows in a repr or a log line."""

    value: str = field(repr=False)

    def __repr__(self) -> str:
        return "Secret(****)"

    def __str__(self) -> str:
        return "****"


@dataclass(frozen=True)
class DatabaseSettings:
    # SQLite file by default; PostgreSQL as postgresql+psycopg://user@host/db
    url: str = "sqlite:///alertsvc.db"


@dataclass(frozen=True)
class MunicipalitySettings:
    name: str = "直方市"
    code: str = "402044"
    # metric CRS for distances and the edge tolerance (JGD2011 plane rectangular II: Fukuoka)
    metric_crs: str = "EPSG:6670"
    timezone: str = "Asia/Tokyo"


@dataclass(frozen=True)
class DataSettings:
    zones_dir: str = "zones"
    recipients_dir: str = "recipients"


@dataclass(frozen=True)
class TargetingSettings:
    edge_tolerance_m: float = 30.0
    # elderly walking pace used for walking minutes to the shelter
    walking_speed_m_per_min: float = 40.0
    metres_per_storey: float = 3.0


@dataclass(frozen=True)
class RegistrySettings:
    # `registry import` refuses to deactivate more than this share of the active
    # residents (a partial export would silently drop everyone else) without
    # --allow-removals
    max_removal_share: float = 0.10


@dataclass(frozen=True)
class TwilioSettings:
    # the embedded default points the real twilio client at the local simulator
    base_url: str = "http://127.0.0.1:8765"
    account_sid: str = "AC00000000000000000000000000000000"
    auth_token_env: str = "ALERTSVC_TWILIO_TOKEN"
    from_number: str = "+815000000000"
    messaging_service_sid: str = ""
    voice: str = "Polly.Mizuki"
    sms_validity_seconds: int = 3600
    gather_timeout_seconds: int = 15


@dataclass(frozen=True)
class FcmSettings:
    base_url: str = "http://127.0.0.1:8765"
    project_id: str = "alertsvc-demo"
    # path of a service-account JSON; empty means "generate a throwaway one for the simulator"
    credentials_file: str = ""
    credentials_env: str = "ALERTSVC_FCM_CREDENTIALS"


@dataclass(frozen=True)
class RateSettings:
    sms_per_second: float = 10.0
    # Twilio places outbound calls at 1 per second by default
    calls_per_second: float = 1.0
    push_per_second: float = 500.0
    # a fax line is busy for about a minute per page; Telnyx queues what we send faster
    fax_per_second: float = 1.0
    line_per_second: float = 100.0
    email_per_second: float = 20.0


@dataclass(frozen=True)
class DispatchSettings:
    max_attempts: int = 6
    backoff_seconds: float = 2.0
    backoff_max_seconds: float = 60.0
    jitter_seconds: float = 1.0
    max_age_seconds: float = 3600.0
    lease_seconds: float = 60.0
    batch_size: int = 100
    # seconds to wait for an acknowledgement before escalating, per warning level
    ack_wait_level3_seconds: float = 900.0
    ack_wait_level4_seconds: float = 600.0
    ack_wait_level5_seconds: float = 0.0
    # a channel that cannot work (ChannelMisconfigured) is tried again after this pause;
    # meanwhile its rows age out (max_age_seconds) and fail over to the next channel
    channel_retry_seconds: float = 30.0
    # a worker that hits a database error backs off exponentially up to this pause
    db_retry_max_seconds: float = 30.0


@dataclass(frozen=True)
class ExerciseSettings:
    # E.164 numbers and push tokens that exercise (【訓練】) alerts may reach
    allow_list: tuple[str, ...] = ()


@dataclass(frozen=True)
class ApprovalSettings:
    # two-person rule: an alert needs a second officer's approval when its level is
    # listed or it reaches at least min_recipients people (0 = no count rule)
    levels: tuple[int, ...] = ()
    min_recipients: int = 0

    @property
    def configured(self) -> bool:
        return bool(self.levels) or self.min_recipients > 0

    def needs_approval(self, level: int, recipients: int, exercise: bool) -> bool:
        """Exercises never need approval; unconfigured, nothing does."""
        if exercise:
            return False
        if level in self.levels:
            return True
        return self.min_recipients > 0 and recipients >= self.min_recipients


@dataclass(frozen=True)
class WebhookSettings:
    public_url: str = "http://127.0.0.1:8766"
    host: str = "127.0.0.1"
    port: int = 8766
    # env var holding the HMAC secret for app acknowledgements (push data carries the token)
    ack_secret_env: str = "ALERTSVC_ACK_SECRET"
    # an app ack token is refused once its alert is cancelled or older than this
    ack_valid_seconds: float = 259200.0


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


@dataclass(frozen=True)
class DutyContact:
    """One duty officer (当番職員) told at once when someone asks for help."""

    name: str = ""
    phone: str = ""  # E.164
    channel: str = "sms"  # sms (a keypress on a call would answer for the resident)


@dataclass(frozen=True)
class DutySettings:
    # who is told at once, by an outbox message, when anyone answers "need help"; the
    # watcher tells the same people about drafts, stale gauges and all-clear proposals
    contacts: tuple[DutyContact, ...] = ()
    push: tuple[str, ...] = ()  # FCM tokens of the duty officers' app (watcher notices)

    @property
    def sms(self) -> tuple[str, ...]:
        """The duty officers' phone numbers (every contact's)."""
        return tuple(c.phone for c in self.contacts)


@dataclass(frozen=True)
class FaxSettings:
    # Telnyx Programmable Fax REST API (v2); the default is the loopback simulator
    base_url: str = "http://127.0.0.1:8767"
    api_key_env: str = "ALERTSVC_FAX_API_KEY"
    connection_id: str = "fax-app-demo"
    from_number: str = "+815000000001"
    # "rest" (Telnyx) or "smtp" (e-mail-to-fax gateway: <number>@gateway_domain)
    transport: str = "rest"
    gateway_domain: str = ""


@dataclass(frozen=True)
class LineSettings:
    # LINE Messaging API host; the default is the loopback simulator
    base_url: str = "http://127.0.0.1:8767"
    channel_token_env: str = "ALERTSVC_LINE_CHANNEL_TOKEN"
    channel_secret_env: str = "ALERTSVC_LINE_CHANNEL_SECRET"


@dataclass(frozen=True)
class EmailSettings:
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    starttls: bool = False
    username: str = ""
    password_env: str = "ALERTSVC_SMTP_PASSWORD"
    from_address: str = "bousai@example.jp"
    # the right-hand side of Message-IDs (<delivery key>@message_id_domain)
    message_id_domain: str = "alertsvc.invalid"


@dataclass(frozen=True)
class Settings:
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    municipality: MunicipalitySettings = field(default_factory=MunicipalitySettings)
    data: DataSettings = field(default_factory=DataSettings)
    targeting: TargetingSettings = field(default_factory=TargetingSettings)
    registry: RegistrySettings = field(default_factory=RegistrySettings)
    twilio: TwilioSettings = field(default_factory=TwilioSettings)
    fcm: FcmSettings = field(default_factory=FcmSettings)
    rates: RateSettings = field(default_factory=RateSettings)
    dispatch: DispatchSettings = field(default_factory=DispatchSettings)
    exercise: ExerciseSettings = field(default_factory=ExerciseSettings)
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
    fax: FaxSettings = field(default_factory=FaxSettings)
    line: LineSettings = field(default_factory=LineSettings)
    email: EmailSettings = field(default_factory=EmailSettings)
    watcher: WatcherSettings = field(default_factory=WatcherSettings)
    duty: DutySettings = field(default_factory=DutySettings)
    approval: ApprovalSettings = field(default_factory=ApprovalSettings)
    # where the file came from (None: built-in defaults); relative paths resolve against it
    source: Path | None = None

    def secret(self, env_name: str, env: Mapping[str, str] | None = None) -> Secret | None:
        """Read the secret held in environment variable ``env_name``, or None if unset."""
        value = (os.environ if env is None else env).get(env_name, "")
        return Secret(value) if value else None


# TOML table name -> Settings attribute
_SECTIONS = {
    "database": "database",
    "municipality": "municipality",
    "data": "data",
    "targeting": "targeting",
    "registry": "registry",
    "twilio": "twilio",
    "fcm": "fcm",
    "rates": "rates",
    "dispatch": "dispatch",
    "exercise": "exercise",
    "webhooks": "webhooks",
    "fax": "fax",
    "line": "line",
    "email": "email",
    "watcher": "watcher",
    "duty": "duty",
    "approval": "approval",
}

T = TypeVar("T")


def find_config_path(explicit: Path | None, env: Mapping[str, str]) -> Path | None:
    """Resolve which config file to read, or None for the built-in defaults."""
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"config file not found: {explicit}")
        return explicit
    from_env = env.get("ALERTSVC_CONFIG", "")
    if from_env:
        path = Path(from_env)
        if not path.is_file():
            raise ConfigError(f"$ALERTSVC_CONFIG names a missing file: {path}")
        return path
    local = Path("alertsvc.toml")
    return local if local.is_file() else None


def load_settings(path: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Load settings from ``path`` (or the lookup order above) and the environment.

    Raises ``ConfigError`` naming the key for an unknown key, a wrong type or a bad value.
    """
    env = os.environ if env is None else env
    resolved = find_config_path(path, env)
    raw: dict[str, Any] = {}
    if resolved is not None:
        try:
            with resolved.open("rb") as fh:
                raw = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{resolved}: not valid TOML: {exc}") from exc
        except OSError as exc:
            raise ConfigError(f"{resolved}: cannot read: {exc}") from exc
    where = str(resolved) if resolved else "defaults"
    sections: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in _SECTIONS:
            raise ConfigError(f"{where}: unknown section [{key}] (known: {', '.join(_SECTIONS)})")
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: [{key}] must be a table")
        cls = _section_class(_SECTIONS[key])
        if key == "watcher":
            sections["watcher"] = _build_watcher(value, f"{where}: watcher")
            continue
        sections[_SECTIONS[key]] = _build(cls, value, f"{where}: {key}")
    settings = Settings(**sections, source=resolved)
    settings = _apply_env_overrides(settings, env)
    _validate(settings, where)
    return settings


def _build_watcher(values: Mapping[str, Any], prefix: str) -> WatcherSettings:
    """[watcher] with its [[watcher.stations]] array of tables."""
    rest = dict(values)
    raw_stations = rest.pop("stations", [])
    if not isinstance(raw_stations, list):
        raise ConfigError(f"{prefix}.stations: expected [[watcher.stations]] tables")
    stations = []
    for i, raw in enumerate(raw_stations):
        if not isinstance(raw, dict):
            raise ConfigError(f"{prefix}.stations[{i}]: expected a table")
        stations.append(_build(StationSettings, raw, f"{prefix}.stations[{i}]"))
    built = _build(WatcherSettings, rest, prefix)
    from dataclasses import replace

    return replace(built, stations=tuple(stations))


def _validate_watcher(w: WatcherSettings, where: str) -> None:
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


def _section_class(attr: str) -> type[Any]:
    hints = get_type_hints(Settings)
    cls = hints[attr]
    assert is_dataclass(cls)
    return cls  # type: ignore[return-value]


def _build(cls: type[T], values: Mapping[str, Any], prefix: str) -> T:
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"{prefix}.{key}: unknown key (known: {', '.join(sorted(known))})")
        kwargs[key] = _coerce(hints[key], value, f"{prefix}.{key}")
    return cls(**kwargs)


def _coerce(expected: Any, value: Any, key: str) -> Any:
    origin = get_origin(expected)
    if origin is tuple:
        (item_type, _ellipsis) = get_args(expected)
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {type(value).__name__}")
        return tuple(_coerce(item_type, v, f"{key}[{i}]") for i, v in enumerate(value))
    if expected is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if expected is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected a whole number, got {value!r}")
        return value
    if expected is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if expected is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    if is_dataclass(expected) and isinstance(expected, type):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a table, got {value!r}")
        return _build(expected, value, key)
    raise ConfigError(f"{key}: unsupported setting type")  # pragma: no cover


def _apply_env_overrides(settings: Settings, env: Mapping[str, str]) -> Settings:
    from dataclasses import replace

    if env.get("ALERTSVC_DATABASE_URL"):
        settings = replace(settings, database=DatabaseSettings(url=env["ALERTSVC_DATABASE_URL"]))
    if env.get("ALERTSVC_TWILIO_BASE_URL"):
        settings = replace(
            settings, twilio=replace(settings.twilio, base_url=env["ALERTSVC_TWILIO_BASE_URL"])
        )
    if env.get("ALERTSVC_FCM_BASE_URL"):
        settings = replace(
            settings, fcm=replace(settings.fcm, base_url=env["ALERTSVC_FCM_BASE_URL"])
        )
    return settings


def _validate(s: Settings, where: str) -> None:
    url = s.database.url
    if not (url.startswith(("sqlite", "postgresql"))):
        raise ConfigError(
            f"{where}: database.url: expected sqlite:/// or postgresql://, got {url!r}"
        )
    positive = {
        "targeting.edge_tolerance_m": s.targeting.edge_tolerance_m,
        "targeting.walking_speed_m_per_min": s.targeting.walking_speed_m_per_min,
        "targeting.metres_per_storey": s.targeting.metres_per_storey,
        "rates.sms_per_second": s.rates.sms_per_second,
        "rates.calls_per_second": s.rates.calls_per_second,
        "rates.push_per_second": s.rates.push_per_second,
        "dispatch.lease_seconds": s.dispatch.lease_seconds,
        "dispatch.max_attempts": s.dispatch.max_attempts,
        "dispatch.batch_size": s.dispatch.batch_size,
        "webhooks.ack_valid_seconds": s.webhooks.ack_valid_seconds,
        "dispatch.channel_retry_seconds": s.dispatch.channel_retry_seconds,
        "dispatch.db_retry_max_seconds": s.dispatch.db_retry_max_seconds,
    }
    for key, value in positive.items():
        if key == "targeting.edge_tolerance_m" and value == 0:
            continue
        if value <= 0:
            raise ConfigError(f"{where}: {key}: must be greater than 0, got {value}")
    if not 0.0 <= s.registry.max_removal_share <= 1.0:
        raise ConfigError(
            f"{where}: registry.max_removal_share: expected a share from 0 to 1, got "
            f"{s.registry.max_removal_share}"
        )
    if not s.municipality.metric_crs.upper().startswith("EPSG:"):
        raise ConfigError(
            f"{where}: municipality.metric_crs: expected 'EPSG:<code>', got "
            f"{s.municipality.metric_crs!r}"
        )
    for key, base in (("twilio.base_url", s.twilio.base_url), ("fcm.base_url", s.fcm.base_url)):
        if not base.startswith(("http://", "https://")):
            raise ConfigError(f"{where}: {key}: expected an http(s) URL, got {base!r}")
    _validate_watcher(s.watcher, where)
    for i, lvl in enumerate(s.approval.levels):
        if lvl not in (3, 4, 5):
            raise ConfigError(f"{where}: approval.levels[{i}]: expected 3, 4 or 5, got {lvl}")
    if s.approval.min_recipients < 0:
        raise ConfigError(
            f"{where}: approval.min_recipients: must be 0 (off) or more, got "
            f"{s.approval.min_recipients}"
        )
    for i, duty in enumerate(s.duty.contacts):
        if not duty.phone.startswith("+") or not duty.phone[1:].isdigit():
            raise ConfigError(
                f"{where}: duty.contacts[{i}].phone: expected an E.164 number, got "
                f"{'(empty)' if not duty.phone else 'a number without +country code'}"
            )
        if duty.channel != "sms":
            raise ConfigError(
                f"{where}: duty.contacts[{i}].channel: expected 'sms', got {duty.channel!r}"
            )
    for i, entry in enumerate(s.exercise.allow_list):
        if not entry:
            raise ConfigError(f"{where}: exercise.allow_list[{i}]: empty entry")
