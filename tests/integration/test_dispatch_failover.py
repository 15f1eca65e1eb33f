"""A channel that cannot run never strands a person (#7 item 2).

The max-age sweep fails rows that no worker handed to a provider in time, so the next
channel goes out; a broken channel is reported (log, audit, ``alert status``) and does
not stop the other channels.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import Counter
from collections.abc import Sequence

import pytest
from sqlalchemy import Engine, select

from alertsvc.db import session_scope
from alertsvc.db.tables import AuditEntry, Delivery
from alertsvc.dispatch import Dispatcher, create_alert, run_worker
from alertsvc.dispatch.maintenance import EXPIRED_PREFIX
from alertsvc.dispatch.status import alert_status
from alertsvc.errors import ChannelMisconfigured
from alertsvc.models import ChannelName, DeliveryResult, OutgoingMessage
from alertsvc.testing import FakeChannel, simple_plan
from alertsvc.testing.fakes import FakePushChannel
from tests.integration.dispatch_support import Clock
from tests.integration.dispatch_support import fast_settings as _settings

PUSH, SMS = ChannelName.PUSH, ChannelName.SMS


def _alert(engine: Engine, n: int, clock: Clock | None = None) -> str:
    targets, deliveries = simple_plan(n, channels=(PUSH, SMS))
    with session_scope(engine) as s:
        return create_alert(s, level=4, scope={}, exercise=False, targets=targets,
                            deliveries=deliveries, actor="t",
                            now=clock() if clock else None)  # fmt: skip


def _states(engine: Engine, alert_id: str) -> Counter[tuple[str, str]]:
    with session_scope(engine) as s:
        return Counter(
            (c, st)
            for c, st in s.execute(
                select(Delivery.channel, Delivery.state).where(Delivery.alert_id == alert_id)
            )
        )


def test_rows_of_a_channel_nobody_serves_fail_over_after_max_age(engine: Engine) -> None:
    clock = Clock()
    aid = _alert(engine, 3, clock)
    settings = _settings(engine, max_age_seconds=600, ack_wait_level4_seconds=900)
    sms = FakeChannel.of(SMS)
    # `worker --channel sms`: nobody serves push
    d = Dispatcher(engine, {SMS: sms}, settings, worker_id="w", clock=clock)
    d.maintain()
    assert d.step() == 0
    clock.advance(599)
    d.maintain()
    assert _states(engine, aid)[("push", "queued")] == 3  # not yet past max age
    with session_scope(engine) as s:
        st = alert_status(s, aid, now=clock())
    assert [(p.channel, p.problem) for p in st.channel_problems] == [("push", "no_progress")]
    clock.advance(2)
    d.maintain()  # sweep fails the push rows and releases SMS in the same pass
    assert d.step() == 3
    assert _states(engine, aid) == {("push", "failed"): 3, ("sms", "sent"): 3}
    assert d.stats.expired == 3
    with session_scope(engine) as s:
        details = list(s.scalars(select(Delivery.detail).where(Delivery.channel == "push")))
        st = alert_status(s, aid, now=clock())
        audited = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "delivery.expired")))
    assert all(x.startswith(EXPIRED_PREFIX) and "push" in x for x in details)
    assert ("push", "expired") in [(p.channel, p.problem) for p in st.channel_problems]
    assert audited and audited[0].result["channels"] == {"push": 3}


def test_a_stalled_claim_is_failed_over_too(engine: Engine) -> None:
    clock = Clock()
    aid = _alert(engine, 2, clock)
    settings = _settings(engine, max_age_seconds=600, lease_seconds=10_000)
    stalled = Dispatcher(engine, {PUSH: FakeChannel.of(PUSH)}, settings, worker_id="s",
                         clock=clock)  # fmt: skip
    assert len(stalled._claim("push", 10)) == 2  # claimed, then the worker hangs
    clock.advance(601)
    sms = FakeChannel.of(SMS)
    d = Dispatcher(engine, {SMS: sms}, settings, worker_id="w", clock=clock)
    d.maintain()
    d.step()
    assert _states(engine, aid) == {("push", "failed"): 2, ("sms", "sent"): 2}


class BrokenPush(FakePushChannel):
    """FCM whose OAuth token refresh fails: every call raises."""

    calls = 0

    def send_many(self, messages: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
        BrokenPush.calls += 1
        raise ChannelMisconfigured("fcm: token refresh failed (invalid_grant)")


class TickClock(Clock):
    """Every reading is a little later: time passes with work done, not with wall time."""

    def __call__(self) -> dt.datetime:
        with self._lock:
            self.now += dt.timedelta(seconds=0.5)
            return self.now

    _lock = threading.Lock()


def test_a_broken_channel_does_not_stop_the_others_and_fails_over(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    clock = TickClock()
    aid = _alert(engine, 4, clock)
    # one SMS-only person too: SMS must keep going while push is broken
    targets, deliveries = simple_plan(2, channels=(SMS,), first=10)
    with session_scope(engine) as s:
        other = create_alert(s, level=4, scope={}, exercise=False, targets=targets,
                             deliveries=deliveries, actor="t", now=clock())  # fmt: skip
    settings = _settings(
        engine, max_age_seconds=60, channel_retry_seconds=0.05, ack_wait_level4_seconds=900
    )
    sms = FakeChannel.of(SMS)
    with caplog.at_level(logging.ERROR):
        stats = run_worker(
            engine, {PUSH: BrokenPush(), SMS: sms}, settings, until_idle=True, clock=clock,
            poll_interval=0.01, maintenance_interval=0.01,
        )  # fmt: skip
    assert BrokenPush.calls >= 1
    assert stats.channel_errors >= 1 and stats.expired == 4
    assert _states(engine, other) == {("sms", "sent"): 2}
    # push rows were requeued (never sent), then failed over to SMS
    assert _states(engine, aid) == {("push", "failed"): 4, ("sms", "sent"): 4}
    assert any("CHANNEL BROKEN" in r.getMessage() and "push" in r.getMessage()
               for r in caplog.records)  # fmt: skip
    with session_scope(engine) as s:
        st = alert_status(s, aid, now=clock())
        broken = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "channel.broken")))
    assert broken and "invalid_grant" in broken[0].result["error"]
    problems = {(p.channel, p.problem) for p in st.channel_problems}
    assert {("push", "broken"), ("push", "expired")} <= problems


def test_a_busy_call_releases_the_next_channel_at_once(engine: Engine) -> None:
    """busy / no-answer / 30003: the row fails, so escalation does not wait (#7 item 10)."""
    from alertsvc.dispatch.inbound import record_provider_status

    clock = Clock()
    targets, deliveries = simple_plan(2, channels=(ChannelName.VOICE, SMS))
    with session_scope(engine) as s:
        aid = create_alert(s, level=3, scope={}, exercise=False, targets=targets,
                           deliveries=deliveries, actor="t", now=clock())  # fmt: skip
    chans = {ChannelName.VOICE: FakeChannel.of(ChannelName.VOICE), SMS: FakeChannel.of(SMS)}
    d = Dispatcher(engine, chans, _settings(engine, ack_wait_level3_seconds=900), worker_id="w",
                   clock=clock)  # fmt: skip
    assert d.step() == 2
    with session_scope(engine) as s:
        keys = list(s.scalars(select(Delivery.key).where(Delivery.channel == "voice")
                              .order_by(Delivery.id)))  # fmt: skip
        record_provider_status(s, key=keys[0], provider_ref=None, status="busy", error_code=None,
                               now=clock())  # fmt: skip
        record_provider_status(s, key=keys[1], provider_ref=None, status="no-answer",
                               error_code=None, now=clock())  # fmt: skip
    d.maintain()  # no ack wait: every earlier row failed
    assert d.step() == 2
    assert _states(engine, aid) == {("voice", "failed"): 2, ("sms", "sent"): 2}


def test_a_push_lost_with_its_worker_is_resent_not_left_unknown(engine: Engine) -> None:
    from alertsvc.dispatch.moves import move
    from alertsvc.dispatch.states import Event

    clock = Clock()
    targets, deliveries = simple_plan(3, channels=(PUSH,))
    with session_scope(engine) as s:
        aid = create_alert(s, level=4, scope={}, exercise=False, targets=targets,
                           deliveries=deliveries, actor="t", now=clock())  # fmt: skip
    settings = _settings(engine, lease_seconds=30)
    dead = Dispatcher(engine, {}, settings, worker_id="dead", clock=clock)
    rows = dead._claim("push", 3)
    with session_scope(engine) as s:
        move(s, Event.CALL_PROVIDER, Delivery.id.in_([r.id for r in rows]))  # then SIGKILL
    clock.advance(31)
    push = FakeChannel.of(PUSH)
    alive = Dispatcher(engine, {PUSH: push}, settings, worker_id="alive", clock=clock)
    alive.maintain()
    assert alive.step() == 3
    assert _states(engine, aid) == {("push", "sent"): 3}
