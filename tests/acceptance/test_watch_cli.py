"""`alertsvc watch`: --once for cron, status, replay — end to end through the CLI."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from alertsvc.db import make_engine
from alertsvc.db.tables import AlertDraft, AuditEntry, WatchEvent, WatchStation
from alertsvc.testing.gauges import river_station_doc
from alertsvc.testing.simulator import ProviderSimulator
from tests.acceptance.demo_data import import_demo
from tests.clirun import run_cli

DATA = Path(__file__).resolve().parents[1] / "data" / "gauges"
FUKUOKA = DATA / "fukuoka"

# The Fukuoka snapshots (hourly, 21時–00時 JST, see tests/data/SOURCES.md) under the
# default rules: 2 consecutive readings, 危険水位 -> level 3, 氾濫開始水位 -> level 4,
# 30 min max age. Times are JST; a stale decision is taken at the snapshot's generatedAt.
FUKUOKA_TABLE = {
    # crosses 危険水位 11.42 m at 22:30 (11.52) and stays above: enters at the second reading
    "8900000121": [("2026-06-25T23:50", 11.73, 3, "enter")],
    # the same 19:15 reading in all four snapshots: stale at the first poll, warned once
    "4010000003": [("2026-06-25T21:40", 3.46, None, "stale")],
    # reports at 21:30 and vanishes: silent, never an all-clear
    "4021100003": [("2026-06-25T22:39", 17.57, None, "stale")],
    # one reading over 氾濫開始水位 (10.81 >= 10.78) and then falling: one reading is not enough
    "4021100004": [],
    # a late 22:00 reading at the 22:39 poll is stale; 22:40 is the second over 28.85 m
    "8900000108": [
        ("2026-06-25T22:39", 28.94, None, "stale"),
        ("2026-06-25T22:40", 29.12, 3, "enter"),
        ("2026-06-25T23:54", 29.12, 3, "stale"),
    ],
    "4021100021": [("2026-06-25T22:30", 17.2, 3, "enter")],
    # 4.82, 4.86 over 4.78 -> level 3; 4.77 and 4.58: only one below 4.68, no leave
    "4021100010": [("2026-06-25T22:30", 4.86, 3, "enter")],
}


def _decisions(doc: dict[str, object]) -> list[tuple[str, float | None, int | None, str]]:
    out = []
    for d in doc["decisions"]:  # type: ignore[attr-defined]
        out.append((d["at"][:16], d["reading"], d["level"], d["kind"]))
    return out


@pytest.mark.parametrize("station", sorted(FUKUOKA_TABLE))
def test_fukuoka_snapshots_replay_to_the_logic_table(cli_env: dict[str, str], station: str) -> None:
    res = run_cli(["watch", "replay", str(FUKUOKA), "--station", station, "--json"], env=cli_env)
    assert res.exit_code == 0, res.stderr
    doc = res.json()
    assert doc["station"] == station
    assert _decisions(doc) == FUKUOKA_TABLE[station]


def test_replay_with_new_lines(cli_env: dict[str, str]) -> None:
    # what would 10.30 m as 避難判断水位 have done at 4021100004? 10.81, 10.34: level 3 at
    # 22:30; 9.95 and 9.80 are both below 10.30 - 0.10 m: level 3 is left at 00:40
    res = run_cli(
        [
            "watch",
            "replay",
            str(FUKUOKA),
            "--station",
            "4021100004",
            "--threshold",
            "3=10.3",
            "--json",
        ],
        env=cli_env,
    )
    assert res.exit_code == 0, res.stderr
    assert _decisions(res.json()) == [
        ("2026-06-25T22:30", 10.34, 3, "enter"),
        ("2026-06-26T00:40", 9.8, None, "leave"),
    ]


@pytest.mark.parametrize(
    "args",
    [
        ["--threshold", "2=3.0"],
        ["--threshold", "3"],
        ["--threshold", "3=abc"],
    ],
)
def test_replay_bad_threshold_is_exit_3(cli_env: dict[str, str], args: list[str]) -> None:
    res = run_cli(["watch", "replay", str(FUKUOKA), "--station", "x", *args, "--json"], env=cli_env)
    assert res.exit_code == 3
    assert "--threshold" in res.json()["error"]


def test_replay_errors_are_exit_3(cli_env: dict[str, str], tmp_path: Path) -> None:
    # a station with no published line and none given
    res = run_cli(
        ["watch", "replay", str(FUKUOKA), "--station", "0000000000", "--json"], env=cli_env
    )
    assert res.exit_code == 3 and "--threshold" in res.json()["error"]
    bad = tmp_path / "bad.dat"
    bad.write_bytes("2026/07/01,1.0,\n".encode("cp932"))
    res = run_cli(
        ["watch", "replay", str(bad), "--station", "x", "--threshold", "3=1", "--json"], env=cli_env
    )
    assert res.exit_code == 3 and res.json()["errors"][0]["line"] == 1
    res = run_cli(
        ["watch", "replay", str(tmp_path / "none"), "--station", "x", "--json"], env=cli_env
    )
    assert res.exit_code == 3


def _dat_rows(start: dt.date, values: list[float]) -> bytes:
    # synthetic 時刻水位月表 (.dat): 24 hourly values per row, hour 24 = next day 00:00
    lines = ["時刻水位月表", "観測所名,合成観測所 (synthetic)"]
    for day in range(len(values) // 24):
        date = start + dt.timedelta(days=day)
        cells = [f"{v:.2f}," for v in values[day * 24 : (day + 1) * 24]]
        lines.append(date.strftime("%Y/%m/%d") + "," + ",".join(cells))
    return "\r\n".join(lines).encode("cp932")


def test_replay_dat_rising_series(cli_env: dict[str, str], tmp_path: Path) -> None:
    # 2.0 m for 20 h, then +0.4 m/h. Hourly values need a 3-hour trend window; with a rate
    # rule of 0.3 m/h: predict 3 at 3.6 m (4.0 m within the hour), enter 4 at 5.2 m
    values = [2.0] * 20 + [2.0 + 0.4 * i for i in range(1, 21)] + [2.0] * 8
    path = tmp_path / "rise.dat"
    path.write_bytes(_dat_rows(dt.date(2026, 7, 1), values))
    config = tmp_path / "hourly.toml"
    config.write_text("[watcher]\ntrend_window_minutes = 180.0\nrise_rate_m_per_h = 0.3\n")
    cli_env = {**cli_env, "ALERTSVC_CONFIG": str(config)}
    res = run_cli(
        [
            "watch",
            "replay",
            str(path),
            "--station",
            "S",
            "--threshold",
            "3=4.0",
            "--threshold",
            "4=5.0",
            "--threshold",
            "5=9.0",
            "--json",
        ],
        env=cli_env,
    )
    assert res.exit_code == 0, res.stderr
    doc = res.json()
    assert doc["readings"] == 48
    kinds = [(d["kind"], d["level"]) for d in doc["decisions"]]
    assert kinds[:2] == [("predict", 3), ("enter", 4)]
    predict, enter = doc["decisions"][:2]
    assert predict["reading"] == pytest.approx(3.6)  # before the line
    assert enter["reading"] == pytest.approx(5.2) and enter["at"].startswith("2026-07-02T04:00")


# --- watch --once -------------------------------------------------------------------------


@pytest.fixture
def sim() -> Iterator[ProviderSimulator]:
    with ProviderSimulator(callback_delay_s=0.0) as s:
        yield s


def _config(tmp_path: Path, feed: Path, sim_url: str, extra: str = "") -> Path:
    config = tmp_path / "alertsvc.toml"
    config.write_text(
        f"""
