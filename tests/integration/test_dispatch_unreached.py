"""alert status names every unconfirmed person, with unconfirmed supporter notices under
their person (#7 item 15), on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Engine, select

from alertsvc.db import session_scope
from alertsvc.db.tables import Delivery
from alertsvc.dispatch import create_alert, record_acknowledgement, run_worker
from alertsvc.dispatch.inbound import record_provider_status
from alertsvc.dispatch.status import alert_status
from alertsvc.models import ChannelName, Outcome
from alertsvc.testing import FakeChannel, simple_plan
from tests.integration.dispatch_support import fast_settings as _settings

SMS = ChannelName.SMS


def test_unknown_people_and_unconfirmed_supporter_notices_are_listed(engine: Engine) -> None:
    targets, deliveries = simple_plan(4, channels=(SMS,), supporter_channel=SMS)
    with session_scope(engine) as s:
        aid = create_alert(s, level=4, scope={}, exercise=False, targets=targets,
                           deliveries=deliveries, actor="t")  # fmt: skip
    own = {d.resident_id: d.address for d in deliveries if d.recipient == "resident"}
    sup = {d.resident_id: d.address for d in deliveries if d.recipient == "supporter"}
    sms = FakeChannel.of(SMS)
    sms.script[own["R00000"]] = Outcome.UNKNOWN  # a worker lost mid-call
    sms.script[sup["R00001"]] = Outcome.UNKNOWN
    sms.script[sup["R00002"]] = Outcome.REJECTED
    run_worker(engine, {SMS: sms}, _settings(engine), until_idle=True)
    with session_scope(engine) as s:
        keys = dict(
            s.execute(select(Delivery.address, Delivery.key).where(Delivery.alert_id == aid)).all()
        )
        # R00002: the carrier delivered the resident's SMS; R00003 answered
        record_provider_status(
            s, key=keys[own["R00002"]], provider_ref=None, status="delivered", error_code=None
        )
        record_acknowledgement(s, key=keys[own["R00003"]], answer="safe", via="sms")
    with session_scope(engine) as s:
        st = alert_status(s, aid)
    listed = {u.resident_id: u for u in st.unreached}
    assert set(listed) == {"R00000", "R00001"}
    assert listed["R00000"].reason == "unknown"
    assert listed["R00001"].reason == "not_confirmed"
    # the supporter notice nobody confirmed appears under its person
    assert [(n.supporter_id, n.channel, n.state) for n in listed["R00001"].supporters] == [
        (2, "sms", "unknown")
    ]
    assert [n.state for n in listed["R00000"].supporters] == ["sent"]
    doc = st.as_dict()
    by_id = {u["resident_id"]: u for u in doc["unreached"]}
    assert by_id["R00001"]["supporters"] == [
        {"supporter_id": 2, "channel": "sms", "state": "unknown"}
    ]
    assert st.state == "complete" and st.counts["unknown"] == 2
