"""`alertsvc simulate-providers`: a real process, driven through the real twilio client."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from alertsvc.channels.twilio_sms import TwilioSms
from alertsvc.config import Settings
from alertsvc.models import ChannelName, Outcome, OutgoingMessage
from alertsvc.redact import mask_address
from alertsvc.testing.simulator import ProviderSimulator
from tests.clirun import run_cli


def test_runs_until_sigterm_and_logs_requests(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"+819055550002": "opted_out"}), encoding="utf-8")
    env = {**os.environ, "ALERTSVC_CONFIG": "", "ALERTSVC_TWILIO_TOKEN": "cli-token"}
    cmd = [sys.executable, "-m", "alertsvc", "simulate-providers", "--port", "0", "--json"]
    cmd += ["--log", str(log), "--log-unmasked", "--script", str(script)]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path
    )
    try:
        assert proc.stdout is not None
        text = ""
        while True:  # read until the one JSON document is complete
            line = proc.stdout.readline()
            assert line, "simulator exited before announcing its URL"
            text += line
            if line.startswith("}"):
                break
        doc = json.loads(text)
        assert doc["scripted"] == 1
        s = Settings()
        settings = dataclasses.replace(s, twilio=dataclasses.replace(s.twilio, base_url=doc["url"]))
        channel = TwilioSms.from_settings(settings, env={"ALERTSVC_TWILIO_TOKEN": "cli-token"})
        results = channel.send_many(
            [
                OutgoingMessage("k1", ChannelName.SMS, "+819055550001", "訓練"),
                OutgoingMessage("k2", ChannelName.SMS, "+819055550002", "訓練"),
            ]
        )
        assert [r.outcome for r in results] == [Outcome.DELIVERED, Outcome.REJECTED]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert out == ""  # nothing after the one JSON document
    lines = [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines()]
    # Twilio channels send several requests at once: the log's order is the arrival order
    assert sorted((x["provider"], x["to"], x["status"]) for x in lines) == [
        ("twilio-sms", "+819055550001", 201),
        ("twilio-sms", "+819055550002", 400),
    ]
    assert "simulator stopped" in err


def test_bad_script_is_invalid_input(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"+819055550003": "explode"}), encoding="utf-8")
    result = run_cli(
        ["simulate-providers", "--port", "0", "--script", str(script), "--json"],
        env={"ALERTSVC_CONFIG": ""},
    )
    assert result.exit_code == 3
    doc = result.json()
    assert "explode" in doc["errors"][0]["message"]


def test_bad_actor_entry_names_file_entry_and_field(tmp_path: Path) -> None:
    script = tmp_path / "script.toml"
    script.write_text(
        '"+819055550001" = { via = "sms", answer = "1" }\n'
        '"+819055550003" = { via = "keypress", answer = "yes" }\n',
        encoding="utf-8",
    )
    result = run_cli(
        ["simulate-providers", "--port", "0", "--script", str(script), "--json"],
        env={"ALERTSVC_CONFIG": ""},
    )
    assert result.exit_code == 3
    message = result.json()["errors"][0]["message"]
    assert str(script) in message
    assert "'+819055550003'" in message and "field 'answer'" in message
    assert "Traceback" not in result.stderr


def test_callback_url_must_be_loopback() -> None:
    result = run_cli(
        ["simulate-providers", "--port", "0", "--callback-url", "https://example.com", "--json"],
        env={"ALERTSVC_CONFIG": ""},
    )
    assert result.exit_code == 3
    assert "127.0.0.1" in result.json()["error"]


def test_log_masks_numbers_by_default(tmp_path: Path) -> None:
    """#7 item 14: the simulator log wrote full phone numbers and tokens."""
    log = tmp_path / "requests.jsonl"
    with ProviderSimulator(auth_token="t", log_path=log) as sim:
        s = Settings()
        settings = dataclasses.replace(s, twilio=dataclasses.replace(s.twilio, base_url=sim.url))
        channel = TwilioSms.from_settings(settings, env={"ALERTSVC_TWILIO_TOKEN": "t"})
        channel.send_many([OutgoingMessage("k1", ChannelName.SMS, "+819055550001", "訓練")])
    text = log.read_text(encoding="utf-8")
    assert "+819055550001" not in text and "55550001" not in text
    assert json.loads(text.splitlines()[0])["to"] == mask_address("+819055550001")
