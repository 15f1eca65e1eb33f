"""Fault runs: does the delivery core hold when things break? (bounded, loopback only)

For each fault the script starts a throwaway PostgreSQL cluster of its own (``initdb`` in a
temporary directory, a free 127.0.0.1 port; never a shared server), the loopback provider
simulator, the webhook app (``alertsvc serve``) and two ``alertsvc worker`` processes with
the real Twilio and FCM adapters, writes ONE level-4 alert (push -> SMS -> voice escalation
per person, plus an SMS to each supporter), injects the fault while it is being sent, and
waits (at most ``--max-seconds``) until no row is held, queued, claimed or sending.

Faults (``--faults``, default all):

* ``kill``      SIGKILL one of the two workers at random moments, ``--kills`` times (20),
                restarting it at once each time (this fault sends at a lower rate, so
                that every kill lands inside the one send);
* ``pg``        PostgreSQL stopped like a crash mid-send, started again after ``--pg-down``;
* ``sim-down``  the provider simulator down for ``--down-seconds`` (120), then back;
* ``errors``    30 % of provider requests answered 429/500/503 (429 with Retry-After) and
                5 % held past the client's timeout (a read timeout: may have been sent);
* ``webhook``   the webhook app killed and restarted ``--webhook-restarts`` times while
                status callbacks and keypresses arrive.

One report (table on stdout, or one JSON document with ``--json``): per fault, deliveries
planned, requests the provider accepted, duplicates at the provider (SMS and voice: must be
only rows marked ``unknown``; push duplicates are counted apart — a retried push replaces
the notification on the device), rows not terminal at the end (must be 0), people lost
(``alert verify``'s ``person_accounted``) and whether ``alert verify`` holds. Exit 0 when
every fault holds, 1 otherwise.

    .venv/bin/python scripts/chaos.py                      # all faults, 300 people
    .venv/bin/python scripts/chaos.py --faults kill,pg --n 50 --kills 5 --json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from sqlalchemy import Engine, func, select

from alertsvc.channels.twilio_common import SIMULATOR_AUTH_TOKEN
from alertsvc.config import DispatchSettings
from alertsvc.db import ensure_schema, make_engine, session_scope
from alertsvc.db.tables import Delivery
from alertsvc.dispatch import create_alert
from alertsvc.dispatch.verify import verify_alert
from alertsvc.models import ChannelName
from alertsvc.testing import simple_plan
from alertsvc.testing.pgcluster import ThrowawayCluster
from alertsvc.testing.simulator import Faults, ProviderSimulator, RequestRecord

ROOT = Path(__file__).resolve().parents[1]
FAULTS = ("kill", "pg", "sim-down", "errors", "webhook")
BUSY = ("held", "queued", "claimed", "sending")
HTTP_TIMEOUT = 10.0  # the worker's per-request timeout (channels.build_channels default)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Run:
    """Everything one fault run starts; ``close`` stops all of it."""

    name: str
    args: argparse.Namespace
    tmp: Path
    db: str
    engine: Engine
    sims: list[ProviderSimulator] = field(default_factory=list)
    sim_port: int = 0
    web_port: int = 0
    web: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    cfg: Path = Path()
    faults: dict[str, Faults] = field(default_factory=dict)
    script: dict[str, str] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "ALERTSVC_DATABASE_URL": self.db,
            "ALERTSVC_CONFIG": str(self.cfg),
            "ALERTSVC_TWILIO_TOKEN": SIMULATOR_AUTH_TOKEN,
            "ALERTSVC_OPERATOR": "chaos",
        }

    def start_sim(self) -> ProviderSimulator:
        sim = ProviderSimulator(
            port=self.sim_port, seed=self.args.seed + len(self.sims), faults=self.faults,
            script=self.script,
        ).start()  # fmt: skip
        self.sim_port = sim.port
        self.sims.append(sim)
        return sim

    def start_web(self) -> None:
        log = (self.tmp / f"{self.name}-web.log").open("ab")
        self.web = subprocess.Popen(
            [sys.executable, "-m", "alertsvc", "serve", "--port", str(self.web_port)],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.web_port)) == 0:
                    return
            time.sleep(0.1)
        raise SystemExit(f"{self.name}: the webhook app did not start")

    def start_worker(self, i: int, wait: bool = True) -> subprocess.Popen[bytes]:
        log_path = self.tmp / f"{self.name}-worker{i}.log"
        start = log_path.stat().st_size if log_path.exists() else 0
        log = log_path.open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "alertsvc", "worker", "--concurrency", "1"],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + 60
        while wait and b"started" not in log_path.read_bytes()[start:]:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{self.name}: worker {i} did not start: {log_path}")
            time.sleep(0.05)
        return proc

    def close(self) -> None:
        for p in self.workers:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.workers:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if self.sims:
            self.sims[-1].wait_for_callbacks(timeout=15.0)
        if self.web is not None and self.web.poll() is None:
            self.web.send_signal(signal.SIGTERM)
            try:
                self.web.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.web.kill()
                self.web.wait()
        for sim in self.sims:
            sim.stop()


def _config(run: Run, lease: float, sms_rate: float) -> Path:
    cfg = run.tmp / f"{run.name}.toml"
    url = f"http://127.0.0.1:{run.sim_port}"
    cfg.write_text(
        f'[twilio]\nbase_url = "{url}"\n[fcm]\nbase_url = "{url}"\n'
        f'[webhooks]\npublic_url = "http://127.0.0.1:{run.web_port}"\nhost = "127.0.0.1"\n'
        f"port = {run.web_port}\n"
        f"[rates]\nsms_per_second = {sms_rate}\ncalls_per_second = {sms_rate / 2}\n"
        "push_per_second = 500.0\n"
        f"[dispatch]\nlease_seconds = {lease}\nmax_attempts = 12\nbackoff_seconds = 1.0\n"
        "backoff_max_seconds = 10.0\njitter_seconds = 0.5\nmax_age_seconds = 900.0\n"
        f"ack_wait_level4_seconds = {run.args.ack_wait}\nchannel_retry_seconds = 5.0\n"
        "db_retry_max_seconds = 5.0\n",
        encoding="utf-8",
    )
    return cfg


def _busy(engine: Engine, alert_id: str) -> int:
    try:
        with session_scope(engine) as s:
            return int(
                s.scalar(
                    select(func.count())
                    .select_from(Delivery)
                    .where(Delivery.alert_id == alert_id, Delivery.state.in_(BUSY))
                )
                or 0
            )
    except Exception:  # the database may be the thing that is down right now
        return -1


def _sent_some(run: Run, alert_id: str, share: float) -> Callable[[], bool]:
    total = run.notes["planned"]

    def check() -> bool:
        with session_scope(run.engine) as s:
            done = s.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.alert_id == alert_id, Delivery.state.notin_(BUSY))
            )
        return (done or 0) >= share * total

    return check


def _wait(cond: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if cond():
                return True
        except Exception:
            pass
        time.sleep(0.2)
    return False


def inject(run: Run, alert_id: str, cluster: ThrowawayCluster, rng: random.Random) -> None:
    """Inject this run's fault while the alert is being sent."""
    a = run.args
    if run.name == "kill":
        kills = 0
        while kills < a.kills and _busy(run.engine, alert_id) != 0:
            time.sleep(rng.uniform(0.2, 1.5))
            i = rng.randrange(len(run.workers))
            run.workers[i].send_signal(signal.SIGKILL)
            run.workers[i].wait()
            kills += 1
            # restarted at once; the next kill may hit it while it is still starting
            run.workers[i] = run.start_worker(i, wait=False)
        run.notes["kills"] = kills
    elif run.name == "pg":
        _wait(_sent_some(run, alert_id, 0.2), 120)
        cluster.stop("immediate")
        time.sleep(a.pg_down)
        cluster.start()
        run.notes["pg_down_seconds"] = a.pg_down
    elif run.name == "sim-down":
        _wait(_sent_some(run, alert_id, 0.1), 120)
        run.sims[-1].stop()
        time.sleep(a.down_seconds)
        run.start_sim()
        run.notes["simulator_down_seconds"] = a.down_seconds
    elif run.name == "webhook":
        restarts = 0
        while restarts < a.webhook_restarts and _busy(run.engine, alert_id) != 0:
            time.sleep(rng.uniform(0.5, 2.0))
            assert run.web is not None
            run.web.send_signal(signal.SIGKILL)
            run.web.wait()
            time.sleep(rng.uniform(0.2, 1.0))
            run.start_web()
            restarts += 1
        run.notes["webhook_restarts"] = restarts


