"""Benchmark: the dispatcher against the loopback provider simulator, beside a raw-client floor.

For each configuration (default: SQLite with 1 worker process, PostgreSQL with 1 and with
4 worker processes) the script

1. creates a fresh database and starts ``alertsvc worker`` processes (real FCM / Twilio
   adapters, real ``twilio`` and ``firebase-admin`` clients) aimed at the simulator, with
   rate limits set far above what the machine can do, so the limiter is not measured;
2. waits until every worker is polling, then writes ONE alert with ``--n`` deliveries
   (mix from ``--mix``) in one transaction — the moment ``send`` would return;
3. waits until no row is queued, claimed or sending, then stops the workers with SIGTERM.

It reports the time from the commit to the first provider request the simulator saw,
and provider requests per second per channel (FCM counts messages: one ``send_each``
call carries up to 500). The floor, measured in the same run against the same simulator:
the raw ``twilio.rest.Client`` (messages.create / calls.create) and ``firebase_admin``
``messaging.send_each`` sending ``--floor-n`` requests per channel in a tight loop, one
thread. The floor sends no status-callback URL; the workers do (the callbacks fail fast
against a closed port, as they would with no webhook server).

    .venv/bin/python scripts/bench_dispatch.py                         # 100,000 deliveries
    .venv/bin/python scripts/bench_dispatch.py --n 3000 --floor-n 300 --configs sqlite:1,pg:1
    PostgreSQL: --pg postgresql://postgres@127.0.0.1:5432/test (or $ALERTSVC_TEST_POSTGRES_URL)
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from alertsvc.channels.twilio_common import SIMULATOR_AUTH_TOKEN
from alertsvc.db import ensure_schema, make_engine, normalise_url, session_scope
from alertsvc.db.tables import Delivery
from alertsvc.dispatch import create_alert
from alertsvc.models import ChannelName
from alertsvc.testing import simple_plan
from alertsvc.testing.simulator import ProviderSimulator

ROOT = Path(__file__).resolve().parents[1]
PROVIDER_OF = {"fcm": "push", "twilio-sms": "sms", "twilio-voice": "voice"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _database(kind: str, pg_url: str | None, tmp: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp / f'bench-{uuid.uuid4().hex[:6]}.db'}"
        return
    if not pg_url:
        raise SystemExit("PostgreSQL configuration needs --pg or $ALERTSVC_TEST_POSTGRES_URL")
    url = make_url(normalise_url(pg_url))
    name = f"alertsvc_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": name},
            )
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def _plan(n: int, mix: dict[str, float]) -> tuple[list[Any], list[Any]]:
    targets: list[Any] = []
    deliveries: list[Any] = []
    first = 0
    for name, share in mix.items():
        count = round(n * share)
        t, d = simple_plan(count, channels=(ChannelName(name),), first=first)
        targets += t
        deliveries += d
        first += count
    return targets, deliveries


def _config_file(tmp: Path, sim_url: str, batch: int) -> Path:
    cfg = tmp / f"bench-{uuid.uuid4().hex[:6]}.toml"
    cfg.write_text(
        f'[twilio]\nbase_url = "{sim_url}"\n'
        f'[fcm]\nbase_url = "{sim_url}"\n'
        f'[webhooks]\npublic_url = "http://127.0.0.1:{_free_port()}"\n'
        "[rates]\nsms_per_second = 1000000.0\ncalls_per_second = 1000000.0\n"
        "push_per_second = 1000000.0\n"
        f"[dispatch]\nbatch_size = {batch}\nlease_seconds = 120.0\n",
        encoding="utf-8",
    )
    return cfg


def _start_workers(n: int, threads: int, db: str, cfg: Path) -> list[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "ALERTSVC_DATABASE_URL": db,
        "ALERTSVC_CONFIG": str(cfg),
        "ALERTSVC_TWILIO_TOKEN": SIMULATOR_AUTH_TOKEN,
        "ALERTSVC_OPERATOR": "bench",
    }
    procs = []
    for i in range(n):
        # stderr to a file: a pipe nobody reads fills up and blocks the worker's logging
        err = (cfg.parent / f"{cfg.stem}-worker{i}.log").open("wb")
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "alertsvc", "worker", "--json",
                 "--concurrency", str(threads)],
                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=err,
            )
        )  # fmt: skip
        err.close()
    # a worker prints its start line on stderr once its channels are built
    for i, p in enumerate(procs):
        log = cfg.parent / f"{cfg.stem}-worker{i}.log"
        deadline = time.monotonic() + 60
        while b"started" not in log.read_bytes():
            if p.poll() is not None:
                raise SystemExit(f"worker died at start (exit {p.returncode}): {log.read_text()}")
            if time.monotonic() > deadline:
                raise SystemExit("worker did not start within 60 s")
            time.sleep(0.1)
    time.sleep(0.5)  # past the first idle poll
    return procs


def _stop_workers(procs: list[subprocess.Popen[bytes]]) -> list[str]:
    for p in procs:
        p.send_signal(signal.SIGTERM)
    outs = []
    for p in procs:
        out, _err = p.communicate(timeout=120)
        outs.append(out.decode())
    return outs


def run_config(kind: str, procs: int, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    mix = {k: float(v) for k, v in (p.split("=") for p in args.mix.split(","))}
    with _database(kind, args.pg, tmp) as db, ProviderSimulator(seed=1) as sim:
        engine = make_engine(db)
        ensure_schema(engine)
        workers = _start_workers(procs, args.threads, db, _config_file(tmp, sim.url, args.batch))
        try:
            targets, deliveries = _plan(args.n, mix)
            with session_scope(engine) as s:
                create_alert(s, level=4, scope={}, exercise=False, targets=targets,
                             deliveries=deliveries, actor="bench")  # fmt: skip
            committed = dt.datetime.now(dt.UTC)
            busy = ("queued", "claimed", "sending")
            while True:
                with session_scope(engine) as s:
                    left = s.scalar(
                        select(func.count()).select_from(Delivery).where(Delivery.state.in_(busy))
                    )
                if not left:
                    break
                time.sleep(0.25)
        finally:
            outs = _stop_workers(workers)
        codes = [p.returncode for p in workers]
        stopped = [json.loads(o).get("stopped") if o.strip() else None for o in outs]
        if codes != [0] * procs or stopped != ["signal"] * procs:
            print(f"  WARNING: workers exited {codes}, stopped {stopped}", file=sys.stderr)
        with session_scope(engine) as s:
            states = Counter(dict(s.execute(
                select(Delivery.state, func.count()).group_by(Delivery.state)).all()))  # fmt: skip
        engine.dispose()
        reqs = [r for r in sim.requests if r.provider in PROVIDER_OF]
    first = min(r.at for r in reqs)
    per: dict[str, Any] = {}
    for provider, channel in PROVIDER_OF.items():
        rs = sorted(r.at for r in reqs if r.provider == provider)
        if not rs:
            continue
        # FCM: one request per message in the simulator's log (send_each posts each)
        span = max((rs[-1] - rs[0]).total_seconds(), 1e-9)
        per[channel] = {"requests": len(rs), "per_second": round(len(rs) / span, 1)}
    last = max(r.at for r in reqs)
    return {
        "config": f"{kind} x{procs} proc(s) x{args.threads} thread(s)",
        "deliveries": args.n,
        "states": dict(states),
        "first_request_after_commit_s": round((first - committed).total_seconds(), 3),
        "total_per_second": round(len(reqs) / max((last - first).total_seconds(), 1e-9), 1),
        "per_channel": per,
    }


def floor(n: int) -> dict[str, Any]:
    """The raw clients against the same simulator, one thread, tight loop."""
    import firebase_admin
    from firebase_admin import credentials, messaging
    from twilio.rest import Client

    from alertsvc.channels.fcm import simulator_service_account

    out: dict[str, Any] = {}
    with ProviderSimulator(seed=2) as sim:
        client = Client("AC" + "0" * 32, SIMULATOR_AUTH_TOKEN)
        client.api.base_url = sim.url  # the seam the adapters use too
        t = time.perf_counter()
        for i in range(n):
            client.messages.create(to=f"+8190{i:08d}", from_="+815000000000", body="floor")
        out["sms"] = round(n / (time.perf_counter() - t), 1)
        t = time.perf_counter()
        for i in range(n):
            client.calls.create(
                to=f"+8135{i:08d}", from_="+815000000000", twiml="<Response><Say>x</Say></Response>"
            )
        out["voice"] = round(n / (time.perf_counter() - t), 1)
        cred = credentials.Certificate(simulator_service_account(sim.url, "alertsvc-demo"))
        app = firebase_admin.initialize_app(
            cred, {"projectId": "alertsvc-demo"}, name=f"floor-{uuid.uuid4().hex}"
        )
        try:
            service = messaging._get_messaging_service(app)
            service._fcm_url = f"{sim.url}/v1/projects/alertsvc-demo/messages:send"
            note = messaging.Notification(title="t", body="floor")
            msgs = [messaging.Message(fid=f"fake-fcm-token-{i:06d}", notification=note)
                    for i in range(n)]  # fmt: skip
            t = time.perf_counter()
            for i in range(0, n, 500):
                messaging.send_each(msgs[i : i + 500], app=app)
            out["push"] = round(n / (time.perf_counter() - t), 1)
        finally:
            firebase_admin.delete_app(app)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000, help="deliveries per configuration")
    ap.add_argument("--mix", default="push=0.6,sms=0.3,voice=0.1")
    ap.add_argument("--configs", default="sqlite:1,pg:1,pg:4", help="kind:processes,…")
    ap.add_argument("--threads", type=int, default=1, help="--concurrency of each worker")
    ap.add_argument("--batch", type=int, default=500, help="dispatch.batch_size")
    ap.add_argument("--floor-n", type=int, default=2000, help="requests per channel for the floor")
    ap.add_argument("--pg", default=os.environ.get("ALERTSVC_TEST_POSTGRES_URL", ""))
    args = ap.parse_args(argv)

    print(f"floor: raw clients, {args.floor_n} requests per channel …", flush=True)
    fl = floor(args.floor_n)
    print(f"  raw twilio / firebase-admin, requests per second: {fl}")
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for spec in args.configs.split(","):
            kind, procs = spec.split(":")
            print(f"{kind} with {procs} worker process(es), {args.n} deliveries …", flush=True)
            r = run_config(kind, int(procs), args, Path(d))
            rows.append(r)
            print(f"  states {r['states']}")
            print(
                f"  first provider request {r['first_request_after_commit_s']} s after commit; "
                f"{r['total_per_second']} deliveries/s overall"
            )
            for ch, v in r["per_channel"].items():
                print(f"    {ch:5s} {v['per_second']:>9} /s  (floor {fl.get(ch, '-')} /s)"
                      f"  {v['requests']} requests")  # fmt: skip
    lost = [r for r in rows if sum(r["states"].values()) != args.n]
    if lost:
        print("ERROR: rows missing", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
