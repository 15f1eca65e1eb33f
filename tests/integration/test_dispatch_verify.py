"""alert verify: each rule holds after a normal run and catches a deliberate breach."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, select, update

from alertsvc.config import DispatchSettings
from alertsvc.db import session_scope
from alertsvc.db.tables import Acknowledgement, AlertTarget, Delivery
from alertsvc.dispatch import create_alert, record_acknowledgement, run_worker
from alertsvc.dispatch.cancel import cancel_alert
from alertsvc.dispatch.verify import RULES, verify_alert
from alertsvc.models import ChannelName, Outcome
from alertsvc.testing import FakeChannel, simple_plan
from tests.integration.dispatch_support import fast_settings as _settings

SMS = ChannelName.SMS


def _alert(engine: Engine, n: int, now: dt.datetime | None = None, level: int = 4) -> str:
    targets, deliveries = simple_plan(n, channels=(SMS, ChannelName.VOICE), supporter_channel=SMS)
    with session_scope(engine) as s:
        return create_alert(
            s,
            level=level,
            scope={},
            exercise=False,
            targets=targets,
            deliveries=deliveries,
            actor="t",
            now=now,
        )


def _rules(engine: Engine, alert_id: str, **kw: float) -> list[tuple[str, str]]:
    with session_scope(engine) as s:
        v = verify_alert(s, alert_id, DispatchSettings(**kw))  # type: ignore[arg-type]
    assert v.ok == (not v.violations)
    return [(x.rule, x.resident_id) for x in v.violations]


def test_a_normal_run_with_a_cancel_verifies(engine: Engine) -> None:
    aid = _alert(engine, 5, level=5)
    sms = FakeChannel.of(SMS)
    sms.script[simple_plan(5, channels=(SMS,))[1][2].address] = Outcome.UNKNOWN
    chans = {SMS: sms, ChannelName.VOICE: FakeChannel.of(ChannelName.VOICE)}
    run_worker(engine, chans, _settings(engine), until_idle=True)
    with session_scope(engine) as s:
        key = s.scalars(
            select(Delivery.key).where(
                Delivery.resident_id == "R00001", Delivery.recipient == "resident"
            )
        ).first()
        assert key is not None
        record_acknowledgement(s, key=key, answer="safe", via="sms")
    assert _rules(engine, aid) == []
    with session_scope(engine) as s:
        notice = cancel_alert(
            s, aid, reason="誤報", actor="o", render=lambda _c, _l: ("", "取消し")
        ).cancellation_alert_id
    run_worker(engine, chans, _settings(engine), until_idle=True)
    assert notice is not None
    assert _rules(engine, aid) == [] and _rules(engine, notice) == []


def test_every_rule_catches_its_breach(engine: Engine) -> None:
    old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)
    stuck = _alert(engine, 2, now=old)
    found = _rules(engine, stuck)
    assert ("row_stuck", "R00000") in found  # queued for three hours, never handed over

    aid = _alert(engine, 3, level=5)
    run_worker(
        engine,
        {SMS: FakeChannel.of(SMS), ChannelName.VOICE: FakeChannel.of(ChannelName.VOICE)},
        _settings(engine),
        until_idle=True,
    )
    with session_scope(engine) as s:
        rows = {
            (r.resident_id, r.recipient, r.channel): r
            for r in s.scalars(select(Delivery).where(Delivery.alert_id == aid))
        }
        # a supporter's answer recorded as the person's own
        sup = rows[("R00000", "supporter", "sms")]
        s.add(
            Acknowledgement(
                alert_id=aid, resident_id="R00002", delivery_key=sup.key, answer="safe", via="sms"
            )
        )
        s.execute(
            update(AlertTarget)
            .where(AlertTarget.alert_id == aid, AlertTarget.resident_id == "R00001")
            .values(acknowledged_at=dt.datetime.now(dt.UTC))
        )
        s.execute(
            update(Delivery)
            .where(Delivery.id == rows[("R00002", "resident", "sms")].id)
            .values(state="lost")
        )
    found = _rules(engine, aid)
    assert ("acknowledgement_owner", "R00002") in found
    assert ("acknowledgement_owner", "R00001") in found
    assert ("row_state", "R00002") in found

    with session_scope(engine) as s:
        notice = cancel_alert(
            s, aid, reason="誤報", actor="o", render=lambda _c, _l: ("", "取消し")
        ).cancellation_alert_id
        assert notice is not None
        # a notice to an address the alert never reached, and one reached person dropped
        # (cancellations are one per person: the notice row moves to somebody else)
        first = s.scalars(
            select(Delivery).where(Delivery.alert_id == notice).order_by(Delivery.id)
        ).first()
        assert first is not None
        dropped = first.resident_id
        s.execute(update(Delivery).where(Delivery.id == first.id)
                  .values(address="+819099999999", resident_id="R09999"))  # fmt: skip
    found = _rules(engine, aid) + _rules(engine, notice)
    assert ("cancellation_address", "R09999") in found
    assert ("cancellation_missing", dropped) in found
    assert {r for r, _ in found} <= set(RULES)
