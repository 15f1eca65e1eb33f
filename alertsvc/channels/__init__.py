"""Delivery channels: one module per provider behind one small Protocol.

This package is the only place that imports ``twilio`` or ``firebase_admin``.
An adapter returns a ``DeliveryResult`` for anything about the recipient and raises
only for our own mistakes (``ChannelMisconfigured``, programming errors).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Protocol

from alertsvc.models import ChannelName, DeliveryResult, OutgoingMessage

__all__ = ["Channel"]


class Channel(Protocol):
    """A provider adapter.

    ``send_many`` returns one result per message, in the same order, and never raises
    for a per-recipient problem: those are REJECTED / DEFERRED / UNKNOWN results.
    """

    name: ClassVar[ChannelName]
    # how many messages one provider call may carry (FCM send_each: 500; Twilio: 1)
    max_batch: ClassVar[int]

    def send_many(self, messages: Sequence[OutgoingMessage]) -> list[DeliveryResult]: ...
