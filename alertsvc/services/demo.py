"""The demo: the whole path on the embedded default, with no credentials and no network.

The bundled data is imported; the loopback provider simulator stands in for Twilio and
FCM (with scripted dead tokens, opted-out numbers, unanswered calls, keypresses and random
429/5xx); the webhook app receives the signed callbacks; a level-4 alert goes to everyone
in the demo flood zones; workers send it; the officer gets the status and the follow-up
list of everyone not reached.

The demo starts at the river: the watcher reads a SYNTHETIC 危機管理型水位計 series on the
遠賀川 (area-feed format), recommends level 3 for the register ahead of 避難判断水位
(lead-time rule), an officer's approval of each draft is simulated, 氾濫危険水位 raises
level 4 for everyone in the zones, the river falls and an all-clear is proposed (never
sent by itself).
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from alertsvc.config import Settings
from alertsvc.db import session_scope
from alertsvc.dispatch.status import AlertStatus, alert_status
from alertsvc.dispatch.verify import Verification, verify_alert
from alertsvc.errors import ConfigError
from alertsvc.models import ContactKind, Level, ResidentInfo, ZoneKind

__all__ = ["DemoOptions", "DemoResult", "demo_paths", "run_demo"]

_JST = ZoneInfo("Asia/Tokyo")
FLOOD_SET = "demo-flood"
COLLAPSE_SET = "demo-house-collapse"


@dataclass(frozen=True)
class DemoOptions:
    level: Level = Level.EVACUATE
    # seconds without an answer before the next channel (the real default is minutes)
    ack_wait_seconds: float = 4.0
    # provider rates are multiplied by this so the demo takes seconds, not minutes
    speed: float = 10.0
    # fraction of provider requests answered 429/500/503 (retried by the workers)
    error_rate: float = 0.1
    seed: int = 7


@dataclass
class DemoResult:
    alert_id: str
    status: AlertStatus
    preview_counts: dict[str, Any]
    residents: dict[str, ResidentInfo]
    provider_requests: dict[str, dict[str, int]] = field(default_factory=dict)
    scripted: dict[str, int] = field(default_factory=dict)
    # the watcher's decisions, drafts, approved alerts and what the duty officer was told
    watcher: dict[str, Any] = field(default_factory=dict)
    # `alert verify` on the demo's alert, run last
    verification: Verification | None = None


def demo_paths(settings: Settings, base: Path | None = None) -> dict[str, Path]:
    """The bundled data files; ConfigError naming the folder when one is missing."""
    root = base or (settings.source.parent if settings.source else Path.cwd())
    zones = root / settings.data.zones_dir
    recipients = root / settings.data.recipients_dir
    paths = {
        "flood": zones / "nogata_flood_synthetic.geojson",
        "collapse": zones / "nogata_house_collapse_synthetic.geojson",
        "shelters": zones / "shelters",
        "register": recipients / "register.csv",
    }
    missing = [str(p) for p in paths.values() if not p.exists()]
    if missing:
        raise ConfigError(
            "デモデータが見つかりません / demo data not found: "
            + ", ".join(missing)
            + " (run from the repository root, or set [data] zones_dir / recipients_dir)"
        )
    return paths


def _script(residents: list[ResidentInfo], rng: random.Random) -> dict[str, str]:
    """Scripted provider behaviour per address: what really happens in a flood night."""
    tokens = [c.address for r in residents for c in r.contacts if c.kind == ContactKind.PUSH]
    mobiles = [c.address for r in residents for c in r.contacts if c.kind == ContactKind.MOBILE]
    lines = [
        c.address
        for r in residents
        for c in r.contacts
        if c.kind in (ContactKind.LANDLINE, ContactKind.IP_PHONE)
    ]
    script: dict[str, str] = {}
    for token in rng.sample(tokens, min(3, len(tokens))):
        script[token] = "dead_token"  # app uninstalled
    for number in rng.sample(mobiles, min(2, len(mobiles))):
        script[number] = "opted_out"  # replied STOP once
    phones = sorted(set(mobiles) | set(lines))
    rng.shuffle(phones)
    for number in phones:
        if number in script:
            continue
        roll = rng.random()
        if roll < 0.08:
            script[number] = "unreachable"  # no answer / phone off
        elif roll < 0.12:
            script[number] = "busy"
        elif roll < 0.17:
            script[number] = "answers:2"  # needs help
        elif roll < 0.75:
            script[number] = "answers:1"  # safe
        # the rest pick up, listen and hang up without pressing anything
    return script


def run_demo(
    settings: Settings,
    engine: Engine,
    *,
    options: DemoOptions,
    base: Path | None = None,
    step: Callable[[str], None] = lambda _: None,
    on_status: Callable[[AlertStatus], None] = lambda _: None,
) -> DemoResult:
    """Run the whole path once; returns the final status. Raises AlertsvcError on bad data."""
    from alertsvc.channels import build_channels
    from alertsvc.dispatch.runner import run_worker
    from alertsvc.geo.shelter_import import import_shelters
    from alertsvc.geo.zone_import import import_zones
    from alertsvc.registry.csv_import import import_register
    from alertsvc.registry.store import load_residents, refusal_hook
    from alertsvc.testing.reach_simulator import ReachSimulator
    from alertsvc.testing.simulator import ProviderSimulator
    from alertsvc.testing.smtp_sink import SmtpSink
    from alertsvc.web.server import WebhookServer

    paths = demo_paths(settings, base)
    import_zones(engine, paths["flood"], FLOOD_SET, actor="demo")
    import_zones(
        engine, paths["collapse"], COLLAPSE_SET, kind=ZoneKind.HOUSE_COLLAPSE, actor="demo"
    )
    with session_scope(engine) as session:
        import_shelters(session, [paths["shelters"]], actor="demo")
    report = import_register(engine, paths["register"], actor="demo")
    step(
        "データ取込み / data imported: zones, shelters, register "
        f"({report.added + report.changed + report.unchanged} residents)"
    )
    with session_scope(engine) as session:
        residents = {r.id: r for r in load_residents(session, active_only=False)}
    rng = random.Random(options.seed)
    script = _script(list(residents.values()), rng)

    # the webhook app binds first: its URL is where the providers call back
    web_settings = replace(settings, webhooks=replace(settings.webhooks, public_url=""))
    with (
        WebhookServer.from_settings(engine, web_settings, port=0) as web,
        ProviderSimulator(
            port=0, error_rate=options.error_rate, script=script, seed=options.seed
        ) as sim,
        # FAX (Telnyx-shaped REST) and LINE (Messaging API) on loopback, and an SMTP sink
        ReachSimulator() as reach,
        SmtpSink() as smtp,
    ):
        run_settings = replace(
            settings,
            twilio=replace(settings.twilio, base_url=sim.url),
            fcm=replace(settings.fcm, base_url=sim.url),
            fax=replace(settings.fax, base_url=reach.url),
            line=replace(settings.line, base_url=reach.url),
            email=replace(settings.email, smtp_host="127.0.0.1", smtp_port=smtp.port),
            webhooks=replace(settings.webhooks, public_url=web.url),
            rates=replace(
                settings.rates,
                sms_per_second=settings.rates.sms_per_second * options.speed,
                calls_per_second=settings.rates.calls_per_second * options.speed,
                push_per_second=settings.rates.push_per_second * options.speed,
                fax_per_second=settings.rates.fax_per_second * options.speed,
                line_per_second=settings.rates.line_per_second * options.speed,
                email_per_second=settings.rates.email_per_second * options.speed,
            ),
            dispatch=replace(
                settings.dispatch,
                backoff_seconds=min(settings.dispatch.backoff_seconds, 0.5),
                ack_wait_level3_seconds=options.ack_wait_seconds,
                ack_wait_level4_seconds=options.ack_wait_seconds,
                ack_wait_level5_seconds=0.0,
            ),
        )
        step(
            f"プロバイダ模擬サーバ / provider simulator at {sim.url} "
            f"(error rate {options.error_rate:.0%}); FAX/LINE at {reach.url}, "
            f"SMTP at 127.0.0.1:{smtp.port}; webhooks at {web.url}"
        )
        watch = _watch_the_river(engine, run_settings, step)
        sent = watch.sent[-1]  # the highest level: the alert the status below follows
        preview = watch.preview
        channels = build_channels(run_settings, timeout=5.0)
        done = threading.Event()
        errors: list[BaseException] = []

        def work() -> None:
            try:
                run_worker(
                    engine,
                    channels,
                    run_settings,
                    until_idle=True,
                    concurrency=2,
                    on_refused=refusal_hook,
                )
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)
            finally:
                done.set()

        worker = threading.Thread(target=work, name="demo-worker", daemon=True)
        worker.start()
        while not done.wait(0.5):
            with session_scope(engine) as session:
                on_status(alert_status(session, sent.alert_id))
        worker.join()
        if errors:
            raise errors[0]
        # late status callbacks and keypresses still count
        sim.wait_for_callbacks(timeout=10.0)
        requests: dict[str, Counter[str]] = {}
        for req in sim.requests:
            requests.setdefault(req.provider, Counter())[str(req.status)] += 1
    with session_scope(engine) as session:
        status = alert_status(session, sent.alert_id)
        # the demo ends as an operator would: checking the alert's invariants
        verification = verify_alert(session, sent.alert_id, run_settings.dispatch)
    on_status(status)
    return DemoResult(
        alert_id=sent.alert_id,
        status=status,
        preview_counts=preview.counts(),
        residents=residents,
        provider_requests={p: dict(sorted(c.items())) for p, c in sorted(requests.items())},
        scripted=dict(Counter(script.values())),
        watcher=watch.as_dict(),
        verification=verification,
    )


DEMO_STATION = "onga-nogata-demo"


@dataclass
class _WatchPhase:
    sent: list[Any]
    preview: Any
    decisions: list[dict[str, Any]]
    drafts: list[str]
    told: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "station": DEMO_STATION,
            "decisions": self.decisions,
            "drafts": self.drafts,
            "alerts": [s.alert_id for s in self.sent],
            "duty_notifications": self.told,
        }


def _approve(engine: Engine, settings: Settings, draft_id: str) -> tuple[Any, Any]:
    """The officer's `alertsvc alert send --draft ID`, simulated: re-plan now, send once."""
    from alertsvc.services.drafts import claim_draft, load_draft
    from alertsvc.services.preview import build_preview
    from alertsvc.services.scope import scope_from_dict
    from alertsvc.services.send import send_preview

    with session_scope(engine) as session:
        draft = load_draft(session, draft_id)
        scope = scope_from_dict(session, draft.scope)
        preview = build_preview(session, settings, level=Level(draft.level), scope=scope)
        sent = send_preview(session, settings, preview, actor="demo-officer")
        claim_draft(session, draft_id, sent.alert_id, actor="demo-officer")
    return sent, preview


