"""The one rule of who is owed a closing notice (取消し, 解除): ``states.may_have_reached``."""

from __future__ import annotations

import itertools

from alertsvc.config import DispatchSettings
from alertsvc.dispatch.retry import policy_for
from alertsvc.dispatch.states import (
    REACHED_STATES,
    RESENT_AFTER_UNKNOWN,
    DeliveryState,
    may_have_reached,
)
from alertsvc.models import ChannelName

S = DeliveryState


def test_the_rule_over_every_state_channel_and_attempt_count() -> None:
    for state, channel, attempts in itertools.product(S, ChannelName, (0, 1, 3)):
        expected = state in REACHED_STATES or (
            channel is ChannelName.PUSH and attempts > 0 and state in (S.QUEUED, S.CLAIMED)
        )
        assert may_have_reached(state, str(channel), attempts) is expected, (state, channel)


def test_unknown_counts_and_a_stopped_or_failed_row_does_not() -> None:
    assert may_have_reached("unknown", "sms", 1) and may_have_reached("unknown", "push", 1)
    for state in ("failed", "cancelled", "skipped", "held", "sending"):
        assert not may_have_reached(state, "push", 2), state


def test_resent_after_unknown_is_what_the_retry_policy_does() -> None:
    settings = DispatchSettings()
    for channel in ChannelName:
        assert policy_for(channel, settings).retry_unknown is (str(channel) in RESENT_AFTER_UNKNOWN)
