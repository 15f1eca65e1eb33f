"""CLI group ``watch``: the river watcher (``--once`` for cron, ``status``, ``replay``).

Exit codes: 0 it ran (whatever it decided), 1 every source failed, 3 invalid
configuration or input (nothing written).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from alertsvc.cli._common import AppState, emit_json, human, run_command, state_of
from alertsvc.errors import AlertsvcError, ConfigError, InputError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from alertsvc.config import Settings
    from alertsvc.scheduler import Job, LeaderScheduler
    from alertsvc.watcher.notify import Notifier

__all__ = ["app", "build_notifier", "scheduler_jobs", "sparkline", "start_scheduler"]

log = logging.getLogger(__name__)

app = typer.Typer(
    help="River watcher: poll gauges, decide 警戒レベル, draft or send alerts.",
    invoke_without_command=True,
)

SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float]) -> str:
    """A terminal sparkline of ``values`` (empty for no values)."""
    if not values:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    return "".join(SPARKS[min(7, int((v - low) / span * 7.999))] for v in values)


def _settings(state: AppState) -> Settings:
    """Settings, with an invalid configuration as exit 3 (the watch contract)."""
    try:
        return state.settings
    except ConfigError as exc:
        raise InputError(exc.message) from exc


def build_notifier(settings: Settings) -> Notifier | None:
    """Duty officers' notifier from [duty] (None when no contact is configured)."""
    from alertsvc.channels import build_channels
    from alertsvc.models import ChannelName
    from alertsvc.watcher.notify import ChannelNotifier

    duty = settings.duty
    wanted = [n for n, a in ((ChannelName.SMS, duty.sms), (ChannelName.PUSH, duty.push)) if a]
    if not wanted:
        return None
    channels = build_channels(settings, only=wanted, timeout=settings.watcher.read_timeout_seconds)
    return ChannelNotifier(channels, sms=duty.sms, push=duty.push)


