"""Token bucket per channel (SMS messages/s, calls/s, push/s).

One bucket per channel per process, shared by the ``--concurrency`` threads of that
process. With several worker processes the configured rate applies to each process: set
``rates.*`` to the provider's limit divided by the number of processes (documented in the
state machine README). The clock is injectable so tests never sleep.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from alertsvc.config import RateSettings
from alertsvc.models import ChannelName

__all__ = ["TokenBucket", "buckets_from_settings"]


class TokenBucket:
    """``rate`` tokens per second, holding at most ``capacity`` (default: one second's worth).

    Thread-safe. ``take_up_to`` never blocks: the worker claims only as many rows as it
    got tokens for, so no claimed row waits on the limiter while its lease runs.
    """

    def __init__(
        self,
        rate: float,
        capacity: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be greater than 0")
        self.rate = float(rate)
        self.capacity = float(capacity) if capacity is not None else max(1.0, self.rate)
        if self.capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._clock = clock
        self._tokens = self.capacity  # start full: the first burst goes out at once
        self._last = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._last)
        self._last = now
        self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)

    @property
    def available(self) -> float:
        with self._lock:
            self._refill()
            return self._tokens

    def take_up_to(self, n: int) -> int:
        """Take as many whole tokens as are available, at most ``n``; returns how many."""
        if n <= 0:
            return 0
        with self._lock:
            self._refill()
            got = min(n, int(self._tokens))
            self._tokens -= got
            return got

    def give_back(self, n: int) -> None:
        """Return ``n`` unused tokens (claimed fewer rows than tokens taken)."""
        if n <= 0:
            return
        with self._lock:
            self._tokens = min(self.capacity, self._tokens + n)

    def wait_time(self, n: int = 1) -> float:
        """Seconds until ``n`` tokens (at most ``capacity``) will be available."""
        with self._lock:
            self._refill()
            need = min(float(n), self.capacity) - self._tokens
            return max(0.0, need / self.rate)


def buckets_from_settings(
    rates: RateSettings, clock: Callable[[], float] = time.monotonic
) -> dict[ChannelName, TokenBucket]:
    """One token bucket per channel, from ``[rates]`` (per process)."""
    return {
        ChannelName.PUSH: TokenBucket(rates.push_per_second, clock=clock),
        ChannelName.SMS: TokenBucket(rates.sms_per_second, clock=clock),
        ChannelName.VOICE: TokenBucket(rates.calls_per_second, clock=clock),
        ChannelName.FAX: TokenBucket(rates.fax_per_second, clock=clock),
        ChannelName.LINE: TokenBucket(rates.line_per_second, clock=clock),
        ChannelName.EMAIL: TokenBucket(rates.email_per_second, clock=clock),
    }
