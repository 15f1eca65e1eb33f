"""Telling the duty officers: watcher drafts, stale gauges, all-clear proposals.

``Notifier`` is a Protocol so that the CLI (the composition root) decides how officers are
reached; ``ChannelNotifier`` sends SMS and push through the real channel adapters (the
provider simulator by default). Addresses never appear in a result: they are masked.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from alertsvc.channels import Channel
from alertsvc.models import ChannelName, OutgoingMessage
from alertsvc.redact import mask_address

__all__ = ["ChannelNotifier", "Notifier", "RecordingNotifier"]


class Notifier(Protocol):
    def notify(self, key: str, title: str, text: str) -> list[str]:
        """Send ``text`` to every duty officer; one outcome line per address (masked)."""
        ...


@dataclass
class ChannelNotifier:
    """Duty officers by SMS and push, through the channel adapters."""

    channels: Mapping[ChannelName, Channel]
    sms: Sequence[str] = ()
    push: Sequence[str] = ()

    def notify(self, key: str, title: str, text: str) -> list[str]:
        outcomes: list[str] = []
        for name, addresses in ((ChannelName.SMS, self.sms), (ChannelName.PUSH, self.push)):
            channel = self.channels.get(name)
            if not addresses:
                continue
            if channel is None:
                outcomes.extend(f"{name.value} {mask_address(a)}: no channel" for a in addresses)
                continue
            messages = [
                OutgoingMessage(
                    # stable per (event, address): a provider sees a retry as the same message
                    key="duty-" + hashlib.sha256(f"{key}|{a}".encode()).hexdigest()[:24],
                    channel=name,
                    address=a,
                    body=text,
                    title=title,
                )
                for a in addresses
            ]
            for message, result in zip(messages, channel.send_many(messages), strict=True):
                outcomes.append(
                    f"{name.value} {mask_address(message.address)}: {result.outcome.value}"
                )
        return outcomes


@dataclass
class RecordingNotifier:
    """Keeps what would be sent (replays, tests, and when no duty contact is configured)."""

    sent: list[tuple[str, str, str]]

    def notify(self, key: str, title: str, text: str) -> list[str]:
        self.sent.append((key, title, text))
        return [f"recorded {key}"]
