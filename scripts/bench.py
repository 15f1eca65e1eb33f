"""One benchmark report for issue #12: every measure beside its baseline, from one run.

    .venv/bin/python scripts/bench.py --quick          # developers: well under 2 minutes
    .venv/bin/python scripts/bench.py                  # the full sizes of the issue's table
    .venv/bin/python scripts/bench.py --out bench-report   # writes .md and .json there

PostgreSQL measures need ``--pg`` or ``$ALERTSVC_TEST_POSTGRES_URL`` (each creates and drops
its own database); without it they are reported as skipped. Every dataset is generated with
fixed seeds (``bench_targeting.make_city`` for positions and zones, ``gen_demo_register``
for the CP932 register file), so two runs on one machine measure the same work. Each figure
comes with its baseline measured in the same run, the ratio, and the goal; the report names
the machine (cores, load, Python, library versions). Benchmarks never run in the test suite.

Whole-process figures (``alert preview``, ``registry import`` and their baselines) are
child processes timed from spawn to exit, with their own peak RSS (``wait4``).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import bench_dispatch  # noqa: E402
import bench_targeting  # noqa: E402
import gen_demo_register  # noqa: E402

SEED = 20240701
LANGS = ["ja"] * 85 + ["ja-easy"] * 5 + ["en"] * 3 + ["zh"] * 3 + ["vi"] * 2 + ["pt"] * 2
NEEDS = ["wheelchair", "bedridden", "hearing", "sight", "cognitive", "language", "lives_alone"]


@dataclass
class Figure:
    """One line of the report."""

    measure: str
    value: float | None
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    goal: str = ""
    met: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline:
            return None
        return round(self.value / self.baseline, 2)


# --- machine ------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    libs = {}
    for name in (
        "numpy",
        "shapely",
        "geopandas",
        "pyproj",
        "pandas",
        "sqlalchemy",
        "psycopg",
        "firebase-admin",
        "twilio",
        "jinja2",
    ):
        with contextlib.suppress(metadata.PackageNotFoundError):
            libs[name] = metadata.version(name)
    return {
        "date_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M"),
        "cores": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "libraries": libs,
    }


# --- child processes ----------------------------------------------------------------------


# Runs the measured command as ITS child and reports that child's time and peak RSS.
# Linux counts a forked child's pre-exec pages (shared with this big benchmark process)
# in its ru_maxrss; a child of this small launcher starts clean.
_LAUNCH = """
import json, os, subprocess, sys, time
t = time.perf_counter()
p = subprocess.Popen(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
err = p.stderr.read()
_pid, status, usage = os.wait4(p.pid, 0)
seconds = time.perf_counter() - t
sys.stderr.buffer.write(err)
with open(sys.argv[1], "w") as fh:
    json.dump([seconds, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)], fh)
