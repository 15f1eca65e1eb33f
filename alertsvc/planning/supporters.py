"""Notices to a resident's supporters (避難支援者), with the legal basis of the disclosure.

A supporter is told the person's name, address, the action and the shelter — never the
reason the person needs support. Disclosing a register entry to a supporter is lawful with
the person's consent, or without it in a disaster under 災害対策基本法 第49条の11 第3項;
each notice records which one applies (officer-facing data, not message text).

A supporter with a mobile number gets an SMS, one with a landline or 050 number a voice
call, and one without a phone no notice (the plan carries a note so an officer can call).

A supporter (one phone number) often looks after many people: ``supporter_digests`` folds
every notice of an alert event into ONE message per (phone, channel) that states how many
people, names the first few with their address and action, and (at send time) links the
supporter page listing all of them. The digest's row has an empty ``resident_id``
(``DIGEST_RESIDENT``); each person it names is a ``DigestPerson`` carrying its own legal
basis, stored per person (``supporter_disclosures``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from alertsvc.models import (
    DIGEST_LEGAL_BASIS,
    DIGEST_RESIDENT,
    ChannelName,
    ContactKind,
    Level,
    ResidentInfo,
    SupporterInfo,
)
from alertsvc.planning.language import SUPPORTER_LANGUAGE
from alertsvc.planning.render import EXERCISE_PREFIX, RenderedMessage, render_message
from alertsvc.planning.sms import MAX_SEGMENTS, sms_segments

__all__ = [
    "DIGEST_KIND",
    "DIGEST_LEGAL_BASIS",
    "DIGEST_RESIDENT",
    "LEGAL_CONSENT",
    "LEGAL_DISASTER_EXCEPTION",
    "LEGAL_NOTES",
    "DigestPerson",
    "SupporterDigest",
    "SupporterNotice",
    "digest_person",
    "digest_sms",
    "digest_voice_intro",
    "is_digest",
    "legal_basis",
    "reminder_texts",
    "supporter_digests",
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


# --- digests: one message per supporter per alert event ---

DIGEST_KIND = "supporter_digest"  # the ("kind", ...) data item of a digest message
DIGEST_SMS_NAMES = 3  # "the first few": the link carries the rest

_ACTION_SHORT: dict[str, str] = {
    "evacuate": "{shelter}へ避難",
    "move_up": "{floor}階以上へ",
    "secure_now": "直ちに高い安全な場所へ",
}
_LABELS = {3: "高齢者等避難", 4: "避難指示", 5: "緊急安全確保"}


@dataclass(frozen=True, slots=True)
class DigestPerson:
    """One person named in a digest: what the supporter is told, and the legal basis."""

    resident_id: str
    supporter_id: int  # the register's supporter record linking them
    name: str
    reading: str
    address: str
    action: str  # an ``Action`` value
    action_text: str  # short Japanese: 「○○小学校へ避難」
    legal_basis: str
    priority: float


@dataclass(frozen=True, slots=True)
class SupporterDigest:
    """One message to one supporter (phone, channel) about every person in ``people``."""

    address: str
    channel: ChannelName
    supporter_name: str
    people: tuple[DigestPerson, ...]  # highest priority first
    title: str
    body: str
    data: tuple[tuple[str, str], ...]

    @property
    def priority(self) -> float:
        return max((p.priority for p in self.people), default=0.0)

    @property
    def summary_legal_basis(self) -> str:
        return DIGEST_LEGAL_BASIS


def is_digest(data: Iterable[Iterable[str]]) -> bool:
    """True for a digest message, judged by its data (``("kind", DIGEST_KIND)``)."""
    return any(list(item)[:2] == ["kind", DIGEST_KIND] for item in data)


def action_text(action: str, shelter_name: str, floor: int) -> str:
    template = _ACTION_SHORT.get(action, "近くの安全な場所へ避難")
    if action == "evacuate" and not shelter_name:
        template = "近くの安全な場所へ避難"
    return template.format(shelter=shelter_name, floor=max(floor, 2))


def digest_person(notice: SupporterNotice, priority: float) -> DigestPerson:
    """The ``DigestPerson`` of one per-person notice (never the support reason)."""
    ctx = notice.context
    person = ctx.get("person") or {}
    shelter = ctx.get("shelter") or {}
    action = str(ctx.get("action", "evacuate"))
    return DigestPerson(
        resident_id=notice.resident_id,
        supporter_id=notice.supporter.id,
        name=str(person.get("name", "")),
        reading=str(person.get("reading", "")),
        address=str(person.get("address", "")),
        action=action,
        action_text=action_text(action, str(shelter.get("name", "")), int(ctx.get("floor") or 0)),
        legal_basis=notice.legal_basis,
        priority=priority,
    )


def _head(level: int, municipality: str, exercise: bool) -> str:
    head = f"【警戒レベル{level} {_LABELS.get(level, '')}】{municipality}"
    return (EXERCISE_PREFIX + head) if exercise else head


def _fit_names(lead: str, candidates: list[str], n: int, tail: str) -> str:
    """``lead``, as many of the ``candidates`` lines (one per person, of ``n``) as fit in
    ``MAX_SEGMENTS - 1`` SMS parts (one stays free for the link), 「ほかN人」, ``tail``."""
    lines: list[str] = []
    for line in candidates:
        rest = n - len(lines) - 1
        trial = "\n".join([lead, *lines, line] + ([f"ほか{rest}人"] if rest else []) + [tail])
        if sms_segments(trial)[0] > max(1, MAX_SEGMENTS - 1):
            break
        lines.append(line)
    more = n - len(lines)
    return "\n".join([lead, *lines] + ([f"ほか{more}人"] if more else []) + [tail])


def digest_sms(
    people: tuple[DigestPerson, ...], *, level: int, municipality: str, exercise: bool
) -> str:
    """The digest SMS: the count, then the first few names with address and action, then
    how many more (the supporter page link is added at send time). Pure; never raises.

    As many of the first ``DIGEST_SMS_NAMES`` names as fit in ``MAX_SEGMENTS - 1`` parts
    (one part stays free for the link); always the count, so a short message still says
    how many people to check.
    """
    n = len(people)
    lead = (
        f"{_head(level, municipality, exercise)}：避難支援のお願い。"
        f"あなたが支援する{n}人が対象です。"
    )
    tail = "ご自身の安全を最優先に。一覧と回答はリンクから:"
    lines = [f"・{p.name}（{p.address}）{p.action_text}" for p in people[:DIGEST_SMS_NAMES]]
    return _fit_names(lead, lines, n, tail)


def digest_voice_intro(count: int, *, level: int, municipality: str, exercise: bool) -> str:
    """What a supporter's call says before it reads each person in turn."""
    start = "これは訓練です。" if exercise else ""
    return (
        f"{start}こちらは、{municipality}です。警戒レベル{level}、{_LABELS.get(level, '')}を"
        f"発令しました。避難支援のお願いです。あなたが支援する{count}人について、"
        "お一人ずつお名前を読み上げます。ご自身の安全を最優先にしてください。"
    )


