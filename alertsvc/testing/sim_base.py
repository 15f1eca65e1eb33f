"""The simulator's shared vocabulary: providers, fault settings, request and callback records.

Split out of ``alertsvc.testing.simulator`` (which re-exports everything public here) so
the Twilio and FCM wire modules and the scripted actors can share it without importing
the server.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import format_datetime
from typing import Any

from alertsvc.channels.twilio_common import mask_address

__all__ = [
    "BEHAVIOURS",
    "PROVIDERS",
    "CallbackRecord",
    "Faults",
    "Reply",
    "RequestRecord",
    "Step",
    "check_behaviour",
    "describe",
    "now",
    "rfc2822",
]

PROVIDERS: tuple[str, ...] = ("fcm", "twilio-sms", "twilio-voice")
BEHAVIOURS: tuple[str, ...] = (
    "unreachable",
    "opted_out",
    "landline",
    "invalid",
    "dead_token",
    "answers:1",
    "answers:2",
    "busy",
    "fail_first:N",
)


@dataclass(frozen=True)
class Faults:
    """Fault injection for one provider. Rates are fractions of requests (0..1)."""

    latency_ms: float = 0.0
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    # how long an injected timeout holds the answer; longer than the client's timeout
    timeout_seconds: float = 5.0
    # Retry-After sent with an injected 429
    retry_after_seconds: int = 1
    # the statuses an injected error picks from (tests force one, e.g. (429,))
    error_statuses: tuple[int, ...] = (429, 500, 503)

    def __post_init__(self) -> None:
        for name in ("error_rate", "timeout_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if self.latency_ms < 0 or self.timeout_seconds < 0:
            raise ValueError("latency_ms and timeout_seconds must not be negative")
        if not self.error_statuses or set(self.error_statuses) - {429, 500, 503}:
            raise ValueError(f"error_statuses must be some of 429, 500, 503: {self.error_statuses}")


@dataclass(frozen=True)
class RequestRecord:
    """One provider request the simulator received and how it answered."""

    provider: str
    to: str
    status: int
    at: dt.datetime
    body: Mapping[str, Any]
    path: str
    sid: str | None = None  # SM…/CA… or the FCM message name when accepted
    fault: str = ""  # "error", "timeout", "script:<behaviour>" or ""

    def as_log_line(self, *, masked: bool = True) -> dict[str, Any]:
        """The JSON log line; ``to`` is masked (``+8190****0001``) unless ``masked=False``."""
        return {
            "provider": self.provider,
            "to": mask_address(self.to) if masked else self.to,
            "status": self.status,
            "at": self.at.isoformat(),
        }


@dataclass(frozen=True)
class CallbackRecord:
    """One callback the simulator POSTed (or failed to POST) to our webhook."""

    provider: str
    url: str
    params: Mapping[str, str]
    status: int  # HTTP status our webhook answered; 0 when delivery failed
    at: dt.datetime
    error: str = ""


@dataclass
class Reply:
    """The simulator's answer to one provider request."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    after: Callable[[], None] | None = None  # runs once the answer is decided (callbacks)


# one callback the simulator will POST: (url, form params); a url of "" is skipped
Step = tuple[str, dict[str, str]]


def check_behaviour(behaviour: str) -> None:
    """Raise ``ValueError`` naming the behaviour when it is not one of ``BEHAVIOURS``."""
    if behaviour.startswith("fail_first:"):
        count = behaviour.split(":", 1)[1]
        if not count.isdigit():
            raise ValueError(f"fail_first needs a whole number, got {behaviour!r}")
        return
    if behaviour not in BEHAVIOURS:
        raise ValueError(f"unknown behaviour {behaviour!r} (known: {', '.join(BEHAVIOURS)})")


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def rfc2822(when: dt.datetime) -> str:
    return format_datetime(when, usegmt=False).replace("-0000", "+0000")


def describe(record: RequestRecord) -> str:
    """A one-line, redacted description of a request (for human CLI output)."""
    return f"{record.at:%H:%M:%S} {record.provider} {mask_address(record.to)} -> {record.status}"
