"""plan_person / plan_alert: supporters and legal basis, priority, ordering, nobody dropped."""

from __future__ import annotations

import dataclasses

import pytest

from alertsvc.config import MunicipalitySettings, Settings, TargetingSettings
from alertsvc.models import (
    ChannelName,
    ContactInfo,
    ContactKind,
    Level,
    Need,
    ResidentInfo,
    ShelterInfo,
    SupporterInfo,
    Target,
)
from alertsvc.planning import Action, PlanOptions, plan_alert, plan_person
from alertsvc.planning.priority import priority_score

MOBILE = ContactInfo(ContactKind.MOBILE, "+819012345678")
LANDLINE = ContactInfo(ContactKind.LANDLINE, "+81949221111")
SHELTER = ShelterInfo(
    "S1",
    "直方東小学校",
    "直方市頓野1",
    33.745,
    130.735,
    frozenset({"指定避難所"}),
    frozenset({"flood"}),
    wheelchair=True,
)
BASE = ResidentInfo("R1", "山田太郎", "直方市新町1-2-3", 33.742, 130.74, contacts=(MOBILE,))


def target(
    rid: str = "R1",
    *,
    rank: int | None = 3,
    collapse: bool = False,
    edge: bool = False,
    **changes: object,
) -> Target:
    resident = dataclasses.replace(BASE, id=rid, **changes)  # type: ignore[arg-type]
    return Target(resident, ("Z1",), rank, collapse, edge)


def plan(t: Target, level: Level = Level.EVACUATE, **kw: object):
    return plan_person(
        t,
        level=level,
        shelters=[SHELTER],
        active_zones=[],
        options=PlanOptions(),
        alert_ref="A1",
        **kw,  # type: ignore[arg-type]
    )


def test_supporter_notices_channel_and_legal_basis() -> None:
    supporters = (
        SupporterInfo(1, "佐藤", "+819011112222", ContactKind.MOBILE),
        SupporterInfo(2, "鈴木", "+81949223333", ContactKind.LANDLINE),
        SupporterInfo(3, "高橋", None, None),
    )
    needs = frozenset({Need.WHEELCHAIR, Need.HEARING, Need.COGNITIVE})
    p = plan(target(supporters=supporters, needs=needs, consent=True, kana="やまだ たろう"))
    sms, voice = p.supporters
    assert (sms.channel, sms.address, sms.legal_basis) == (
        ChannelName.SMS,
        "+819011112222",
        "consent",
    )
    assert (voice.channel, voice.address) == (ChannelName.VOICE, "+81949223333")
    assert voice.message.voice_language == "ja-JP"
    assert "やまだ たろう" in voice.message.body  # the reading, for text-to-speech
    assert all(n.resident_id == "R1" for n in p.supporters)
    assert any("#3" in note for note in p.notes)
    for notice in p.supporters:
        body = notice.message.body
        assert "山田太郎" in body or "やまだ たろう" in body
        assert "直方市新町1-2-3" in body
        # never the reason the person needs support
        for word in ("車いす", "車椅子", "聴覚", "認知", "寝たきり", "要支援", "障害"):
            assert word not in body, word
    for consent in (False, None):
        p = plan(target(supporters=supporters[:1], consent=consent))
        assert p.supporters[0].legal_basis == "disaster_exception_49_11"


def test_messages_one_per_channel_in_entries_and_data_strings() -> None:
    p = plan(target(contacts=(MOBILE, ContactInfo(ContactKind.PUSH, "tok"))))
    assert [c for c, _ in p.entries] == [ChannelName.PUSH, ChannelName.SMS, ChannelName.VOICE]
    assert set(p.messages) == {c for c, _ in p.entries}
    data = dict(p.messages[ChannelName.PUSH].data)
    assert data == {
        "alert_id": "A1",
        "level": "4",
        "action": "evacuate",
        "shelter_id": "S1",
        "resident_id": "R1",
    }
    assert all(isinstance(v, str) for v in data.values())
    # the SMS carries the same data: it is what marks the resident's own alert, so the SMS
    # channel adds the resident page link (regression: planned SMS had none, no link)
    from alertsvc.web.pages import is_resident_alert_sms

    assert dict(p.messages[ChannelName.SMS].data) == data
    assert is_resident_alert_sms(p.messages[ChannelName.SMS].data)
    assert p.messages[ChannelName.VOICE].data == ()


