"""`alertsvc zones import/list` end to end: JSON contract, exit codes, nothing written on
bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.clirun import run_cli

REPO = Path(__file__).resolve().parents[2]
DEMO_FLOOD = REPO / "zones" / "nogata_flood_synthetic.geojson"
DEMO_COLLAPSE = REPO / "zones" / "nogata_house_collapse_synthetic.geojson"
COUNT_KEYS = {"added", "changed", "removed", "unchanged", "errors"}


def _flat(text: str) -> str:
    """stderr with Rich's line wrapping undone."""
    return " ".join(text.split())


def _n_demo() -> int:
    return len(json.loads(DEMO_FLOOD.read_text(encoding="utf-8"))["features"])


def test_import_and_list_demo_zones(cli_env: dict[str, str], data_dir: Path) -> None:
    r = run_cli(["zones", "import", str(DEMO_FLOOD), "--set", "nogata-flood", "--json"], cli_env)
    assert r.exit_code == 0, r.stderr
    doc = r.json()
    assert set(doc) >= COUNT_KEYS
    assert (doc["added"], doc["changed"], doc["removed"], doc["unchanged"]) == (_n_demo(), 0, 0, 0)
    assert doc["errors"] == []
    assert "取り込み完了 / imported" in _flat(r.stderr)

    r = run_cli(
        [
            "zones",
            "import",
            str(DEMO_COLLAPSE),
            "--set",
            "nogata-collapse",
            "--kind",
            "house-collapse",
        ],
        cli_env,
    )
    assert r.exit_code == 0, r.stderr
    assert r.stdout == ""  # human output goes to stderr only

    plateau = data_dir / "zones" / "plateau_numazu_kanogawa_excerpt.gml"
    r = run_cli(["zones", "import", str(plateau), "--set", "numazu", "--json"], cli_env)
    assert r.exit_code == 0, r.stderr

    r = run_cli(["zones", "list", "--json"], cli_env)
    assert r.exit_code == 0, r.stderr
    items = r.json()
    assert isinstance(items, list)
    by_set: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        assert {"id", "set", "kind", "depth_rank", "bbox"} <= set(item)
        by_set.setdefault(str(item["set"]), []).append(item)
    assert len(by_set["nogata-flood"]) == _n_demo()
    assert {i["kind"] for i in by_set["nogata-collapse"]} == {"house-collapse"}
    assert {i["depth_rank"] for i in by_set["nogata-collapse"]} == {None}
    for item in by_set["numazu"]:
        min_lon, min_lat, max_lon, max_lat = item["bbox"]
        # PLATEAU lat/lon order handled: near 35.10 N, 138.86 E, not swapped
        assert 35.09 < min_lat < max_lat < 35.11 and 138.85 < min_lon < max_lon < 138.87
    for item in by_set["nogata-flood"]:
        min_lon, min_lat, max_lon, max_lat = item["bbox"]
        assert 130.69 <= min_lon < max_lon <= 130.78 and 33.70 <= min_lat < max_lat <= 33.80

    r = run_cli(["zones", "list"], cli_env)
    assert r.exit_code == 0 and r.stdout == ""
    assert "nogata-flood" in r.stderr and "numazu" in r.stderr


def test_bad_file_exit_3_all_errors_and_nothing_written(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    feats = json.loads(DEMO_FLOOD.read_text(encoding="utf-8"))["features"]
    feats[2]["geometry"] = {"type": "Point", "coordinates": [130.73, 33.75]}
    feats[4]["properties"]["depth_rank"] = 12
    bad = tmp_path / "bad.geojson"
    bad.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), "utf-8")

    r = run_cli(["zones", "import", str(bad), "--set", "nogata-flood", "--json"], cli_env)
    assert r.exit_code == 3
    doc = r.json()
    assert set(doc) >= COUNT_KEYS and doc["added"] == 0
    assert [(e["line"], e["column"]) for e in doc["errors"]] == [
        (2, "geometry"),
        (4, "depth_rank"),
    ]
    assert "line 2, column geometry" in _flat(r.stderr)

    r = run_cli(["zones", "list", "--json"], cli_env)
    assert r.exit_code == 0 and r.json() == []


def test_missing_crs_message_and_dry_run(cli_env: dict[str, str], tmp_path: Path) -> None:
    import geopandas as gpd
    import shapely

    shp = tmp_path / "z.shp"
    gpd.GeoDataFrame(
        {"depth_rank": [2]}, geometry=[shapely.box(-27000, 42000, -26000, 43000)], crs=6670
    ).to_file(shp, encoding="utf-8")
    shp.with_suffix(".prj").unlink()

    r = run_cli(["zones", "import", str(shp), "--set", "s", "--json"], cli_env)
    assert r.exit_code == 3
    assert "--crs EPSG:" in r.json()["error"] and "--crs" in _flat(r.stderr)

    r = run_cli(
        ["zones", "import", str(shp), "--set", "s", "--crs", "EPSG:6670", "--dry-run", "--json"],
        cli_env,
    )
    assert r.exit_code == 0, r.stderr
    assert r.json()["added"] == 1 and r.json()["dry_run"] is True
    assert run_cli(["zones", "list", "--json"], cli_env).json() == []

    r = run_cli(["zones", "import", str(shp), "--set", "s", "--crs", "EPSG:6670"], cli_env)
    assert r.exit_code == 0, r.stderr
    [item] = run_cli(["zones", "list", "--json"], cli_env).json()
    assert item["id"] == "s/0" and item["depth_rank"] == 2


def test_usage_errors(cli_env: dict[str, str], tmp_path: Path) -> None:
    r = run_cli(["zones", "import", str(DEMO_FLOOD), "--set", "a/b", "--json"], cli_env)
    assert r.exit_code == 3 and "'/'" in r.json()["error"]
    r = run_cli(["zones", "import", str(tmp_path / "missing.geojson"), "--set", "a"], cli_env)
    assert r.exit_code == 3 and "no such file" in _flat(r.stderr)
    r = run_cli(["zones", "import", str(DEMO_FLOOD), "--set", "a", "--kind", "tsunami"], cli_env)
    assert r.exit_code == 2
    r = run_cli(["zones", "list", "--set", "ghost", "--json"], cli_env)
    assert r.exit_code == 3 and "ghost" in r.json()["error"]
