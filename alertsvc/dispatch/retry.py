"""Retry policy: a frozen value object per channel.

DEFERRED (429, 5xx, connection refused: the provider surely did not act) is retried with
exponential backoff and jitter, never earlier than the provider's Retry-After, until
``max_attempts`` or ``max_age``. UNKNOWN (the request may have been acted on) is retried
only where duplicates are harmless: push, because devices collapse notifications with the
same collapse key. SMS and voice UNKNOWN rows are shown to the officer instead.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass

from alertsvc.config import DispatchSettings
from alertsvc.dispatch.states import RESENT_AFTER_UNKNOWN
from alertsvc.models import ChannelName, Outcome

__all__ = ["Decision", "RetryDecision", "RetryPolicy", "policy_for"]

_RNG = random.Random()


class Decision(enum.StrEnum):
    SENT = "sent"  # provider accepted
    RETRY = "retry"  # queue again after ``delay``
    FAIL = "fail"  # permanent failure (rejected, or retries exhausted)
    UNKNOWN = "unknown"  # may have gone out: mark it, show it, do not resend


@dataclass(frozen=True, slots=True)
class RetryDecision:
    decision: Decision
    delay: float = 0.0  # seconds until the next attempt (RETRY only)
    reason: str = ""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When and whether to try a delivery again.

    ``attempt`` counts attempts already made (1 after the first provider call).
    """

    max_attempts: int = 6
    backoff: float = 2.0  # seconds before the second attempt; doubles each attempt
    backoff_max: float = 60.0
    jitter: float = 1.0  # uniform extra 0..jitter seconds, so retries do not stampede
    max_age: float = 3600.0  # seconds since the row was queued; an old alert is not news
    retry_unknown: bool = False  # SMS/voice: False (duplicates frighten); push: True

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if min(self.backoff, self.backoff_max, self.jitter, self.max_age) < 0:
            raise ValueError("backoff, backoff_max, jitter and max_age must not be negative")

    def delay(
        self, attempt: int, *, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait after attempt number ``attempt`` (>= 1) failed transiently.

        Exponential backoff capped at ``backoff_max`` plus jitter; never less than the
        provider's ``retry_after``.
        """
        if attempt < 1:
            raise ValueError("attempt counts from 1")
        base = min(self.backoff * 2.0 ** (attempt - 1), self.backoff_max)
        extra = (rng or _RNG).uniform(0.0, self.jitter) if self.jitter else 0.0
        wait = base + extra
        if retry_after is not None and retry_after > wait:
            wait = retry_after
        return wait

    def should_retry(self, outcome: Outcome, attempt: int) -> bool:
        """True if ``outcome`` on attempt ``attempt`` may be tried again (ignoring age)."""
        if attempt >= self.max_attempts:
            return False
        if outcome is Outcome.DEFERRED:
            return True
        return outcome is Outcome.UNKNOWN and self.retry_unknown

    def decide(
        self,
        outcome: Outcome,
        attempt: int,
        *,
        age: float,
        retry_after: float | None = None,
        rng: random.Random | None = None,
    ) -> RetryDecision:
        """What to do with a row whose attempt ``attempt`` ended in ``outcome``.

        ``age`` is seconds since the row was first queued. A retry that would start
        after ``max_age`` is not scheduled: DEFERRED becomes FAIL, UNKNOWN stays UNKNOWN
        (it may have gone out, so the officer must see it, not a failure).
        """
        if outcome is Outcome.DELIVERED:
            return RetryDecision(Decision.SENT)
        if outcome is Outcome.REJECTED:
            return RetryDecision(Decision.FAIL, reason="rejected")
        give_up = Decision.UNKNOWN if outcome is Outcome.UNKNOWN else Decision.FAIL
        if not self.should_retry(outcome, attempt):
            if outcome is Outcome.UNKNOWN and not self.retry_unknown:
                return RetryDecision(Decision.UNKNOWN, reason="may have gone out; not resent")
            return RetryDecision(give_up, reason=f"gave up after {attempt} attempts")
        wait = self.delay(attempt, retry_after=retry_after, rng=rng)
        if age + wait > self.max_age:
            return RetryDecision(give_up, reason=f"too old to retry ({age:.0f}s)")
        return RetryDecision(Decision.RETRY, delay=wait)


def policy_for(channel: ChannelName | str, settings: DispatchSettings) -> RetryPolicy:
    """The configured policy for ``channel``: same backoff, UNKNOWN retried only for push."""
    return RetryPolicy(
        max_attempts=settings.max_attempts,
        backoff=settings.backoff_seconds,
        backoff_max=settings.backoff_max_seconds,
        jitter=settings.jitter_seconds,
        max_age=settings.max_age_seconds,
        retry_unknown=str(ChannelName(channel)) in RESENT_AFTER_UNKNOWN,
    )
