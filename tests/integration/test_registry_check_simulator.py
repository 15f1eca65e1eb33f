"""The pre-season check through the REAL twilio and firebase-admin clients and the provider
simulator (#10 item 6): a dead push token, a landline typed as a mobile, an opted-out
number, an invalid number and an address off the allow-list are each reported as such,
the simulator sees only allow-listed addresses and only 【訓練】 texts, and contact health
learns the refusals as it would in a real alert.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine

from alertsvc.channels import build_channels
from alertsvc.config import ExerciseSettings, Settings
from alertsvc.db import session_scope
from alertsvc.dispatch.alerts import EXERCISE_PREFIX
from alertsvc.models import ChannelName
from alertsvc.planning.channel_order import channel_order
from alertsvc.registry.csv_import import import_register
from alertsvc.registry.store import load_residents
from alertsvc.services.check import (
    Selection,
    channels_needed,
    finish_check,
    plan_check,
    run_check,
    select_residents,
    start_check,
)
from alertsvc.services.check_report import check_report
from alertsvc.testing.simulator import ProviderSimulator

TOKEN = "tok-" + "d" * 60
NUMBERS = {
    "R1": "+819012345678",  # opted out of SMS: voice still works
    "R2": "+819023456789",  # fine, with a dead push token
    "R3": "+819034567890",  # a landline typed as a mobile: no SMS
    "R4": "+819045678901",  # invalid on every channel
    "R5": "+819056789012",  # not on the allow-list
}
CSV = "名簿番号,氏名,住所,緯度,経度,携帯電話,FCMトークン\n" + "".join(
    f"{rid},直方 {rid},福岡県直方市殿町{n},33.74,130.73,0{num[3:5]}-{num[5:9]}-{num[9:]},"
    f"{TOKEN if rid == 'R2' else ''}\n"
    for n, (rid, num) in enumerate(NUMBERS.items(), start=1)
)
SCRIPT = {
    NUMBERS["R1"]: "opted_out",
    TOKEN: "dead_token",
    NUMBERS["R3"]: "landline",
    NUMBERS["R4"]: "invalid",
}


def test_check_through_the_simulator(
    engine: Engine, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="alertsvc")
    (tmp_path / "r.csv").write_text(CSV, encoding="utf-8")
    import_register(engine, tmp_path / "r.csv", actor="test")
    allow = (*(a for rid, a in NUMBERS.items() if rid != "R5"), TOKEN)
    with ProviderSimulator(script=SCRIPT, log_unmasked=True) as sim:
        run_settings = replace(
            settings,
            twilio=replace(settings.twilio, base_url=sim.url),
            fcm=replace(settings.fcm, base_url=sim.url),
            webhooks=replace(settings.webhooks, public_url="http://127.0.0.1:9"),
            exercise=ExerciseSettings(allow_list=allow),
        )
        with session_scope(engine) as s:
            chosen = select_residents(load_residents(s), Selection())
        wanted = channels_needed(chosen, allow)
        assert wanted == {ChannelName.PUSH, ChannelName.SMS, ChannelName.VOICE}
        channels = build_channels(run_settings, only=sorted(wanted), timeout=5.0, env={})
        plan = plan_check(chosen, allow_list=allow, channels=dict.fromkeys(channels, ""),
                          municipality="直方市")  # fmt: skip
        with session_scope(engine) as s:
            check_id = start_check(s, plan, Selection(), allow_list=allow, actor="test")
        assert run_check(engine, channels, run_settings, check_id, timeout=60.0)
        with session_scope(engine) as s:
            assert finish_check(s, check_id, actor="test") == 0
        requests = list(sim.requests)
    sends = [r for r in requests if r.to]
    assert {r.provider for r in sends} == {"fcm", "twilio-sms", "twilio-voice"}
    assert {r.to for r in sends} <= set(allow) and NUMBERS["R5"] not in {r.to for r in sends}
    assert all(EXERCISE_PREFIX in json.dumps(r.body, ensure_ascii=False) for r in sends)
    with session_scope(engine) as s:
        report = check_report(s, check_id)
    by = {
        (r.resident_id, c.channel): (c.result, c.finding)
        for r in report.residents
        for c in r.channels
    }
    assert by[("R1", "sms")] == ("failed", "opted_out")
    assert by[("R1", "voice")] == ("accepted", None)
    assert by[("R2", "push")] == ("failed", "dead_token")
    assert by[("R2", "sms")] == ("accepted", None)
    assert by[("R3", "sms")] == ("failed", "not_mobile")
    assert by[("R4", "sms")] == ("failed", "invalid_number")
    assert by[("R4", "voice")] == ("failed", "invalid_number")
    assert by[("R5", "sms")] == ("not_checked", "not_on_allow_list")
    status = {r.resident_id: r.status for r in report.residents}
    assert status == {
        "R1": "reached",
        "R2": "reached",
        "R3": "reached",
        "R4": "no_working_channel",
        "R5": "not_checked",
    }
    assert report.findings == {
        "dead_token": 1,
        "invalid_number": 2,
        "not_mobile": 1,
        "not_on_allow_list": 2,
        "opted_out": 1,
    }
    # personal data: the worker's and adapters' log lines carry masked addresses only
    assert caplog.records
    for secret in (*NUMBERS.values(), TOKEN):
        assert secret not in caplog.text
    # contact health learnt it: the next plan skips what the providers refused
    with session_scope(engine) as s:
        orders = {
            r.id: channel_order(r.needs, r.contacts, r.channel_pref).channels
            for r in load_residents(s)
        }
    assert orders["R1"] == (ChannelName.VOICE,)
    assert orders["R2"] == (ChannelName.SMS, ChannelName.VOICE)
    assert orders["R3"] == (ChannelName.VOICE,)
    assert orders["R4"] == ()
