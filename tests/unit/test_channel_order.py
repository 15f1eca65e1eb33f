from __future__ import annotations

import pytest

from alertsvc.models import ChannelName as C
from alertsvc.models import ContactInfo, ContactKind, Need
from alertsvc.planning.channel_order import channel_order, preference_problems

MOBILE = ContactInfo(ContactKind.MOBILE, "+819012345678")
LANDLINE = ContactInfo(ContactKind.LANDLINE, "+81949221111")
IP = ContactInfo(ContactKind.IP_PHONE, "+815012345678")
PUSH = ContactInfo(ContactKind.PUSH, "tok-abc")
DEAD_PUSH = ContactInfo(ContactKind.PUSH, "tok-dead", healthy=False)


@pytest.mark.parametrize(
    ("needs", "contacts", "pref", "expected"),
    [
        # default order: push, sms, voice
        ((), (MOBILE, PUSH), (), [C.PUSH, C.SMS, C.VOICE]),
        # landline only: a voice call
        ((), (LANDLINE,), (), [C.VOICE]),
        # an 050 IP phone gives no SMS
        ((), (IP,), (), [C.VOICE]),
        # sight-impaired: voice first
        ((Need.SIGHT,), (MOBILE, PUSH), (), [C.VOICE, C.PUSH, C.SMS]),
        # hearing-impaired: voice only as the last resort
        ((Need.HEARING,), (MOBILE,), (), [C.SMS, C.VOICE]),
        ((Need.HEARING,), (MOBILE,), (C.VOICE, C.SMS), [C.SMS, C.VOICE]),
        # explicit preference first, every other usable channel after it
        ((), (MOBILE, PUSH), (C.SMS,), [C.SMS, C.PUSH, C.VOICE]),
        ((), (MOBILE, PUSH), (C.VOICE, C.PUSH), [C.VOICE, C.PUSH, C.SMS]),
        # an unhealthy contact is not used
        ((), (DEAD_PUSH, LANDLINE), (), [C.VOICE]),
    ],
)
def test_order(needs, contacts, pref, expected) -> None:
    order = channel_order(frozenset(needs), contacts, pref)
    assert list(order.channels) == expected
    assert order.reachable and order.unreachable_reason is None


def test_each_address_gets_its_own_entry() -> None:
    other = ContactInfo(ContactKind.MOBILE, "+818011112222")
    order = channel_order(frozenset(), (MOBILE, other, LANDLINE))
    assert order.entries == (
        (C.SMS, MOBILE.address),
        (C.SMS, other.address),
        (C.VOICE, MOBILE.address),
        (C.VOICE, other.address),
        (C.VOICE, LANDLINE.address),
    )


@pytest.mark.parametrize(
    ("needs", "contacts", "reason"),
    [
        ((Need.HEARING,), (LANDLINE,), "voice cannot be the only channel"),
        ((), (), "no usable contact"),
        ((), (DEAD_PUSH,), "no usable contact"),
        ((Need.HEARING,), (), "no usable contact"),
    ],
)
def test_unreachable(needs, contacts, reason) -> None:
    order = channel_order(frozenset(needs), contacts)
    assert not order.reachable and order.entries == ()
    assert order.unreachable_reason is not None and reason in order.unreachable_reason


@pytest.mark.parametrize(
    ("needs", "contacts", "pref", "fragment"),
    [
        ((), (LANDLINE,), (C.SMS,), "sms needs a mobile number"),
        ((), (MOBILE,), (C.PUSH,), "push needs a push token"),
        ((), (), (C.VOICE,), "voice needs a phone number"),
        ((Need.HEARING,), (MOBILE,), (C.VOICE,), "only channel for a hearing-impaired"),
    ],
)
def test_impossible_preferences(needs, contacts, pref, fragment) -> None:
    problems = preference_problems(frozenset(needs), contacts, pref)
    assert any(fragment in p for p in problems), problems


def test_workable_preference_has_no_problem() -> None:
    assert preference_problems(frozenset({Need.HEARING}), (MOBILE, PUSH), (C.PUSH, C.SMS)) == []


def test_a_blocked_channel_is_skipped_but_the_address_still_works() -> None:
    opted_out = ContactInfo(ContactKind.MOBILE, "+819012345678", blocked=frozenset({C.SMS}))
    order = channel_order(frozenset(), (opted_out,))
    assert order.entries == ((C.VOICE, "+819012345678"),)
    # a hearing-impaired person whose SMS is blocked is left with voice alone: unreachable
    assert not channel_order(frozenset({Need.HEARING}), (opted_out,)).reachable
