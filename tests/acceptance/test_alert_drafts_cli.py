"""Drafts: save a preview, send it later exactly once, re-planned on the current register."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from alertsvc.db import make_engine
from alertsvc.db.tables import Alert, AlertTarget
from tests.acceptance.demo_data import import_demo
from tests.clirun import run_cli

SCOPE = ["--zone-set", "flood", "--zone-set", "collapse"]


@pytest.fixture
def demo_env(cli_env: dict[str, str]) -> dict[str, str]:
    import_demo(cli_env)
    return cli_env


def _alerts(db_url: str) -> int:
    engine = make_engine(db_url)
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(Alert)).scalar_one()
    engine.dispose()
    return int(n)


def test_save_list_and_send_a_draft_once(demo_env, db_url: str) -> None:
    res = run_cli(["alert", "preview", "--level", "3", *SCOPE, "--save-draft", "--json"], demo_env)
    assert res.exit_code == 0, res.stderr
    preview = res.json()
    draft_id = preview["draft_id"]
    listed = run_cli(["alert", "drafts", "--json"], demo_env).json()
    assert [d["draft_id"] for d in listed] == [draft_id] and listed[0]["level"] == 3
    assert _alerts(db_url) == 0  # a draft sends nothing

    res = run_cli(["alert", "send", "--draft", draft_id, "--yes", "--json"], demo_env)
    assert res.exit_code == 0, res.stderr
    alert_id = res.json()["alert_id"]
    engine = make_engine(db_url)
    with engine.connect() as conn:
        level = conn.execute(select(Alert.level).where(Alert.id == alert_id)).scalar_one()
        people = set(conn.execute(select(AlertTarget.resident_id)).scalars())
    engine.dispose()
    assert level == 3
    assert people == {t["resident_id"] for t in preview["targets"]} | {
        u["resident_id"] for u in preview["unlocated"]
    }
    assert run_cli(["alert", "drafts", "--json"], demo_env).json() == []
    again = run_cli(["alert", "send", "--draft", draft_id, "--yes", "--json"], demo_env)
    assert again.exit_code == 3
    assert "is sent" in again.json()["error"] and alert_id in again.json()["error"]
    assert _alerts(db_url) == 1


def test_draft_confirmation_uses_the_drafts_level(demo_env, db_url: str) -> None:
    """The exercise phrase names the draft's level (a live send needs a one-time code)."""
    draft_id = run_cli(
        ["alert", "preview", "--level", "5", *SCOPE, "--exercise", "--save-draft", "--json"],
        demo_env,
    ).json()["draft_id"]
    res = run_cli(["alert", "send", "--draft", draft_id], demo_env, input="exercise level 4\n")
    assert res.exit_code == 1 and _alerts(db_url) == 0
    # the right phrase passes the confirmation; the register's numbers are off the
    # exercise allow-list, so the send itself is then refused (exit 3), nothing written
    res = run_cli(["alert", "send", "--draft", draft_id], demo_env, input="exercise level 5\n")
    assert res.exit_code == 3 and "allow_list" in res.stderr and _alerts(db_url) == 0


@pytest.mark.parametrize(
    "extra", [["--level", "4"], ["--zone-set", "flood"], ["--zone", "flood/1"]]
)
def test_draft_cannot_be_mixed_with_a_scope(demo_env, extra: list[str]) -> None:
    draft_id = run_cli(
        ["alert", "preview", "--level", "4", *SCOPE, "--save-draft", "--json"], demo_env
    ).json()["draft_id"]
    res = run_cli(["alert", "send", "--draft", draft_id, *extra, "--yes", "--json"], demo_env)
    assert res.exit_code == 3 and "--draft cannot be combined" in res.json()["error"]


def test_unknown_draft_and_missing_level(demo_env) -> None:
    res = run_cli(["alert", "send", "--draft", "D20990101000000ffff", "--yes", "--json"], demo_env)
    assert res.exit_code == 3 and "no such draft" in res.json()["error"]
    res = run_cli(["alert", "send", *SCOPE, "--yes", "--json"], demo_env)
    assert res.exit_code == 3 and "--level is required" in res.json()["error"]
