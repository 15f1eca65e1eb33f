"""The demo's scripted flood night, and the check that the follow-up list matches it.

``demo_script`` writes, per phone number and push token of the demo register, what that
person does: answer "safe" by SMS reply, keypress or the resident page; ask for help
the same three ways; never answer; be unreachable; or a provider behaviour (dead app
token, opted-out number, busy line). Three supporters follow the supporter-page link in
their message and answer "cannot reach" for one of their people — when the message
carries such a link (the supporter page); without one they record ``no_link`` and do
nothing, so nothing is faked.

``expected_followup`` then computes, from what the simulators RECORDED (delivery
receipts posted and accepted, answers posted and accepted), who must be on the final
alert's follow-up list: every target not confirmed (an answer, or an SMS/FAX delivered:
``dispatch.status.DELIVERY_CONFIRMS``), everyone who asked for help, and everyone a
supporter could not reach. The demo compares it with ``alert followup``'s list.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from alertsvc.models import ContactKind, ResidentInfo
from alertsvc.testing.sim_actors import ActorRecord, key_of
from alertsvc.testing.sim_base import CallbackRecord
from alertsvc.testing.sim_script import Actor, ScriptEntry, Via

__all__ = ["DemoScript", "FollowupCheck", "demo_script", "expected_followup"]

_PHONE_KINDS = (ContactKind.MOBILE, ContactKind.LANDLINE, ContactKind.IP_PHONE)


@dataclass
class DemoScript:
    """What the simulator is told (``entries``) and what each actor's answer means."""

    entries: dict[str, ScriptEntry] = field(default_factory=dict)
    # resident actors' phone -> "safe" | "need_help" (whatever the way they answer)
    meaning: dict[str, str] = field(default_factory=dict)
    # own phone numbers and tokens -> the residents they belong to
    owners: dict[str, set[str]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """How many addresses do what, e.g. {"sms:safe": 40, "never": 12, "dead_token": 3}."""
        out: dict[str, int] = defaultdict(int)
        for address, entry in self.entries.items():
            if isinstance(entry, str):
                out[entry] += 1
            elif entry.people:
                out["supporter:page"] += 1
            elif address in self.meaning:
                out[f"{entry.via}:{self.meaning[address]}"] += 1
            else:
                out[entry.via] += 1
        return dict(sorted(out.items()))


def demo_script(
    residents: Iterable[ResidentInfo], rng: random.Random, *, delay_s: float
) -> DemoScript:
    """A flood night for the demo register. ``delay_s`` bounds how long actors take to
    answer (the demo passes a fraction of its ack wait, so most answer before the next
    channel is tried). Shared numbers are never scripted to answer: a "safe" from a
    number two residents share confirms neither of them."""
    people = list(residents)
    script = DemoScript()
    for r in people:
        for c in r.contacts:
            script.owners.setdefault(c.address, set()).add(r.id)
    supporter_phones = {s.phone for r in people for s in r.supporters if s.phone}
    own = [c for r in people for c in r.contacts]
    tokens = sorted({c.address for c in own if c.kind == ContactKind.PUSH})
    mobiles = sorted({c.address for c in own if c.kind == ContactKind.MOBILE})
    phones = sorted({c.address for c in own if c.kind in _PHONE_KINDS})
    for token in rng.sample(tokens, min(3, len(tokens))):
        script.entries[token] = "dead_token"  # app uninstalled
    for number in rng.sample(mobiles, min(2, len(mobiles))):
        script.entries[number] = "opted_out"  # replied STOP once
    rng.shuffle(phones)
    for number in phones:
        if number in script.entries:
            continue
        shared = len(script.owners[number]) > 1 or number in supporter_phones
        mobile = number in mobiles
        roll = rng.random()
        delay = round(rng.uniform(0.1, 1.0) * delay_s, 2)
        if roll < 0.08:
            script.entries[number] = Actor("unreachable")  # phone off, out of coverage
        elif roll < 0.12:
            script.entries[number] = "busy"
        elif roll < 0.75 and not shared:
            meaning = "need_help" if roll < 0.17 else "safe"
            ways: tuple[Via, ...] = ("sms", "keypress", "page") if mobile else ("keypress",)
            via = ways[int(roll * 1000) % len(ways)]
            answer = {"sms": "1", "keypress": "1", "page": "safe"}[via]
            if meaning == "need_help":
                answer = {"sms": "2", "keypress": "2", "page": "need_help"}[via]
            script.entries[number] = Actor(via, answer, delay)
            script.meaning[number] = meaning
        else:
            script.entries[number] = Actor("never")  # picks up, listens, hangs up
    # three supporters answer for one of their people on the supporter page: "cannot
    # reach" (each with a mobile of their own, not also a resident's number)
    by_supporter: dict[str, list[str]] = defaultdict(list)
    for r in people:
        for s in r.supporters:
            if s.phone and s.phone_kind == ContactKind.MOBILE and s.phone not in script.owners:
                by_supporter[s.phone].append(r.id)
    # (the ones who look after the most people first; the demo register has one each)
    chosen = sorted(by_supporter, key=lambda p: (-len(by_supporter[p]), p))[:3]
    for phone in chosen:
        person = sorted(by_supporter[phone])[0]
        script.entries[phone] = Actor("page", delay_s=delay_s / 2, people={person: "cannot_reach"})
    return script


@dataclass
class FollowupCheck:
    """The follow-up list the simulators' records call for, against the real one."""

    alert_id: str
    expected: dict[str, str]  # resident id -> why ("help", "cannot_reach", "not_confirmed")
    actual: set[str]
    supporter_page: bool  # did any supporter find a supporter-page link to follow
    actions: dict[str, int]  # what the actors did, e.g. {"sms posted 200": 12}
    supporter_answers: int = 0  # supporter answers our app accepted (any alert)

    @property
    def missing(self) -> list[str]:
        return sorted(set(self.expected) - self.actual)

    @property
    def unexpected(self) -> list[str]:
        return sorted(self.actual - set(self.expected))

    @property
    def ok(self) -> bool:
        return not self.missing and not self.unexpected

    def as_dict(self) -> dict[str, Any]:
        why: dict[str, int] = defaultdict(int)
        for reason in self.expected.values():
            why[reason] += 1
        return {
            "alert_id": self.alert_id,
            "ok": self.ok,
            "expected": len(self.expected),
            "actual": len(self.actual),
            "why": dict(sorted(why.items())),
            "missing": self.missing,
            "unexpected": self.unexpected,
            "supporter_page": self.supporter_page,
            "supporter_answers": self.supporter_answers,
            "actions": self.actions,
        }


def expected_followup(
    alert_id: str,
    targets: Iterable[str],
    script: DemoScript,
    callbacks: Iterable[CallbackRecord],
    actions: Iterable[ActorRecord],
    fax_delivered: Iterable[tuple[str, str]],
    actual: set[str],
    *,
    members: Iterable[str] = (),
) -> FollowupCheck:
    """Who must be on ``alert_id``'s follow-up list, from the simulators' records.

    ``targets``: everyone the family targeted; ``members``: every alert of the family
    (the original, its update notice and expansion, …; default: ``alert_id`` alone).
    ``fax_delivered``: (delivery key, FAX number) of every FAX the FAX simulator reported
    delivered and our app accepted. Only records about the members' deliveries count
    (their key); an SMS reply answers the latest message the number received, as our
    app binds it.
    """
    mine = tuple(f"{m}:" for m in (*members, alert_id))
    confirmed: set[str] = set()
    help_: set[str] = set()
    cannot: set[str] = set()
    done: dict[str, int] = defaultdict(int)
    for cb in callbacks:
        if (
            cb.provider == "twilio-sms"
            and cb.params.get("MessageStatus") == "delivered"
            and 200 <= cb.status < 300
            and key_of(cb.url).startswith(mine)
        ):
            confirmed |= script.owners.get(cb.params.get("To", ""), set())
    for key, number in fax_delivered:
        if key.startswith(mine):
            confirmed |= script.owners.get(number, set())
    supporter_page = False
    supporter_answers = 0
    for act in actions:
        done[f"{act.via} {act.outcome} {act.status}"] += 1
        if act.via == "page" and act.person and act.outcome != "no_link":
            supporter_page = True
            supporter_answers += act.accepted
        if not act.accepted or not act.in_reply_to.startswith(mine):
            continue
        if act.person:
            if act.answer == "cannot_reach":
                cannot.add(act.person)
            continue
        meaning = script.meaning.get(act.address)
        owners = script.owners.get(act.address, set())
        if meaning == "safe":
            confirmed |= owners
        elif meaning == "need_help":
            help_ |= owners
    expected: dict[str, str] = {}
    for rid in targets:
        if rid in help_:
            expected[rid] = "help"
        elif rid in cannot:
            expected[rid] = "cannot_reach"
        elif rid not in confirmed:
            expected[rid] = "not_confirmed"
    return FollowupCheck(
        alert_id, expected, actual, supporter_page, dict(sorted(done.items())), supporter_answers
    )
