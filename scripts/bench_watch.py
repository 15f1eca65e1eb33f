"""Benchmark: a river reading that crosses a line -> the first provider request (auto policy).

On the demo data (zones, shelters, register) and the loopback provider simulator, each run

1. gives a fresh station (川の防災情報-shaped document, 避難判断水位 4.0 m, policy ``auto``)
   three quiet readings and polls once: nothing is decided;
2. writes the next document, whose last reading crosses the line (the moment the reading
   is *available at the source*: t0), and runs the ``serve`` scheduler's watcher job
   (``alertsvc.cli.watch.scheduler_jobs``) at once: poll, decide, auto-send, kick the
   dispatcher;
3. waits for the simulator's first request of that alert: latency = its time - t0,
   then cancels the rest of the alert (``cancel_alert``) and drains the outbox before the
   next run.

It does not include the wait for the poll to come round (up to ``[watcher] poll_seconds``
after the source updates) nor the source's own delay. Prints p50/p95/p99 (goal: p95
<= 5 s; the ETWS target for the first warning on phones is 4 s).

    .venv/bin/python scripts/bench_watch.py               # 100 runs, SQLite in a temp dir
    .venv/bin/python scripts/bench_watch.py --runs 20 --database-url postgresql+psycopg://...
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import delete, select  # noqa: E402

from alertsvc.config import DatabaseSettings, Settings, StationSettings  # noqa: E402
from alertsvc.db import ensure_schema, make_engine, session_scope  # noqa: E402
from alertsvc.db.tables import Alert, WatchStation  # noqa: E402
from alertsvc.dispatch.cancel import cancel_alert  # noqa: E402
from alertsvc.dispatch.maintenance import has_pending_work  # noqa: E402
from alertsvc.testing.gauges import river_station_doc  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--verbose", action="store_true", help="print each run's latency")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    from alertsvc.cli.watch import scheduler_jobs
    from alertsvc.geo.shelter_import import import_shelters
    from alertsvc.geo.zone_import import import_zones
    from alertsvc.models import ZoneKind
    from alertsvc.registry.csv_import import import_register
    from alertsvc.testing.simulator import ProviderSimulator
    from alertsvc.web.server import WebhookServer

    tmp = Path(tempfile.mkdtemp(prefix="alertsvc-bench-watch-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    engine = make_engine(url)
    ensure_schema(engine)
    import_zones(
        engine, ROOT / "zones" / "nogata_flood_synthetic.geojson", "bench-flood", actor="bench"
    )
    import_zones(
        engine,
        ROOT / "zones" / "nogata_house_collapse_synthetic.geojson",
        "bench-collapse",
        kind=ZoneKind.HOUSE_COLLAPSE,
        actor="bench",
    )
    with session_scope(engine) as session:
        import_shelters(session, [ROOT / "zones" / "shelters"], actor="bench")
    import_register(engine, ROOT / "recipients" / "register.csv", actor="bench")

    base = Settings(database=DatabaseSettings(url=url))
    latencies: list[float] = []
    web_settings = replace(base, webhooks=replace(base.webhooks, public_url=""))
    with (
        WebhookServer.from_settings(engine, web_settings, port=0) as web,
        ProviderSimulator(port=0, callback_delay_s=0.0) as sim,
    ):
        feed = tmp / "feed.json"
        station = StationSettings(
            id="bench",
            source="river_json",
            url=feed.as_uri(),
            code="0901000400101",
            zone_sets_level3=("bench-collapse",),
            policy_level3="auto",
            policy_level4="auto",
            policy_level5="auto",
        )
        settings = replace(
            base,
            twilio=replace(base.twilio, base_url=sim.url),
            fcm=replace(base.fcm, base_url=sim.url),
            webhooks=replace(base.webhooks, public_url=web.url),
            rates=replace(
                base.rates,
                sms_per_second=base.rates.sms_per_second * 100,
                calls_per_second=base.rates.calls_per_second * 100,
                push_per_second=base.rates.push_per_second * 100,
            ),
            dispatch=replace(
                base.dispatch,
                ack_wait_level3_seconds=0.0,
                ack_wait_level4_seconds=0.0,
                backoff_seconds=0.1,
            ),
            watcher=replace(base.watcher, stations=(station,)),
        )
        stop = threading.Event()
        # built once, as `serve` does: channels are created on the first dispatcher run
        jobs = {j.id: j for j in scheduler_jobs(engine, settings, stop)}
        for run in range(args.runs):
            # a new river event each run: forget the station's state (bench only)
            with session_scope(engine) as session:
                session.execute(delete(WatchStation))
            now = dt.datetime.now(dt.UTC)
            feed.write_text(
                river_station_doc(
                    now - dt.timedelta(minutes=10), [3.5, 3.52, 3.54], name="bench (synthetic)"
                ),
                encoding="utf-8",
            )
            jobs["watcher-poll"].func()  # quiet: no decision
            seen = len(sim.requests)
            feed.write_text(
                river_station_doc(now, [3.5, 3.52, 3.54, 4.3], name="bench (synthetic)"),
                encoding="utf-8",
            )
            t0 = time.time()  # the crossing reading is available at the source
            jobs["watcher-poll"].func()
            first = None
            deadline = time.monotonic() + 60
            while first is None and time.monotonic() < deadline:
                fresh = sim.requests[seen:]
                if fresh:
                    first = min(r.at for r in fresh).timestamp()
                else:
                    time.sleep(0.005)
            if first is None:
                print(f"run {run}: no provider request within 60 s", file=sys.stderr)
                return 1
            latencies.append(first - t0)
            if args.verbose:
                print(f"run {run}: {first - t0:.3f} s", file=sys.stderr)
            # stop the rest of this alert (取消し to whoever it reached: the official cancel
            # path) and drain the outbox, so the next run starts from an idle dispatcher
            with session_scope(engine) as session:
                alert_id = session.scalars(
                    select(Alert.id)
                    .where(Alert.kind != "cancellation")
                    .order_by(Alert.created_at.desc())
                ).first()
                if alert_id is not None:
                    cancel_alert(
                        session,
                        alert_id,
                        reason="bench",
                        actor="bench",
                        render=lambda _channel, _lang: ("取消し", "ベンチマークの取消し / bench"),
                    )
            settle = time.monotonic() + 60
            while time.monotonic() < settle:
                with session_scope(engine) as session:
                    if not has_pending_work(session):
                        break
                jobs["dispatch-wakeup"].func()
                time.sleep(0.1)
            else:
                print(f"run {run}: outbox not idle after 60 s; going on", file=sys.stderr)
        stop.set()
    engine.dispose()
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    figures = {
        "runs": len(latencies),
        "p50_s": round(q[49], 3),
        "p95_s": round(q[94], 3),
        "p99_s": round(q[98], 3),
        "max_s": round(max(latencies), 3),
        "database": url.split(":", 1)[0],
    }
    if args.json:
        print(json.dumps(figures))
    else:
        print(
            f"reading available -> first provider request over {figures['runs']} runs "
            f"({figures['database']}): p50 {figures['p50_s']} s, p95 {figures['p95_s']} s, "
            f"p99 {figures['p99_s']} s (max {figures['max_s']} s)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
