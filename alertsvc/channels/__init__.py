"""Delivery channels: one module per provider behind one small Protocol.

This package is the only place that imports ``twilio`` or ``firebase_admin``.
An adapter returns a ``DeliveryResult`` for anything about the recipient and raises
only for our own mistakes (``ChannelMisconfigured``, programming errors).

``build_channels(settings)`` is the composition root for channels: it builds the real
adapters (FCM push, Twilio SMS, Twilio voice) aimed at the configured base URLs, which
by default are the loopback provider simulator.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import ClassVar, Protocol

from alertsvc.config import Settings
from alertsvc.models import ChannelName, DeliveryResult, OutgoingMessage

__all__ = ["CHANNELS", "Channel", "build_channels"]


class Channel(Protocol):
    """A provider adapter.

    ``send_many`` returns one result per message, in the same order, and never raises
    for a per-recipient problem: those are REJECTED / DEFERRED / UNKNOWN results.
    """

    name: ClassVar[ChannelName]
    # how many messages one provider call may carry (FCM send_each: 500; Twilio: 1)
    max_batch: ClassVar[int]

    def send_many(self, messages: Sequence[OutgoingMessage]) -> list[DeliveryResult]: ...


ChannelFactory = Callable[..., Channel]

# channel name -> (module, class). Imported lazily so that importing this package (for
# the Protocol) does not load twilio and firebase_admin.
CHANNELS: dict[ChannelName, tuple[str, str]] = {
    ChannelName.PUSH: ("alertsvc.channels.fcm", "FcmPush"),
    ChannelName.SMS: ("alertsvc.channels.twilio_sms", "TwilioSms"),
    ChannelName.VOICE: ("alertsvc.channels.twilio_voice", "TwilioVoice"),
    ChannelName.FAX: ("alertsvc.channels.fax", "FaxChannel"),
    ChannelName.LINE: ("alertsvc.channels.line", "LineChannel"),
    ChannelName.EMAIL: ("alertsvc.channels.email", "EmailChannel"),
}


def build_channels(
    settings: Settings,
    *,
    only: Iterable[ChannelName] | None = None,
    timeout: float = 10.0,
    env: Mapping[str, str] | None = None,
) -> dict[ChannelName, Channel]:
    """Build the real adapters for ``only`` (default: all) from ``settings``.

    ``timeout`` is the per-request HTTP timeout in seconds: a request that times out
    after being sent is an UNKNOWN result. ``env`` replaces ``os.environ`` for secrets.
    Raises ``ChannelMisconfigured`` when a channel cannot work at all (no credentials
    outside the simulator, no sender number, …).
    """
    wanted = list(only) if only is not None else list(CHANNELS)
    built: dict[ChannelName, Channel] = {}
    for name in wanted:
        module_name, class_name = CHANNELS[ChannelName(name)]
        cls = getattr(importlib.import_module(module_name), class_name)
        built[ChannelName(name)] = cls.from_settings(settings, timeout=timeout, env=env)
    return built
