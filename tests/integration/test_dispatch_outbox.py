"""Outbox writes on SQLite and PostgreSQL: create, exercise locks, cancel, status, answers."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import Engine, func, select

from alertsvc.config import Settings
from alertsvc.db import session_scope
from alertsvc.db.tables import Acknowledgement, Alert, AlertTarget, AuditEntry, Delivery
from alertsvc.dispatch import (
    Dispatcher,
    PlannedTarget,
    alert_status,
    cancel_alert,
    create_alert,
    record_acknowledgement,
    record_provider_status,
)
from alertsvc.errors import InputError, NotFound
from alertsvc.models import ChannelName, Outcome
from alertsvc.testing import FakeChannel, fake_channels, simple_plan
from tests.integration.dispatch_support import T0, Clock
from tests.integration.dispatch_support import fast_settings as _settings

PUSH, SMS, VOICE = ChannelName.PUSH, ChannelName.SMS, ChannelName.VOICE


def _counts(engine: Engine) -> dict[str, int]:
    with session_scope(engine) as s:
        return {
            "alerts": s.scalar(select(func.count()).select_from(Alert)) or 0,
            "targets": s.scalar(select(func.count()).select_from(AlertTarget)) or 0,
            "deliveries": s.scalar(select(func.count()).select_from(Delivery)) or 0,
            "audit": s.scalar(select(func.count()).select_from(AuditEntry)) or 0,
        }


def _states(engine: Engine, alert_id: str) -> dict[tuple[str, int, str], str]:
    with session_scope(engine) as s:
        return {
            (d.resident_id, d.step, d.channel): d.state
            for d in s.scalars(select(Delivery).where(Delivery.alert_id == alert_id))
        }


def test_create_writes_alert_targets_and_rows_with_unique_keys(engine: Engine) -> None:
    targets, deliveries = simple_plan(5, channels=(PUSH, SMS, VOICE), supporter_channel=SMS)
    targets.append(PlannedTarget("R99999", 0.5, located=False, reachable=False))
    with session_scope(engine) as s:
        aid = create_alert(
            s, level=3, scope={"zones": ["z1"]}, exercise=False, targets=targets,
            deliveries=deliveries, actor="officer-a",
        )  # fmt: skip
    assert aid.startswith("A") and len(aid) == 19
    with session_scope(engine) as s:
        rows = s.scalars(select(Delivery).where(Delivery.alert_id == aid)).all()
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "alert.create")).one()
    assert len(rows) == 5 * 3 + 5
    assert len({r.key for r in rows}) == len(rows)
    assert all(r.key.startswith(f"{aid}:") for r in rows)
    by_state = {(r.recipient, r.step): r.state for r in rows}
    assert by_state[("resident", 0)] == "queued"
    assert by_state[("resident", 1)] == by_state[("resident", 2)] == "held"
    assert by_state[("supporter", 0)] == "queued"  # supporters are notified at once
    assert {r.supporter_id for r in rows if r.recipient == "resident"} == {0}
    assert audit.actor == "officer-a" and audit.result["alert_id"] == aid
    assert audit.result["unreachable"] == 1 and audit.result["unlocated"] == 1
    assert _counts(engine)["targets"] == 6  # the unreachable person is kept, not dropped


def test_level5_queues_every_step_at_once(engine: Engine) -> None:
    targets, deliveries = simple_plan(3, channels=(PUSH, SMS, VOICE))
    with session_scope(engine) as s:
        aid = create_alert(s, level=5, scope={}, exercise=False, targets=targets,
                           deliveries=deliveries, actor="a", now=T0)  # fmt: skip
    assert set(_states(engine, aid).values()) == {"queued"}
    chans = fake_channels()
    d = Dispatcher(
        engine, chans, _settings(engine), worker_id="w", clock=Clock(T0 + dt.timedelta(1))
    )
    d.step()
    assert {c: len(f.sent) for c, f in chans.items() if f.sent} == {PUSH: 3, SMS: 3, VOICE: 3}


def test_invalid_plan_lists_every_problem_and_writes_nothing(engine: Engine) -> None:
    targets, deliveries = simple_plan(3, supporter_channel=SMS)
    bad = [
        *deliveries,
        deliveries[0],  # planned twice
        dataclasses.replace(deliveries[1], resident_id="NOBODY"),
        dataclasses.replace(deliveries[-1], legal_basis="", supporter_id=77),
    ]
    before = _counts(engine)
    with pytest.raises(InputError) as info, session_scope(engine) as s:
        create_alert(s, level=6, scope={}, exercise=False, targets=targets, deliveries=bad,
                     actor="a")  # fmt: skip
    columns = sorted(e.column for e in info.value.errors)
    assert columns == ["address", "legal_basis", "level", "resident_id"]
    assert _counts(engine) == before


def test_exercise_refuses_off_list_addresses_masked_and_writes_nothing(engine: Engine) -> None:
    targets, deliveries = simple_plan(4, exercise=True)
    allowed = [d.address for d in deliveries[:2]]
    before = _counts(engine)
    with pytest.raises(InputError) as info, session_scope(engine) as s:
        create_alert(s, level=3, scope={}, exercise=True, targets=targets,
                     deliveries=deliveries, actor="a", allow_list=allowed)  # fmt: skip
    msgs = [e.message for e in info.value.errors]
    assert len(msgs) == 2 and all("allow_list" in m for m in msgs)
    for d in deliveries[2:]:
        assert not any(d.address in m for m in msgs)  # masked, never the full number
        assert any(d.address[-4:] in m for m in msgs)
    assert _counts(engine) == before


def test_exercise_body_must_carry_the_prefix(engine: Engine) -> None:
    targets, deliveries = simple_plan(2, exercise=False)
    with pytest.raises(InputError) as info, session_scope(engine) as s:
        create_alert(s, level=3, scope={}, exercise=True, targets=targets, deliveries=deliveries,
                     actor="a", allow_list=[d.address for d in deliveries])  # fmt: skip
    assert [e.column for e in info.value.errors] == ["body", "body"]
    assert _counts(engine)["alerts"] == 0


def test_worker_refuses_exercise_rows_off_its_own_allow_list(engine: Engine) -> None:
    """Third lock: even a row that got into the outbox is not sent off the worker's list."""
    targets, deliveries = simple_plan(3, exercise=True)
    with session_scope(engine) as s:
        aid = create_alert(s, level=3, scope={}, exercise=True, targets=targets,
                           deliveries=deliveries, actor="a",
                           allow_list=[d.address for d in deliveries], now=T0)  # fmt: skip
    settings = dataclasses.replace(
        _settings(engine),
        exercise=dataclasses.replace(Settings().exercise, allow_list=(deliveries[0].address,)),
    )
    chans = fake_channels()
    Dispatcher(engine, chans, settings, worker_id="w", clock=Clock(T0 + dt.timedelta(1))).step()
    assert chans[SMS].addresses() == [deliveries[0].address]
    states = _states(engine, aid)
    assert sorted(states.values()) == ["failed", "failed", "sent"]


