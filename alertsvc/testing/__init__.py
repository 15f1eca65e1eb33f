"""Shipped test helpers: fake channels, the SIGKILL worker runner, the provider simulator.

``from alertsvc.testing import FakeChannel`` gives a scriptable in-memory channel;
``alertsvc.testing.simulator`` (separate module) speaks the providers' HTTP formats.
"""

from __future__ import annotations

from alertsvc.testing.fakes import (
    FakeChannel,
    FakePushChannel,
    FakeSmsChannel,
    FakeVoiceChannel,
    fake_channels,
    resident_delivery,
    simple_plan,
)

__all__ = [
    "FakeChannel",
    "FakePushChannel",
    "FakeSmsChannel",
    "FakeVoiceChannel",
    "fake_channels",
    "resident_delivery",
    "simple_plan",
]
