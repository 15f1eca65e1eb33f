"""Golden messages for ja, ja-easy and en: push, SMS (with part counts), voice, supporter.

One fixed scenario: 山田太郎 on floor 1 in a rank-3 zone, 直方東小学校 about 570 m away
(15 minutes at 40 m/min). A template change shows up here as a readable diff.
"""

from __future__ import annotations

import dataclasses

import pytest

from alertsvc.models import (
    ChannelName,
    ContactInfo,
    ContactKind,
    Level,
    ResidentInfo,
    ShelterInfo,
    SupporterInfo,
    Target,
)
from alertsvc.planning import PersonPlan, PlanOptions, plan_person

SHELTER = ShelterInfo(
    "S1",
    "直方東小学校",
    "直方市頓野1234",
    33.745,
    130.735,
    frozenset({"指定避難所"}),
    frozenset({"flood"}),
    wheelchair=True,
    name_kana="のおがたひがししょうがっこう",
)
RESIDENT = ResidentInfo(
    "R1",
    "山田太郎",
    "直方市新町1-2-3",
    33.742,
    130.74,
    kana="やまだ たろう",
    floor=1,
    contacts=(
        ContactInfo(ContactKind.MOBILE, "+819012345678"),
        ContactInfo(ContactKind.PUSH, "tok"),
    ),
    supporters=(SupporterInfo(1, "佐藤花子", "+819011112222", ContactKind.MOBILE),),
)


def plan(
    language: str,
    *,
    level: Level = Level.EVACUATE,
    floor: int = 1,
    rank: int = 3,
    exercise: bool = False,
) -> PersonPlan:
    resident = dataclasses.replace(RESIDENT, language=language, floor=floor)
    return plan_person(
        Target(resident, ("Z1",), rank, False, False),
        level=level,
        shelters=[SHELTER],
        active_zones=[],
        options=PlanOptions(),
        alert_ref="A1",
        exercise=exercise,
    )


GOLDEN: dict[str, dict[str, object]] = {
    "ja": {
        "title": "【警戒レベル4 避難指示】直方市",
        "push": "直方東小学校へ今すぐ避難してください。直線約570m、歩いて約15分です。"
        "住所：直方市頓野1234。想定される浸水の深さは3〜5mです。",
        "sms": (
            "【警戒レベル4 避難指示】直方市：直方東小学校へ今すぐ避難してください。"
            "直線約570m、徒歩約15分。住所：直方市頓野1234。浸水想定3〜5m。"
            "無事なら1、助けが必要なら2を返信してください。",
            2,
        ),
        "voice": "こちらは、直方市です。警戒レベル4、避難指示を発令しました。"
        "のおがたひがししょうがっこうへ、今すぐ避難してください。"
        "避難所までは、直線でおよそ570メートル、歩いておよそ15分です。"
        "浸水の深さは、3から5メートルと想定されています。"
        "無事な方は1を、助けが必要な方は2を押してください。",
        "move_up_sms": (
            "【警戒レベル4 避難指示】直方市：外に出ず建物の3階以上にとどまってください"
            "（屋内安全確保）。浸水想定0.5〜3m。無事なら1、助けが必要なら2を返信してください。",
            2,
        ),
        "level5_sms": (
            "【警戒レベル5 緊急安全確保】直方市：命の危険 直ちに安全確保！"
            "近くのできるだけ高く安全な場所へ。近くの避難所：直方東小学校。"
            "無事なら1、助けが必要なら2を返信してください。",
            2,
        ),
    },
    "ja-easy": {
        "title": "【警戒レベル4 避難指示】直方市",
        "push": "みずが くるかも しれません。 いますぐ 直方東小学校に にげて ください。 "
        "まっすぐ 570m、 あるいて 15分 ぐらい です。 じゅうしょ： 直方市頓野1234。 "
        "みずの ふかさは 3〜5mに なるかも しれません。",
        "sms": (
            "【警戒レベル4 避難指示】直方市： いますぐ 直方東小学校に にげて ください。 "
            "まっすぐ 570m、 あるいて 15分。 じゅうしょ： 直方市頓野1234。 "
            "みずの ふかさ 3〜5m。 だいじょうぶなら 1、 たすけが ほしいなら 2を へんしん "
            "して ください。",
            2,
        ),
        "voice": "こちらは 直方市 です。 けいかいレベル4、 ひなん しじ です。 "
        "いますぐ のおがたひがししょうがっこうに にげて ください。 "
        "まっすぐ 570メートル、 あるいて 15分 ぐらい です。 "
        "みずの ふかさは 3メートル から 5メートルに なるかも しれません。 "
        "ぶじな ひとは 1を、 たすけが ほしい ひとは 2を おして ください。",
        "move_up_sms": (
            "【警戒レベル4 避難指示】直方市： そとに でないで、 たてものの 3かい より うえに "
            "いて ください。 みずの ふかさ 0.5〜3m。 だいじょうぶなら 1、 たすけが ほしいなら "
            "2を へんしん して ください。",
            2,
        ),
        "level5_sms": (
            "【警戒レベル5 緊急安全確保】直方市： いのちが あぶないです。 いますぐ ちかくの "
            "たかい ところへ。 ひなんじょ： 直方東小学校。 だいじょうぶなら 1、 たすけが "
            "ほしいなら 2を へんしん して ください。",
            2,
        ),
    },
    "en": {
        "title": "[Alert Level 4: Evacuation order] 直方市",
        "push": "Go to 直方東小学校 now. It is 570 m away in a straight line, about 15 min on "
        "foot. Address: 直方市頓野1234. Expected flood depth: 3-5 m.",
        # the Japanese shelter name makes even an English text UCS-2
        "sms": (
            "[Level 4] 直方市: Go to 直方東小学校 now. 570 m, 15 min walk. "
            "直方市頓野1234. Flood depth 3-5 m. Reply 1 if safe, 2 if you need help.",
            2,
        ),
        "voice": "This is 直方市. Alert level 4: Evacuation order. Go to 直方東小学校 now. "
        "It is about 570 metres away in a straight line, about 15 minutes on foot. "
        "The water may be 3 to 5 metres deep. If you are safe, press 1. "
        "If you need help, press 2.",
        "move_up_sms": (
            "[Level 4] 直方市: Stay inside on floor 3 or higher. "
            "Flood depth 0.5-3 m. Reply 1 if safe, 2 if you need help.",
            2,
        ),
        "level5_sms": (
            "[Level 5] 直方市: Danger to life. Move to the highest safe "
            "place nearby now. Shelter: 直方東小学校. Reply 1 if safe, 2 if you need help.",
            2,
        ),
    },
}