def test_cancel_reaches_exactly_the_people_who_were_sent_the_alert(engine: Engine) -> None:
    clock = Clock()
    targets, deliveries = simple_plan(6, channels=(PUSH, SMS), supporter_channel=VOICE)
    with session_scope(engine) as s:
        aid = create_alert(s, level=3, scope={}, exercise=False, targets=targets,
                           deliveries=deliveries, actor="a", now=clock())  # fmt: skip
    by_person = {(d.resident_id, d.channel): d.address for d in deliveries}
    chans = fake_channels()
    chans[PUSH].script[by_person[("R00001", PUSH)]] = Outcome.REJECTED  # never reached by push
    chans[PUSH].script[by_person[("R00002", PUSH)]] = Outcome.UNKNOWN  # push retried
    chans[VOICE].script[deliveries[-1].address] = Outcome.UNKNOWN  # R00005's supporter: maybe
    settings = _settings(engine, max_attempts=1)
    d = Dispatcher(engine, chans, settings, worker_id="w", clock=clock)
    d.step()
    with session_scope(engine) as s:
        record_acknowledgement(s, key=f"{aid}:1", answer="safe", via="push")  # R00000 answered
    d.maintain()  # R00001's push failed -> SMS released
    with session_scope(engine) as s:
        before = {
            (r.recipient, r.resident_id, r.supporter_id, r.channel, r.address): r.state
            for r in s.scalars(select(Delivery).where(Delivery.alert_id == aid))
        }
    reached = {k for k, st in before.items() if st in ("sent", "acknowledged", "unknown")}
    unsent = {k for k, st in before.items() if st in ("held", "queued")}
    assert unsent, "the test needs rows that were not sent yet"
    for f in chans.values():
        f.sent.clear()
        f.results.clear()

    def render(channel: ChannelName, language: str) -> tuple[str, str]:
        return ("取消し", f"【取消し】先ほどの避難情報は取り消します ({channel.value}, {language})")

    with session_scope(engine) as s:
        res = cancel_alert(
            s, aid, reason="誤報 / sent in error", actor="officer-b", render=render, now=clock()
        )
    assert res.cancelled == len(unsent)
    assert res.notified == len(reached)
    d.step()
    d.maintain()
    d.step()
    sent = {(m.channel, m.address) for f in chans.values() for m in f.sent}
    assert sent == {(ChannelName(k[3]), k[4]) for k in reached}
    assert all(m.body.startswith("【取消し】") for f in chans.values() for m in f.sent)
    with session_scope(engine) as s:
        after = {
            (r.recipient, r.resident_id, r.supporter_id, r.channel, r.address): r.state
            for r in s.scalars(select(Delivery).where(Delivery.alert_id == aid))
        }
        notice = s.get(Alert, res.cancellation_alert_id)
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "alert.cancel")).one()
    assert all(after[k] == "cancelled" for k in unsent)  # the held SMS never went out
    assert notice is not None and notice.kind == "cancellation" and notice.parent_id == aid
    assert audit.actor == "officer-b" and audit.result["notified"] == len(reached)
    with pytest.raises(InputError), session_scope(engine) as s:
        cancel_alert(s, aid, reason="again", actor="b", render=render)


