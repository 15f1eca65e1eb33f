"""CLI end to end: worker --until-idle, alert status, alert cancel (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from alertsvc.db import session_scope
from alertsvc.dispatch import create_alert
from alertsvc.models import ChannelName, Outcome
from alertsvc.testing import FakeChannel, fake_channels, simple_plan
from tests.clirun import channels_from, run_cli


@pytest.fixture
def fakes() -> dict[ChannelName, FakeChannel]:
    return fake_channels()


@pytest.fixture
def env(cli_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    cfg = tmp_path / "alertsvc.toml"
    cfg.write_text(
        "[rates]\nsms_per_second = 100000.0\ncalls_per_second = 100000.0\n"
        "push_per_second = 100000.0\n[dispatch]\nbackoff_seconds = 0.001\n"
        "jitter_seconds = 0.001\n",
        encoding="utf-8",
    )
    return {**cli_env, "ALERTSVC_CONFIG": str(cfg)}


def _alert(engine: Engine, n: int) -> tuple[str, list[str]]:
    targets, deliveries = simple_plan(n, channels=(ChannelName.SMS,))
    with session_scope(engine) as s:
        aid = create_alert(s, level=4, scope={}, exercise=False, targets=targets,
                           deliveries=deliveries, actor="t")  # fmt: skip
    return aid, [d.address for d in deliveries]


def test_worker_status_cancel_round_trip(
    engine: Engine, env: dict[str, str], fakes: dict[ChannelName, FakeChannel]
) -> None:
    aid, addresses = _alert(engine, 12)
    fakes[ChannelName.SMS].script[addresses[3]] = Outcome.UNKNOWN
    fakes[ChannelName.SMS].script[addresses[5]] = Outcome.REJECTED

    res = run_cli(["worker", "--until-idle", "--json"], env, channels=channels_from(fakes))
    assert res.exit_code == 0, res.stderr
    doc = res.json()
    assert (doc["sent"], doc["unknown"], doc["failed"], doc["stopped"]) == (10, 1, 1, "idle")
    assert "unknown" in res.stderr

    res = run_cli(["alert", "status", aid, "--json"], env)
    assert res.exit_code == 0, res.stderr
    st = res.json()
    assert st["alert_id"] == aid and st["state"] == "complete"
    assert {k: st["counts"][k] for k in ("sent", "unknown", "failed", "queued")} == {
        "sent": 10, "unknown": 1, "failed": 1, "queued": 0,
    }  # fmt: skip
    assert st["by_channel"]["sms"]["sent"] == 10
    ids = [u["resident_id"] for u in st["unreached"]]
    assert ids == [f"R{i:05d}" for i in range(12)]  # nobody confirmed yet, highest first
    assert [u["key"] for u in st["unknown"]] == [f"{aid}:4"]
    assert addresses[3] not in res.stdout  # masked

    fakes[ChannelName.SMS].sent.clear()
    res = run_cli(["alert", "cancel", aid, "--reason", "誤報のため", "--json"], env)
    assert res.exit_code == 0, res.stderr
    c = res.json()
    assert c["alert_id"] == aid and c["cancelled"] == 0 and c["notified"] == 11
    assert c["cancellation_alert_id"].startswith("A")

    res = run_cli(["worker", "--until-idle", "--json"], env, channels=channels_from(fakes))
    assert res.exit_code == 0, res.stderr
    got = fakes[ChannelName.SMS].addresses()
    assert sorted(got) == sorted(a for i, a in enumerate(addresses) if i != 5)  # not the failed
    assert all("取" in m.body for m in fakes[ChannelName.SMS].sent)

    res = run_cli(["alert", "status", aid, "--json"], env)
    assert res.json()["state"] == "cancelled"
    assert res.json()["cancellation_ids"] == [c["cancellation_alert_id"]]

    res = run_cli(["alert", "cancel", aid, "--reason", "again", "--json"], env)
    assert res.exit_code == 3 and "already" in res.json()["error"]


def test_status_of_unknown_alert_is_a_clear_error(env: dict[str, str]) -> None:
    res = run_cli(["alert", "status", "A20260101000000beef", "--json"], env)
    assert res.exit_code == 3
    assert "A20260101000000beef" in res.json()["error"]


def test_cancel_needs_a_reason(env: dict[str, str]) -> None:
    res = run_cli(["alert", "cancel", "A1"], env)
    assert res.exit_code == 2


def test_worker_rejects_an_unknown_channel(
    env: dict[str, str], fakes: dict[ChannelName, FakeChannel]
) -> None:
    res = run_cli(
        ["worker", "--until-idle", "--channel", "pigeon", "--json"],
        env,
        channels=channels_from(fakes),
    )
    assert res.exit_code == 3
    assert "pigeon" in res.json()["error"]


def test_status_watch_returns_once_nothing_is_in_flight(
    engine: Engine, env: dict[str, str], fakes: dict[ChannelName, FakeChannel]
) -> None:
    aid, _ = _alert(engine, 3)
    assert (
        run_cli(["worker", "--until-idle", "--json"], env, channels=channels_from(fakes)).exit_code
        == 0
    )
    # --watch on a finished alert shows the final table and returns instead of looping
    res = run_cli(["alert", "status", aid, "--watch", "--json"], env)
    assert res.exit_code == 0, res.stderr
    assert res.json()["state"] == "complete"


def test_channels_are_injected_at_the_composition_root(
    engine: Engine,
    env: dict[str, str],
    fakes: dict[ChannelName, FakeChannel],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``main(state)`` takes the channel builder; no module global is left to patch (#7 item 13)."""
    import json

    import alertsvc.cli.delivery as delivery
    from alertsvc.cli import main
    from alertsvc.cli._common import AppState

    assert not any(name.endswith("_factory") for name in vars(delivery))
    _alert(engine, 2)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr("sys.argv", ["alertsvc", "worker", "--until-idle", "--json"])
    with pytest.raises(SystemExit) as done:
        main(AppState(channels=channels_from(fakes)))
    assert done.value.code in (0, None)
    assert json.loads(capsys.readouterr().out)["sent"] == 2
    assert len(fakes[ChannelName.SMS].sent) == 2


