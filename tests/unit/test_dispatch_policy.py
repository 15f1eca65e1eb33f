"""Retry policy, token bucket and state machine: pure units, injected clocks, no sleeping."""

from __future__ import annotations

import random

import pytest

from alertsvc.config import DispatchSettings
from alertsvc.dispatch.ratelimit import TokenBucket
from alertsvc.dispatch.retry import Decision, RetryPolicy, policy_for
from alertsvc.dispatch.states import (
    REACHED_STATES,
    TRANSITIONS,
    DeliveryState,
    Event,
    InvalidTransition,
    sources,
    transition,
)
from alertsvc.models import ChannelName, Outcome

S = DeliveryState


# -- retry policy ------------------------------------------------------------------------


def test_backoff_doubles_and_is_capped_without_jitter() -> None:
    p = RetryPolicy(backoff=2.0, backoff_max=20.0, jitter=0.0)
    assert [p.delay(a) for a in range(1, 7)] == [2.0, 4.0, 8.0, 16.0, 20.0, 20.0]


def test_jitter_stays_within_bounds_and_varies() -> None:
    p = RetryPolicy(backoff=2.0, backoff_max=60.0, jitter=1.5)
    rng = random.Random(42)
    delays = [p.delay(2, rng=rng) for _ in range(500)]
    assert all(4.0 <= d <= 5.5 for d in delays)
    assert len({round(d, 6) for d in delays}) > 400  # really random, not a constant


def test_retry_after_is_honoured_when_longer_than_backoff() -> None:
    p = RetryPolicy(backoff=1.0, jitter=0.0)
    assert p.delay(1, retry_after=30.0) == 30.0
    assert p.delay(3, retry_after=0.5) == 4.0  # the backoff is longer: keep it


def test_deferred_is_retried_until_max_attempts() -> None:
    p = RetryPolicy(max_attempts=3, backoff=1.0, jitter=0.0)
    assert p.decide(Outcome.DEFERRED, 1, age=0).decision is Decision.RETRY
    assert p.decide(Outcome.DEFERRED, 2, age=0).decision is Decision.RETRY
    last = p.decide(Outcome.DEFERRED, 3, age=0)
    assert last.decision is Decision.FAIL
    assert "3 attempts" in last.reason


def test_deferred_past_max_age_fails() -> None:
    p = RetryPolicy(max_attempts=10, backoff=10.0, jitter=0.0, max_age=100.0)
    assert p.decide(Outcome.DEFERRED, 1, age=80.0).decision is Decision.RETRY  # 80 + 10 <= 100
    assert p.decide(Outcome.DEFERRED, 1, age=95.0).decision is Decision.FAIL


def test_retry_after_beyond_max_age_fails_rather_than_waiting() -> None:
    p = RetryPolicy(backoff=1.0, jitter=0.0, max_age=60.0)
    assert p.decide(Outcome.DEFERRED, 1, age=0, retry_after=120.0).decision is Decision.FAIL
    d = p.decide(Outcome.DEFERRED, 1, age=0, retry_after=30.0)
    assert (d.decision, d.delay) == (Decision.RETRY, 30.0)


@pytest.mark.parametrize("channel", [ChannelName.SMS, ChannelName.VOICE])
def test_unknown_is_never_retried_for_sms_and_voice(channel: ChannelName) -> None:
    p = policy_for(channel, DispatchSettings())
    for attempt in range(1, 4):
        assert p.decide(Outcome.UNKNOWN, attempt, age=0).decision is Decision.UNKNOWN
    assert not p.should_retry(Outcome.UNKNOWN, 1)


def test_unknown_push_is_retried_and_stays_unknown_when_exhausted() -> None:
    p = policy_for(ChannelName.PUSH, DispatchSettings(max_attempts=2))
    assert p.decide(Outcome.UNKNOWN, 1, age=0).decision is Decision.RETRY
    assert p.decide(Outcome.UNKNOWN, 2, age=0).decision is Decision.UNKNOWN


