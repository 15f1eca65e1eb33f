"""Who counts as reached on the follow-up list (the door-knock list)."""

from __future__ import annotations

from sqlalchemy import Engine, select

from alertsvc.config import Settings
from alertsvc.db import session_scope
from alertsvc.db.tables import Delivery
from alertsvc.dispatch import (
    PlannedTarget,
    alert_status,
    create_alert,
    record_acknowledgement,
    record_provider_status,
)
from alertsvc.dispatch.runner import run_worker
from alertsvc.models import ChannelName
from alertsvc.testing.fakes import fake_channels, resident_delivery


def test_only_answers_and_sms_receipts_count_as_reached(engine: Engine, settings: Settings) -> None:
    plan = [
        resident_delivery("SMS_DELIVERED", ChannelName.SMS, "+819011110001"),
        resident_delivery("CALL_ANSWERED", ChannelName.VOICE, "+81949110002"),
        resident_delivery("CALL_PRESSED_1", ChannelName.VOICE, "+81949110003"),
        resident_delivery("PUSH_ONLY", ChannelName.PUSH, "tok-" + "p" * 40),
    ]
    people = sorted({d.resident_id for d in plan})
    with session_scope(engine) as s:
        alert_id = create_alert(
            s, level=5, scope={}, exercise=False, deliveries=plan, actor="t",
            targets=[PlannedTarget(r, 1.0, True, True) for r in people],
        )  # fmt: skip
    run_worker(engine, fake_channels(), settings, until_idle=True)
    with session_scope(engine) as s:
        keys = dict(s.execute(select(Delivery.resident_id, Delivery.key)).all())
        record_provider_status(s, provider_ref=None, key=keys["SMS_DELIVERED"],
                               status="delivered", error_code=None)  # fmt: skip
        # answered, listened, hung up without pressing anything (or an answering machine)
        record_provider_status(s, provider_ref=None, key=keys["CALL_ANSWERED"],
                               status="completed", error_code=None)  # fmt: skip
        record_provider_status(s, provider_ref=None, key=keys["CALL_PRESSED_1"],
                               status="completed", error_code=None)  # fmt: skip
        record_acknowledgement(s, key=keys["CALL_PRESSED_1"], answer="safe", via="voice")
    with session_scope(engine) as s:
        status = alert_status(s, alert_id)
    assert {(u.resident_id, u.reason) for u in status.unreached} == {
        ("CALL_ANSWERED", "not_confirmed"),
        ("PUSH_ONLY", "not_confirmed"),
    }
