"""Planning for the issue-11 channels: a deaf resident with a landline and a FAX is
reached by FAX with the whole written alert; e-mail carries Japanese beside the
resident's language."""

from __future__ import annotations

import dataclasses

from alertsvc.models import ChannelName, ContactInfo, ContactKind, Level, Need, ResidentInfo, Target
from alertsvc.planning import PlanOptions, plan_person
from tests.unit.test_planning_plan import SHELTER

LANDLINE = ContactInfo(ContactKind.LANDLINE, "+81949221111")
FAX = ContactInfo(ContactKind.FAX, "+81949221112")
LINE = ContactInfo(ContactKind.LINE, "U" + "1" * 32)
EMAIL = ContactInfo(ContactKind.EMAIL, "taro@example.jp")
BASE = ResidentInfo("R1", "山田太郎", "直方市新町1-2-3", 33.742, 130.74)


def _plan(**changes: object):  # type: ignore[no-untyped-def]
    resident = dataclasses.replace(BASE, **changes)  # type: ignore[arg-type]
    return plan_person(
        Target(resident, ("Z1",), 3, False, False),
        level=Level.EVACUATE,
        shelters=[SHELTER],
        active_zones=[],
        options=PlanOptions(),
        alert_ref="A1",
    )


def test_deaf_with_landline_and_fax_is_reached_by_fax_first() -> None:
    p = _plan(contacts=(LANDLINE, FAX), needs=frozenset({Need.HEARING}))
    assert p.unreachable_reason is None
    assert [c for c, _ in p.entries] == [ChannelName.FAX, ChannelName.VOICE]
    fax = p.messages[ChannelName.FAX]
    # the page carries the written alert: title with the level, body with the shelter
    assert "避難指示" in fax.title
    assert SHELTER.name in fax.body
    assert fax.data == ()  # push payload (ids) never goes on paper


def test_email_in_english_has_japanese_beside_and_line_is_written() -> None:
    p = _plan(contacts=(EMAIL, LINE), language="en")
    assert [c for c, _ in p.entries] == [ChannelName.LINE, ChannelName.EMAIL]
    mail = p.messages[ChannelName.EMAIL]
    body_ja = dict(mail.data)["body_ja"]
    assert "避難" in body_ja and "Evacuat" in mail.body + mail.title
    assert p.messages[ChannelName.LINE].data == ()
    japanese = _plan(contacts=(EMAIL,))
    assert japanese.messages[ChannelName.EMAIL].data == ()


def test_cancellation_on_written_channels_has_a_title() -> None:
    from alertsvc.planning.render import render_cancellation

    for channel in (ChannelName.FAX, ChannelName.LINE, ChannelName.EMAIL):
        title, body = render_cancellation(channel, "ja", municipality="直方市", exercise=False)
        assert title and "直方市" in title + body