def _watch_the_river(
    engine: Engine, settings: Settings, step: Callable[[str], None]
) -> _WatchPhase:
    """Poll the synthetic 遠賀川 series through the watcher; approve each draft it makes."""
    import datetime as dt
    import tempfile

    from alertsvc.config import StationSettings
    from alertsvc.watcher.demo_series import DEMO_CODE, demo_snapshots
    from alertsvc.watcher.http import Fetcher, build_client
    from alertsvc.watcher.notify import RecordingNotifier
    from alertsvc.watcher.service import poll

    with tempfile.TemporaryDirectory(prefix="alertsvc-demo-river-") as tmp:
        feed = Path(tmp) / "40000.json"
        station = StationSettings(
            id=DEMO_STATION,
            source="area_feed",
            url=feed.as_uri(),
            code=DEMO_CODE,
            name="遠賀川 直方 (合成 / synthetic)",
            zone_sets_level3=(FLOOD_SET,),
            zone_sets_level4=(FLOOD_SET, COLLAPSE_SET),
        )
        watch_settings = replace(settings, watcher=replace(settings.watcher, stations=(station,)))
        notifier = RecordingNotifier([])
        phase = _WatchPhase([], None, [], [], [])
        with session_scope(engine) as session:
            # a demo run replays its river from the start: forget an earlier run's state
            from sqlalchemy import delete

            from alertsvc.db.tables import WatchStation

            session.execute(delete(WatchStation).where(WatchStation.station_id == DEMO_STATION))
        step(
            "河川監視 / river watcher: 遠賀川 直方 (合成データ / synthetic area-feed series, "
            "10-minute readings)"
        )
        with build_client(connect_timeout=2, read_timeout=2, retries=0) as client:
            fetcher = Fetcher(client)
            for at, data in demo_snapshots(dt.datetime.now(dt.UTC)):
                feed.write_bytes(data)
                result = poll(
                    engine,
                    watch_settings,
                    fetcher,
                    now=at + dt.timedelta(minutes=1),
                    notifier=notifier,
                )
                for _sid, d in result.decisions:
                    phase.decisions.append(
                        {
                            "at": d.at.isoformat(),
                            "reading": d.reading,
                            "level": d.level,
                            "kind": d.kind,
                            "rule": d.rule,
                        }
                    )
                    step(_describe(d, at))
                for draft_id in result.drafts:
                    phase.drafts.append(draft_id)
                    step(
                        f"下書き / draft {draft_id} — 当番職員に通知 / duty officer told: "
                        f"{notifier.sent[-1][2] if notifier.sent else ''}"
                    )
                    sent, preview = _approve(engine, settings, draft_id)
                    phase.sent.append(sent)
                    phase.preview = preview
                    step(
                        f"担当者が承認 (模擬) / officer approves (simulated): alertsvc alert send "
                        f"--draft {draft_id} → 警戒レベル{int(preview.level)} "
                        f"{preview.level.label_ja}: alert {sent.alert_id}, "
                        f"{sent.deliveries} messages for {sent.targets} people"
                    )
        phase.told = [text for _key, _title, text in notifier.sent]
    if not phase.sent:
        raise ConfigError("the demo river series produced no alert (demo data changed?)")
    return phase


def _describe(d: Any, at: Any) -> str:
    when = at.astimezone(_JST).strftime("%H:%M")
    reading = "—" if d.reading is None else f"{d.reading:.2f} m"
    if d.kind == "predict":
        minutes = d.inputs.get("minutes", 0)
        return (
            f"{when} {reading}: 予測: {minutes}分後に避難判断水位 → "
            "警戒レベル3 高齢者等避難を推奨 / "
            f"forecast: 避難判断水位 in {minutes} min, level 3 recommended before the line"
        )
    if d.kind == "enter":
        return f"{when} {reading}: 警戒レベル{d.level} 相当 / level {d.level} reached ({d.rule})"
    if d.kind == "leave":
        lvl = "なし / none" if d.level is None else str(d.level)
        return f"{when} {reading}: 水位低下 / river falling: level → {lvl}"
    if d.kind == "all_clear_proposal":
        return (
            f"{when} {reading}: 解除を提案 (担当者の判断待ち・自動送信しません) / all-clear "
            "proposed; an officer decides, nothing is sent automatically"
        )
    return f"{when} {reading}: {d.kind} ({d.rule})"
