"""The alertsvc exception tree.

Per-recipient delivery outcomes are *not* exceptions (see ``alertsvc.models.Outcome``);
exceptions are for our own mistakes, bad input and unreachable infrastructure.

* AlertsvcError                  base; ``exit_code`` tells the CLI how to exit
  + ConfigError                  bad config file or missing secret (exit 1, at start)
  + InputError                   bad input file or argument; nothing was written (exit 3)
    - ZoneDataError              unreadable polygons, invalid geometry, missing CRS
    - ShelterDataError           unreadable or inconsistent shelter file
    - RegisterDataError          register CSV rows that fail validation (carries all rows)
    - ScopeError                 an alert scope that names nothing or is malformed
  + StorageError                 database unreachable or schema out of date (exit 1)
  + NotFound                     an id that does not exist (exit 3; also a LookupError)
  + GaugeError                   river gauge problems
    - GaugeUnavailable           source down or timed out
    - GaugeDataInvalid           payload parsed but fails sanity checks
  + ChannelMisconfigured         a channel cannot work at all (bad credentials, no sender)
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AlertsvcError",
    "ChannelMisconfigured",
    "ConfigError",
    "GaugeDataInvalid",
    "GaugeError",
    "GaugeUnavailable",
    "InputError",
    "NotFound",
    "RegisterDataError",
    "RowError",
    "ScopeError",
    "ShelterDataError",
    "StorageError",
    "ZoneDataError",
]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INVALID_INPUT = 3


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in one place of an input file.

    ``line`` is the 1-based physical line (CSV) or the 0-based feature index (geo
    files, with ``column`` naming the feature or field); ``column`` is the header name.
    """

    line: int
    column: str
    message: str

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "column": self.column, "message": self.message}

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line >= 0 else "file"
        col = f", column {self.column}" if self.column else ""
        return f"{where}{col}: {self.message}"


class AlertsvcError(Exception):
    """Something went wrong in alertsvc."""

    exit_code: int = EXIT_FAILURE

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.__doc__ or self.__class__.__name__)

    @property
    def message(self) -> str:
        return str(self.args[0])


class ConfigError(AlertsvcError):
    """The configuration is invalid or a required secret is missing."""


class InputError(AlertsvcError):
    """The input is invalid; nothing was written."""

    exit_code = EXIT_INVALID_INPUT

    def __init__(self, message: str | None = None, errors: list[RowError] | None = None) -> None:
        super().__init__(message)
        self.errors: list[RowError] = list(errors or [])


class ZoneDataError(InputError):
    """The zone file cannot be imported."""


class ShelterDataError(InputError):
    """The shelter file cannot be imported."""


class RegisterDataError(InputError):
    """The register file has invalid rows; nothing was written."""


class ScopeError(InputError):
    """The alert scope is invalid or names nothing."""


class StorageError(AlertsvcError):
    """The database is unreachable or its schema is out of date."""


class NotFound(AlertsvcError, LookupError):
    """No such object."""

    exit_code = EXIT_INVALID_INPUT


class GaugeError(AlertsvcError):
    """A river gauge could not be read."""


class GaugeUnavailable(GaugeError):
    """The gauge source is down or timed out; the last good reading is kept."""


class GaugeDataInvalid(GaugeError):
    """The gauge payload parsed but fails sanity checks."""


class ChannelMisconfigured(AlertsvcError):
    """A delivery channel cannot work at all (bad credentials, unknown sender)."""