"""


def run_child(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """(seconds, peak RSS MiB, exit code) of one child process, stdout discarded."""
    with tempfile.NamedTemporaryFile("r", suffix=".json", delete=False) as out:
        result = Path(out.name)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _LAUNCH, str(result), *args],
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=False,
        )
        seconds, rss, code = json.loads(result.read_text(encoding="utf-8"))
    finally:
        result.unlink(missing_ok=True)
    if code != 0:
        print(f"  child failed ({code}): {' '.join(args[:6])}", file=sys.stderr)
        print(proc.stderr.decode(errors="replace")[-2000:], file=sys.stderr)
    return float(seconds), float(rss), int(code)


def alertsvc(db: str, *args: str) -> tuple[float, float, int]:
    env = {"ALERTSVC_DATABASE_URL": db, "ALERTSVC_CONFIG": "", "ALERTSVC_OPERATOR": "bench"}
    return run_child([sys.executable, "-m", "alertsvc", *args], env)


# --- datasets -----------------------------------------------------------------------------


def write_zones(path: Path, geoms: list[Any]) -> None:
    """The synthetic zones as GeoJSON (EPSG:4326) with an A31a depth rank each."""
    import shapely

    rng = random.Random(SEED)
    with path.open("w", encoding="utf-8") as fh:
        fh.write('{"type":"FeatureCollection","features":[\n')
        for k, g in enumerate(geoms):
            feature = {
                "type": "Feature",
                "properties": {"name": f"zone {k}", "depth_rank": rng.randint(1, 5)},
                "geometry": json.loads(shapely.to_geojson(g)),
            }
            fh.write(("," if k else "") + json.dumps(feature) + "\n")
        fh.write("]}\n")


def fill_register(db: str, lon: np.ndarray, lat: np.ndarray, csv_path: Path) -> None:
    """Residents with contacts and supporters written straight to the tables (fast, seeded),
    and the same people as a CSV (id, name, address, lat, lon) for the baseline script.

    The importer is measured on its own (``registry import``); a million rows through it
    would measure the importer, not the preview.
    """
    from sqlalchemy import insert

    from alertsvc.db import ensure_schema, make_engine
    from alertsvc.db.tables import Contact, Resident, Supporter

    rng = random.Random(SEED + 1)
    engine = make_engine(db)
    ensure_schema(engine)
    now = dt.datetime.now(dt.UTC)
    n = lon.size
    with csv_path.open("w", encoding="utf-8", newline="") as fh, engine.begin() as conn:
        out = csv.writer(fh)
        out.writerow(["id", "name", "address", "lat", "lon"])
        for start in range(0, n, 20_000):
            res, con, sup = [], [], []
            for i in range(start, min(n, start + 20_000)):
                rid = f"B{i:07d}"
                located = rng.random() > 0.005
                la = float(lat[i]) if located else None
                lo = float(lon[i]) if located else None
                name = f"要支援者{i}"
                address = f"福岡県直方市新町{i % 30 + 1}番{i % 17 + 1}号"
                res.append(
                    {
                        "id": rid,
                        "name": name,
                        "kana": "",
                        "address": address,
                        "lat": la,
                        "lon": lo,
                        "floor": rng.choice([1, 1, 1, 2, 2, 3]),
                        "language": rng.choice(LANGS),
                        "needs": rng.sample(NEEDS, rng.choice([0, 1, 1, 2])),
                        "channel_pref": [],
                        "consent": rng.random() < 0.8,
                        "active": True,
                        "no_working_channel": False,
                        "fingerprint": "",
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                out.writerow(
                    [rid, name, address, "" if la is None else la, "" if lo is None else lo]
                )
                pos = 0
                for kind, share in (("push", 0.4), ("mobile", 0.7), ("landline", 0.3)):
                    if rng.random() < share:
                        addr = (
                            f"fake-fcm-token-{i:07d}"
                            if kind == "push"
                            else f"+8190{i:08d}"
                            if kind == "mobile"
                            else f"+81949{i % 10_000_000:07d}"
                        )
                        con.append(
                            {
                                "resident_id": rid,
                                "kind": kind,
                                "address": addr,
                                "position": pos,
                                "healthy": True,
                                "blocked_channels": [],
                                "health_detail": "",
                            }
                        )
                        pos += 1
                if rng.random() < 0.5:
                    sup.append(
                        {
                            "resident_id": rid,
                            "position": 0,
                            "name": f"支援者{i}",
                            "phone": f"+8180{i:08d}",
                            "phone_kind": "mobile",
                        }
                    )
            conn.execute(insert(Resident.__table__), res)
            if con:
                conn.execute(insert(Contact.__table__), con)
            if sup:
                conn.execute(insert(Supporter.__table__), sup)
    engine.dispose()


BASELINE_SCRIPT = """
import sys
import geopandas as gpd
import pandas as pd
df = pd.read_csv(sys.argv[1], dtype={"id": str})
df = df.dropna(subset=["lat", "lon"])
pts = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs=4326)
zones = gpd.read_file(sys.argv[2])
j = gpd.sjoin(pts.to_crs(6670), zones.to_crs(6670), predicate="dwithin", distance=30.0)
print(j["id"].nunique())
"""


@dataclass
class Dataset:
    n: int
    zones: int
    db: str
    zones_file: Path
    csv_file: Path


def make_dataset(tmp: Path, n: int, n_zones: int, db: str | None = None) -> Dataset:
    lon, lat, geoms = bench_targeting.make_city(n, n_zones, SEED)
    zones_file = tmp / f"zones-{n_zones}.geojson"
    write_zones(zones_file, geoms)
    csv_file = tmp / f"register-{n}.csv"
    db = db or f"sqlite:///{tmp / f'bench-{n}.db'}"
    fill_register(db, lon, lat, csv_file)
    for args in (
        ("zones", "import", str(zones_file), "--set", "S", "--json"),
        ("shelters", "import", str(ROOT / "zones" / "shelters"), "--json"),
    ):
        _sec, _rss, code = alertsvc(db, *args)
        if code:
            raise SystemExit(f"setup failed: {args}")
    return Dataset(n, n_zones, db, zones_file, csv_file)


# --- measures -----------------------------------------------------------------------------


def measure_preview(tmp: Path, n: int, n_zones: int, goal_ratio: float, goal_s: float | None,
                    goal_rss: float | None) -> Figure:  # fmt: skip
    print(f"preview: {n:,} residents x {n_zones:,} zones: generating …", flush=True)
    ds = make_dataset(tmp, n, n_zones)
    base_s, base_rss, _ = run_child(
        [sys.executable, "-c", BASELINE_SCRIPT, str(ds.csv_file), str(ds.zones_file)]
    )
    ours_s, ours_rss, code = alertsvc(ds.db, "alert", "preview", "--level", "4", "--zone-set",
                                      "S", "--json")  # fmt: skip
    # zones import stored the grown zones (zone_grown_cache): the preview loads, not grows
    fig = Figure(
        f"alert preview --json, {n:,} register, {n_zones:,} zones (whole process)",
        round(ours_s, 2),
        "s",
        round(base_s, 2),
        "geopandas read_csv + read_file + sjoin(dwithin 30 m) script",
        f"ratio <= {goal_ratio}"
        + (f", <= {goal_s} s" if goal_s else "")
        + (f", peak RSS <= {goal_rss:.0f} MiB" if goal_rss else ""),
        extra={"peak_rss_mib": round(ours_rss), "baseline_peak_rss_mib": round(base_rss)},
    )
    ok = code == 0 and fig.ratio is not None and fig.ratio <= goal_ratio
    if goal_s:
        ok &= ours_s <= goal_s
    if goal_rss:
        ok &= ours_rss <= goal_rss
    fig.met = ok
    print(f"  ours {ours_s:.2f} s ({ours_rss:.0f} MiB), baseline {base_s:.2f} s", flush=True)
    return fig


def measure_targeting(n: int, n_zones: int) -> Figure:
    print(f"targeting 30 m: {n:,} x {n_zones:,} …", flush=True)
    code = bench_targeting.main(
        ["--residents", str(n), "--zones", str(n_zones), "--no-memory", "--seed", str(SEED)]
    )
    r = bench_targeting.BENCH_RESULTS
    speedup = r["dwithin_seconds"] / r["tol_seconds"]
    return Figure(
        f"targeting, 30 m tolerance, {n:,} x {n_zones:,} (zones cached)",
        round(r["tol_seconds"], 3),
        "s",
        round(r["dwithin_seconds"], 3),
        "geopandas.sjoin(dwithin 30 m) in EPSG:6670 (projection included)",
        ">= 5x faster, identical pairs",
        met=code == 0 and r["identical_pairs"] and speedup >= 5,
        extra={
            "speedup": round(speedup, 2),
            "cold_seconds_zones_grown_in_call": round(r["tol_cold_seconds"], 3),
            "speedup_cold": round(r["dwithin_seconds"] / r["tol_cold_seconds"], 2),
            "identical_pairs": r["identical_pairs"],
            "pairs": r["pairs"],
            "tolerance_0_seconds": round(r["tol0_seconds"], 3),
            "sjoin_intersects_seconds": round(r["intersects_seconds"], 3),
        },
    )


IMPORT_BASELINE = """
import sys
import pandas as pd
from sqlalchemy import create_engine
df = pd.read_csv(sys.argv[1], encoding="cp932", dtype=str, keep_default_na=False)
engine = create_engine(sys.argv[2])
df.to_sql("register_raw", engine, index=False, chunksize=10_000)
"""


def measure_import(tmp: Path, n: int) -> Figure:
    print(f"registry import: {n:,} rows CP932 …", flush=True)
    rows = gen_demo_register.generate(SEED, n, ROOT / "zones")
    path = tmp / f"import-{n}.csv"
    path.write_bytes(gen_demo_register.render(rows).encode("cp932"))
    mb = path.stat().st_size / 1e6
    db = f"sqlite:///{tmp / f'import-{uuid.uuid4().hex[:6]}.db'}"
    from alertsvc.db import ensure_schema, make_engine

    engine = make_engine(db)
    ensure_schema(engine)
    engine.dispose()
    ours_s, ours_rss, code = alertsvc(db, "registry", "import", str(path), "--json")
    base_db = f"sqlite:///{tmp / f'raw-{uuid.uuid4().hex[:6]}.db'}"
    base_s, base_rss, _ = run_child([sys.executable, "-c", IMPORT_BASELINE, str(path), base_db])
    fig = Figure(
        f"registry import, {n:,} rows CP932 ({mb:.0f} MB), SQLite",
        round(ours_s, 2),
        "s",
        round(base_s, 2),
        "pandas.read_csv + DataFrame.to_sql (no validation), whole process",
        "<= 3x the baseline, peak RSS <= 400 MiB",
        extra={"peak_rss_mib": round(ours_rss), "baseline_peak_rss_mib": round(base_rss)},
        note="streams the file (two line-by-line passes) and writes in batches of 2,000 "
        "(executemany on SQLite, COPY on PostgreSQL); validation (phonenumbers) dominates the "
        "profile",
    )
    fig.met = code == 0 and (fig.ratio or 99) <= 3 and ours_rss <= 400
    print(f"  ours {ours_s:.2f} s ({ours_rss:.0f} MiB), baseline {base_s:.2f} s", flush=True)
    return fig


def measure_send(tmp: Path, n: int, pg: str) -> Figure:
    """``send_preview`` writing the alert, targets and deliveries, against COPY of them."""
    print(f"alert send: {n:,} targets on PostgreSQL …", flush=True)
    from sqlalchemy import text

    from alertsvc.config import DatabaseSettings, Settings
    from alertsvc.db import make_engine, session_scope
    from alertsvc.models import Level
    from alertsvc.services.preview import build_preview
    from alertsvc.services.scope import resolve_scope
    from alertsvc.services.send import plan_rows, send_preview

    with bench_dispatch._database("pg", pg, tmp) as db:
        lon, lat, _geoms = bench_targeting.make_city(n, 10, SEED)
        fill_register(db, lon, lat, tmp / "send.csv")
        # one zone over the whole city: every located resident is a target
        whole = tmp / "whole.geojson"
        import shapely

        write_zones(whole, [shapely.box(130.5, 33.5, 131.0, 34.0)])
        alertsvc(db, "zones", "import", str(whole), "--set", "ALL", "--json")
        alertsvc(db, "shelters", "import", str(ROOT / "zones" / "shelters"), "--json")
        settings = Settings(database=DatabaseSettings(url=db))
        engine = make_engine(db)
        with session_scope(engine) as session:
            scope = resolve_scope(session, ["ALL"])
            preview = build_preview(session, settings, level=Level.EVACUATE, scope=scope)
        t = time.perf_counter()
        plan_rows(preview)  # the rows alone (supporter texts rendered), nothing written
        planning = time.perf_counter() - t
        t = time.perf_counter()
        with session_scope(engine) as session:
            result = send_preview(session, settings, preview, actor="bench")
        ours = time.perf_counter() - t
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            files = {}
            for table in ("alert_targets", "deliveries"):
                path = tmp / f"{table}.csv"
                with path.open("wb") as fh, cur.copy(f"COPY {table} TO STDOUT") as cp:  # type: ignore[attr-defined]
                    for chunk in cp:
                        fh.write(chunk)
                files[table] = path
                cur.execute(f"CREATE TABLE copy_{table} (LIKE {table} INCLUDING ALL)")
            raw.commit()
            t = time.perf_counter()
            for table, path in files.items():
                with path.open("rb") as fh, cur.copy(f"COPY copy_{table} FROM STDIN") as cp:  # type: ignore[attr-defined]
                    while chunk := fh.read(1 << 20):
                        cp.write(chunk)
            raw.commit()
            base = time.perf_counter() - t
        finally:
            raw.close()
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    fig = Figure(
        f"alert send writing rows, {result.targets:,} targets / {result.deliveries:,} "
        "deliveries, PostgreSQL",
        round(ours, 2),
        "s",
        round(base, 2),
        "COPY of the same alert_targets and deliveries rows from a file",
        "<= 3x the baseline",
        extra={"of_which_plan_rows_s": round(planning, 2)},
        note="whole send_preview (rows built, supporter texts rendered, validated, written by "
        "COPY in the same transaction as the alert and its audit entry)",
    )
    fig.met = (fig.ratio or 99) <= 3
    print(f"  ours {ours:.2f} s, COPY {base:.2f} s", flush=True)
    return fig


def simulator_ceiling(seconds: float, threads: int = 8) -> float:
    """Messages per second a bare httpx client (``threads`` keep-alive connections) gets
    from the simulator's FCM endpoint: the most any sender can get from it here."""
    import firebase_admin
    import httpx
    from firebase_admin import credentials

    from alertsvc.channels.fcm import simulator_service_account
    from alertsvc.testing.simulator import ProviderSimulator

    with ProviderSimulator(seed=3) as sim:
        cred = credentials.Certificate(simulator_service_account(sim.url, "alertsvc-demo"))
        token = cred.get_access_token().access_token
        url = f"{sim.url}/v1/projects/alertsvc-demo/messages:send"
        count = [0] * threads
        stop = time.perf_counter() + seconds

        def hammer(k: int) -> None:
            with httpx.Client(headers={"Authorization": f"Bearer {token}"}) as client:
                while time.perf_counter() < stop:
                    client.post(
                        url,
                        json={
                            "message": {
                                "token": f"fake-fcm-token-{k}",
                                "notification": {"title": "t", "body": "ceiling"},
                            }
                        },
                    )
                    count[k] += 1

        t = time.perf_counter()
        workers = [threading.Thread(target=hammer, args=(k,)) for k in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        del firebase_admin  # imported for its credentials module only
        return sum(count) / (time.perf_counter() - t)


def measure_dispatch(tmp: Path, n: int, floor_n: int, pg: str | None,
                     scaling: list[int]) -> list[Figure]:  # fmt: skip
    print(f"dispatch: floor with {floor_n} requests per channel …", flush=True)
    floor = bench_dispatch.floor(floor_n)
    ceiling = simulator_ceiling(3.0 if floor_n < 1000 else 8.0)
    print(f"  floor {floor}, simulator ceiling (FCM) {ceiling:.0f}/s", flush=True)
    figs: list[Figure] = []
    kind = "pg" if pg else "sqlite"

    def run(mix: str, procs: int, count: int) -> dict[str, Any]:
        ns = argparse.Namespace(n=count, mix=mix, threads=1, batch=500, pg=pg)
        return bench_dispatch.run_config(kind, procs, ns, tmp)

    r = run("push=1", 1, n)
    push = r["per_channel"].get("push", {}).get("per_second", 0.0)
    figs.append(
        Figure(
            f"dispatch, push, 1 worker ({kind}, {n:,} messages)",
            push,
            "msg/s",
            floor["push"],
            "raw firebase-admin send_each loop, same simulator",
            ">= 2x the floor and >= 0.5x the simulator ceiling",
            met=push >= 2 * floor["push"] and push >= 0.5 * ceiling,
            extra={"simulator_ceiling_msg_s": round(ceiling, 1), "states": r["states"]},
        )
    )
    for channel, count in (("sms", max(100, n // 5)), ("voice", max(100, n // 10))):
        r = run(f"{channel}=1", 1, count)
        got = r["per_channel"].get(channel, {}).get("per_second", 0.0)
        figs.append(
            Figure(
                f"dispatch, {channel} alone, 1 worker ({kind}, {count:,} messages)",
                got,
                "msg/s",
                floor[channel],
                f"raw twilio client loop ({channel}), same simulator",
                ">= 0.8x",
                met=got >= 0.8 * floor[channel],
                extra={"states": r["states"]},
            )
        )
    if pg:
        base: float | None = None
        for procs in scaling:
            r = run("push=0.6,sms=0.3,voice=0.1", procs, n)
            total = r["total_per_second"]
            base = base or total
            figs.append(
                Figure(
                    f"dispatch, mixed, {procs} worker(s), PostgreSQL ({n:,} messages)",
                    total,
                    "msg/s",
                    base,
                    "the same run with 1 worker",
                    f"report honestly ({os.cpu_count()} cores)",
                    extra={"per_channel": r["per_channel"], "states": r["states"]},
                )
            )
    return figs


# --- report -------------------------------------------------------------------------------


def to_markdown(mach: dict[str, Any], figs: list[Figure], mode: str, command: str,
                seconds: float) -> str:  # fmt: skip
    libs = ", ".join(f"{k} {v}" for k, v in mach["libraries"].items())
    lines = [
        f"### Benchmark report ({mode}, {mach['date_utc']} UTC)",
        "",
        f"`{command}` — {seconds:.0f} s. Machine: {mach['cores']} cores "
        f"(load average at start {mach['load_average_at_start']}), Python {mach['python']}, "
        f"{mach['platform']}; {libs}.",
        "",
        "| measure | ours | baseline (same run) | ratio | goal | met |",
        "|---|---|---|---|---|---|",
    ]
    for f in figs:
        value = "skipped" if f.value is None else f"{f.value:g} {f.unit}"
        base = "" if f.baseline is None else f"{f.baseline:g} {f.unit} — {f.baseline_name}"
        ratio = "" if f.ratio is None else f"{f.ratio:g}"
        met = {True: "yes", False: "**no**", None: "—"}[f.met]
        lines.append(f"| {f.measure} | {value} | {base} | {ratio} | {f.goal} | {met} |")
    lines.append("")
    for f in figs:
        details = {k: v for k, v in f.extra.items() if k != "states"}
        if details or f.note:
            lines.append(f"- {f.measure}: {json.dumps(details, ensure_ascii=False)} {f.note}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, under 2 minutes")
    ap.add_argument("--pg", default=os.environ.get("ALERTSVC_TEST_POSTGRES_URL", ""))
    ap.add_argument("--out", type=Path, default=None, help="write <out>.md and <out>.json")
    ap.add_argument("--only", default="", help="comma list: preview,targeting,import,send,dispatch")
    args = ap.parse_args(argv)
    only = set(args.only.split(",")) if args.only else set()

    def wanted(name: str) -> bool:
        return not only or name in only

    started = time.perf_counter()
    mach = machine()
    figs: list[Figure] = []
    sections: list[tuple[str, Callable[[Path], list[Figure]]]] = []
    if args.quick:
        previews: list[tuple[int, int, float, float | None, float | None]] = [
            (20_000, 400, 1.0, None, None)
        ]
        targeting_size, import_n = (100_000, 1_000), 2_000
        send_n, dispatch_n, floor_n, scaling = 2_000, 500, 200, [1, 2]
    else:
        previews = [
            (20_000, 400, 1.0, None, None),
            (100_000, 2_000, 1.0, 3.0, None),
            (1_000_000, 10_000, 1.5, None, 2048.0),
        ]
        targeting_size, import_n = (1_000_000, 10_000), 100_000
        # dispatch sizes: SMS and voice run at tens per second on the simulator here
        send_n, dispatch_n, floor_n, scaling = 100_000, 5_000, 2_000, [1, 2, 4]
    for n, z, ratio, goal_s, goal_rss in previews:
        sections.append(
            ("preview", lambda t, n=n, z=z, r=ratio, s=goal_s, m=goal_rss: [
                measure_preview(t, n, z, r, s, m)]),
        )  # fmt: skip
    sections.append(("targeting", lambda _t: [measure_targeting(*targeting_size)]))
    sections.append(("import", lambda t: [measure_import(t, import_n)]))
    if args.pg:
        sections.append(("send", lambda t: [measure_send(t, send_n, args.pg)]))
    else:
        figs.append(Figure("alert send on PostgreSQL", None, "s", note="skipped: no --pg"))
    sections.append(
        ("dispatch", lambda t: measure_dispatch(t, dispatch_n, floor_n, args.pg or None, scaling))
    )
    with tempfile.TemporaryDirectory() as d:
        for name, fn in sections:
            if not wanted(name):
                continue
            try:
                figs += fn(Path(d))
            except Exception as exc:  # one broken measure must not hide the others
                figs.append(Figure(f"{name}", None, "", note=f"failed: {exc!r}"))
                print(f"  {name} failed: {exc!r}", file=sys.stderr)
    seconds = time.perf_counter() - started
    command = "scripts/bench.py" + (" --quick" if args.quick else "")
    md = to_markdown(mach, figs, "quick" if args.quick else "full", command, seconds)
    doc = {
        "mode": "quick" if args.quick else "full",
        "seconds": round(seconds, 1),
        "machine": mach,
        "figures": [{**asdict(f), "ratio": f.ratio} for f in figs],
    }
    print("\n" + md)
    if args.out:
        args.out.with_suffix(".md").write_text(md, encoding="utf-8")
        args.out.with_suffix(".json").write_text(
            json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8"
        )
    else:
        print(json.dumps(doc, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
