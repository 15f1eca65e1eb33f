"""Property (#10 item 6): `registry check` never reaches an address off the exercise
allow-list, sends nothing without 【訓練】, and leaves nobody out of its report — over
random registers (contact kinds, needs, health, preferences) and random allow-lists.

The check is planned, written and sent through the real worker with fake channels that
record what they are handed, scripted at random to refuse, defer or lose messages.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from alertsvc.config import DispatchSettings, ExerciseSettings, Settings
from alertsvc.db import session_scope
from alertsvc.db.tables import Delivery
from alertsvc.dispatch.alerts import EXERCISE_PREFIX
from alertsvc.models import ChannelName, ContactInfo, ContactKind, Need, Outcome, ResidentInfo
from alertsvc.planning.channel_order import CONTACT_CHANNELS, channel_order
from alertsvc.services.check import (
    Selection,
    finish_check,
    plan_check,
    run_check,
    select_residents,
    start_check,
)
from alertsvc.services.check_report import check_report
from alertsvc.testing.fakes import fake_channels

PHONES = [f"+8190{n:08d}" for n in range(8)]
TOKENS = [f"tok-{n:02d}" + "x" * 40 for n in range(3)]
KINDS = [ContactKind.MOBILE, ContactKind.LANDLINE, ContactKind.IP_PHONE, ContactKind.PUSH]


@st.composite
def contacts(draw: st.DrawFn) -> ContactInfo:
    kind = draw(st.sampled_from(KINDS))
    address = draw(st.sampled_from(TOKENS if kind is ContactKind.PUSH else PHONES))
    blocked = draw(st.sets(st.sampled_from(CONTACT_CHANNELS[kind]), max_size=1))
    return ContactInfo(kind, address, healthy=draw(st.booleans()) or draw(st.booleans()),
                       blocked=frozenset(blocked))  # fmt: skip


@st.composite
def registers(draw: st.DrawFn) -> tuple[list[ResidentInfo], tuple[str, ...], dict[str, Outcome]]:
    people = draw(st.integers(min_value=1, max_value=6))
    residents = []
    for i in range(people):
        found = draw(st.lists(contacts(), max_size=3))
        unique = list({(c.kind, c.address): c for c in found}.values())
        residents.append(
            ResidentInfo(
                id=f"R{i}", name=f"名前{i}", address="福岡県直方市殿町1", lat=33.74, lon=130.73,
                language=draw(st.sampled_from(["ja", "en", "vi", "xx"])),
                needs=frozenset(draw(st.sets(st.sampled_from([Need.HEARING, Need.SIGHT])))),
                channel_pref=tuple(draw(st.lists(st.sampled_from(list(ChannelName)),
                                                 max_size=2, unique=True))),
                contacts=tuple(unique),
            )
        )  # fmt: skip
    allow = tuple(draw(st.lists(st.sampled_from(PHONES + TOKENS), unique=True)))
    outcomes = draw(
        st.dictionaries(st.sampled_from(PHONES + TOKENS), st.sampled_from(list(Outcome)))
    )
    return residents, allow, outcomes


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(registers())
def test_check_never_reaches_an_address_off_the_allow_list(
    sqlite_engine: Engine,
    register: tuple[list[ResidentInfo], tuple[str, ...], dict[str, Outcome]],
) -> None:
    residents, allow, outcomes = register
    # deferred sends are retried at once: the property is about where rows go, not when
    fast = DispatchSettings(backoff_seconds=0.01, backoff_max_seconds=0.01, jitter_seconds=0.0)
    run_settings = Settings(exercise=ExerciseSettings(allow_list=allow), dispatch=fast)
    chans = fake_channels()
    for ch in chans.values():
        ch.script.update(outcomes)
    chosen = select_residents(residents, Selection())
    plan = plan_check(chosen, allow_list=allow, channels=dict.fromkeys(chans, ""),
                      municipality="直方市")  # fmt: skip
    with session_scope(sqlite_engine) as s:
        check_id = start_check(s, plan, Selection(), allow_list=allow, actor="t")
    run_check(sqlite_engine, chans, run_settings, check_id, timeout=20.0, poll_interval=0.02)
    with session_scope(sqlite_engine) as s:
        finish_check(s, check_id, actor="t")
        rows = s.execute(
            select(Delivery.resident_id, Delivery.channel, Delivery.address, Delivery.body)
            .where(Delivery.alert_id == check_id)
        ).all()  # fmt: skip
        report = check_report(s, check_id)

    handed = [m for ch in chans.values() for m in ch.sent if m.key.startswith(check_id)]
    assert {m.address for m in handed} <= set(allow)
    assert all(m.body.startswith(EXERCISE_PREFIX) for m in handed)
    assert {r.address for r in rows} <= set(allow)
    assert all(r.body.startswith(EXERCISE_PREFIX) for r in rows)
    # every channel of every contact is in the report: sent, or said why not
    assert [r.resident_id for r in report.residents] == sorted(p.id for p in residents)
    for person, result in zip(sorted(residents, key=lambda p: p.id), report.residents,
                              strict=True):  # fmt: skip
        entries = channel_order(person.needs, person.contacts, person.channel_pref).entries
        reported = [c for c in result.channels if c.result != "refused_before"]
        assert len(reported) == len(entries)
        tried = {(r.channel, r.address) for r in rows if r.resident_id == person.id}
        assert tried == {(c.value, a) for c, a in entries if a in allow}
        if not entries:
            assert result.status == "no_working_channel"