[twilio]
base_url = "{sim_url}"

[duty]
contacts = [{{name = "当番", phone = "+819011112222", channel = "sms"}}]

[[watcher.stations]]
id = "onga-test"
source = "river_json"
url = "{feed.as_uri()}"
code = "0901000400101"
name = "遠賀川 合成"
zone_sets_level3 = ["flood"]
zone_sets_level4 = ["flood", "collapse"]
{extra}
""",
        encoding="utf-8",
    )
    return config


def test_watch_once_drafts_each_level_once_and_is_idempotent(
    cli_env: dict[str, str], db_url: str, tmp_path: Path, sim: ProviderSimulator
) -> None:
    import_demo(cli_env)
    feed = tmp_path / "feed.json"
    env = {**cli_env, "ALERTSVC_CONFIG": str(_config(tmp_path, feed, sim.url))}
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    rise = [round(3.0 + 0.1 * i, 2) for i in range(25)]  # 3.0 .. 5.4 m, 0.6 m/h
    # first poll: the water at 3.4 m, 60 min from 避難判断水位 at 0.6 m/h
    feed.write_text(river_station_doc(now - dt.timedelta(minutes=200), rise[:5]), encoding="utf-8")
    first = run_cli(["watch", "--once", "--json"], env=env)
    assert first.exit_code == 0, first.stderr
    doc = first.json()
    assert len(doc["drafts"]) == 1 and doc["alerts"] == []
    # the gauge is 200 min old by now: stale, and the duty officer is told
    assert doc["stations"][0]["quality"] == "stale"
    # the whole rise, ending now
    feed.write_text(river_station_doc(now, rise), encoding="utf-8")
    second = run_cli(["watch", "--once", "--json"], env=env)
    assert second.exit_code == 0, second.stderr
    doc2 = second.json()
    assert len(doc2["drafts"]) == 1
    station = doc2["stations"][0]
    assert station == {
        "id": "onga-test",
        "reading": 5.4,
        "observed_at": now.isoformat(),
        "quality": "ok",
        "level": 4,
        "predicted_level3_at": None,
    }
    engine = make_engine(db_url)
    with engine.connect() as conn:
        before = {
            "events": conn.execute(select(func.count()).select_from(WatchEvent)).scalar(),
            "drafts": conn.execute(select(func.count()).select_from(AlertDraft)).scalar(),
            "audit": conn.execute(select(func.count()).select_from(AuditEntry)).scalar(),
            "row": conn.execute(select(WatchStation.__table__)).one(),
        }
    # idempotent: the same readings again change nothing
    third = run_cli(["watch", "--once", "--json"], env=env)
    assert third.exit_code == 0
    assert third.json()["drafts"] == [] and third.json()["alerts"] == []
    with engine.connect() as conn:
        after = {
            "events": conn.execute(select(func.count()).select_from(WatchEvent)).scalar(),
            "drafts": conn.execute(select(func.count()).select_from(AlertDraft)).scalar(),
            "audit": conn.execute(select(func.count()).select_from(AuditEntry)).scalar(),
            "row": conn.execute(select(WatchStation.__table__)).one(),
        }
        events = conn.execute(
            select(WatchEvent.kind, WatchEvent.level, WatchEvent.reading, WatchEvent.draft_id)
            .where(WatchEvent.kind.in_(["predict", "enter"]))
            .order_by(WatchEvent.at)
        ).all()
        drafts = conn.execute(
            select(AlertDraft.id, AlertDraft.level, AlertDraft.source, AlertDraft.note)
        ).all()
    engine.dispose()
    assert after == before
    # exactly one level-3 draft (predicted at 3.4 m) and one level-4 draft (at 5.1 m)
    assert [(e.kind, e.level, e.reading) for e in events] == [
        ("predict", 3, 3.4),
        ("enter", 4, 5.1),
    ]
    by_id = {d.id: d for d in drafts}
    assert {d.level for d in drafts} == {3, 4} and all(d.source == "watcher" for d in drafts)
    assert "予測: 60分後に避難判断水位" in by_id[events[0].draft_id].note
    # the level-4 draft follows the level-3 one
    assert events[0].draft_id in by_id[events[1].draft_id].note
    # the duty officer got an SMS per decision worth telling (predict, stale, enter 4)
    sms = [r for r in sim.requests if r.provider == "twilio-sms"]
    assert len(sms) == 3 and all(r.to == "+819011112222" for r in sms)
    # an officer sends the watcher's draft the ordinary way
    res = run_cli(["alert", "send", "--draft", events[0].draft_id, "--yes", "--json"], env=env)
    assert res.exit_code == 0, res.stderr


def test_watch_once_exit_codes(
    cli_env: dict[str, str], tmp_path: Path, sim: ProviderSimulator
) -> None:
    # every source failed: exit 1, one JSON document with the warning
    env = {**cli_env, "ALERTSVC_CONFIG": str(_config(tmp_path, tmp_path / "none.json", sim.url))}
    res = run_cli(["watch", "--once", "--json"], env=env)
    assert res.exit_code == 1
    doc = res.json()
    assert doc["stations"][0]["quality"] == "missing" and "source failed" in doc["warnings"][0]
    # invalid configuration: exit 3
    bad = _config(tmp_path, tmp_path / "none.json", sim.url, extra='policy_level3 = "sometimes"')
    res = run_cli(["watch", "--once", "--json"], env={**cli_env, "ALERTSVC_CONFIG": str(bad)})
    assert res.exit_code == 3 and "policy_level3" in res.json()["error"]
    # no station configured: exit 3
    res = run_cli(["watch", "--once", "--json"], env=cli_env)
    assert res.exit_code == 3


def test_watch_status_shows_the_trend(
    cli_env: dict[str, str], tmp_path: Path, sim: ProviderSimulator
) -> None:
    import_demo(cli_env)
    feed = tmp_path / "feed.json"
    env = {**cli_env, "ALERTSVC_CONFIG": str(_config(tmp_path, feed, sim.url))}
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    feed.write_text(river_station_doc(now, [3.0, 3.05, 3.1, 3.12, 3.2]), encoding="utf-8")
    assert run_cli(["watch", "--once"], env=env).exit_code == 0
    res = run_cli(["watch", "status", "--json"], env=env)
    assert res.exit_code == 0, res.stderr
    (station,) = res.json()["stations"]
    assert station["id"] == "onga-test" and station["reading"] == 3.2
    assert station["thresholds"] == {"2": 3.0, "3": 4.0, "4": 5.0, "5": 6.0}
    assert station["trend_m_per_h"] == pytest.approx(0.3, abs=0.05)
    assert station["recent"] == [3.0, 3.05, 3.1, 3.12, 3.2]
    human = run_cli(["watch", "status"], env=env)
    assert "▁" in human.stderr and "█" in human.stderr


def test_watch_once_invalid_quality_is_not_zero_metres(
    cli_env: dict[str, str], tmp_path: Path, sim: ProviderSimulator
) -> None:
    feed = tmp_path / "feed.json"
    env = {**cli_env, "ALERTSVC_CONFIG": str(_config(tmp_path, feed, sim.url))}
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    doc = json.loads(river_station_doc(now, [3.2, 3.3, 0.0]))
    doc["min10Values"][-1]["stgCcd"] = 140  # 閉局: the 0.0 is not a reading
    feed.write_text(json.dumps(doc), encoding="utf-8")
    res = run_cli(["watch", "--once", "--json"], env=env)
    assert res.exit_code == 0, res.stderr
    out = res.json()
    (station,) = out["stations"]
    assert station["quality"] == "invalid" and station["reading"] == 3.3
    assert any("stale" in w and "closed" in w for w in out["warnings"])


def test_watch_once_goes_on_when_the_duty_notifier_cannot_be_built(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    feed = tmp_path / "feed.json"
    # a real Twilio URL and no auth token in the environment: SMS cannot work
    config = _config(tmp_path, feed, "https://api.twilio.com")
    env = {**cli_env, "ALERTSVC_CONFIG": str(config), "ALERTSVC_TWILIO_TOKEN": ""}
    feed.write_text(river_station_doc(dt.datetime.now(dt.UTC), [3.2, 3.3]), encoding="utf-8")
    res = run_cli(["watch", "--once", "--json"], env=env)
    assert res.exit_code == 0, res.stderr
    doc = res.json()
    assert doc["stations"][0]["reading"] == 3.3
    assert "duty notifier" in doc["warnings"][0]


# --- escalation: a higher level updates the live alert ---------------------------------


def _alerts(db_url: str) -> list[tuple[str, str, str | None, int]]:
    from alertsvc.db.tables import Alert

    engine = make_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(Alert.id, Alert.kind, Alert.parent_id, Alert.level).order_by(Alert.created_at)
        ).all()
    engine.dispose()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def _reach_half(db_url: str, alert_id: str) -> None:
    """Play the worker: half the people got their first message."""
    from sqlalchemy import text

    from alertsvc.db.tables import Delivery

    engine = make_engine(db_url)
    with engine.begin() as conn:
        ids = sorted(
            set(
                conn.execute(
                    select(Delivery.resident_id).where(
                        Delivery.alert_id == alert_id, Delivery.step == 0
                    )
                ).scalars()
            )
        )[::2]
        quoted = ", ".join(f"'{i}'" for i in ids)
        conn.execute(text(f"UPDATE deliveries SET state = 'sent' WHERE alert_id = '{alert_id}' "
                          f"AND step = 0 AND resident_id IN ({quoted})"))  # fmt: skip
    engine.dispose()


def _per_person_level4(db_url: str) -> dict[tuple[str, str, str], int]:
    from collections import Counter

    from alertsvc.db.tables import Delivery

    engine = make_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(Delivery.resident_id, Delivery.channel, Delivery.address, Delivery.step).where(
                Delivery.level == 4, Delivery.recipient == "resident"
            )
        ).all()
    engine.dispose()
    return dict(Counter((r.resident_id, r.channel, r.address) for r in rows if r.step == 0))


def test_watch_auto_escalation_updates_the_live_alert(
    cli_env: dict[str, str], db_url: str, tmp_path: Path, sim: ProviderSimulator
) -> None:
    import_demo(cli_env)
    feed = tmp_path / "feed.json"
    extra = 'policy_level3 = "auto"\npolicy_level4 = "auto"'
    env = {**cli_env, "ALERTSVC_CONFIG": str(_config(tmp_path, feed, sim.url, extra))}
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    rise = [round(3.0 + 0.1 * i, 2) for i in range(25)]
    feed.write_text(river_station_doc(now - dt.timedelta(minutes=200), rise[:5]), encoding="utf-8")
    first = run_cli(["watch", "--once", "--json"], env=env)
    assert first.exit_code == 0, first.stderr
    (level3,) = first.json()["alerts"]
    _reach_half(db_url, level3)
    feed.write_text(river_station_doc(now, rise), encoding="utf-8")
    second = run_cli(["watch", "--once", "--json"], env=env)
    assert second.exit_code == 0, second.stderr
    # the level-3 alert was raised to 4, not joined by a second alert
    assert second.json()["alerts"] == [level3]
    alerts = _alerts(db_url)
    roots = [a for a in alerts if a[2] is None and a[1] == "alert"]
    assert roots == [(level3, "alert", None, 3)]
    assert {(a[1], a[2], a[3]) for a in alerts[1:]} == {
        ("update", level3, 4),
        ("expansion", level3, 4),
    }
    # everybody gets level 4 once: the reached by the update, the rest by the expansion
    counts = _per_person_level4(db_url)
    assert counts and max(counts.values()) == 1
    engine = make_engine(db_url)
    with engine.connect() as conn:
        event = conn.execute(
            select(WatchEvent.outcome, WatchEvent.alert_id).where(WatchEvent.level == 4)
        ).one()
    engine.dispose()
    assert event.alert_id == level3 and event.outcome["updates"] == level3
    assert event.outcome["update"]["notified"] > 0
    # the same readings again: nothing more
    third = run_cli(["watch", "--once", "--json"], env=env)
    assert third.json()["alerts"] == [] and len(_alerts(db_url)) == len(alerts)


def test_watch_recommended_escalation_is_an_update_draft(
    cli_env: dict[str, str], db_url: str, tmp_path: Path, sim: ProviderSimulator
) -> None:
    import_demo(cli_env)
    feed = tmp_path / "feed.json"
    env = {**cli_env, "ALERTSVC_CONFIG": str(_config(tmp_path, feed, sim.url))}
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    rise = [round(3.0 + 0.1 * i, 2) for i in range(25)]
    feed.write_text(river_station_doc(now - dt.timedelta(minutes=200), rise[:5]), encoding="utf-8")
    (draft3,) = run_cli(["watch", "--once", "--json"], env=env).json()["drafts"]
    # the officer sends the level-3 recommendation
    sent = run_cli(["alert", "send", "--draft", draft3, "--yes", "--json"], env=env)
    assert sent.exit_code == 0, sent.stderr
    level3 = sent.json()["alert_id"]
    _reach_half(db_url, level3)
    feed.write_text(river_station_doc(now, rise), encoding="utf-8")
    (draft4,) = run_cli(["watch", "--once", "--json"], env=env).json()["drafts"]
    drafts = run_cli(["alert", "drafts", "--json"], env=env).json()
    assert [d["scope"].get("updates") for d in drafts if d["draft_id"] == draft4] == [level3]
    # sending it is `alert update`: no second alert, nobody alerted twice at level 4
    res = run_cli(["alert", "send", "--draft", draft4, "--yes", "--json"], env=env)
    assert res.exit_code == 0, res.stderr
    assert res.json()["alert_id"] == level3 and res.json()["draft_id"] == draft4
    assert [a for a in _alerts(db_url) if a[2] is None] == [(level3, "alert", None, 3)]
    counts = _per_person_level4(db_url)
    assert counts and max(counts.values()) == 1
    # a draft is used once
    again = run_cli(["alert", "send", "--draft", draft4, "--yes", "--json"], env=env)
    assert again.exit_code == 3


def test_watch_escalation_to_a_level_an_officer_already_sent_sends_nothing(
    cli_env: dict[str, str], db_url: str, tmp_path: Path, sim: ProviderSimulator
) -> None:
    import_demo(cli_env)
    feed = tmp_path / "feed.json"
    extra = 'policy_level3 = "auto"\npolicy_level4 = "auto"'
    env = {**cli_env, "ALERTSVC_CONFIG": str(_config(tmp_path, feed, sim.url, extra))}
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    rise = [round(3.0 + 0.1 * i, 2) for i in range(25)]
    feed.write_text(river_station_doc(now - dt.timedelta(minutes=200), rise[:5]), encoding="utf-8")
    (level3,) = run_cli(["watch", "--once", "--json"], env=env).json()["alerts"]
    _reach_half(db_url, level3)
    # the officer raised it to 4 for both zone sets before the river got there
    up = run_cli(["alert", "update", level3, "--level", "4", "--zone-set", "flood",
                  "--zone-set", "collapse", "--json"], env=env)  # fmt: skip
    assert up.exit_code == 0, up.stderr
    before = _alerts(db_url)
    feed.write_text(river_station_doc(now, rise), encoding="utf-8")
    second = run_cli(["watch", "--once", "--json"], env=env)
    assert second.exit_code == 0, second.stderr
    assert second.json()["alerts"] == [] and second.json()["drafts"] == []
    assert _alerts(db_url) == before
    assert max(_per_person_level4(db_url).values()) == 1
    engine = make_engine(db_url)
    with engine.connect() as conn:
        outcome = conn.execute(select(WatchEvent.outcome).where(WatchEvent.level == 4)).scalar_one()
    engine.dispose()
    assert outcome["covered_by"] == level3 and "already at level 4" in outcome["note"]


def _bodies(db_url: str, alert_id: str, channel: str) -> list[str]:
    from alertsvc.db.tables import Delivery

    engine = make_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(Delivery.body).where(
                Delivery.alert_id == alert_id,
                Delivery.channel == channel,
                Delivery.language == "ja",
                Delivery.recipient == "resident",
            )
        ).all()
    engine.dispose()
    return [r.body for r in rows]


def test_watcher_messages_name_the_river_flood_forecast(
    cli_env: dict[str, str], db_url: str, tmp_path: Path, sim: ProviderSimulator
) -> None:
    """The watcher's alert names its river and the 2026 flood forecast of its level, from
    the draft through the update to the all-clear."""
    import_demo(cli_env)
    feed = tmp_path / "feed.json"
    extra = 'policy_level4 = "auto"'
    env = {**cli_env, "ALERTSVC_CONFIG": str(_config(tmp_path, feed, sim.url, extra))}
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    rise = [round(3.0 + 0.1 * i, 2) for i in range(25)]
    feed.write_text(river_station_doc(now - dt.timedelta(minutes=200), rise[:5]), encoding="utf-8")
    (draft3,) = run_cli(["watch", "--once", "--json"], env=env).json()["drafts"]
    drafts = run_cli(["alert", "drafts", "--json"], env=env).json()
    scope = next(d["scope"] for d in drafts if d["draft_id"] == draft3)
    assert scope["river"] == {"name": "遠賀川 合成", "level": 3}
    sent = run_cli(["alert", "send", "--draft", draft3, "--yes", "--json"], env=env)
    assert sent.exit_code == 0, sent.stderr
    level3 = sent.json()["alert_id"]
    pushes = _bodies(db_url, level3, "push")
    assert pushes and all("遠賀川 合成：レベル3氾濫警報" in b for b in pushes), pushes[:2]
    assert any("レベル3氾濫警報" in b for b in _bodies(db_url, level3, "sms"))
    _reach_half(db_url, level3)
    feed.write_text(river_station_doc(now, rise), encoding="utf-8")
    second = run_cli(["watch", "--once", "--json"], env=env)
    assert second.exit_code == 0, second.stderr
    children = [a for a in _alerts(db_url) if a[2] == level3]
    texts = [b for aid, _k, _p, _l in children for b in _bodies(db_url, aid, "push")]
    assert texts and all("レベル4氾濫危険警報" in b for b in texts), texts[:2]
    done = run_cli(["alert", "clear", level3, "--json"], env=env)
    assert done.exit_code == 0, done.stderr
    cleared = _bodies(db_url, done.json()["notice_alert_id"], "push")
    assert cleared and all("レベル4氾濫危険警報" in b for b in cleared)
