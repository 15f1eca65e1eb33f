"""Loading: find the file, read the TOML, build ``Settings``, apply the environment, check.

Lookup order for the file: ``--config`` > ``$ALERTSVC_CONFIG`` > ``./alertsvc.toml`` >
built-in defaults (the embedded setup: SQLite file, bundled demo data, local provider
simulator). ``$ALERTSVC_DATABASE_URL``, ``$ALERTSVC_TWILIO_BASE_URL`` and
``$ALERTSVC_FCM_BASE_URL`` override the matching keys. Secrets are never in the file:
the file names the environment variable that holds each one.

Every problem raises ``ConfigError`` naming the exact key and what was expected: a type
error from ``coerce``, a bad value from ``_validate`` here (the watcher's own checks are
``watcher.validate_watcher``).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import is_dataclass, replace
from pathlib import Path
from typing import Any, get_type_hints

from alertsvc.config.coerce import build
from alertsvc.config.settings import DatabaseSettings, Settings
from alertsvc.config.watcher import build_watcher, validate_watcher
from alertsvc.errors import ConfigError

__all__ = ["find_config_path", "load_settings"]


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
            sections["watcher"] = build_watcher(value, f"{where}: watcher")
            continue
        sections[_SECTIONS[key]] = build(cls, value, f"{where}: {key}")
    settings = Settings(**sections, source=resolved)
    settings = _apply_env_overrides(settings, env)
    _validate(settings, where)
    return settings


def _section_class(attr: str) -> type[Any]:
    hints = get_type_hints(Settings)
    cls = hints[attr]
    assert is_dataclass(cls)
    return cls  # type: ignore[return-value]


def _apply_env_overrides(settings: Settings, env: Mapping[str, str]) -> Settings:
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
    validate_watcher(s.watcher, where)
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