def test_alert_verify_exit_codes_and_json(
    engine: Engine, env: dict[str, str], fakes: dict[ChannelName, FakeChannel]
) -> None:
    import datetime as dt

    aid, _ = _alert(engine, 3)
    assert run_cli(["worker", "--until-idle"], env, channels=channels_from(fakes)).exit_code == 0
    res = run_cli(["alert", "verify", aid, "--json"], env)
    assert res.exit_code == 0, res.stderr
    assert res.json() == {"alert_id": aid, "ok": True, "violations": []}
    assert "every rule holds" in res.stderr

    # an alert nobody sent for three hours: its rows are stuck
    targets, deliveries = simple_plan(1, channels=(ChannelName.SMS,), first=50)
    with session_scope(engine) as s:
        old = create_alert(s, level=4, scope={}, exercise=False, targets=targets,
                           deliveries=deliveries, actor="t",
                           now=dt.datetime.now(dt.UTC) - dt.timedelta(hours=3))  # fmt: skip
    res = run_cli(["alert", "verify", old, "--json"], env)
    assert res.exit_code == 1
    doc = res.json()
    assert doc["alert_id"] == old and doc["ok"] is False
    assert doc["violations"][0]["rule"] == "row_stuck"
    assert set(doc["violations"][0]) == {"rule", "resident_id", "detail"}
    assert doc["violations"][0]["resident_id"] == "R00050"
    assert deliveries[0].address not in res.stdout + res.stderr

    res = run_cli(["alert", "verify", "A20260101000000beef", "--json"], env)
    assert res.exit_code == 3 and "error" in res.json()
