"""CLI delivery commands: ``worker``, ``alert status``, ``alert cancel``.

``worker`` runs dispatcher workers against the outbox until SIGTERM / Ctrl-C (finishing
the in-flight batch and releasing claimed rows) or, with ``--until-idle``, until nothing
is due or waiting. ``alert status`` shows counts per channel and the people not yet
reached; ``alert cancel`` stops unsent messages and sends a 取消し to exactly the people
the alert reached.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import typer
from rich.console import Group
from rich.live import Live
from rich.table import Table
from sqlalchemy import select

from alertsvc.audit import current_actor
from alertsvc.audit import record as audit_record
from alertsvc.channels import Channel
from alertsvc.cli._common import AppState, emit_json, human, run_command, state_of
from alertsvc.db import session_scope
from alertsvc.db.tables import Resident
from alertsvc.dispatch.runner import default_worker_id, run_worker
from alertsvc.dispatch.status import REASON_LABELS as REASONS
from alertsvc.dispatch.status import STATUS_KEYS, AlertStatus, alert_status, follow_up_order
from alertsvc.dispatch.verify import Verification
from alertsvc.errors import InputError
from alertsvc.models import ChannelName

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Attach ``worker`` to the root app and ``status`` / ``cancel`` to the alert group."""
    from alertsvc.cli.alert import app as alert_app

    app.command("worker")(worker)
    alert_app.command("status")(status)
    alert_app.command("cancel")(cancel)
    alert_app.command("verify")(verify)


