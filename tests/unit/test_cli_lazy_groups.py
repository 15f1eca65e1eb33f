"""The CLI imports only the command group a command line needs when that group's own
module defines the command; everything else (help, commands other modules add to a group)
gets every group (#12: start-up is a large part of a preview)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from alertsvc import cli

ALL = sorted(module for module, _attr, _name in cli._GROUPS)


def _registered(argv: list[str]) -> list[str]:
    code = (
        "import json, sys\n"
        "from alertsvc import cli\n"
        f"cli._register_for({argv!r})\n"
        "print(json.dumps(sorted(cli._registered)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return list(json.loads(out.stdout))


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["alert", "preview", "--level", "4", "--json"], ["alert"]),
        (["--operator", "x", "--config", "c.toml", "alert", "send"], ["alert"]),
        (["zones", "import", "f.geojson", "--set", "S"], ["zones"]),
        # added to the alert group by other modules: every group
        (["alert", "status", "A1"], ALL),
        (["alert", "--help"], ALL),
        (["--help"], ALL),
        ([], ALL),
        (["worker"], ALL),
        # added to the registry group by cli/registry_check.py
        (["registry", "check", "--exercise"], ALL),
    ],
)
def test_only_the_needed_group_is_imported(argv: list[str], expected: list[str]) -> None:
    assert _registered(argv) == expected
