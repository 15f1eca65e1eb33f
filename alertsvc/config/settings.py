"""The settings tree: ``Settings`` and the service's own sections, with their defaults.

One frozen dataclass per TOML table: [database], [municipality], [data], [targeting],
[registry], [rates], [dispatch], [exercise], [approval], [webhooks] and [duty]. The
provider sections are in ``providers``, the watcher's in ``watcher``. ``Secret`` wraps a
value read from the environment so that it never shows in a repr or a log line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from alertsvc.config.providers import (
    EmailSettings,
    FaxSettings,
    FcmSettings,
    LineSettings,
    TwilioSettings,
)
from alertsvc.config.watcher import WatcherSettings

__all__ = [
    "ApprovalSettings",
    "DataSettings",
    "DatabaseSettings",
    "DispatchSettings",
    "DutyContact",
    "DutySettings",
    "ExerciseSettings",
    "MunicipalitySettings",
    "RateSettings",
    "RegistrySettings",
    "Secret",
    "Settings",
    "TargetingSettings",
    "WebhookSettings",
]


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
class Settings:
    """The whole configuration: one attribute per TOML table (``load._SECTIONS``)."""

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
