"""A dispatcher worker in its own process, for crash tests (``python -m`` this module).

Its FakeChannel appends every key it is handed to ``--log`` (flushed at once, so the
line survives a SIGKILL) and sleeps ``--delay`` seconds per message, like a slow
provider. ``--hang-after N`` makes the N-th provider call never return, so a test can
kill the process at a known point: in the middle of a batch, with rows in 'sending'.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import threading
import time
from pathlib import Path

from alertsvc.config import DatabaseSettings, DispatchSettings, RateSettings, Settings
from alertsvc.db import make_engine
from alertsvc.dispatch.runner import run_worker
from alertsvc.models import ChannelName, DeliveryResult, OutgoingMessage
from alertsvc.testing.fakes import FakeChannel


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--db", required=True)
    ap.add_argument("--log", required=True, type=Path)
    ap.add_argument("--channel", default="sms", choices=[c.value for c in ChannelName])
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--hang-after", type=int, default=0)
    ap.add_argument("--lease", type=float, default=30.0)
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--worker-id", default="proc")
    ap.add_argument("--until-idle", action="store_true")
    args = ap.parse_args(argv)

    log_file = args.log.open("a", encoding="utf-8")
    count = 0
    lock = threading.Lock()

    def on_send(m: OutgoingMessage, _r: DeliveryResult) -> None:
        nonlocal count
        with lock:
            log_file.write(m.key + "\n")
            log_file.flush()
            count += 1
            hang = bool(args.hang_after) and count >= args.hang_after
        if hang:
            time.sleep(3600)  # the provider call that never returns; the test kills us
        if args.delay:
            time.sleep(args.delay)

    settings = Settings(
        database=DatabaseSettings(url=args.db),
        rates=RateSettings(sms_per_second=1e6, calls_per_second=1e6, push_per_second=1e6),
        dispatch=dataclasses.replace(
            DispatchSettings(), lease_seconds=args.lease, batch_size=args.batch
        ),
    )
    channel = FakeChannel.of(ChannelName(args.channel), on_send=on_send)
    engine = make_engine(args.db)
    stats = run_worker(
        engine,
        {ChannelName(args.channel): channel},
        settings,
        worker_id=args.worker_id,
        until_idle=args.until_idle,
        poll_interval=0.05,
    )
    sys.stderr.write(f"{stats.as_dict()}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
