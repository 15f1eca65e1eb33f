"""Twilio channels send up to ``TWILIO_CONCURRENCY`` requests at once (#12).

``TwilioCall.send_each``: one result per message in order, requests really overlap, and a
misconfiguration refused by only some requests never hands back rows that went out.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from alertsvc.channels.twilio_common import TWILIO_CONCURRENCY, TwilioCall
from alertsvc.errors import ChannelMisconfigured
from alertsvc.models import ChannelName, DeliveryResult, Outcome, OutgoingMessage


def _messages(n: int) -> list[OutgoingMessage]:
    return [
        OutgoingMessage(key=f"A:{i}", channel=ChannelName.SMS, address=f"+8190{i:08d}", body="b")
        for i in range(n)
    ]


def _call() -> TwilioCall:
    fake: Any = None  # send_each never touches the client itself
    return TwilioCall(client=fake, http=fake, account_sid="AC" + "0" * 32)


def test_results_come_back_in_order_and_requests_overlap() -> None:
    twilio = _call()
    running = 0
    peak = 0
    lock = threading.Lock()

    def send_one(m: OutgoingMessage) -> DeliveryResult:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        return DeliveryResult(Outcome.DELIVERED, "sms", m.key)

    try:
        got = twilio.send_each("sms", _messages(TWILIO_CONCURRENCY), send_one)
    finally:
        twilio.close()
    assert [r.provider_ref for r in got] == [f"A:{i}" for i in range(TWILIO_CONCURRENCY)]
    assert peak > 1  # concurrent, and bounded by the pool
    assert peak <= TWILIO_CONCURRENCY


def test_misconfiguration_on_every_request_is_raised() -> None:
    twilio = _call()

    def send_one(m: OutgoingMessage) -> DeliveryResult:
        raise ChannelMisconfigured("twilio 20003")

    try:
        with pytest.raises(ChannelMisconfigured):
            twilio.send_each("sms", _messages(4), send_one)
    finally:
        twilio.close()


def test_misconfiguration_on_some_requests_keeps_the_accepted_ones() -> None:
    """Raising would make the dispatcher hand back every row, the accepted ones too, and
    they would go out twice: the refused ones are DEFERRED (never acted on) instead."""
    twilio = _call()

    def send_one(m: OutgoingMessage) -> DeliveryResult:
        if m.key.endswith(("1", "3")):
            raise ChannelMisconfigured("twilio 21606")
        return DeliveryResult(Outcome.DELIVERED, "sms", m.key)

    try:
        got = twilio.send_each("sms", _messages(4), send_one)
    finally:
        twilio.close()
    assert [r.outcome for r in got] == [
        Outcome.DELIVERED,
        Outcome.DEFERRED,
        Outcome.DELIVERED,
        Outcome.DEFERRED,
    ]
    assert "21606" in got[1].detail
