"""``alertsvc serve`` end to end: a real process, a real port, a clean SIGTERM exit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

# Until the lead adds ("web", "register", "") to alertsvc.cli._GROUPS, attach it here;
# afterwards this runs the real entry point unchanged.
_RUNNER = """
import sys
from alertsvc.cli import _register_groups, app
_register_groups()
if not any(c.name == "serve" for c in app.registered_commands):
    from alertsvc.cli import web
    web.register(app)
sys.argv = ["alertsvc", *sys.argv[1:]]
app()
"""


def _start(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _RUNNER, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
        cwd=cwd,
    )


def _read_json(proc: subprocess.Popen[str]) -> dict[str, str]:
    assert proc.stdout is not None
    lines: list[str] = []
    for line in proc.stdout:
        lines.append(line)
        if line.rstrip() == "}":
            break
    doc: dict[str, str] = json.loads("".join(lines))
    return doc


def test_serve_prints_url_answers_and_stops_on_sigterm(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    proc = _start(["serve", "--host", "127.0.0.1", "--port", "0", "--json"], cli_env, tmp_path)
    try:
        doc = _read_json(proc)
        assert doc["url"].startswith("http://127.0.0.1:")
        # the embedded default public URL is kept (what the Twilio adapters hand out)
        assert doc["public_url"] == "http://127.0.0.1:8766"
        resp = httpx.get(doc["url"] + "/healthz", timeout=10)
        assert resp.json() == {"ok": True}
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "stopped" in err


def test_serve_port_in_use_exits_1(cli_env: dict[str, str], tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        proc = _start(["serve", "--port", str(port), "--json"], cli_env, tmp_path)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "cannot listen" in json.loads(out)["error"]
    assert "ポートを開けません" in err


def _without_secrets(cli_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ALERTSVC_ACK_SECRET",)}
    env.pop("ALERTSVC_TWILIO_TOKEN", None)
    return {**env, **cli_env}


def test_serve_on_every_interface_without_secrets_refuses_to_start(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """#7 item 3: the built-in ack secret would let anyone forge a "safe"."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _RUNNER, "serve", "--host", "0.0.0.0", "--port", "0", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_without_secrets(cli_env),
        cwd=tmp_path,
    )
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, err
    error = json.loads(out)["error"]
    assert "ALERTSVC_ACK_SECRET" in error and "webhooks.ack_secret_env" in error
    assert "serve --host=0.0.0.0" in error
    assert "Traceback" not in err


def test_serve_with_a_real_provider_url_refuses_the_builtin_secret(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**_without_secrets(cli_env), "ALERTSVC_FCM_BASE_URL": "https://fcm.googleapis.com"}
    proc = subprocess.Popen(
        [sys.executable, "-c", _RUNNER, "serve", "--port", "0", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, err
    assert "fcm.base_url=https://fcm.googleapis.com" in json.loads(out)["error"]