def _key_of(r: RequestRecord) -> str | None:
    body = dict(r.body)
    cb = body.get("StatusCallback")
    if isinstance(cb, str):
        keys = parse_qs(urlparse(cb).query).get("key")
        return keys[0] if keys else None
    msg = body.get("message")
    if isinstance(msg, dict) and isinstance(msg.get("data"), dict):
        key = msg["data"].get("key")
        return str(key) if key else None
    return None


def run_fault(
    name: str, args: argparse.Namespace, cluster: ThrowawayCluster, tmp: Path
) -> dict[str, Any]:
    started = time.monotonic()
    rng = random.Random(args.seed)
    db = cluster.create_database(f"chaos_{name.replace('-', '_')}_{uuid.uuid4().hex[:6]}")
    engine = make_engine(db)
    ensure_schema(engine)
    run = Run(name, args, tmp, db, engine, sim_port=_free_port(), web_port=_free_port())
    if name == "errors":
        f = Faults(error_rate=args.error_rate, timeout_rate=args.timeout_rate,
                   timeout_seconds=HTTP_TIMEOUT + 1.0, retry_after_seconds=1)  # fmt: skip
        run.faults = {"fcm": f, "twilio-sms": f, "twilio-voice": f}
    targets, deliveries = simple_plan(
        args.n, channels=(ChannelName.PUSH, ChannelName.SMS, ChannelName.VOICE),
        supporter_channel=ChannelName.SMS,
    )  # fmt: skip
    # some people press 1 or 2 on the call; some handsets are off
    for d in deliveries:
        roll = rng.random()
        if d.channel is ChannelName.VOICE and roll < 0.15:
            run.script[d.address] = "answers:1" if roll < 0.1 else "answers:2"
        elif d.channel is ChannelName.SMS and d.recipient == "resident" and roll < 0.05:
            run.script[d.address] = "unreachable"
    run.start_sim()
    # the kill fault sends slowly, so that all its kills land inside one send
    run.cfg = _config(run, lease=30.0 if name == "errors" else 10.0,
                      sms_rate=4.0 if name == "kill" else 20.0)  # fmt: skip
    timed_out = False
    try:
        run.start_web()
        run.workers = [run.start_worker(i) for i in range(2)]
        with session_scope(engine) as s:
            alert_id = create_alert(s, level=4, scope={}, exercise=False, targets=targets,
                                    deliveries=deliveries, actor="chaos")  # fmt: skip
        run.notes["planned"] = len(deliveries)
        inject(run, alert_id, cluster, rng)
        left = args.max_seconds - (time.monotonic() - started)
        timed_out = not _wait(lambda: _busy(engine, alert_id) == 0, max(left, 1.0))
    finally:
        run.close()
    with session_scope(engine) as s:
        rows = {r.key: (r.channel, r.state) for r in s.scalars(
            select(Delivery).where(Delivery.alert_id == alert_id))}  # fmt: skip
        verification = verify_alert(s, alert_id, _dispatch_settings(args))
    engine.dispose()
    accepted: Counter[str] = Counter()
    for sim in run.sims:
        for r in sim.requests:
            key = _key_of(r)
            if key in rows and r.status in (200, 201):
                accepted[key] += 1
    dups = {k: n for k, n in accepted.items() if n > 1}
    bad_dups = [k for k in dups if rows[k][0] != "push" and rows[k][1] != "unknown"]
    states = Counter(st for _c, st in rows.values())
    not_terminal = sum(states[s] for s in BUSY)
    lost = sum(1 for v in verification.violations if v.rule == "person_accounted")
    ok = not timed_out and not_terminal == 0 and not bad_dups and verification.ok
    return {
        "fault": name,
        "ok": ok,
        "seconds": round(time.monotonic() - started, 1),
        "planned": len(rows),
        "accepted_by_provider": sum(accepted.values()),
        "duplicates_at_provider": sum(n - 1 for k, n in dups.items() if rows[k][0] != "push"),
        "duplicates_not_unknown": len(bad_dups),
        "push_duplicates_collapsed": sum(n - 1 for k, n in dups.items() if rows[k][0] == "push"),
        "unknown": states["unknown"],
        "not_terminal": not_terminal,
        "lost": lost,
        "verify_ok": verification.ok,
        "violations": [v.as_dict() for v in verification.violations[:10]],
        "timed_out": timed_out,
        "states": dict(sorted(states.items())),
        **{k: v for k, v in run.notes.items() if k != "planned"},
    }


