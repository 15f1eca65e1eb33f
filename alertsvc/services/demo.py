"""The demo: the whole path on the embedded default, with no credentials and no network.

The bundled data is imported; the loopback provider simulator stands in for Twilio and
FCM (with scripted dead tokens, opted-out numbers, unanswered calls, keypresses and random
429/5xx); the webhook app receives the signed callbacks; a level-4 alert goes to everyone
in the demo flood zones; workers send it; the officer gets the status and the follow-up
list of everyone not reached.

The river-level watcher is not built yet, so the demo starts where the watcher would hand
over: the officer sends 警戒レベル4 for the flooded zones.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from alertsvc.config import Settings
from alertsvc.db import session_scope
from alertsvc.dispatch.status import AlertStatus, alert_status
from alertsvc.dispatch.verify import Verification, verify_alert
from alertsvc.errors import ConfigError
from alertsvc.models import ContactKind, Level, ResidentInfo, ZoneKind

__all__ = ["DemoOptions", "DemoResult", "demo_paths", "run_demo"]

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
    from alertsvc.services.preview import build_preview
    from alertsvc.services.scope import resolve_scope
    from alertsvc.services.send import send_preview
    from alertsvc.testing.simulator import ProviderSimulator
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
    ):
        run_settings = replace(
            settings,
            twilio=replace(settings.twilio, base_url=sim.url),
            fcm=replace(settings.fcm, base_url=sim.url),
            webhooks=replace(settings.webhooks, public_url=web.url),
            rates=replace(
                settings.rates,
                sms_per_second=settings.rates.sms_per_second * options.speed,
                calls_per_second=settings.rates.calls_per_second * options.speed,
                push_per_second=settings.rates.push_per_second * options.speed,
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
            f"(error rate {options.error_rate:.0%}); webhooks at {web.url}"
        )
        with session_scope(engine) as session:
            scope = resolve_scope(session, [FLOOD_SET, COLLAPSE_SET])
            preview = build_preview(session, run_settings, level=options.level, scope=scope)
            sent = send_preview(session, run_settings, preview, actor="demo")
        step(
            f"警戒レベル{int(options.level)} {options.level.label_ja} を送信 / alert "
            f"{sent.alert_id} queued: {sent.deliveries} messages for {sent.targets} people"
        )
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
        verification=verification,
    )
