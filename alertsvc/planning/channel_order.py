"""Which channels can reach a resident, and in what order (pure).

One rule, used by the register import (to refuse impossible preferences and flag
residents with no working channel) and by planning (to order the escalation). The
facts are the two tables below, ``CONTACT_CHANNELS`` and ``NEED_RULES``:

* a push token gives ``push``; a mobile number ``sms`` and ``voice``; a landline or an
  050 IP phone ``voice`` only (SMS to them does not arrive); a FAX number ``fax``; a
  LINE user id ``line``; an e-mail address ``email``;
* contacts a provider has marked unhealthy (dead token, invalid number) are not used, nor
  a channel a provider refused for good on an address (SMS to an opted-out number);
* deaf or hard of hearing: push, LINE, SMS, FAX, e-mail; voice only as a last resort
  behind one of them, never alone (someone at home may answer the phone);
* blind or low vision: voice first; FAX only behind another channel, never alone;
* so a person with a landline and a FAX is reached by FAX when deaf, by voice otherwise;
* an explicit preference comes first, in its order (a last-resort channel stays last);
  every other usable channel follows as a fallback, so nobody is left with fewer ways
  to be reached than they have;
* nobody reachable: ``unreachable_reason`` says they need a 戸別受信機 (home receiver) or
  an assigned person, and the register health report lists them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from alertsvc.models import ChannelName, ContactInfo, ContactKind, Need

__all__ = [
    "CONTACT_CHANNELS",
    "NEED_RULES",
    "UNREACHABLE_ADVICE",
    "ChannelOrder",
    "NeedRule",
    "channel_order",
    "preference_problems",
]

C = ChannelName

# the one table of what each kind of contact can carry (registry.store uses it too)
CONTACT_CHANNELS: dict[ContactKind, tuple[ChannelName, ...]] = {
    ContactKind.PUSH: (ChannelName.PUSH,),
    ContactKind.MOBILE: (ChannelName.SMS, ChannelName.VOICE),
    ContactKind.LANDLINE: (ChannelName.VOICE,),
    ContactKind.IP_PHONE: (ChannelName.VOICE,),
    ContactKind.FAX: (ChannelName.FAX,),
    ContactKind.LINE: (ChannelName.LINE,),
    ContactKind.EMAIL: (ChannelName.EMAIL,),
}


@dataclass(frozen=True, slots=True)
class NeedRule:
    """How a need orders the channels: ``order`` first to last, and the channels that
    are kept only behind some channel outside ``last_resort`` (never alone)."""

    order: tuple[ChannelName, ...]
    last_resort: frozenset[ChannelName] = frozenset()
    # why the person is unreachable when only last-resort channels are left
    alone: str = ""


# None: nobody's need changes the order. With HEARING and SIGHT together, HEARING's order
# is used and both last-resort sets apply (voice and FAX only behind a text channel).
NEED_RULES: dict[Need | None, NeedRule] = {
    None: NeedRule((C.PUSH, C.LINE, C.SMS, C.VOICE, C.EMAIL, C.FAX)),
    Need.HEARING: NeedRule(
        (C.PUSH, C.LINE, C.SMS, C.FAX, C.EMAIL, C.VOICE),
        frozenset({C.VOICE}),
        "voice cannot be the only channel for a hearing-impaired person (聴覚)",
    ),
    Need.SIGHT: NeedRule(
        (C.VOICE, C.PUSH, C.LINE, C.SMS, C.EMAIL, C.FAX),
        frozenset({C.FAX}),
        "FAX cannot be the only channel for a sight-impaired person (視覚)",
    ),
}

UNREACHABLE_ADVICE = "戸別受信機か担当者が必要 / needs a 戸別受信機 or an assigned person"

_NEEDS_FOR: dict[ChannelName, str] = {
    C.PUSH: "a push token (FCMトークン)",
    C.SMS: "a mobile number (携帯電話)",
    C.VOICE: "a phone number (電話番号 or 携帯電話)",
    C.FAX: "a FAX number (FAX番号)",
    C.LINE: "a LINE user id (LINEユーザーID)",
    C.EMAIL: "an e-mail address (メールアドレス)",
}


@functools.cache
def _rule(needs: frozenset[Need]) -> NeedRule:
    ruled = [NEED_RULES[n] for n in (Need.HEARING, Need.SIGHT) if n in needs]
    if not ruled:
        return NEED_RULES[None]
    return NeedRule(
        ruled[0].order,
        frozenset().union(*(r.last_resort for r in ruled)),
        "; ".join(r.alone for r in ruled),
    )


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
    for need in (Need.HEARING, Need.SIGHT):
        rule = NEED_RULES[need]
        if need in needs and preference and set(preference) <= rule.last_resort:
            problems.append(rule.alone)
    return problems


def channel_order(
    needs: frozenset[Need], contacts: Sequence[ContactInfo], preference: Sequence[ChannelName] = ()
) -> ChannelOrder:
    """The order in which to try to reach a resident; never raises."""
    # The order depends on the contacts' kinds, health and blocks and on which addresses
    # repeat, not on the addresses themselves: decide once per such shape, then fill in.
    firsts: dict[str, int] = {}
    shape = (
        needs,
        tuple(preference),
        tuple(
            (c.kind, c.healthy, c.blocked, firsts.setdefault(c.address, k))
            for k, c in enumerate(contacts)
        ),
    )
    try:
        pattern = _SHAPES.get(shape)
    except TypeError:  # an unhashable stand-in for a contact: decide directly
        return _channel_order(needs, contacts, preference)
    if pattern is None:
        pattern = _pattern(needs, contacts, preference)
        if len(_SHAPES) < _SHAPES_MAX:
            _SHAPES[shape] = pattern
    slots, reason = pattern
    if reason is not None:
        return ChannelOrder((), reason)
    return ChannelOrder(tuple((channel, contacts[k].address) for channel, k in slots))


# shape -> ((channel, index of the contact whose address is used), ...), unreachable reason
_SHAPES: dict[tuple[Any, ...], tuple[tuple[tuple[ChannelName, int], ...], str | None]] = {}
_SHAPES_MAX = 65_536


def _pattern(
    needs: frozenset[Need], contacts: Sequence[ContactInfo], preference: Sequence[ChannelName]
) -> tuple[tuple[tuple[ChannelName, int], ...], str | None]:
    """``_channel_order`` with each address replaced by the index of its first contact."""
    first: dict[str, int] = {}
    for k, c in enumerate(contacts):
        first.setdefault(c.address, k)
    order = _channel_order(needs, contacts, preference)
    return tuple((ch, first[a]) for ch, a in order.entries), order.unreachable_reason


def _channel_order(
    needs: frozenset[Need], contacts: Sequence[ContactInfo], preference: Sequence[ChannelName]
) -> ChannelOrder:
    available = _available(contacts)
    rule = _rule(needs)
    if not available:
        return ChannelOrder((), f"連絡先なし / no usable contact: {UNREACHABLE_ADVICE}")
    if set(available) <= rule.last_resort:
        return ChannelOrder((), f"{rule.alone}: {UNREACHABLE_ADVICE}")
    order: list[ChannelName] = [c for c in preference if c in available]
    order += [c for c in rule.order if c in available and c not in order]
    # last-resort channels go behind every other channel (someone at home may answer)
    order = [c for c in order if c not in rule.last_resort] + [
        c for c in order if c in rule.last_resort
    ]
    entries = tuple((channel, address) for channel in order for address in available[channel])
    return ChannelOrder(entries)