def supporter_digests(
    notices: Iterable[tuple[SupporterNotice, float]],
    *,
    level: Level | int,
    municipality: str,
    exercise: bool,
    alert_ref: str,
) -> list[SupporterDigest]:
    """Fold per-person notices (each with the person's priority) into one digest per
    supporter phone and channel, people highest priority first. Pure; never raises.

    A person named by two records of the same supporter phone is listed once.
    """
    grouped: dict[tuple[ChannelName, str], list[tuple[SupporterNotice, float]]] = {}
    for notice, priority in notices:
        grouped.setdefault((notice.channel, notice.address), []).append((notice, priority))
    digests: list[SupporterDigest] = []
    for (channel, address), group in grouped.items():
        people: dict[str, DigestPerson] = {}
        for notice, priority in sorted(group, key=lambda g: (-g[1], g[0].resident_id)):
            people.setdefault(notice.resident_id, digest_person(notice, priority))
        listed = tuple(people.values())
        if channel is ChannelName.VOICE:
            body = digest_voice_intro(
                len(listed), level=int(level), municipality=municipality, exercise=exercise
            )
        else:
            body = digest_sms(
                listed, level=int(level), municipality=municipality, exercise=exercise
            )
        digests.append(
            SupporterDigest(
                address=address,
                channel=channel,
                supporter_name=group[0][0].supporter.name,
                people=listed,
                title="",
                body=body,
                data=(
                    ("alert_id", alert_ref),
                    ("kind", DIGEST_KIND),
                    ("people", str(len(listed))),
                    ("level", str(int(level))),
                ),
            )
        )
    digests.sort(key=lambda d: (-d.priority, d.address, d.channel.value))
    return digests


def reminder_texts(
    people: tuple[DigestPerson, ...], channel: ChannelName, *, level: int, exercise: bool
) -> str:
    """The reminder to a supporter when some of their people have not answered within
    the level's wait: the count, the first few names (SMS) or an introduction (voice,
    which then reads each person). Pure; never raises."""
    n = len(people)
    label = _LABELS.get(level, "")
    start = EXERCISE_PREFIX if exercise else ""
    if channel is ChannelName.VOICE:
        return (
            f"{'これは訓練です。' if exercise else ''}避難支援のお願いです。警戒レベル{level}、"
            f"{label}について、あなたが支援する方のうち{n}人から応答がありません。"
            "お一人ずつお名前を読み上げますので、様子を確認してください。"
        )
    lead = (
        f"{start}【要確認】警戒レベル{level} {label}：あなたが支援する方のうち{n}人から"
        "応答がありません。様子を確認してください。"
    )
    tail = "一覧と回答はリンクから:"
    lines = [f"・{p.name}（{p.address}）" for p in people[:DIGEST_SMS_NAMES]]
    return _fit_names(lead, lines, n, tail)