def test_cancellations_are_claimed_before_other_queued_work(engine: Engine) -> None:
    clock = Clock()
    t1, d1 = simple_plan(3, channels=(SMS,))
    with session_scope(engine) as s:
        first = create_alert(s, level=3, scope={}, exercise=False, targets=t1, deliveries=d1,
                             actor="a", now=clock())  # fmt: skip
    chans = fake_channels()
    d = Dispatcher(engine, chans, _settings(engine, batch_size=2), worker_id="w", clock=clock)
    while d.step():
        pass
    # a new level-5 alert with more, higher-priority work is queued before the cancel
    t2, d2 = simple_plan(4, channels=(SMS,), first=100)
    with session_scope(engine) as s:
        create_alert(s, level=5, scope={}, exercise=False, targets=t2, deliveries=d2, actor="a",
                     now=clock())  # fmt: skip
        cancel_alert(
            s, first, reason="r", actor="a", render=lambda c, lang: ("t", "取消し"), now=clock()
        )
    chans[SMS].sent.clear()
    d.step()  # batch_size 2: two rows per claim
    d.step()
    while d.step():
        pass
    bodies = [m.body for m in chans[SMS].sent]
    assert bodies[:3] == ["取消し"] * 3
    assert len(bodies) == 7


def test_status_counts_unreached_and_needs_help(engine: Engine) -> None:
    clock = Clock()
    targets, deliveries = simple_plan(4, channels=(SMS, VOICE))
    targets.append(PlannedTarget("R09999", 99.0, located=True, reachable=False))
    with session_scope(engine) as s:
        aid = create_alert(s, level=4, scope={}, exercise=False, targets=targets,
                           deliveries=deliveries, actor="a", now=clock())  # fmt: skip
    chans = fake_channels()
    chans[SMS].script[deliveries[2].address] = Outcome.UNKNOWN  # R00001's SMS
    chans[SMS].script[deliveries[4].address] = Outcome.REJECTED  # R00002's SMS
    d = Dispatcher(engine, chans, _settings(engine), worker_id="w", clock=clock)
    d.step()
    with session_scope(engine) as s:
        assert record_provider_status(s, provider_ref=None, key=f"{aid}:1", status="delivered",
                                      error_code=None)  # fmt: skip
        assert record_acknowledgement(s, key=f"{aid}:1", answer="need_help", via="sms")
        assert record_acknowledgement(s, key=f"{aid}:1", answer="safe", via="web")
        assert not record_acknowledgement(s, key="nope", answer="safe", via="sms")
        st = alert_status(s, aid)
    assert st.counts["sent"] == 1 and st.counts["acknowledged"] == 1
    assert st.counts["unknown"] == 1 and st.counts["failed"] == 1
    assert st.counts["held"] == 3  # voice steps wait for the acknowledgement window
    assert st.by_channel["sms"]["sent"] == 1 and st.by_channel["voice"]["queued"] == 0
    assert sum(st.counts.values()) == len(deliveries)
    # highest priority first; everyone with a voice call still to come is in progress
    assert [(u.resident_id, u.reason) for u in st.unreached] == [
        ("R09999", "no_channel"),
        ("R00001", "in_progress"),
        ("R00002", "in_progress"),
        ("R00003", "in_progress"),
    ]
    assert [u.key for u in st.unknown] == [f"{aid}:3"]
    assert st.unknown[0].address.endswith(deliveries[2].address[-4:])
    assert st.unknown[0].address != deliveries[2].address
    assert [h["resident_id"] for h in st.needs_help] == ["R00000"]
    with session_scope(engine) as s:
        target = s.scalars(select(AlertTarget).where(AlertTarget.resident_id == "R00000")).one()
        assert target.ack_answer == "need_help"  # a later 'safe' does not hide it
        assert s.scalar(select(func.count()).select_from(Acknowledgement)) == 2
    assert st.state == "waiting"  # nothing queued; held steps wait for the window


