"""`alertsvc registry check` / `registry health` end to end with fake channels (#10 item 6).

A small register: one resident with a dead push token, one whose "mobile" is a landline,
one whose number is invalid on every channel, one off the exercise allow-list and one with
no contact at all. The check must reach only allow-listed addresses, every text 【訓練】,
and report each finding; `registry health` shows the same check afterwards.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from alertsvc.db.tables import Alert, Contact, Delivery
from alertsvc.dispatch.alerts import EXERCISE_PREFIX
from alertsvc.models import ChannelName, DeliveryResult, Outcome
from alertsvc.testing.fakes import FakeChannel, fake_channels
from tests.clirun import channels_from, run_cli

TOKEN = "tok-" + "a" * 60
M1, M2, M3, M4 = "+819011110001", "+819011110002", "+819011110003", "+819011110004"
CSV = (
    "名簿番号,氏名,住所,緯度,経度,携帯電話,FCMトークン\n"
    f"R1,直方 一郎,福岡県直方市殿町1,33.74,130.73,090-1111-0001,{TOKEN}\n"
    "R2,直方 二郎,福岡県直方市殿町2,33.74,130.73,090-1111-0002,\n"
    "R3,直方 三郎,福岡県直方市殿町3,33.74,130.73,090-1111-0003,\n"
    "R4,直方 四郎,福岡県直方市殿町4,33.74,130.73,090-1111-0004,\n"
    "R5,直方 五郎,福岡県直方市殿町5,33.74,130.73,,\n"
)
ALLOWED = [M1, M2, M3, TOKEN]  # M4 is not on the list


def _rejected(channel: ChannelName, code: str, reason: str) -> DeliveryResult:
    # what the real adapters return (see test_registry_check_simulator.py for the real ones)
    return DeliveryResult(Outcome.REJECTED, channel.value, None, f"{reason} (masked)", None, code)


@pytest.fixture
def env(cli_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    config = tmp_path / "alertsvc.toml"
    listed = ", ".join(f'"{a}"' for a in ALLOWED)
    config.write_text(f"[exercise]\nallow_list = [{listed}]\n", encoding="utf-8")
    (tmp_path / "r.csv").write_text(CSV, encoding="utf-8")
    out = {**cli_env, "ALERTSVC_CONFIG": str(config)}
    res = run_cli(["registry", "import", str(tmp_path / "r.csv")], out)
    assert res.exit_code == 0, res.stderr
    return out


@pytest.fixture
def fakes() -> dict[ChannelName, FakeChannel]:
    chans = fake_channels()
    chans[ChannelName.PUSH].script[TOKEN] = _rejected(
        ChannelName.PUSH, "UNREGISTERED", "fcm UNREGISTERED token"
    )
    chans[ChannelName.SMS].script[M2] = _rejected(
        ChannelName.SMS, "21614", "twilio 21614: To number is not a mobile number"
    )
    for ch in (ChannelName.SMS, ChannelName.VOICE):
        chans[ch].script[M3] = _rejected(ch, "21211", "twilio 21211: invalid To number")
    return chans


def _sent(fakes: dict[ChannelName, FakeChannel]) -> list[tuple[ChannelName, str, str]]:
    return [(name, m.address, m.body) for name, ch in fakes.items() for m in ch.sent]


def _count(db_url: str, table: type) -> int:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(table)) or 0)
    finally:
        engine.dispose()


def test_check_reports_every_finding_and_reaches_only_the_allow_list(
    env: dict[str, str], fakes: dict[ChannelName, FakeChannel], db_url: str
) -> None:
    res = run_cli(["registry", "check", "--exercise", "--json"], env, channels=channels_from(fakes))
    # R3 (every channel refused) and R5 (no contact) have no working channel
    assert res.exit_code == 1, res.stderr
    doc = res.json()
    sent = _sent(fakes)
    assert {a for _c, a, _b in sent} <= set(ALLOWED)
    assert M4 not in {a for _c, a, _b in sent}
    assert all(body.startswith(EXERCISE_PREFIX) for _c, _a, body in sent)
    # every channel of every allow-listed contact was tried, once, with no escalation
    assert sorted((c.value, a) for c, a, _b in sent) == sorted(
        [("push", TOKEN), ("sms", M1), ("voice", M1), ("sms", M2), ("voice", M2),
         ("sms", M3), ("voice", M3)]
    )  # fmt: skip
    status = {r["resident_id"]: r["status"] for r in doc["residents"]}
    assert status == {
        "R1": "reached",
        "R2": "reached",
        "R3": "no_working_channel",
        "R4": "not_checked",
        "R5": "no_working_channel",
    }
    by = {(r["resident_id"], c["channel"]): c for r in doc["residents"] for c in r["channels"]}
    assert by[("R1", "push")]["finding"] == "dead_token"
    assert by[("R2", "sms")]["finding"] == "not_mobile"
    assert by[("R2", "voice")]["result"] == "accepted"
    assert by[("R3", "sms")]["finding"] == by[("R3", "voice")]["finding"] == "invalid_number"
    assert by[("R4", "sms")]["result"] == "not_checked"
    assert by[("R4", "sms")]["finding"] == "not_on_allow_list"
    assert doc["findings"] == {
        "dead_token": 1,
        "invalid_number": 2,
        "not_mobile": 1,
        "not_on_allow_list": 2,
    }
    assert doc["counts"]["residents"] == 5 and doc["counts"]["messages"] == 7
    assert doc["complete"] is True and doc["selection"]["mode"] == "all"
    # personal data: masked numbers and tokens, ids not names
    out = res.stdout + res.stderr
    for secret in (M1, M2, M3, M4, TOKEN, "直方"):
        assert secret not in out
    # the refusals reached contact health, as in a real alert
    engine = create_engine(db_url)
    with engine.connect() as conn:
        token_ok = conn.scalar(select(Contact.healthy).where(Contact.address == TOKEN))
        sms_blocked = conn.scalar(select(Contact.blocked_channels).where(Contact.address == M2))
    engine.dispose()
    assert token_ok is False and sms_blocked == ["sms"]


def test_human_report_fits_80_columns_and_health_shows_the_last_check(
    env: dict[str, str], fakes: dict[ChannelName, FakeChannel]
) -> None:
    first = run_cli(["registry", "check", "--exercise"], env, channels=channels_from(fakes))
    assert first.exit_code == 1
    assert "連絡先点検" in first.stderr and "pre-season check" in first.stderr
    assert "連絡手段なし" in first.stderr and "直接連絡" in first.stderr
    assert all(len(line) <= 80 for line in first.stderr.splitlines()), first.stderr
    check_id = re.search(r"check (A\d{14}[0-9a-f]{4})", first.stderr)
    assert check_id is not None

    health = run_cli(["registry", "health", "--json"], env)
    assert health.exit_code == 0, health.stderr
    entries = health.json()
    last = entries[-1]
    assert last["kind"] == "last_check" and last["check_id"] == check_id.group(1)
    assert {r["resident_id"]: r["status"] for r in last["residents"]}["R3"] == "no_working_channel"
    assert last["started_at"] and last["finished_at"]
    # the dead token is a contact-health entry too (built on the existing report)
    assert any(e.get("kind") == "push" and not e.get("healthy") for e in entries)
    human = run_cli(["registry", "health"], env)
    assert check_id.group(1) in human.stderr and "dead push token" in human.stderr
    assert TOKEN not in human.stderr and M2 not in human.stderr
    unmasked = run_cli(["registry", "health", "--json", "--unmasked"], env)
    assert M2 in unmasked.stdout


def test_health_before_any_check_says_so(env: dict[str, str]) -> None:
    res = run_cli(["registry", "health", "--json"], env)
    assert res.exit_code == 0
    assert not any(e.get("kind") == "last_check" for e in res.json())
    assert "no pre-season check yet" in run_cli(["registry", "health"], env).stderr


def test_one_resident(env: dict[str, str], fakes: dict[ChannelName, FakeChannel]) -> None:
    res = run_cli(
        ["registry", "check", "--exercise", "--resident", "R2", "--json"],
        env,
        channels=channels_from(fakes),
    )
    assert res.exit_code == 0, res.stderr
    doc = res.json()
    assert [r["resident_id"] for r in doc["residents"]] == ["R2"]
    assert {a for _c, a, _b in _sent(fakes)} == {M2}
    assert doc["selection"] == {"mode": "resident", "sample": None, "seed": None,
                                "resident_id": "R2"}  # fmt: skip


def test_sample_is_reproducible_with_its_seed(
    env: dict[str, str], fakes: dict[ChannelName, FakeChannel]
) -> None:
    args = ["registry", "check", "--exercise", "--sample", "2", "--seed", "7", "--json"]
    one = run_cli(args, env, channels=channels_from(fakes)).json()
    two = run_cli(args, env, channels=channels_from(fakes)).json()
    assert len(one["residents"]) == 2
    assert [r["resident_id"] for r in one["residents"]] == [
        r["resident_id"] for r in two["residents"]
    ]
    assert one["selection"]["seed"] == 7 and one["check_id"] != two["check_id"]
    unseeded = run_cli(
        ["registry", "check", "--exercise", "--sample", "9"], env, channels=channels_from(fakes)
    )
    # a sample larger than the register is the whole register; the seed is printed
    assert re.search(r"seed \d+", unseeded.stderr)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "--exercise"),
        (["--exercise", "--sample", "2", "--resident", "R1"], "cannot be combined"),
        (["--exercise", "--seed", "3"], "--seed needs --sample"),
        (["--exercise", "--sample", "0"], "at least 1"),
        (["--exercise", "--resident", "R9"], "no active resident"),
    ],
)
def test_bad_arguments_send_nothing(
    env: dict[str, str],
    fakes: dict[ChannelName, FakeChannel],
    db_url: str,
    args: list[str],
    message: str,
) -> None:
    res = run_cli(["registry", "check", *args, "--json"], env, channels=channels_from(fakes))
    assert res.exit_code == 3, res.stderr
    assert message in res.json()["error"] and message in res.stderr
    assert "Traceback" not in res.stderr
    assert _sent(fakes) == []
    assert _count(db_url, Alert) == 0 and _count(db_url, Delivery) == 0


def test_a_channel_that_cannot_start_is_reported_not_fatal(
    env: dict[str, str], fakes: dict[ChannelName, FakeChannel]
) -> None:
    del fakes[ChannelName.VOICE]  # this machine has no voice channel
    res = run_cli(
        ["registry", "check", "--exercise", "--resident", "R2", "--json"],
        env,
        channels=channels_from(fakes),
    )
    doc = res.json()
    (r2,) = doc["residents"]
    voice = next(c for c in r2["channels"] if c["channel"] == "voice")
    assert voice["result"] == "not_checked" and voice["finding"] == "channel_unavailable"
    # SMS was refused (not a mobile) and voice could not be tried: not reached, exit 1
    assert r2["status"] == "not_reached" and res.exit_code == 1


def test_a_check_that_does_not_settle_in_time_stops_and_says_so(
    env: dict[str, str], fakes: dict[ChannelName, FakeChannel], db_url: str
) -> None:
    # the provider answers 429 for ever: the retry waits past the timeout
    for ch in (ChannelName.SMS, ChannelName.VOICE):
        fakes[ch].script[M2] = Outcome.DEFERRED
    res = run_cli(
        ["registry", "check", "--exercise", "--resident", "R2", "--timeout", "1", "--json"],
        env,
        channels=channels_from(fakes),
    )
    assert res.exit_code == 1, res.stderr
    doc = res.json()
    assert doc["complete"] is False and doc["findings"] == {"timeout": 2}
    assert doc["residents"][0]["status"] == "not_checked"
    assert "not settled in time" in res.stderr
    # the stopped rows stay stopped: the check is closed, a later worker sends nothing
    engine = create_engine(db_url)
    with engine.connect() as conn:
        states = set(conn.scalars(select(Delivery.state)))
        alert_state = conn.scalar(select(Alert.state))
    engine.dispose()
    assert states == {"cancelled"} and alert_state == "cancelled"
    before = len(_sent(fakes))
    assert run_cli(["worker", "--until-idle"], env, channels=channels_from(fakes)).exit_code == 0
    assert len(_sent(fakes)) == before


def test_a_late_status_callback_changes_the_next_health_report(
    env: dict[str, str], fakes: dict[ChannelName, FakeChannel], db_url: str
) -> None:
    from alertsvc.db import make_engine, session_scope
    from alertsvc.dispatch import record_provider_status
    from alertsvc.registry.store import record_refusal

    res = run_cli(
        ["registry", "check", "--exercise", "--resident", "R1", "--json"],
        env,
        channels=channels_from(fakes),
    )
    assert res.exit_code == 0, res.stderr
    engine = make_engine(db_url)
    with session_scope(engine) as s:
        key = s.scalars(
            select(Delivery.key).where(Delivery.channel == "sms", Delivery.address == M1)
        ).one()
        # the carrier reports, after the check, that this "mobile" is a landline
        assert record_provider_status(
            s, provider_ref=None, key=key, status="undelivered", error_code=30006,
            on_refused=record_refusal,
        )  # fmt: skip
    engine.dispose()
    last = run_cli(["registry", "health", "--json"], env).json()[-1]
    sms = next(c for c in last["residents"][0]["channels"] if c["channel"] == "sms")
    assert (sms["result"], sms["finding"]) == ("failed", "not_mobile")
    assert last["findings"]["not_mobile"] == 1


def test_a_second_check_does_not_retry_what_was_refused_and_says_why(
    env: dict[str, str], fakes: dict[ChannelName, FakeChannel]
) -> None:
    args = ["registry", "check", "--exercise", "--resident", "R1", "--json"]
    assert run_cli(args, env, channels=channels_from(fakes)).exit_code == 0
    pushes = len(fakes[ChannelName.PUSH].sent)
    again = run_cli(args, env, channels=channels_from(fakes))
    assert again.exit_code == 0, again.stderr
    assert len(fakes[ChannelName.PUSH].sent) == pushes  # the dead token is not tried again
    (r1,) = again.json()["residents"]
    push = next(c for c in r1["channels"] if c["channel"] == "push")
    assert (push["result"], push["finding"]) == ("refused_before", "dead_token")
    assert "UNREGISTERED" in push["detail"] and TOKEN not in again.stdout
    assert again.json()["findings"] == {"dead_token": 1}
    human = run_cli(["registry", "health"], env)
    assert "無効なプッシュトークン" in human.stderr and "既知" in human.stderr
