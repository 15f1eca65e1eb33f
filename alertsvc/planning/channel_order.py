"""Which channels can reach a resident, and in what order (pure).

One rule, used by the register import (to refuse impossible preferences and flag
residents with no working channel) and by planning (to order the escalation):

* a push token gives ``push``; a mobile number gives ``sms`` and ``voice``; a landline
  or an 050 IP phone gives ``voice`` only (SMS to them does not arrive);
* contacts a provider has marked unhealthy (dead token, invalid number) are not used, nor
  a channel a provider refused for good on an address (SMS to an opted-out number);
* a hearing-impaired person is never reached by voice alone: voice is kept only as a
  last resort behind a text channel, and with voice as the only option they have no
  working channel;
* a sight-impaired person gets voice first;
* an explicit preference comes first, in its order; every other usable channel follows
  as a fallback, so that nobody is left with fewer ways to be reached than they have.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from alertsvc.models import ChannelName, ContactInfo, ContactKind, Need

__all__ = ["CONTACT_CHANNELS", "ChannelOrder", "channel_order", "preference_problems"]

# the one table of what each kind of contact can carry (registry.store uses it too)
CONTACT_CHANNELS: dict[ContactKind, tuple[ChannelName, ...]] = {
    ContactKind.PUSH: (ChannelName.PUSH,),
    ContactKind.MOBILE: (ChannelName.SMS, ChannelName.VOICE),
    ContactKind.LANDLINE: (ChannelName.VOICE,),
    ContactKind.IP_PHONE: (ChannelName.VOICE,),
}

_DEFAULT = (ChannelName.PUSH, ChannelName.SMS, ChannelName.VOICE)
_SIGHT = (ChannelName.VOICE, ChannelName.PUSH, ChannelName.SMS)

_NEEDS_FOR: dict[ChannelName, str] = {
    ChannelName.PUSH: "a push token (FCMトークン)",
    ChannelName.SMS: "a mobile number (携帯電話)",
    ChannelName.VOICE: "a phone number (電話番号 or 携帯電話)",
}


@dataclass(frozen=True, slots=True)
class ChannelOrder:
    """The escalation order: (channel, address) pairs, first to try first."""

    entries: tuple[tuple[ChannelName, str], ...]
    # why nobody can be reached electronically (None when entries is not empty)
    unreachable_reason: str | None = None

    @property
    def channels(self) -> tuple[ChannelName, ...]:
        """Distinct channels in order."""
        seen: list[ChannelName] = []
        for channel, _ in self.entries:
            if channel not in seen:
                seen.append(channel)
        return tuple(seen)

    @property
    def reachable(self) -> bool:
        return bool(self.entries)


def _available(contacts: Iterable[ContactInfo]) -> dict[ChannelName, list[str]]:
    found: dict[ChannelName, list[str]] = {}
    for contact in contacts:
        if not contact.healthy:
            continue
        for channel in CONTACT_CHANNELS[contact.kind]:
            if channel in contact.blocked:
                continue
            addresses = found.setdefault(channel, [])
            if contact.address not in addresses:
                addresses.append(contact.address)
    return found


def preference_problems(
    needs: frozenset[Need], contacts: Sequence[ContactInfo], preference: Sequence[ChannelName]
) -> list[str]:
    """Reasons why a stated preference cannot work (empty when it can).

    Used by the register import: each reason is a row error.
    """
    problems: list[str] = []
    available = _available(contacts)
    for channel in preference:
        if channel not in available:
            problems.append(
                f"連絡手段 {channel.value} needs {_NEEDS_FOR[channel]}, which this row lacks"
            )
    if Need.HEARING in needs and preference and set(preference) == {ChannelName.VOICE}:
        problems.append("voice cannot be the only channel for a hearing-impaired person (聴覚)")
    return problems


def channel_order(
    needs: frozenset[Need], contacts: Sequence[ContactInfo], preference: Sequence[ChannelName] = ()
) -> ChannelOrder:
    """The order in which to try to reach a resident; never raises."""
    available = _available(contacts)
    hearing = Need.HEARING in needs
    if hearing and set(available) <= {ChannelName.VOICE}:
        reason = (
            "聴覚障害: 音声通話のみ / hearing-impaired with only a voice line"
            if available
            else "連絡先なし / no usable contact"
        )
        return ChannelOrder((), reason)
    if not available:
        return ChannelOrder((), "連絡先なし / no usable contact")
    base = _SIGHT if Need.SIGHT in needs else _DEFAULT
    order: list[ChannelName] = [c for c in preference if c in available]
    order += [c for c in base if c in available and c not in order]
    if hearing and ChannelName.VOICE in order:
        # voice only as a last resort behind a text channel (someone at home may answer)
        order.remove(ChannelName.VOICE)
        order.append(ChannelName.VOICE)
    entries = tuple((channel, address) for channel in order for address in available[channel])
    return ChannelOrder(entries)
