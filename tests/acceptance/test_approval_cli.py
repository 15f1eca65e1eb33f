"""Two-person rule and the one-time code, end to end."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlalchemy import select as sql_select

from alertsvc.config import ApprovalSettings
from alertsvc.db import make_engine
from alertsvc.db.tables import Alert, AlertDraft, AuditEntry
from tests.acceptance.demo_data import import_demo
from tests.clirun import run_cli

SCOPE = ["--zone-set", "flood"]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def demo_env(cli_env: dict[str, str]) -> dict[str, str]:
    import_demo(cli_env)
    return cli_env


def _config(tmp_path: Path, body: str) -> str:
    path = tmp_path / "alertsvc.toml"
    path.write_text(body, encoding="utf-8")
    return str(path)


def _count(db_url: str, table: type, *where: object) -> int:
    engine = make_engine(db_url)
    with engine.connect() as conn:
        n = conn.execute(sql_select(func.count()).select_from(table).where(*where)).scalar_one()
    engine.dispose()
    return int(n)


def test_rule_by_level_and_count() -> None:
    rule = ApprovalSettings(levels=(4, 5), min_recipients=50)
    assert rule.needs_approval(4, 1, exercise=False)
    assert not rule.needs_approval(3, 49, exercise=False)
    assert rule.needs_approval(3, 50, exercise=False)
    assert not rule.needs_approval(5, 500, exercise=True)  # exercises never need it
    assert not ApprovalSettings().needs_approval(5, 10_000, exercise=False)  # unconfigured


def test_two_person_rule(demo_env, db_url: str, tmp_path: Path) -> None:
    cfg = _config(tmp_path, "[approval]\nlevels = [4, 5]\n")
    base = ["--config", cfg]
    held = run_cli([*base, "alert", "send", "--level", "4", *SCOPE, "--yes", "--json"], demo_env)
    assert held.exit_code == 0, held.stderr
    doc = held.json()
    assert set(doc) == {"draft_id", "needs_approval"} and doc["needs_approval"] is True
    draft_id = doc["draft_id"]
    assert _count(db_url, Alert) == 0
    # sending the draft before approval keeps it held, whatever the flags
    again = run_cli([*base, "alert", "send", "--draft", draft_id, "--yes", "--json"], demo_env)
    assert again.json() == {"draft_id": draft_id, "needs_approval": True}
    assert _count(db_url, Alert) == 0
    # the author cannot approve: exit 1, nothing changes
    same = run_cli([*base, "alert", "approve", draft_id, "--json"], demo_env)
    assert same.exit_code == 1 and "different officer" in same.json()["error"]
    assert _count(db_url, AlertDraft, AlertDraft.approved_by.is_not(None)) == 0
    assert _count(db_url, AuditEntry, AuditEntry.action == "alert.approve") == 0
    other = run_cli(
        [*base, "alert", "approve", draft_id, "--operator", "chief", "--json"], demo_env
    )
    assert other.exit_code == 0, other.stderr
    assert other.json()["approved_by"] == "chief" and other.json()["author"] == "test-officer"
    sent = run_cli([*base, "alert", "send", "--draft", draft_id, "--yes", "--json"], demo_env)
    assert sent.exit_code == 0, sent.stderr and set(sent.json()) == {"alert_id", "deliveries"}
    assert _count(db_url, Alert) == 1
    # level 3 is not listed: sent at once
    direct = run_cli([*base, "alert", "send", "--level", "3", *SCOPE, "--yes", "--json"], demo_env)
    assert "alert_id" in direct.json()
    approvals = _count(db_url, AuditEntry, AuditEntry.action == "alert.approve")
    assert approvals == 1


def test_recipient_count_rule(demo_env, db_url: str, tmp_path: Path) -> None:
    cfg = _config(tmp_path, "[approval]\nmin_recipients = 1\n")
    held = run_cli(
        ["--config", cfg, "alert", "send", "--level", "3", *SCOPE, "--yes", "--json"], demo_env
    )
    assert held.json()["needs_approval"] is True and _count(db_url, Alert) == 0


def _run_at_terminal(args: list[str], env: dict[str, str], answer: str | None) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal as stdin/stderr, typing the shown code back
    (or ``answer``), like an officer reading the screen."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "alertsvc", *args],
        stdin=slave, stdout=subprocess.PIPE, stderr=slave, cwd=ROOT,
        env={**os.environ, **env, "COLUMNS": "200"},
    )  # fmt: skip
    os.close(slave)
    seen = b""
    typed = False
    deadline = time.monotonic() + 120  # a guard against a hung child, not a timing check
    while proc.poll() is None and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        seen += chunk
        match = re.search(rb"confirmation code: (\d{6})", seen)
        if match and not typed:
            os.write(master, (answer or match.group(1).decode()).encode() + b"\n")
            typed = True
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)
    proc.stdout.close()
    os.close(master)
    return proc.returncode, seen.decode("utf-8", "replace")


@pytest.mark.parametrize(("answer", "code"), [(None, 0), ("000000x", 1)])
def test_one_time_code_at_a_terminal(demo_env, db_url: str, answer: str | None, code: int) -> None:
    rc, screen = _run_at_terminal(["alert", "send", "--level", "4", *SCOPE], demo_env, answer)
    assert rc == code, screen
    assert re.search(r"to \d+ people", screen)  # the recipient count is shown
    assert _count(db_url, Alert) == (1 if code == 0 else 0)