def _build_channels(state: AppState, only: list[str] | None) -> dict[ChannelName, Channel]:
    wanted = [ChannelName(c) for c in only] if only else list(ChannelName)
    built = dict(state.channels(state.settings, wanted))
    return {c: built[c] for c in wanted if c in built}


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM / SIGINT set ``stop`` (main thread only); previous handlers come back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        human.print(f"停止します / stopping on signal {signum}: finishing the current batch")
        stop.set()

    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def worker(
    ctx: typer.Context,
    concurrency: int = typer.Option(
        1, "--concurrency", min=1, max=64, help="Worker threads in this process."
    ),
    until_idle: bool = typer.Option(
        False, "--until-idle", help="Exit when nothing is due, in flight, deferred or held."
    ),
    channel: list[str] | None = typer.Option(
        None, "--channel", help="Serve only this channel (push, sms, voice); repeatable."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Run dispatcher workers: claim due deliveries, send them, record the outcomes.

    Stops cleanly on SIGTERM / Ctrl-C. On SQLite run one worker process (threads are
    fine); on PostgreSQL run as many processes as needed — the configured rates apply
    per process.
    """
    state = state_of(ctx)

    def body() -> None:
        bad = [c for c in channel or [] if c not in {n.value for n in ChannelName}]
        if bad:
            raise InputError(
                f"--channel: push, sms または voice / expected push, sms or voice, got {bad}"
            )
        settings = state.settings
        engine = state.engine
        channels = _build_channels(state, channel)
        if not logging.getLogger().handlers:
            logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
            # twilio's client logs every request's headers at INFO: noise, not news
            logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
        stop = threading.Event()
        worker_id = default_worker_id()
        human.print(
            f"配信ワーカー開始 / worker {worker_id} started: "
            f"{', '.join(str(c) for c in channels)} × {concurrency}"
        )
        from alertsvc.registry.store import refusal_hook

        started = time.monotonic()
        with _stop_on_signals(stop):
            stats = run_worker(
                engine,
                channels,
                settings,
                worker_id=worker_id,
                until_idle=until_idle,
                stop_event=stop,
                concurrency=concurrency,
                on_refused=refusal_hook,
            )
        reason = "signal" if stop.is_set() else "idle"
        result: dict[str, Any] = {
            "worker_id": worker_id,
            "stopped": reason,
            "seconds": round(time.monotonic() - started, 3),
            "channels": [str(c) for c in channels],
            "concurrency": concurrency,
            **stats.as_dict(),
        }
        with session_scope(engine) as s:
            audit_record(s, "worker.run", {"concurrency": concurrency,
                                           "until_idle": until_idle}, result)  # fmt: skip
        if json_out:
            emit_json(result)
        human.print(
            f"配信ワーカー終了 / worker stopped ({reason}): 送信 sent {stats.sent}, "
            f"再試行 retried {stats.retried}, 不達 failed {stats.failed}, "
            f"不明 unknown {stats.unknown}"
        )
        if stats.db_errors or stats.channel_errors or stats.expired:
            human.print(
                f"[bold red]障害 / faults survived: database errors {stats.db_errors}, "
                f"broken-channel reports {stats.channel_errors}, rows failed over at max age "
                f"{stats.expired} — see the log above and `alertsvc alert status`[/]"
            )
        if stats.unknown or stats.recovered_unknown:
            human.print(
                "[yellow]不明な送信があります(再送していません)。`alertsvc alert status` で確認"
                "してください / some sends are unknown (may have gone out); not resent.[/]"
            )

    run_command(json_out, body)


def _notices_table(st: AlertStatus, family: tuple[str, list[dict[str, Any]]]) -> Table:
    """The alert's notices (updates, corrections, …) under it, one row each."""
    from alertsvc.services.family_status import EXERCISE_MARK, KIND_LABELS

    root_id, notices = family
    mark = EXERCISE_MARK if st.exercise else ""
    table = Table(title=f"{mark}この警報の通知 / notices of alert {root_id} ({len(notices)})")
    table.add_column("")
    table.add_column("種別 / kind")
    table.add_column("id", no_wrap=True)
    for col in ("レベル / level", "状態 / state", "送信済 / sent"):
        table.add_column(col)
    for n in notices:
        done = sum(n["counts"].get(k, 0) for k in ("sent", "delivered", "acknowledged"))
        total = sum(n["counts"].values())
        table.add_row(
            EXERCISE_MARK if n["exercise"] else "",
            ("▶ " if n["alert_id"] == st.alert_id else "") + KIND_LABELS.get(n["kind"], n["kind"]),
            n["alert_id"],
            str(n["level"]),
            n["state"],
            f"{done}/{total}",
        )
    return table


def _status_renderable(
    st: AlertStatus,
    names: Mapping[str, str],
    family: tuple[str, list[dict[str, Any]]] | None = None,
) -> Group:
    # an exercise is marked on every line (titles, rows, notes), not only the heading
    mark = "【訓練】" if st.exercise else ""
    head = f"アラート / alert {st.alert_id} — 警戒レベル{st.level}"
    if st.exercise:
        head = "【訓練】" + head
    if st.kind == "cancellation":
        head += f" (取消し通知 / cancellation of {st.parent_id})"
    elif family is not None and st.kind != "alert":
        head += f" ({st.kind} / 通知 of {family[0]})"
    table = Table(title=f"{head} · 状態 / state: {st.state}")
    table.add_column("チャネル / channel")
    keys = [*STATUS_KEYS, "held", "cancelled", "skipped"]
    for k in keys:
        table.add_column(k, justify="right")
    for ch, counts in st.by_channel.items():
        table.add_row(mark + ch, *(str(counts.get(k, 0)) for k in keys))
    table.add_row(f"[bold]{mark}計 / total[/]", *(f"[bold]{st.counts.get(k, 0)}[/]" for k in keys))
    parts: list[Any] = [table]
    if st.unreached:
        # the follow-up part covers the family: people any member targeted
        total = st.family_targets if st.family is not None else st.targets
        un = Table(title=f"{mark}未到達 / not yet reached: {len(st.unreached)} / {total}")
        un.add_column("名簿番号 / id", no_wrap=True)
        un.add_column("氏名 / name")
        un.add_column("優先度 / priority", justify="right")
        un.add_column("理由 / reason")
        for u in st.unreached[:50]:
            reason = REASONS.get(u.reason, u.reason)
            if u.supporters:
                # the supporter notices about this person that nobody confirmed
                reason += "; 支援者未確認 / supporter not confirmed: " + ", ".join(
                    f"#{n.supporter_id} {n.channel} {n.state}" for n in u.supporters
                )
            un.add_row(
                mark + u.resident_id, names.get(u.resident_id, ""), f"{u.priority:.1f}", reason
            )
        if len(st.unreached) > 50:
            un.add_row("…", f"+{len(st.unreached) - 50}", "", "")
        parts.append(un)
    labels = {
        "broken": "故障 / broken",
        "no_progress": "送信が進んでいません / no progress",
        "expired": "期限切れで次の手段へ / failed over (max age)",
    }
    for p in st.channel_problems:
        parts.append(
            f"[bold red]{mark}チャネル / channel {p.channel}: {labels.get(p.problem, p.problem)} "
            f"— {p.detail} (since {p.since})[/]"
        )
    if st.unknown:
        parts.append(
            f"[yellow]{mark}不明 / unknown (may have gone out, not resent): {len(st.unknown)}[/]"
        )
    if st.needs_help:
        ids = ", ".join(h["resident_id"] for h in st.needs_help)
        parts.append(f"[bold red]{mark}🔔 支援要請 / need help: {ids}[/]")
    if st.cancellation_ids:
        parts.append(f"{mark}取消し通知 / cancellation: {', '.join(st.cancellation_ids)}")
    if family is not None and family[1]:
        parts.append(_notices_table(st, family))
    return Group(*parts)


def _write_follow_up_csv(engine: Any, st: AlertStatus, path: Path) -> int:
    """Everyone not reached, highest priority first, with what a door knock needs.

    UTF-8 with BOM (Excel), formula-like cells neutralised, written atomically.
    """
    import csv

    from alertsvc.reports.target_csv import neutralise

    # the one follow-up list (dispatch.status): need help, cannot reach, then unreached
    reasons = st.follow_up()
    ids = sorted(reasons, key=lambda r: follow_up_order(*reasons[r], r))
    with session_scope(engine) as s:
        people = {r.id: r for r in s.scalars(select(Resident).where(Resident.id.in_(ids)))}
    rows: list[list[object]] = []
    for rid in ids:
        reason, priority = reasons[rid]
        r = people.get(rid)
        rows.append(
            [
                REASONS.get(reason, reason),
                rid,
                r.name if r else "",
                r.address if r else "",
                "" if reason == "need_help" else priority,
            ]
        )
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        # the exercise column comes last: existing readers of the first five keep working
        writer.writerow(["理由/reason", "名簿番号/resident_id", "氏名/name", "住所/address",
                         "優先度/priority", "訓練/exercise"])  # fmt: skip
        for row in rows:
            writer.writerow([*(neutralise(v) for v in row), "【訓練】" if st.exercise else ""])
    tmp.replace(path)
    return len(rows)


def _load_status(
    state_engine: Any, alert_id: str
) -> tuple[AlertStatus, dict[str, str], tuple[str, list[dict[str, Any]]]]:
    from alertsvc.services.family_status import family_of

    with session_scope(state_engine) as s:
        st = alert_status(s, alert_id)
        ids = [u.resident_id for u in st.unreached[:50]]
        names = dict(
            s.execute(select(Resident.id, Resident.name).where(Resident.id.in_(ids))).all()
        )
        family = family_of(s, alert_id)
    return st, names, family


def status(
    ctx: typer.Context,
    alert_id: str = typer.Argument(..., help="Alert id (A…)."),
    watch: bool = typer.Option(False, "--watch", help="Refresh until nothing is in flight."),
    interval: float = typer.Option(1.0, "--interval", min=0.1, help="Seconds between refreshes."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    csv_file: Path | None = typer.Option(
        None, "--csv", help="Write the whole follow-up list (name, address, reason) as CSV."
    ),
) -> None:
    """Delivery status of one alert: counts per channel, people not yet reached, unknowns."""
    state = state_of(ctx)

    def body() -> None:
        engine = state.engine
        st, names, family = _load_status(engine, alert_id)
        if csv_file is not None:
            n = _write_follow_up_csv(engine, st, csv_file)
            human.print(
                f"戸別訪問リストを書き出しました / follow-up list written: {csv_file} ({n})"
            )
        if watch and st.in_flight:
            view = _status_renderable(st, names, family)
            with Live(view, console=human, refresh_per_second=4) as live:
                while st.in_flight:
                    time.sleep(interval)
                    st, names, family = _load_status(engine, alert_id)
                    live.update(_status_renderable(st, names, family))
        else:
            human.print(_status_renderable(st, names, family))
        if json_out:
            # additive keys: the original alert, and its notices under it
            emit_json({**st.as_dict(), "root_id": family[0], "notices": family[1]})

    run_command(json_out, body)


def cancel(
    ctx: typer.Context,
    alert_id: str = typer.Argument(..., help="Alert id (A…) to cancel."),
    reason: str = typer.Option(..., "--reason", help="Why (shown to officers and in the notice)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Stop every unsent message of the alert and everything under it (updates,
    expansions) and send one 取消し to each person reached.

    ID may name an update or expansion: the original alert's whole family is cancelled.
    """
    state = state_of(ctx)

    def body() -> None:
        from alertsvc.services.cap_notices import cancel_with_notice

        with session_scope(state.engine) as s:
            result = cancel_with_notice(
                s, state.settings, alert_id, reason=reason, actor=current_actor()
            )
        if json_out:
            emit_json(result.as_dict())
        human.print(
            f"取消し完了 / cancelled {result.alert_id}"
            + (
                f" ({alert_id} の元のアラート / the original of {alert_id})"
                if result.alert_id != alert_id
                else ""
            )
            + f": 未送信停止 stopped {result.cancelled}, "
            f"取消し通知 notices queued {result.notified}"
            + (f" ({result.cancellation_alert_id})" if result.cancellation_alert_id else "")
        )
        if result.notified:
            human.print(
                "`alertsvc worker` が取消し通知を最優先で送ります / workers send these first"
            )

    run_command(json_out, body)


def verification_renderable(v: Verification) -> Any:
    """The human view of ``alert verify``: OK, or every violation (no addresses)."""
    if v.ok:
        return f"[bold green]検証OK / verify {v.alert_id}: every rule holds[/]"
    table = Table(title=f"[bold red]違反 / violations of {v.alert_id}: {len(v.violations)}[/]")
    table.add_column("規則 / rule")
    table.add_column("名簿番号 / id")
    table.add_column("内容 / detail")
    for x in v.violations:
        table.add_row(x.rule, x.resident_id, x.detail)
    return table


def verify(
    ctx: typer.Context,
    alert_id: str = typer.Argument(..., help="Alert id (A…)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Check the alert's invariants and print every violation; exit 0 when all hold, 1 if not.

    Rules: every person in scope is confirmed or on the follow-up list with a reason;
    every row is in a state of the table; nothing queued, claimed or held past
    max_age_seconds plus the lease; cancellations only (and always) to addresses that
    were accepted or may have been; every acknowledgement belongs to the person whose
    own address answered.
    """
    state = state_of(ctx)

    def body() -> None:
        from alertsvc.dispatch.verify import verify_alert

        with session_scope(state.engine) as s:
            result = verify_alert(s, alert_id, state.settings.dispatch)
        if json_out:
            emit_json(result.as_dict())
        human.print(verification_renderable(result))
        if not result.ok:
            raise typer.Exit(1)

    run_command(json_out, body)
