"""Notices to a resident's supporters (避難支援者), with the legal basis of the disclosure.

A supporter is told the person's name, address, the action and the shelter — never the
reason the person needs support. Disclosing a register entry to a supporter is lawful with
the person's consent, or without it in a disaster under 災害対策基本法 第49条の11 第3項;
each notice records which one applies (officer-facing data, not message text).

A supporter with a mobile number gets an SMS, one with a landline or 050 number a voice
call, and one without a phone no notice (the plan carries a note so an officer can call).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from alertsvc.models import ChannelName, ContactKind, ResidentInfo, SupporterInfo
from alertsvc.planning.language import SUPPORTER_LANGUAGE
from alertsvc.planning.render import RenderedMessage, render_message

__all__ = [
    "LEGAL_CONSENT",
    "LEGAL_DISASTER_EXCEPTION",
    "LEGAL_NOTES",
    "SupporterNotice",
    "legal_basis",
    "supporter_notices",
]

LEGAL_CONSENT = "consent"
LEGAL_DISASTER_EXCEPTION = "disaster_exception_49_11"
LEGAL_NOTES: dict[str, str] = {
    LEGAL_CONSENT: "本人同意に基づく名簿情報の提供 / disclosed with the person's consent",
    LEGAL_DISASTER_EXCEPTION: (
        "災害対策基本法第49条の11第3項（災害時の同意不要の提供） / "
        "disaster exception, Disaster Countermeasures Basic Act art. 49-11(3)"
    ),
}


@dataclass(frozen=True, slots=True)
class SupporterNotice:
    """One message to one supporter about one resident.

    The text names the person, so it differs for every notice; it is rendered when
    ``message`` is read (at send time), not when the notice is planned. Each read renders
    again: read it once per use.
    """

    supporter: SupporterInfo
    resident_id: str
    channel: ChannelName
    address: str  # the supporter's phone number (E.164)
    legal_basis: str  # "consent" | "disaster_exception_49_11"
    context: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def message(self) -> RenderedMessage:
        """The rendered notice; raises ``jinja2.TemplateError`` for a broken template."""
        return render_message(self.channel, SUPPORTER_LANGUAGE, self.context, prefix="supporter_")


def legal_basis(resident: ResidentInfo) -> str:
    """``"consent"`` only when the register says yes; unknown or no is the disaster exception."""
    return LEGAL_CONSENT if resident.consent is True else LEGAL_DISASTER_EXCEPTION


def supporter_notices(
    resident: ResidentInfo, context: Mapping[str, Any]
) -> tuple[tuple[SupporterNotice, ...], tuple[str, ...]]:
    """(notices, officer-facing notes) for every supporter of ``resident``; never raises.

    ``context`` is the resident's message context (level, action, shelter, exercise...);
    the person's name, reading and address are added here.
    """
    person = {
        "name": resident.name,
        "reading": resident.kana or resident.name,
        "address": resident.address,
    }
    full = {**context, "person": person}
    basis = legal_basis(resident)
    notices: list[SupporterNotice] = []
    notes: list[str] = []
    for supporter in resident.supporters:
        if not supporter.phone:
            notes.append(
                f"支援者#{supporter.id}に電話番号なし、通知できません / "
                f"supporter #{supporter.id} has no phone, not notified"
            )
            continue
        channel = (
            ChannelName.SMS if supporter.phone_kind is ContactKind.MOBILE else (ChannelName.VOICE)
        )
        notices.append(
            SupporterNotice(supporter, resident.id, channel, supporter.phone, basis, full)
        )
    return tuple(notices), tuple(notes)