def _dispatch_settings(args: argparse.Namespace) -> DispatchSettings:
    # the values written into the run's config (verify's time limits depend on them)
    return DispatchSettings(
        max_attempts=12, backoff_seconds=1.0, backoff_max_seconds=10.0, jitter_seconds=0.5,
        max_age_seconds=900.0, lease_seconds=30.0, ack_wait_level4_seconds=args.ack_wait,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--faults", default=",".join(FAULTS), help=f"comma list of {FAULTS}")
    ap.add_argument("--n", type=int, default=300, help="people in the alert")
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--pg-down", type=float, default=5.0, help="seconds PostgreSQL stays down")
    ap.add_argument("--down-seconds", type=float, default=120.0, help="simulator outage")
    ap.add_argument("--error-rate", type=float, default=0.3)
    ap.add_argument("--timeout-rate", type=float, default=0.05)
    ap.add_argument("--webhook-restarts", type=int, default=5)
    ap.add_argument("--ack-wait", type=float, default=3.0, help="seconds before escalating")
    ap.add_argument("--max-seconds", type=float, default=900.0, help="bound per fault")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", action="store_true", help="one JSON document on stdout")
    args = ap.parse_args(argv)
    wanted = [f.strip() for f in args.faults.split(",") if f.strip()]
    unknown = sorted(set(wanted) - set(FAULTS))
    if unknown:
        ap.error(f"unknown fault(s) {unknown}; expected some of {FAULTS}")
    started = dt.datetime.now(dt.UTC)
    reports = []
    with tempfile.TemporaryDirectory(prefix="alertsvc-chaos-") as d:
        cluster = ThrowawayCluster().init()
        try:
            for name in wanted:
                if not args.json:
                    print(f"{name}: {args.n} people …", file=sys.stderr, flush=True)
                reports.append(run_fault(name, args, cluster, Path(d)))
        finally:
            cluster.destroy()
    ok = all(r["ok"] for r in reports)
    doc = {"started": started.isoformat(timespec="seconds"), "people": args.n, "ok": ok,
           "faults": reports}  # fmt: skip
    if args.json:
        print(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        cols = ("fault", "planned", "accepted_by_provider", "duplicates_at_provider",
                "duplicates_not_unknown", "unknown", "not_terminal", "lost", "verify_ok",
                "seconds")  # fmt: skip
        print(" | ".join(cols))
        for r in reports:
            print(" | ".join(str(r[c]) for c in cols))
        print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
