"""`alert cap`, `alert lalert`, `alert feed` end to end on the demo data."""

from __future__ import annotations

from pathlib import Path

import pytest
import xmlschema
from defusedxml import ElementTree as SafeET

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