def test_rejected_is_never_retried_and_delivered_is_sent() -> None:
    p = RetryPolicy()
    assert p.decide(Outcome.REJECTED, 1, age=0).decision is Decision.FAIL
    assert p.decide(Outcome.DELIVERED, 5, age=9999).decision is Decision.SENT


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy().delay(0)


# -- token bucket ------------------------------------------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_starts_full_and_refills_at_rate() -> None:
    t = FakeTime()
    b = TokenBucket(10.0, clock=t)
    assert b.take_up_to(25) == 10  # capacity is one second's worth
    assert b.take_up_to(1) == 0
    t.now += 0.35
    assert b.take_up_to(10) == 3
    t.now += 100.0
    assert b.take_up_to(100) == 10  # never more than capacity after idling


def test_one_call_per_second_bucket() -> None:
    t = FakeTime()
    b = TokenBucket(1.0, clock=t)
    assert b.take_up_to(5) == 1
    assert b.wait_time(1) == pytest.approx(1.0)
    t.now += 0.5
    assert b.take_up_to(1) == 0
    assert b.wait_time(1) == pytest.approx(0.5)
    t.now += 0.5
    assert b.take_up_to(1) == 1


def test_give_back_returns_unused_tokens_up_to_capacity() -> None:
    t = FakeTime()
    b = TokenBucket(5.0, clock=t)
    assert b.take_up_to(5) == 5
    b.give_back(3)
    assert b.take_up_to(5) == 3
    b.give_back(50)
    assert b.available == 5.0


def test_bucket_over_a_long_run_matches_the_rate() -> None:
    t = FakeTime()
    b = TokenBucket(7.0, clock=t)
    taken = 0
    for _ in range(1000):  # 100 simulated seconds in 0.1 s ticks
        t.now += 0.1
        taken += b.take_up_to(1000)
    assert 700 <= taken <= 707  # rate * time, plus at most the initial burst


def test_bucket_rejects_bad_rate() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0)


# -- state machine -----------------------------------------------------------------------


def test_happy_path() -> None:
    s = S.HELD
    for event in (Event.RELEASE, Event.CLAIM, Event.CALL_PROVIDER, Event.ACCEPTED):
        s = transition(s, event)
    assert s is S.SENT
    assert transition(transition(s, Event.STATUS_DELIVERED), Event.ACK) is S.ACKNOWLEDGED


def test_lease_expiry_depends_on_whether_the_provider_was_called() -> None:
    assert transition(S.CLAIMED, Event.LEASE_EXPIRED) is S.QUEUED
    assert transition(S.SENDING, Event.LEASE_EXPIRED) is S.UNKNOWN


def test_unknown_is_never_requeued_by_a_lease_or_a_claim() -> None:
    for event in (Event.CLAIM, Event.LEASE_EXPIRED, Event.RELEASE, Event.CALL_PROVIDER):
        with pytest.raises(InvalidTransition):
            transition(S.UNKNOWN, event)


def test_sent_rows_cannot_be_cancelled_or_skipped() -> None:
    for state in (S.SENT, S.DELIVERED, S.ACKNOWLEDGED, S.UNKNOWN):
        for event in (Event.CANCEL, Event.SKIP, Event.CLAIM):
            with pytest.raises(InvalidTransition):
                transition(state, event)


def test_terminal_states_have_no_way_back_to_the_queue() -> None:
    for (state, _event), target in TRANSITIONS.items():
        if state in (S.DELIVERED, S.ACKNOWLEDGED, S.FAILED, S.CANCELLED, S.SKIPPED):
            assert target is S.ACKNOWLEDGED


def test_cancel_sources_are_exactly_the_unsent_states() -> None:
    assert sources(Event.CANCEL) == {S.HELD, S.QUEUED, S.CLAIMED}
    assert not sources(Event.CANCEL) & REACHED_STATES
    # a row that was in a provider call is cancelled only when the provider did not act
    assert sources(Event.WITHDRAW) == {S.SENDING, S.UNKNOWN}
