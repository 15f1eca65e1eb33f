"""Benchmark: how fast a correction (訂正) takes over a running alert.

The issue's targets: unsent messages of the original stopped within 1 s of the command,
the first correction handed to a provider within 60 s. The script

1. creates a fresh SQLite database, starts the loopback provider simulator and one
   ``alertsvc worker`` process (real Twilio adapter) with the DEFAULT rate limits, so the
   original alert builds a real backlog;
2. writes one level-4 alert with ``--n`` SMS deliveries and waits until ``--sent-first``
   of them went out;
3. runs what ``alertsvc alert correct`` runs: ``stop_unsent`` (its own transaction;
   measured from the call to its commit, when every unsent row is stopped), then
   ``correct_alert``;
4. waits until the first correction row is accepted by the provider (``sent_at``), then
   until every row that was with the provider at the correction has settled (and got
   its correction if it was accepted).

    .venv/bin/python scripts/bench_lifecycle.py                  # 3,000 deliveries
    .venv/bin/python scripts/bench_lifecycle.py --n 10000 --sent-first 500
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_dispatch import _start_workers, _stop_workers

from alertsvc.config import Settings
from alertsvc.db import ensure_schema, make_engine, session_scope
from alertsvc.db.tables import Delivery, NoticeWait
from alertsvc.dispatch import create_alert
from alertsvc.models import ChannelName
from alertsvc.services.lifecycle import correct_alert, stop_unsent
from alertsvc.testing import simple_plan
from alertsvc.testing.simulator import ProviderSimulator


def _config(tmp: Path, sim_url: str) -> Path:
    cfg = tmp / "bench-lifecycle.toml"
    cfg.write_text(
        f'[twilio]\nbase_url = "{sim_url}"\n[fcm]\nbase_url = "{sim_url}"\n'
        '[webhooks]\npublic_url = "http://127.0.0.1:9"\n',
        encoding="utf-8",
    )
    return cfg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--sent-first", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d, ProviderSimulator(seed=1) as sim:
        tmp = Path(d)
        db = f"sqlite:///{tmp / 'bench.db'}"
        engine = make_engine(db)
        ensure_schema(engine)
        workers = _start_workers(1, 4, db, _config(tmp, sim.url))
        try:
            targets, deliveries = simple_plan(args.n, channels=(ChannelName.SMS,))
            with session_scope(engine) as s:
                alert_id = create_alert(s, level=4, scope={}, exercise=False, targets=targets,
                                        deliveries=deliveries, actor="bench")  # fmt: skip
            while True:
                with session_scope(engine) as s:
                    done = s.scalar(
                        select(func.count())
                        .select_from(Delivery)
                        .where(Delivery.alert_id == alert_id, Delivery.sent_at.is_not(None))
                    )
                if (done or 0) >= args.sent_first:
                    break
                time.sleep(0.05)
            t0 = time.monotonic()
            with session_scope(engine) as s:
                stopped = stop_unsent(s, alert_id, actor="bench")
            stop_s = time.monotonic() - t0
            with session_scope(engine) as s:
                result = correct_alert(
                    s, Settings(), alert_id, actor="bench", text="避難先は直方市体育館です。",
                    stopped=stopped,
                )  # fmt: skip
            first_s = None
            while time.monotonic() - t0 < 300:
                with session_scope(engine) as s:
                    sent = s.scalar(
                        select(func.count())
                        .select_from(Delivery)
                        .where(
                            Delivery.alert_id == result.notice_alert_id,
                            Delivery.sent_at.is_not(None),
                        )
                    )
                if sent:
                    first_s = time.monotonic() - t0
                    break
                time.sleep(0.02)
            # rows that were with the provider at the correction get it once they settle
            notices = None
            while time.monotonic() - t0 < 300:
                with session_scope(engine) as s:
                    owed = s.scalar(select(func.count()).select_from(NoticeWait))
                    notices = s.scalar(
                        select(func.count())
                        .select_from(Delivery)
                        .where(Delivery.alert_id == result.notice_alert_id)
                    )
                if not owed:
                    break
                time.sleep(0.05)
        finally:
            _stop_workers(workers)
        engine.dispose()
    print(
        json.dumps(
            {
                "deliveries": args.n,
                "sent_before_correction": args.sent_first,
                "stopped": len(stopped),
                "corrections": result.notified,
                "in_flight_at_correction": result.awaiting_outcome,
                "corrections_after_in_flight_settled": notices,
                "stop_seconds": round(stop_s, 3),
                "first_correction_to_provider_seconds": (
                    round(first_s, 3) if first_s is not None else None
                ),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