def test_provider_callbacks_move_rows_and_unknown_callbacks_are_reported(engine: Engine) -> None:
    clock = Clock()
    targets, deliveries = simple_plan(2, channels=(SMS, VOICE))
    with session_scope(engine) as s:
        aid = create_alert(s, level=3, scope={}, exercise=False, targets=targets,
                           deliveries=deliveries, actor="a", now=clock())  # fmt: skip
    chans = fake_channels()
    d = Dispatcher(engine, chans, _settings(engine), worker_id="w", clock=clock)
    d.step()
    refs = [r.provider_ref for r in chans[SMS].results]
    with session_scope(engine) as s:
        assert record_provider_status(s, provider_ref=refs[0], key=None, status="delivered",
                                      error_code=None)  # fmt: skip
        assert record_provider_status(s, provider_ref=refs[1], key=None, status="undelivered",
                                      error_code=30003)  # fmt: skip
        assert not record_provider_status(s, provider_ref="SMnope", key=None, status="delivered",
                                          error_code=None)  # fmt: skip
    d.maintain()  # R00001's SMS failed permanently -> its voice call is released now
    states = _states(engine, aid)
    assert states[("R00000", 0, "sms")] == "delivered"
    assert states[("R00001", 0, "sms")] == "failed"
    assert states[("R00001", 1, "voice")] == "queued"
    assert states[("R00000", 1, "voice")] == "held"


def test_status_and_cancel_of_unknown_alert(engine: Engine) -> None:
    with pytest.raises(NotFound), session_scope(engine) as s:
        alert_status(s, "A000")
    with pytest.raises(NotFound), session_scope(engine) as s:
        cancel_alert(s, "A000", reason="r", actor="a", render=lambda c, lang: ("", ""))


def test_fake_channel_script_sequence() -> None:
    f = FakeChannel.of(SMS, script={"+1": [Outcome.DEFERRED, Outcome.DEFERRED, Outcome.DELIVERED]})
    from alertsvc.models import OutgoingMessage

    m = OutgoingMessage(key="k", channel=SMS, address="+1", body="b")
    got = [f.send_many([m])[0].outcome for _ in range(4)]
    assert got == [Outcome.DEFERRED, Outcome.DEFERRED, Outcome.DELIVERED, Outcome.DELIVERED]
    assert f.sent_keys["k"] == 4 and f.accepted_keys["k"] == 2


def test_cancel_before_anything_was_sent_stops_everything_and_notifies_nobody(
    engine: Engine,
) -> None:
    clock = Clock()
    targets, deliveries = simple_plan(5, channels=(PUSH, SMS), supporter_channel=VOICE)
    with session_scope(engine) as s:
        aid = create_alert(s, level=3, scope={}, exercise=False, targets=targets,
                           deliveries=deliveries, actor="a", now=clock())  # fmt: skip
        res = cancel_alert(s, aid, reason="r", actor="a", render=lambda c, lang: ("", "x"),
                           now=clock())  # fmt: skip
    assert (res.cancelled, res.notified, res.cancellation_alert_id) == (15, 0, None)
    chans = fake_channels()
    d = Dispatcher(engine, chans, _settings(engine), worker_id="w", clock=clock)
    d.maintain()
    assert d.step() == 0
    assert not any(f.sent for f in chans.values())
    assert set(_states(engine, aid).values()) == {"cancelled"}
    with session_scope(engine) as s:
        assert alert_status(s, aid).state == "cancelled"