def test_landline_only_gets_voice_and_no_contact_is_flagged() -> None:
    p = plan(target(contacts=(LANDLINE,)))
    assert list(p.messages) == [ChannelName.VOICE] and p.unreachable_reason is None
    p = plan(target(contacts=()))
    assert p.entries == () and p.messages == {} and p.unreachable_reason
    p = plan(target(contacts=(LANDLINE,), needs=frozenset({Need.HEARING})))
    assert p.entries == () and p.unreachable_reason and "聴覚" in p.unreachable_reason


def test_action_and_shelter_wired_through() -> None:
    up = plan(target(rank=2, floor=3))
    assert up.action is Action.MOVE_UP and up.rule == "upstairs_safe"
    assert plan(target(rank=2, floor=3, collapse=True)).action is Action.EVACUATE
    l5 = plan(target(), Level.EMERGENCY)
    assert l5.action is Action.SECURE_NOW
    assert l5.shelter is not None and l5.shelter.shelter.id == "S1"


def test_no_shelter_is_noted_and_messages_still_render() -> None:
    p = plan_person(
        target(),
        level=Level.EVACUATE,
        shelters=[],
        active_zones=[],
        options=PlanOptions(),
        alert_ref="A1",
    )
    assert p.shelter is None and any("no usable flood shelter" in n for n in p.notes)
    assert "近くの安全な場所へ今すぐ避難してください" in p.messages[ChannelName.SMS].body
    assert dict(p.messages[ChannelName.SMS].data)["shelter_id"] == ""


@pytest.mark.parametrize(
    ("t", "level", "expected"),
    [
        (target(rank=1), Level.EVACUATE, 10.0),
        (target(rank=6), Level.EVACUATE, 60.0),
        (target(rank=None), Level.EVACUATE, 15.0),
        (target(rank=3, collapse=True), Level.EVACUATE, 55.0),
        (target(rank=2, needs=frozenset({Need.BEDRIDDEN})), Level.EVACUATE, 45.0),
        (
            target(rank=2, needs=frozenset({Need.WHEELCHAIR, Need.LIVES_ALONE})),
            Level.EVACUATE,
            50.0,
        ),
        (
            target(rank=2, needs=frozenset({Need.SIGHT, Need.HEARING, Need.COGNITIVE})),
            Level.EVACUATE,
            50.0,
        ),
        (target(rank=2, needs=frozenset({Need.LANGUAGE})), Level.EVACUATE, 20.0),
        (target(rank=2, contacts=(LANDLINE,)), Level.EVACUATE, 30.0),
        (target(rank=2, edge=True), Level.EVACUATE, 15.0),
        (target(rank=2), Level.EMERGENCY, 70.0),
        (target(rank=2), Level.ELDERLY_EVACUATE, 20.0),
    ],
)
def test_priority_table(t: Target, level: Level, expected: float) -> None:
    assert priority_score(t, level) == expected


def test_plan_alert_sorted_by_priority_then_id_and_nobody_dropped() -> None:
    targets = [
        target("R3", rank=2),
        target("R2", rank=2),
        target("R9", rank=5, needs=frozenset({Need.BEDRIDDEN})),
        target("R1", rank=1, contacts=()),
    ]
    plans = plan_alert(
        targets,
        level=Level.EVACUATE,
        shelters=[SHELTER],
        active_zones=[],
        options=PlanOptions(),
        alert_ref="A1",
    )
    # R9: 50+25; R1: 10 + 10 (no mobile) ties R2 and R3 at 20, broken by id
    assert [p.resident_id for p in plans] == ["R9", "R1", "R2", "R3"]
    assert plans[1].unreachable_reason  # still planned, flagged for a door knock
    assert (
        plan_alert(
            [],
            level=Level.EVACUATE,
            shelters=[],
            active_zones=[],
            options=PlanOptions(),
            alert_ref="A1",
        )
        == ()
    )


def test_options_from_settings() -> None:
    settings = Settings(
        municipality=MunicipalitySettings(name="飯塚市", metric_crs="EPSG:6670"),
        targeting=TargetingSettings(walking_speed_m_per_min=30.0, metres_per_storey=2.5),
    )
    o = PlanOptions.from_settings(settings)
    assert (o.municipality, o.walking_speed_m_per_min, o.metres_per_storey) == ("飯塚市", 30.0, 2.5)
    p = plan_person(
        target(rank=3, floor=3),
        level=Level.EVACUATE,
        shelters=[SHELTER],
        active_zones=[],
        options=o,
        alert_ref="A1",
    )
    assert p.action is Action.EVACUATE  # 2 x 2.5 m = 5.0 m is not above rank 3's 5 m
    assert p.messages[ChannelName.SMS].body.startswith("【警戒レベル4 避難指示】飯塚市")
