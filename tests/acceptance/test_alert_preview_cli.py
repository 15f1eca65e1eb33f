"""`alert preview` end to end on the demo data, checked against an independent computation."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import shape
from sqlalchemy import func, select

from alertsvc.db import make_engine
from alertsvc.db.tables import AuditEntry
from tests.acceptance.demo_data import COLLAPSE, FLOOD, REGISTER, import_demo
from tests.clirun import run_cli

SCOPE = ["--zone-set", "flood", "--zone-set", "collapse"]


def expected_targets(tolerance_m: float = 30.0) -> tuple[set[str], set[str]]:
    """Brute force, without alertsvc: (residents within tolerance of a zone, unlocated)."""
    to_metric = Transformer.from_crs(4326, 6670, always_xy=True).transform

    def project(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(to_metric(xy[:, 0], xy[:, 1]))

    zones = []
    for path in (FLOOD, COLLAPSE):
        for feature in json.loads(path.read_text(encoding="utf-8"))["features"]:
            zones.append(shapely.transform(shape(feature["geometry"]), project))
    inside: set[str] = set()
    unlocated: set[str] = set()
    with REGISTER.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if not row["緯度"]:
                unlocated.add(row["名簿番号"])
                continue
            x, y = to_metric(float(row["経度"]), float(row["緯度"]))
            point = shapely.Point(x, y)
            if any(z.distance(point) <= tolerance_m for z in zones):
                inside.add(row["名簿番号"])
    return inside, unlocated


@pytest.fixture
def demo_env(cli_env: dict[str, str]) -> dict[str, str]:
    import_demo(cli_env)
    return cli_env


def test_preview_targets_exactly_the_people_in_the_zones(demo_env, tmp_path: Path) -> None:
    res = run_cli(["alert", "preview", "--level", "4", *SCOPE, "--json"], env=demo_env)
    assert res.exit_code == 0, res.stderr
    doc = res.json()
    inside, unlocated = expected_targets()
    assert {t["resident_id"] for t in doc["targets"]} == inside
    assert {u["resident_id"] for u in doc["unlocated"]} == unlocated and unlocated
    assert doc["level"] == 4
    for t in doc["targets"]:
        assert set(t) >= {
            "resident_id",
            "zones",
            "depth_rank",
            "house_collapse",
            "edge_only",
            "action",
            "shelter_id",
            "channels",
            "language",
            "priority",
        }
        assert t["action"] in ("evacuate", "move_up")
        assert not (t["house_collapse"] and t["action"] == "move_up")
        assert set(t["channels"]) <= {"push", "sms", "voice", "fax", "line", "email"}
    # everybody without a working channel is named, and only they
    no_channel = {t["resident_id"] for t in doc["targets"] if not t["channels"]}
    assert {u["resident_id"] for u in doc["unreachable"]} == no_channel and no_channel
    assert all(u["name"] and u["address"] for u in doc["unreachable"] + doc["unlocated"])
    counts = doc["counts"]
    assert counts["targets"] == len(inside)
    assert sum(counts["by_depth_rank"].values()) == len(inside)
    assert counts["supporters"] == len(doc["supporters"]) > 0
    assert all(
        s["legal_basis"] in ("consent", "disaster_exception_49_11") for s in doc["supporters"]
    )
    # contacts are masked by default
    assert all("…" in s["address"] for s in doc["supporters"])
    # at 1 call per second the estimate for voice is the number of first calls, in seconds
    assert counts["estimate_seconds"]["voice"] == pytest.approx(counts["first_messages"]["voice"])
    assert {(s["channel"], s["language"]) for s in doc["samples"]} >= {
        ("sms", "ja"),
        ("voice", "ja"),
    }
    # 避難勧告 was abolished in 2021: never in anything we send
    assert "避難勧告" not in res.stdout


def test_level_5_says_secure_safety_now(demo_env) -> None:
    res = run_cli(["alert", "preview", "--level", "5", *SCOPE, "--json"], env=demo_env)
    assert res.exit_code == 0, res.stderr
    assert {t["action"] for t in res.json()["targets"]} == {"secure_now"}


class _MapParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.residents = 0
        self.zones = 0
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "circle" and a.get("class") == "resident":
            self.residents += 1
        if tag == "path" and a.get("class") == "zone":
            self.zones += 1
        for name in ("src", "href"):
            value = a.get(name) or ""
            if value.startswith(("http:", "https:", "//")):
                self.external.append(value)


def test_map_and_csv(demo_env, tmp_path: Path) -> None:
    map_file, csv_file = tmp_path / "out.html", tmp_path / "out.csv"
    res = run_cli(
        [
            "alert",
            "preview",
            "--level",
            "4",
            *SCOPE,
            "--map",
            str(map_file),
            "--csv",
            str(csv_file),
        ],
        env=demo_env,
    )
    assert res.exit_code == 0, res.stderr
    inside, unlocated = expected_targets()
    parser = _MapParser()
    parser.feed(map_file.read_text(encoding="utf-8"))
    assert parser.residents == len(inside)
    assert parser.zones == 30  # 24 flood polygons + 6 house-collapse strips
    assert parser.external == []  # renders with no network
    with csv_file.open(encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    assert len(rows) == 1 + len(inside) + len(unlocated)
    assert {r[1] for r in rows[1:]} == inside | unlocated
    assert all("…" in r[13] or r[13] == "" for r in rows[1:])  # contacts masked


def test_map_loads_in_headless_chromium(demo_env, tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip(
            "chromium is not installed (apt-get install chromium); the map is parsed instead"
        )
    map_file = tmp_path / "out.html"
    res = run_cli(
        ["alert", "preview", "--level", "4", *SCOPE, "--map", str(map_file)], env=demo_env
    )
    assert res.exit_code == 0
    out = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'chr'}",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            map_file.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert 'class="resident"' in out.stdout
    assert "Uncaught" not in out.stderr  # no JavaScript error while loading


def test_formula_injection_is_neutralised_in_the_csv(cli_env, tmp_path: Path) -> None:
    register = tmp_path / "reg.csv"
    text = REGISTER.read_text(encoding="utf-8").splitlines()
    header, rows = text[0], text[1:]
    inside, _ = expected_targets()
    victim = next(i for i, r in enumerate(rows) if r.split(",")[0] in inside)
    cells = rows[victim].split(",")
    cells[1] = '=HYPERLINK("http://x")'
    rows[victim] = ",".join(cells)
    register.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    import_demo(cli_env, register=register)
    csv_file = tmp_path / "out.csv"
    res = run_cli(["alert", "preview", "--level", "4", *SCOPE, "--csv", str(csv_file)], env=cli_env)
    assert res.exit_code == 0, res.stderr
    with csv_file.open(encoding="utf-8-sig") as fh:
        names = [r[2] for r in csv.reader(fh)]
    assert '\'=HYPERLINK("http://x")' in names


def test_show_contacts_is_audited(demo_env, db_url: str) -> None:
    res = run_cli(
        ["alert", "preview", "--level", "4", *SCOPE, "--show-contacts", "--json"], env=demo_env
    )
    assert res.exit_code == 0, res.stderr
    assert any("+81" in s["address"] and "…" not in s["address"] for s in res.json()["supporters"])
    engine = make_engine(db_url)
    with engine.connect() as conn:
        n = conn.execute(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "alert.preview.show_contacts")
        ).scalar_one()
    engine.dispose()
    assert n == 1


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--level", "2", *SCOPE], "--level must be 3, 4 or 5"),
        (["--level", "4"], "no scope"),
        (["--level", "4", "--zone-set", "no-such-set"], "no-such-set"),
        (["--level", "4", "--zone", "flood/999"], "flood/999"),
    ],
)
def test_bad_scope_is_exit_3_with_a_clear_message(demo_env, args, fragment) -> None:
    res = run_cli(["alert", "preview", *args, "--json"], env=demo_env)
    assert res.exit_code == 3
    assert fragment in res.stderr
    assert "error" in res.json()


def test_house_collapse_forbids_move_up_even_when_out_of_scope(demo_env) -> None:
    """The scope decides who is alerted; every stored zone decides what is safe to advise."""
    to_metric = Transformer.from_crs(4326, 6670, always_xy=True).transform

    def project(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(to_metric(xy[:, 0], xy[:, 1]))

    strips = [
        shapely.transform(shape(f["geometry"]), project)
        for f in json.loads(COLLAPSE.read_text(encoding="utf-8"))["features"]
    ]
    located = {}
    with REGISTER.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["緯度"]:
                located[row["名簿番号"]] = shapely.Point(
                    *to_metric(float(row["経度"]), float(row["緯度"]))
                )
    res = run_cli(["alert", "preview", "--level", "4", "--zone-set", "flood", "--json"], demo_env)
    assert res.exit_code == 0, res.stderr
    in_strip = 0
    for t in res.json()["targets"]:
        near = any(s.distance(located[t["resident_id"]]) <= 30.0 for s in strips)
        assert t["house_collapse"] == near, t["resident_id"]
        if near:
            in_strip += 1
            assert t["action"] != "move_up", t
    assert in_strip > 0  # the demo data really exercises this


def test_needs_review_residents_are_in_contact_directly(demo_env, tmp_path: Path) -> None:
    """#7 item 6: a resident whose floor was cleared on import is named with the reason."""
    inside, _unlocated = expected_targets()
    target = sorted(inside)[0]
    lines = REGISTER.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    floor_col = header.index("居住階")
    for index, line in enumerate(lines):
        cells = line.split(",")
        if cells[0] == target:
            cells[floor_col] = "二階建ての2階"
            lines[index] = ",".join(cells)
    register = tmp_path / "register.csv"
    register.write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = run_cli(["registry", "import", str(register), "--skip-invalid", "--json"], demo_env)
    assert res.exit_code == 0, res.stderr
    assert [r["id"] for r in res.json()["needs_review"]] == [target]

    res = run_cli(["alert", "preview", "--level", "4", *SCOPE, "--json"], env=demo_env)
    assert res.exit_code == 0, res.stderr
    [flagged] = res.json()["needs_review"]
    assert flagged["resident_id"] == target
    assert "居住階" in flagged["reason"] and "二階建ての2階" in flagged["reason"]
    assert flagged["contact"] == "直接連絡 / contact directly"
    human = run_cli(["alert", "preview", "--level", "4", *SCOPE], env=demo_env)
    assert human.exit_code == 0, human.stderr
    direct = human.stderr.split("contact directly")[1].split("文例")[0]
    assert "要確認" in direct and target in direct


def test_json_mode_prints_no_human_view(demo_env) -> None:
    res = run_cli(["alert", "preview", "--level", "4", *SCOPE, "--json"], env=demo_env)
    assert res.exit_code == 0, res.stderr
    assert "文例" not in res.stderr and "要直接連絡" not in res.stderr
    human = run_cli(["alert", "preview", "--level", "4", *SCOPE], env=demo_env)
    assert "文例" in human.stderr and "要直接連絡" in human.stderr
