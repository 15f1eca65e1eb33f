"""Configuration: TOML in, frozen dataclasses out, secrets from the environment.

Lookup order for the file: ``--config`` > ``$ALERTSVC_CONFIG`` > ``./alertsvc.toml`` >
built-in defaults (the embedded setup: SQLite file, bundled demo data, local provider
simulator). ``$ALERTSVC_DATABASE_URL``, ``$ALERTSVC_TWILIO_BASE_URL`` and
``$ALERTSVC_FCM_BASE_URL`` override the matching keys. Secrets are never in the file:
the file names the environment variable that holds each one.

Every problem raises ``ConfigError`` naming the exact key and what was expected.

Import from here (``from alertsvc.config import Settings, load_settings``); the modules
behind it are one idea each:

* ``settings``  — ``Settings`` and the service's own sections, with their defaults
* ``providers`` — [twilio], [fcm], [fax], [line], [email] and ``is_loopback_url``
* ``watcher``   — [watcher] and [[watcher.stations]]: fields, reading, checks
* ``coerce``    — a TOML table -> a typed dataclass, or ``ConfigError`` naming the key
* ``load``      — file lookup, environment overrides and the cross-key checks
"""

from __future__ import annotations

from alertsvc.config.load import find_config_path, load_settings
from alertsvc.config.providers import (
    EmailSettings,
    FaxSettings,
    FcmSettings,
    LineSettings,
    TwilioSettings,
    is_loopback_url,
)
from alertsvc.config.settings import (
    ApprovalSettings,
    DatabaseSettings,
    DataSettings,
    DispatchSettings,
    DutyContact,
    DutySettings,
    ExerciseSettings,
    MunicipalitySettings,
    RateSettings,
    RegistrySettings,
    Secret,
    Settings,
    TargetingSettings,
    WebhookSettings,
)
from alertsvc.config.watcher import (
    WATCH_POLICIES,
    WATCH_SOURCES,
    StationSettings,
    WatcherSettings,
)

__all__ = [
    "WATCH_POLICIES",
    "WATCH_SOURCES",
    "ApprovalSettings",
    "DataSettings",
    "DatabaseSettings",
    "DispatchSettings",
    "DutyContact",
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
