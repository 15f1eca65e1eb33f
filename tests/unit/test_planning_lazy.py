"""Lazy planning equals eager planning on seeded random registers, including the
over-long SMS note decided by a probe instead of every person's text (#12)."""

from __future__ import annotations

import random

import pytest

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
from alertsvc.planning import PlanOptions, plan_alert
from alertsvc.services.preview import Preview
from alertsvc.services.scope import Scope
from alertsvc.services.send import plan_rows
from tests.planning_reference import eager_rows, eager_sms_notes, plan_sms_notes, sent_rows

LANGS = ["ja", "ja-easy", "en", "zh", "ko", "vi", "pt", "tl", "fr", None]


def _shelters(rng: random.Random, long_names: bool) -> list[ShelterInfo]:
    out = []
    for k in range(8):
        name = f"避難所{k}" + (
            "とても長い名前の地区公民館" * rng.choice([0, 1, 16]) if long_names else ""
        )
        out.append(
            ShelterInfo(
                f"S{k}",
                name,
                f"直方市{'大字' * rng.randint(0, 8)}{k}番地",
                33.70 + rng.random() * 0.1,
                130.69 + rng.random() * 0.1,
                frozenset({"指定避難所"} | ({"福祉避難所"} if k % 4 == 0 else set())),
                frozenset({"flood"}),
                wheelchair=rng.choice([True, False, None]),
            )
        )
    return out


def _targets(rng: random.Random, n: int) -> list[Target]:
    out = []
    for i in range(n):
        contacts = []
        if rng.random() < 0.5:
            contacts.append(ContactInfo(ContactKind.PUSH, f"tok-{i}"))
        if rng.random() < 0.7:
            contacts.append(ContactInfo(ContactKind.MOBILE, f"+8190{i:08d}"))
        if rng.random() < 0.3:
            contacts.append(ContactInfo(ContactKind.LANDLINE, f"+81949{i:06d}"))
        supporters = tuple(
            SupporterInfo(
                i * 10 + k,
                f"支援者{k}",
                rng.choice([None, f"+8180{i:08d}"]),
                rng.choice([ContactKind.MOBILE, ContactKind.LANDLINE]),
            )
            for k in range(rng.choice([0, 0, 1, 2]))
        )
        resident = ResidentInfo(
            f"R{i:05d}",
            f"住民{i}",
            f"直方市新町{i}",
            33.70 + rng.random() * 0.1,
            130.69 + rng.random() * 0.1,
            language=rng.choice(LANGS) or "ja",
            kana=rng.choice(["", f"じゅうみん{i}"]),
            floor=rng.choice([None, 1, 2, 3, 12]),
            needs=frozenset(rng.sample(list(Need), rng.randint(0, 3))),
            contacts=tuple(contacts),
            supporters=supporters,
            consent=rng.choice([True, False, None]),
        )
        out.append(
            Target(
                resident,
                ("Z1",),
                rng.choice([None, 1, 2, 3, 4, 5, 6]),
                rng.random() < 0.1,
                rng.random() < 0.1,
            )
        )
    return out


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
@pytest.mark.parametrize("long_names", [False, True])
def test_lazy_planning_equals_eager_planning(seed: int, long_names: bool) -> None:
    rng = random.Random(seed)
    level = rng.choice(list(Level))
    exercise = rng.random() < 0.5
    options = PlanOptions()
    plans = plan_alert(
        _targets(rng, 300),
        level=level,
        shelters=_shelters(rng, long_names),
        active_zones=[],
        options=options,
        alert_ref="A9",
        exercise=exercise,
    )
    preview = Preview(level, Scope(), exercise, plans, (), (), {})
    _t, deliveries = plan_rows(preview)
    assert sent_rows(deliveries) == eager_rows(
        plans, level=level, options=options, alert_ref="A9", exercise=exercise
    )
    notes = plan_sms_notes(plans)
    assert notes == eager_sms_notes(plans, level=level, options=options, exercise=exercise)
    if long_names:  # the probe must not hide a real over-long SMS
        assert any(over for _rid, over in notes) or level is Level.EMERGENCY
    assert any(ChannelName.SMS in p.messages for p in plans)