@pytest.mark.parametrize("language", sorted(GOLDEN))
def test_golden_evacuate(language: str) -> None:
    g = GOLDEN[language]
    p = plan(language)
    assert p.language == language
    push, sms, voice = (
        p.messages[c] for c in (ChannelName.PUSH, ChannelName.SMS, ChannelName.VOICE)
    )
    assert push.title == g["title"]
    assert push.body == g["push"]
    assert (sms.body, sms.segments) == g["sms"]
    assert sms.encoding == "UCS-2"
    assert voice.body == g["voice"]
    assert voice.voice_language == {"en": "en-US"}.get(language, "ja-JP")
    assert push.data == (
        ("alert_id", "A1"),
        ("level", "4"),
        ("action", "evacuate"),
        ("shelter_id", "S1"),
        ("resident_id", "R1"),
    )


@pytest.mark.parametrize("language", sorted(GOLDEN))
def test_golden_move_up_and_level5(language: str) -> None:
    g = GOLDEN[language]
    up = plan(language, floor=3, rank=2).messages[ChannelName.SMS]
    assert (up.body, up.segments) == g["move_up_sms"]
    l5 = plan(language, level=Level.EMERGENCY).messages[ChannelName.SMS]
    assert (l5.body, l5.segments) == g["level5_sms"]


def test_golden_supporter_sms_is_japanese_whatever_the_resident_speaks() -> None:
    for language in GOLDEN:
        (notice,) = plan(language).supporters
        assert notice.channel is ChannelName.SMS and notice.address == "+819011112222"
        assert notice.message.language == "ja"
        assert (notice.message.body, notice.message.segments) == (
            "【警戒レベル4 避難指示】直方市：避難支援のお願い。山田太郎さん（直方市新町1-2-3）が"
            "直方東小学校へ避難できるよう支援してください。直線約570m。"
            "ご自身の安全を最優先にしてください。",
            2,
        )


def test_golden_exercise_prefix_on_every_title_and_body() -> None:
    p = plan("ja", exercise=True)
    push, sms, voice = (
        p.messages[c] for c in (ChannelName.PUSH, ChannelName.SMS, ChannelName.VOICE)
    )
    assert push.title == "【訓練】【警戒レベル4 避難指示】直方市"
    assert push.body.startswith("【訓練】直方東小学校へ今すぐ避難してください。")
    assert sms.body.startswith("【訓練】【警戒レベル4 避難指示】直方市：直方東小学校へ")
    assert voice.body.startswith("【訓練】これは訓練です。こちらは、直方市です。")
    assert p.supporters[0].message.body.startswith("【訓練】【警戒レベル4 避難指示】")
