"""Property-based: the channel rules for every combination of needs, contacts and
preferences (issue 11 item 4)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from alertsvc.models import ChannelName as C
from alertsvc.models import ContactInfo, ContactKind, Need
from alertsvc.planning.channel_order import (
    CONTACT_CHANNELS,
    UNREACHABLE_ADVICE,
    channel_order,
    preference_problems,
)

ADDRESS = {
    ContactKind.PUSH: "tok-{}",
    ContactKind.MOBILE: "+81901234000{}",
    ContactKind.LANDLINE: "+81949221100{}",
    ContactKind.IP_PHONE: "+81501234000{}",
    ContactKind.FAX: "+81949229900{}",
    ContactKind.LINE: "U{}" + "a" * 31,
    ContactKind.EMAIL: "r{}@example.jp",
}

contacts_st = st.lists(
    st.builds(
        lambda kind, n, healthy, blocked: ContactInfo(
            kind, ADDRESS[kind].format(n), healthy, frozenset(blocked)
        ),
        st.sampled_from(list(ContactKind)),
        st.integers(0, 2),
        st.booleans(),
        st.sets(st.sampled_from(list(C)), max_size=2),
    ),
    max_size=5,
)
needs_st = st.frozensets(st.sampled_from(list(Need)))
pref_st = st.lists(st.sampled_from(list(C)), unique=True, max_size=3)


def usable(contacts: list[ContactInfo]) -> set[C]:
    return {
        ch for c in contacts if c.healthy for ch in CONTACT_CHANNELS[c.kind] if ch not in c.blocked
    }


@given(needs_st, contacts_st, pref_st)
def test_rules_hold_for_every_combination(
    needs: frozenset[Need], contacts: list[ContactInfo], pref: list[C]
) -> None:
    order = channel_order(needs, contacts, pref)
    channels = list(order.channels)
    have = usable(contacts)
    hearing, sight = Need.HEARING in needs, Need.SIGHT in needs
    last_resort = ({C.VOICE} if hearing else set()) | ({C.FAX} if sight else set())
    # unreachable exactly when nothing, or only channels unusable alone, is left
    assert order.reachable is bool(have - last_resort)
    if not order.reachable:
        assert order.unreachable_reason is not None
        assert UNREACHABLE_ADVICE in order.unreachable_reason
        return
    assert order.unreachable_reason is None
    # every usable channel is tried (fallbacks), nothing that is not usable
    assert set(channels) == have
    # never voice alone / first for the deaf; never FAX alone / first for the blind
    assert channels[0] not in last_resort
    first_last = min((channels.index(c) for c in last_resort if c in channels), default=None)
    if first_last is not None:
        assert all(c in last_resort for c in channels[first_last:])
    # an explicit preference comes first, in its order
    wanted = [c for c in pref if c in have and c not in last_resort]
    assert channels[: len(wanted)] == wanted
    # with no preference: voice first for the blind (unless deaf too)
    if not pref and sight and not hearing and C.VOICE in have:
        assert channels[0] is C.VOICE
    if not pref and hearing and not sight:
        text_first = [C.PUSH, C.LINE, C.SMS, C.FAX, C.EMAIL]
        assert [c for c in channels if c in text_first] == [c for c in text_first if c in have]


@given(needs_st, contacts_st, pref_st)
def test_a_preference_without_problems_comes_first(
    needs: frozenset[Need], contacts: list[ContactInfo], pref: list[C]
) -> None:
    if preference_problems(needs, contacts, pref) or not pref:
        return
    channels = channel_order(needs, contacts, pref).channels
    assert set(pref) <= set(channels)


LANDLINE = ContactInfo(ContactKind.LANDLINE, "+81949221111")
FAX = ContactInfo(ContactKind.FAX, "+81949221112")


def test_landline_and_fax_only() -> None:
    assert channel_order(frozenset({Need.HEARING}), (LANDLINE, FAX)).channels == (C.FAX, C.VOICE)
    assert channel_order(frozenset(), (LANDLINE, FAX)).channels == (C.VOICE, C.FAX)
    assert channel_order(frozenset({Need.SIGHT}), (LANDLINE, FAX)).channels == (C.VOICE, C.FAX)
    # a deaf resident with only a FAX is reached (no longer sent to the door-knock list)
    assert channel_order(frozenset({Need.HEARING}), (FAX,)).channels == (C.FAX,)
    blind_fax_only = channel_order(frozenset({Need.SIGHT}), (FAX,))
    assert not blind_fax_only.reachable
    assert "視覚" in (blind_fax_only.unreachable_reason or "")
    assert preference_problems(frozenset({Need.SIGHT}), (FAX, LANDLINE), (C.FAX,)) == [
        "FAX cannot be the only channel for a sight-impaired person (視覚)"
    ]
