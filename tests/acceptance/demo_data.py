"""Import the bundled demo data through the CLI (shared by acceptance tests)."""

from __future__ import annotations

from pathlib import Path

from tests.clirun import run_cli

ROOT = Path(__file__).resolve().parents[2]
FLOOD = ROOT / "zones" / "nogata_flood_synthetic.geojson"
COLLAPSE = ROOT / "zones" / "nogata_house_collapse_synthetic.geojson"
SHELTERS = ROOT / "zones" / "shelters"
REGISTER = ROOT / "recipients" / "register.csv"


def import_demo(env: dict[str, str], register: Path = REGISTER) -> None:
    for args in (
        ["zones", "import", str(FLOOD), "--set", "flood", "--json"],
        [
            "zones",
            "import",
            str(COLLAPSE),
            "--set",
            "collapse",
            "--kind",
            "house-collapse",
            "--json",
        ],
        ["shelters", "import", str(SHELTERS), "--json"],
        ["registry", "import", str(register), "--json"],
    ):
        res = run_cli(args, env=env)
        assert res.exit_code == 0, (args, res.stderr)
