"""Dispatcher workers on SQLite and PostgreSQL: exactly once, retries, escalation, leases."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

import pytest
from sqlalchemy import Engine, select, update

from alertsvc.db import session_scope
from alertsvc.db.tables import Delivery
from alertsvc.dispatch import (
    Dispatcher,
    PlannedDelivery,
    PlannedTarget,
    create_alert,
    record_acknowledgement,
    run_worker,
)
from alertsvc.models import ChannelName, Outcome
from alertsvc.testing import FakeChannel, fake_channels, simple_plan
from tests.integration.dispatch_support import T0, Clock
from tests.integration.dispatch_support import fast_settings as _settings

PUSH, SMS, VOICE = ChannelName.PUSH, ChannelName.SMS, ChannelName.VOICE


def _create(
    engine: Engine,
    level: int,
    plan: tuple[list[PlannedTarget], list[PlannedDelivery]],
    now: dt.datetime | None = None,
) -> str:
    targets, deliveries = plan
    with session_scope(engine) as s:
        return create_alert(s, level=level, scope={}, exercise=False, targets=targets,
                            deliveries=deliveries, actor="t", now=now)  # fmt: skip


def _rows(engine: Engine, alert_id: str | None = None) -> list[Delivery]:
    with session_scope(engine) as s:
        q = select(Delivery).order_by(Delivery.id)
        if alert_id:
            q = q.where(Delivery.alert_id == alert_id)
        return list(s.scalars(q))


def test_thousand_deliveries_with_injected_faults_are_delivered_exactly_once(
    engine: Engine,
) -> None:
    plan = simple_plan(400, channels=(PUSH,))
    sms = simple_plan(400, channels=(SMS,), first=1000)
    voice = simple_plan(200, channels=(VOICE,), first=2000)
    for p in (plan, sms, voice):
        _create(engine, 5, p)
    chans = fake_channels(fault_rate=0.2, seed=11)
    settings = _settings(
        engine, backoff_seconds=0.001, backoff_max_seconds=0.01, jitter_seconds=0.001,
        max_attempts=100,
    )  # fmt: skip
    stats = run_worker(engine, chans, settings, until_idle=True, maintenance_interval=0.2,
                       poll_interval=0.01)  # fmt: skip
    rows = _rows(engine)
    assert len(rows) == 1000
    assert Counter(r.state for r in rows) == {"sent": 1000}
    handed = Counter[str]()
    accepted = Counter[str]()
    for f in chans.values():
        handed.update(f.sent_keys)
        accepted.update(f.accepted_keys)
    assert set(accepted) == {r.key for r in rows}
    assert set(accepted.values()) == {1}  # every key accepted exactly once
    deferred = sum(handed.values()) - 1000
    assert 150 <= deferred <= 300  # the 20 % faults really happened and were retried
    assert stats.retried == deferred and stats.sent == 1000
    assert all(r.attempts == handed[r.key] for r in rows)


def test_rejected_and_unknown_sms_are_not_retried_but_deferred_is(engine: Engine) -> None:
    targets, deliveries = simple_plan(4, channels=(SMS,))
    aid = _create(engine, 5, (targets, deliveries), now=T0)
    a = [d.address for d in deliveries]
    sms = FakeChannel.of(SMS, script={
        a[0]: Outcome.REJECTED,
        a[1]: Outcome.UNKNOWN,
        a[2]: [Outcome.DEFERRED, Outcome.DEFERRED, Outcome.DELIVERED],
        a[3]: Outcome.DEFERRED,
    })  # fmt: skip
    clock = Clock()
    d = Dispatcher(engine, {SMS: sms}, _settings(engine, max_attempts=4, jitter_seconds=0),
                   worker_id="w", clock=clock)  # fmt: skip
    for _ in range(10):
        d.step()
        clock.advance(120)
    by_addr = {r.address: r for r in _rows(engine, aid)}
    assert [by_addr[x].state for x in a] == ["failed", "unknown", "sent", "failed"]
    assert Counter(sms.addresses()) == {a[0]: 1, a[1]: 1, a[2]: 3, a[3]: 4}
    assert "4 attempts" in by_addr[a[3]].detail


def test_retry_waits_for_the_backoff(engine: Engine) -> None:
    targets, deliveries = simple_plan(1, channels=(SMS,))
    _create(engine, 3, (targets, deliveries), now=T0)
    sms = FakeChannel.of(SMS, script={deliveries[0].address: [Outcome.DEFERRED, Outcome.DELIVERED]})
    clock = Clock()
    d = Dispatcher(engine, {SMS: sms},
                   _settings(engine, backoff_seconds=30, jitter_seconds=0), worker_id="w",
                   clock=clock)  # fmt: skip
    assert d.step() == 1
    clock.advance(29)
    assert d.step() == 0  # not due yet
    clock.advance(2)
    assert d.step() == 1
    assert [r.state for r in _rows(engine)] == ["sent"]


def test_escalation_after_the_ack_wait_and_ack_skips_held_steps(engine: Engine) -> None:
    clock = Clock()
    aid = _create(engine, 3, simple_plan(3, channels=(PUSH, SMS, VOICE)), now=clock())
    chans = fake_channels()
    settings = _settings(engine, ack_wait_level3_seconds=600)
    d = Dispatcher(engine, chans, settings, worker_id="w", clock=clock)
    d.maintain()
    d.step()
    assert len(chans[PUSH].sent) == 3 and not chans[SMS].sent
    push_keys = {m.address: m.key for m in chans[PUSH].sent}
    with session_scope(engine) as s:  # R00000 answers in the app
        record_acknowledgement(s, key=sorted(push_keys.values())[0], answer="safe", via="push")
    clock.advance(599)
    d.maintain()
    d.step()
    assert not chans[SMS].sent  # still inside the acknowledgement window
    clock.advance(2)
    d.maintain()
    d.step()
    assert sorted(m.key.split(":")[1] for m in chans[SMS].sent) == ["5", "8"]  # R00001, R00002
    assert not chans[VOICE].sent
    clock.advance(601)
    d.maintain()
    d.step()
    assert len(chans[VOICE].sent) == 2
    states = {(r.resident_id, r.channel): r.state for r in _rows(engine, aid)}
    assert states[("R00000", "sms")] == states[("R00000", "voice")] == "skipped"
    assert states[("R00000", "push")] == "acknowledged"
    assert states[("R00001", "voice")] == "sent"


def test_permanent_failure_escalates_at_once_and_unknown_waits(engine: Engine) -> None:
    clock = Clock()
    targets, deliveries = simple_plan(2, channels=(SMS, VOICE))
    aid = _create(engine, 4, (targets, deliveries), now=clock())
    sms = FakeChannel.of(SMS, script={
        deliveries[0].address: Outcome.REJECTED, deliveries[2].address: Outcome.UNKNOWN,
    })  # fmt: skip
    voice = FakeChannel.of(VOICE)
    d = Dispatcher(engine, {SMS: sms, VOICE: voice},
                   _settings(engine, ack_wait_level4_seconds=300), worker_id="w",
                   clock=clock)  # fmt: skip
    d.step()
    d.maintain()
    d.step()
    assert [m.address for m in voice.sent] == [deliveries[1].address]  # R00000 only
    clock.advance(301)
    d.maintain()
    d.step()
    assert [m.address for m in voice.sent] == [deliveries[1].address, deliveries[3].address]
    assert Counter(sms.addresses())[deliveries[2].address] == 1  # the unknown SMS: once
    assert {r.state for r in _rows(engine, aid) if r.channel == "voice"} == {"sent"}


def test_expired_claims_are_requeued_and_expired_sends_become_unknown(engine: Engine) -> None:
    clock = Clock()
    targets, deliveries = simple_plan(4, channels=(SMS,))
    _create(engine, 3, (targets, deliveries), now=clock())
    settings = _settings(engine, lease_seconds=30)
    dead = Dispatcher(engine, fake_channels(), settings, worker_id="dead", clock=clock)
    rows = dead._claim("sms", 4)
    # the dead worker got as far as 'sending' for two rows, then vanished
    with session_scope(engine) as s:
        s.execute(
            update(Delivery)
            .where(Delivery.id.in_([r.id for r in rows[:2]]))
            .values(state="sending", attempts=1)
        )
    sms = FakeChannel.of(SMS)
    alive = Dispatcher(engine, {SMS: sms}, settings, worker_id="alive", clock=clock)
    alive.maintain()
    assert alive.step() == 0  # leases still valid: nothing to take over
    clock.advance(31)
    alive.maintain()
    alive.step()
    got = {r.address: r for r in _rows(engine)}
    sent_to = set(sms.addresses())
    assert sent_to == {r.address for r in rows[2:]}  # only the never-called rows
    assert {got[r.address].state for r in rows[:2]} == {"unknown"}
    assert alive.stats.recovered_unknown == 2 and alive.stats.recovered_claims == 2
    assert "may have gone out" in got[rows[0].address].detail


def test_stop_event_releases_claimed_rows_and_loses_nothing(engine: Engine) -> None:
    _create(engine, 3, simple_plan(300, channels=(SMS,)))
    stop = threading.Event()
    seen: list[str] = []

    def on_send(m: object, r: object) -> None:
        seen.append("x")
        if len(seen) == 35:
            stop.set()  # SIGTERM arrives in the middle of the fourth batch

    sms = FakeChannel.of(SMS, on_send=on_send)
    run_worker(engine, {SMS: sms}, _settings(engine, batch_size=10), stop_event=stop)
    states = Counter(r.state for r in _rows(engine))
    assert states["claimed"] == 0 and states["sending"] == 0
    # the call in flight was finished and recorded; the rest of the claim never went
    # to the provider, so it is back in the queue (#7 item 5)
    assert states["sent"] == len(sms.sent) == 35
    assert states["queued"] == 265
    run_worker(engine, {SMS: sms}, _settings(engine), until_idle=True)
    assert Counter(r.state for r in _rows(engine)) == {"sent": 300}
    assert set(sms.sent_keys.values()) == {1}


@pytest.mark.postgres
def test_two_workers_on_postgres_never_claim_the_same_row(pg_engine: Engine) -> None:
    engine = pg_engine
    _create(engine, 4, simple_plan(600, channels=(PUSH,)))
    settings = _settings(engine, batch_size=20)
    a, b = FakeChannel.of(PUSH), FakeChannel.of(PUSH)
    results: dict[str, object] = {}

    def go(name: str, ch: FakeChannel) -> None:
        results[name] = run_worker(engine, {PUSH: ch}, settings, worker_id=name,
                                   until_idle=True, poll_interval=0.01)  # fmt: skip

    threads = [threading.Thread(target=go, args=(n, c)) for n, c in (("a", a), ("b", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    keys_a, keys_b = set(a.sent_keys), set(b.sent_keys)
    assert not keys_a & keys_b
    assert len(keys_a | keys_b) == 600
    assert keys_a and keys_b  # both really worked
    assert Counter(r.state for r in _rows(engine)) == {"sent": 600}


def test_concurrency_threads_share_the_work_exactly_once(engine: Engine) -> None:
    _create(engine, 3, simple_plan(300, channels=(PUSH, SMS)))
    chans = fake_channels()
    settings = _settings(engine, ack_wait_level3_seconds=0, batch_size=30)
    run_worker(engine, chans, settings, until_idle=True, concurrency=3, poll_interval=0.01,
               maintenance_interval=0.05)  # fmt: skip
    assert Counter(r.state for r in _rows(engine)) == {"sent": 600}
    for f in (chans[PUSH], chans[SMS]):
        assert len(f.sent) == 300 and set(f.sent_keys.values()) == {1}
