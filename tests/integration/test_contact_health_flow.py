"""A provider's permanent refusal reaches contact health, through the worker and webhooks.

Real adapters against the simulator: an opted-out number keeps its calls, a landline
typed as a mobile loses SMS, a dead push token is dropped — and the next plan knows it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sqlalchemy import Engine, select

from alertsvc.channels import build_channels
from alertsvc.config import Settings
from alertsvc.db import session_scope
from alertsvc.db.tables import Contact, Delivery
from alertsvc.dispatch import (
    PlannedTarget,
    create_alert,
    record_provider_status,
)
from alertsvc.dispatch.runner import run_worker
from alertsvc.models import ChannelName
from alertsvc.planning.channel_order import channel_order
from alertsvc.registry.csv_import import import_register
from alertsvc.registry.store import load_residents, record_refusal, refusal_hook
from alertsvc.testing.fakes import fake_channels, resident_delivery
from alertsvc.testing.simulator import ProviderSimulator

TOKEN = "tok-" + "d" * 60
CSV = (
    "名簿番号,氏名,住所,緯度,経度,携帯電話,FCMトークン\n"
    "R1,直方 一郎,福岡県直方市殿町1,33.74,130.73,090-1234-5678,\n"
    f"R2,直方 花子,福岡県直方市殿町2,33.74,130.73,090-2345-6789,{TOKEN}\n"
    "R3,直方 三郎,福岡県直方市殿町3,33.74,130.73,090-3456-7890,\n"
)


def _orders(engine: Engine) -> dict[str, tuple[ChannelName, ...]]:
    with session_scope(engine) as s:
        return {
            r.id: channel_order(r.needs, r.contacts, r.channel_pref).channels
            for r in load_residents(s)
        }


def _send_level5(engine: Engine) -> str:
    """Every channel of every resident at once (level 5: no acknowledgement wait)."""
    with session_scope(engine) as s:
        residents = load_residents(s)
        targets = [PlannedTarget(r.id, 1.0, located=True, reachable=True) for r in residents]
        deliveries = [
            resident_delivery(r.id, ch, addr, body="本文", title="t")
            for r in residents
            for ch, addr in channel_order(r.needs, r.contacts, r.channel_pref).entries
        ]
        return create_alert(
            s, level=5, scope={}, exercise=False, targets=targets, deliveries=deliveries,
            actor="test",
        )  # fmt: skip


def test_refusals_through_the_worker(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text(CSV, encoding="utf-8")
    import_register(engine, tmp_path / "r.csv", actor="test")
    assert _orders(engine) == {
        "R1": (ChannelName.SMS, ChannelName.VOICE),
        "R2": (ChannelName.PUSH, ChannelName.SMS, ChannelName.VOICE),
        "R3": (ChannelName.SMS, ChannelName.VOICE),
    }
    script = {"+819012345678": "opted_out", TOKEN: "dead_token", "+819034567890": "landline"}
    with ProviderSimulator(script=script) as sim:
        run_settings = replace(
            settings,
            twilio=replace(settings.twilio, base_url=sim.url),
            fcm=replace(settings.fcm, base_url=sim.url),
            webhooks=replace(settings.webhooks, public_url="http://127.0.0.1:9"),
        )
        _send_level5(engine)
        run_worker(
            engine,
            build_channels(run_settings, timeout=5.0, env={}),
            run_settings,
            until_idle=True,
            on_refused=refusal_hook,
        )
    assert _orders(engine) == {
        "R1": (ChannelName.VOICE,),  # opted out of SMS: calls still work
        "R2": (ChannelName.SMS, ChannelName.VOICE),  # the app is gone
        "R3": (ChannelName.VOICE,),  # "not a mobile": no SMS
    }
    with session_scope(engine) as s:
        token = s.scalars(select(Contact).where(Contact.address == TOKEN)).one()
        assert not token.healthy and "UNREGISTERED" in token.health_detail


def test_a_failing_sms_callback_blocks_sms(
    engine: Engine, tmp_path: Path, settings: Settings
) -> None:
    (tmp_path / "r.csv").write_text(CSV, encoding="utf-8")
    import_register(engine, tmp_path / "r.csv", actor="test")
    alert_id = _send_level5(engine)
    run_worker(engine, fake_channels(), settings, until_idle=True)
    with session_scope(engine) as s:
        key = s.scalars(
            select(Delivery.key).where(
                Delivery.alert_id == alert_id,
                Delivery.resident_id == "R1",
                Delivery.channel == "sms",
            )
        ).one()
        # 30003 (handset off) says nothing about the contact; 30006 (landline) does
        record_provider_status(
            s, provider_ref=None, key=key, status="undelivered", error_code=30003,
            on_refused=record_refusal,
        )  # fmt: skip
    assert _orders(engine)["R1"] == (ChannelName.SMS, ChannelName.VOICE)
    with session_scope(engine) as s:
        s.execute(Delivery.__table__.update().where(Delivery.key == key).values(state="sent"))
        record_provider_status(
            s, provider_ref=None, key=key, status="undelivered", error_code=30006,
            on_refused=record_refusal,
        )  # fmt: skip
    assert _orders(engine)["R1"] == (ChannelName.VOICE,)