@app.callback()
def watch(
    ctx: typer.Context,
    once: bool = typer.Option(False, "--once", help="Poll every station once (for cron)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Poll the configured gauges once (--once), or see `watch status` / `watch replay`."""
    if ctx.invoked_subcommand is not None:
        return
    if not once:
        human.print(ctx.get_help())
        raise typer.Exit(2)
    state = state_of(ctx)

    def body() -> int:
        from alertsvc.watcher.http import Fetcher, build_client
        from alertsvc.watcher.service import poll

        settings = _settings(state)
        w = settings.watcher
        if not w.stations:
            raise InputError("監視する観測所がありません / no [[watcher.stations]] configured")
        client = build_client(
            connect_timeout=w.connect_timeout_seconds,
            read_timeout=w.read_timeout_seconds,
            retries=w.retries,
        )
        notice = None
        try:
            notifier = build_notifier(settings)
        except AlertsvcError as exc:
            # the officers cannot be told, but the river is still watched and recorded
            notifier, notice = None, f"当番職員へ通知できません / duty notifier: {exc.message}"
        with client:
            result = poll(
                state.engine,
                settings,
                Fetcher(client),
                now=dt.datetime.now(dt.UTC),
                notifier=notifier,
            )
        if notice:
            result.warnings.insert(0, notice)
        if json_out:
            emit_json(result.as_dict())
        _render_poll(result.as_dict(), settings)
        return 1 if result.all_failed else 0

    code = run_command(json_out, body)
    if code:
        human.print("[bold red]すべての水位ソースが失敗しました / every source failed[/]")
        raise typer.Exit(code)


def _render_poll(doc: dict[str, Any], settings: Settings) -> None:
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(settings.municipality.timezone)
    table = Table(title="河川監視 / river watcher")
    for col in ("観測所 / station", "水位 / m", "観測 / observed", "品質 / quality", "レベル"):
        table.add_column(col)
    for s in doc["stations"]:
        at = (
            dt.datetime.fromisoformat(s["observed_at"]).astimezone(tz) if s["observed_at"] else None
        )
        table.add_row(
            s["id"],
            "—" if s["reading"] is None else f"{s['reading']:.2f}",
            at.strftime("%m/%d %H:%M") if at else "—",
            s["quality"],
            "—" if s["level"] is None else str(s["level"]),
        )
    human.print(table)
    for draft in doc["drafts"]:
        human.print(f"[bold]下書き / draft {draft}[/] — alertsvc alert send --draft {draft}")
    for alert in doc["alerts"]:
        human.print(f"[bold]自動送信 / sent automatically: {alert}[/]")
    for warning in doc["warnings"]:
        human.print(f"[yellow]注意 / warning:[/] {warning}", markup=True)


@app.command("status")
def status_cmd(
    ctx: typer.Context,
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Each station's last reading, level, thresholds and trend, with a sparkline."""
    state = state_of(ctx)

    def body() -> None:
        from sqlalchemy import select

        from alertsvc.db import session_scope
        from alertsvc.db.tables import WatchStation
        from alertsvc.watcher.decide import StationState, theil_sen

        settings = _settings(state)
        configured = {s.id: s for s in settings.watcher.stations}
        with session_scope(state.engine) as session:
            rows = {r.station_id: r for r in session.scalars(select(WatchStation))}
        docs: list[dict[str, Any]] = []
        for sid in [*configured, *sorted(set(rows) - set(configured))]:
            row = rows.get(sid)
            st = StationState.from_dict(row.memory) if row and row.memory else StationState()
            fit = theil_sen(list(st.recent[-12:]))
            docs.append(
                {
                    "id": sid,
                    "name": configured[sid].name if sid in configured else "",
                    "configured": sid in configured,
                    "reading": row.reading if row else None,
                    "observed_at": row.observed_at.isoformat() if row and row.observed_at else None,
                    "quality": row.quality if row else "missing",
                    "level": row.level if row else None,
                    "thresholds": dict(row.thresholds) if row else {},
                    "trend_m_per_h": round(fit[0], 3) if fit else None,
                    "predicted_level3_at": (
                        row.predicted_level3_at.isoformat()
                        if row and row.predicted_level3_at
                        else None
                    ),
                    "recent": [v for _, v in st.recent[-24:]],
                }
            )
        if json_out:
            emit_json({"stations": docs})
        table = Table(title="河川監視の状況 / watcher status")
        for col in ("観測所", "水位 m", "品質", "レベル", "線 / lines", "傾向 m/h", "推移"):
            table.add_column(col)
        for d in docs:
            lines = " ".join(f"L{k}={v:g}" for k, v in sorted(d["thresholds"].items()))
            table.add_row(
                f"{d['id']} {d['name']}".strip(),
                "—" if d["reading"] is None else f"{d['reading']:.2f}",
                d["quality"],
                "—" if d["level"] is None else str(d["level"]),
                lines,
                "—" if d["trend_m_per_h"] is None else f"{d['trend_m_per_h']:+.2f}",
                sparkline(d["recent"]),
            )
        human.print(table)

    run_command(json_out, body)


def _parse_thresholds(values: list[str]) -> dict[int, float]:
    out: dict[int, float] = {}
    for value in values:
        level, sep, metres = value.partition("=")
        try:
            lv, m = int(level), float(metres)
        except ValueError:
            lv, m = 0, 0.0
        if not sep or lv not in (3, 4, 5) or m != m:
            raise InputError(
                f"--threshold {value!r}: expected LEVEL=METRES with LEVEL 3, 4 or 5 "
                "(e.g. --threshold 3=321.9)"
            )
        out[lv] = m
    return out


@app.command("replay")
def replay_cmd(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help=".dat file, or a folder of area-feed snapshots."),
    station: str = typer.Option(..., "--station", help="Station id (config) or source code."),
    threshold: list[str] = typer.Option(
        [], "--threshold", help="LEVEL=METRES overriding a line (levels 3, 4, 5); repeatable."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Run the watcher's logic over a recorded series; nothing is sent or saved."""
    state = state_of(ctx)

    def body() -> None:
        from zoneinfo import ZoneInfo

        from alertsvc.watcher.replay import replay
        from alertsvc.watcher.service import rules_from

        overrides = _parse_thresholds(threshold)
        settings = _settings(state)
        configured = {s.id: s for s in settings.watcher.stations}
        st = configured.get(station)
        level_map: dict[str, int] = {"warnLevel": 3, "fladLevel": 4}
        if st is not None:
            level_map = {
                k: v
                for k, v in (("warnLevel", st.warn_level_is), ("fladLevel", st.flad_level_is))
                if v
            }
        result = replay(
            file,
            station=station,
            code=st.source_code if st else station,
            rules=rules_from(settings.watcher),
            base_lines=st.lines() if st else {},
            overrides=overrides,
            level_map=level_map,
        )
        tz = ZoneInfo(settings.municipality.timezone)
        if json_out:
            emit_json(result.as_dict(tz))
        lines = ", ".join(f"L{k} {v:g} m" for k, v in sorted(result.thresholds.items()))
        human.print(f"再生 / replay {station}: {result.readings} readings; lines {lines}")
        table = Table(title="判断 / decisions (送信・保存なし / nothing sent or saved)")
        for col in ("時刻 / at", "水位 / m", "レベル", "種別 / kind", "理由 / rule"):
            table.add_column(col)
        for d in result.decisions:
            table.add_row(
                d.at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                "—" if d.reading is None else f"{d.reading:.2f}",
                "—" if d.level is None else str(d.level),
                d.kind,
                d.rule,
            )
        human.print(table)

    run_command(json_out, body)


def scheduler_jobs(engine: Engine, settings: Settings, stop: threading.Event) -> list[Job]:
    """The jobs `serve` schedules: watcher poll, dispatcher wake-up, escalation check.

    Built here, at the composition root: the scheduler module only wires them. ``stop``
    ends a dispatcher run early (on shutdown): its in-flight batch is finished first.
    """
    from alertsvc.scheduler import Job

    w = settings.watcher
    grace = w.misfire_grace_seconds
    channels: dict[Any, Any] = {}
    # one dispatcher run at a time in this process, scheduled or kicked by the watcher; a
    # wake-up that finds a run in progress leaves `again` set, and the running one goes
    # round once more, so no wake-up is lost between its last look and its end
    running = threading.Lock()
    again = threading.Event()

    def dispatch_once() -> None:
        from alertsvc.channels import build_channels
        from alertsvc.db import session_scope
        from alertsvc.dispatch.maintenance import has_pending_work
        from alertsvc.dispatch.runner import run_worker
        from alertsvc.registry.store import refusal_hook

        with session_scope(engine) as session:
            if not has_pending_work(session):
                return
        if not channels:
            channels.update(build_channels(settings))
        run_worker(
            engine, channels, settings, until_idle=True, stop_event=stop, on_refused=refusal_hook
        )

    def dispatch_wakeup() -> None:
        again.set()
        while again.is_set() and not stop.is_set():
            if not running.acquire(blocking=False):
                return
            try:
                again.clear()
                dispatch_once()
            finally:
                running.release()

    def kick_dispatcher() -> None:
        # not inline: a dispatcher run lasts while the alert is live (acknowledgement
        # waits), and the watcher must keep polling meanwhile
        threading.Thread(target=dispatch_wakeup, name="dispatch-kick", daemon=True).start()

    jobs: list[Job] = []
    if w.stations:
        from alertsvc.watcher.http import Fetcher, build_client
        from alertsvc.watcher.service import poll

        fetcher = Fetcher(
            build_client(
                connect_timeout=w.connect_timeout_seconds,
                read_timeout=w.read_timeout_seconds,
                retries=w.retries,
            )
        )
        try:
            notifier = build_notifier(settings)
        except AlertsvcError as exc:
            log.error("watcher: duty officers cannot be told: %s", exc.message)
            notifier = None

        def watch_poll() -> None:
            result = poll(engine, settings, fetcher, now=dt.datetime.now(dt.UTC), notifier=notifier)
            for warning in result.warnings:
                log.warning("watcher: %s", warning)
            if result.alerts:
                kick_dispatcher()  # an auto-sent alert goes out now, not at the next wake-up

        jobs.append(Job("watcher-poll", watch_poll, w.poll_seconds, grace))

    def escalation_check() -> None:
        from alertsvc.db import session_scope
        from alertsvc.dispatch.maintenance import recover_expired_leases, release_due_escalations

        now = dt.datetime.now(dt.UTC)
        with session_scope(engine) as session:
            recover_expired_leases(session, now)
            release_due_escalations(session, settings.dispatch, now)

    jobs.append(Job("dispatch-wakeup", dispatch_wakeup, w.dispatch_wakeup_seconds, grace))
    jobs.append(Job("escalation-check", escalation_check, w.escalation_check_seconds, grace))
    return jobs


def start_scheduler(engine: Engine, settings: Settings) -> LeaderScheduler:
    """Start the leader-elected scheduler of `serve`; prints each change of role."""
    from alertsvc.scheduler import LeaderScheduler, leadership_for

    def announce(role: str) -> None:
        if role == "leader":
            human.print("スケジューラ: 主 / scheduler: leader (watcher, dispatcher, escalations)")
        else:
            human.print("スケジューラ: 待機 / scheduler: follower (another serve leads)")

    stop = threading.Event()
    return LeaderScheduler(
        scheduler_jobs(engine, settings, stop),
        leadership_for(engine),
        retry_seconds=settings.watcher.leader_retry_seconds,
        on_change=announce,
        on_stop=stop.set,
    ).start()
