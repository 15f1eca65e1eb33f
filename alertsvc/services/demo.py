"""The demo: the whole path on the embedded default, with no credentials and no network.

The bundled data is imported; the loopback provider simulator stands in for Twilio and
FCM (with scripted dead tokens, opted-out numbers, unanswered calls, keypresses and random
429/5xx); the webhook app receives the signed callbacks; the river watcher's level-3 alert is
updated to level 4 for everyone in the demo zones (one alert family: the original, the
update notice, the expansion); workers send it; the officer gets the family's status and
its follow-up list of everyone not reached.

Scripted residents answer like real ones (``alertsvc.services.demo_script``): "safe" or
"need help" by SMS reply, keypress or the resident page, posted to the webhook app as
Twilio (or a browser) posts them; some never answer, some cannot be reached; supporters
answer "cannot reach" for one of their people on the supporter page when their message
links one. Every "need help" reaches the duty desk. The demo ends by writing the
follow-up sheets (HTML and PDF) and checking that the follow-up list is exactly the one
the simulators' records call for (``FollowupCheck``).

The demo starts at the river: the watcher reads a SYNTHETIC 危機管理型水位計 series on the
遠賀川 (area-feed format), recommends level 3 for the register ahead of 避難判断水位
(lead-time rule), an officer's approval of each draft is simulated, 氾濫危険水位 raises
level 4 for everyone in the zones, the river falls and an all-clear is proposed (never
sent by itself).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from alertsvc.config import DutyContact, Settings
from alertsvc.db import session_scope
from alertsvc.db.tables import AlertTarget, Delivery
from alertsvc.dispatch.status import AlertStatus
from alertsvc.dispatch.verify import Verification, verify_alert
from alertsvc.errors import ConfigError
from alertsvc.models import Level, ResidentInfo, ZoneKind
from alertsvc.reports.followup import build_followup
from alertsvc.services.demo_river import COLLAPSE_SET, FLOOD_SET, watch_the_river
from alertsvc.services.demo_script import FollowupCheck, demo_script, expected_followup
from alertsvc.services.family_status import family_totals
from alertsvc.testing.sim_actors import key_of

__all__ = ["DemoOptions", "DemoResult", "demo_paths", "run_demo"]


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
    # where the follow-up sheets (HTML, PDF) are written; None: not written
    out_dir: Path | None = None


# the duty desk the demo tells about "need help" when the config names none (a 050 number
# that only the loopback simulator ever sees)
DEMO_DUTY = DutyContact("防災危機管理課 当番 (デモ / demo)", "+815000000110", "sms")


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
    # the follow-up list against the one the simulators' records call for
    followup: FollowupCheck | None = None
    # files written: {"html": path, "pdf": path}; "pdf_error" when no Japanese font
    sheets: dict[str, str] = field(default_factory=dict)
    # per status poll: seconds, answers, need help, follow-up list size
    history: list[dict[str, float]] = field(default_factory=list)
    duty_notices: int = 0


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
    from alertsvc.geo.shelter_import import import_shelters
    from alertsvc.geo.zone_import import import_zones
    from alertsvc.registry.csv_import import import_register
    from alertsvc.registry.store import load_residents
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
    # actors answer within about half the ack wait: most before the next channel is tried
    script = demo_script(residents.values(), rng, delay_s=options.ack_wait_seconds * 0.5)
    duty = (
        settings.duty if settings.duty.contacts else replace(settings.duty, contacts=(DEMO_DUTY,))
    )

    # the webhook app binds first: its URL is where the providers call back
    web_settings = replace(settings, webhooks=replace(settings.webhooks, public_url=""), duty=duty)
    with WebhookServer.from_settings(engine, web_settings, port=0) as web:
        sim = ProviderSimulator(
            port=0,
            error_rate=options.error_rate,
            script=script.entries,
            seed=options.seed,
            callback_url=web.url,  # also where the residents' SMS replies go
        )
        # FAX (Telnyx-shaped REST) and LINE (Messaging API) on loopback, and an SMTP sink
        with sim, ReachSimulator() as reach, SmtpSink() as smtp:
            run_settings = replace(
                settings,
                duty=duty,
                twilio=replace(settings.twilio, base_url=sim.url),
                fcm=replace(settings.fcm, base_url=sim.url),
                fax=replace(settings.fax, base_url=reach.url),
                line=replace(settings.line, base_url=reach.url),
                email=replace(settings.email, smtp_host="127.0.0.1", smtp_port=smtp.port),
                webhooks=replace(settings.webhooks, public_url=web.url),
                rates=_faster(settings, options.speed),
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
            step(
                "住民・支援者の台本 / scripted residents and supporters: "
                + ", ".join(f"{k} {n}" for k, n in script.counts().items())
            )
            watch = watch_the_river(engine, run_settings, step)
            # the original alert: its family (level 3, the level-4 update) is followed below
            root_id = watch.alert_id
            history = _dispatch(engine, run_settings, root_id, on_status, sim, reach)
            requests: dict[str, Counter[str]] = {}
            for req in sim.requests:
                requests.setdefault(req.provider, Counter())[str(req.status)] += 1
            duty_phones = set(duty.sms)
            told = sum(1 for r in sim.requests if r.to in duty_phones and r.status == 201)
            callbacks, actions = sim.callbacks, sim.actions
            faxed = [
                (key_of(url), number)
                for url, event, number, code in reach.fax_events
                if event == "fax.delivered" and 200 <= code < 300
            ]
    with session_scope(engine) as session:
        status = family_totals(session, root_id)
        assert status.family is not None
        # the demo ends as an operator would: checking the invariants of every alert of
        # the family (the original, the update notice, the expansion)
        verification = _verify_family(session, status, run_settings)
        sheet = build_followup(session, root_id)
        targets = set(
            session.scalars(
                select(AlertTarget.resident_id).where(
                    AlertTarget.alert_id.in_(status.family.targeting)
                )
            )
        )
    on_status(status)
    check = expected_followup(
        root_id,
        targets,
        script,
        callbacks,
        actions,
        faxed,
        {p.resident_id for p in sheet.people},
        members=status.family.members,
    )
    step(
        f"当番への通知 / duty desk notified: {told} SMS · "
        f"支援者ページ / supporter page: "
        + (
            f"{check.supporter_answers} answers"
            if check.supporter_page
            else "not linked in supporter messages (no supporter answers)"
        )
    )
    sheets = _write_sheets(sheet, options.out_dir, step)
    return DemoResult(
        alert_id=root_id,
        status=status,
        preview_counts=watch.preview.counts(),
        residents=residents,
        provider_requests={p: dict(sorted(c.items())) for p, c in sorted(requests.items())},
        scripted=script.counts(),
        watcher=watch.as_dict(),
        verification=verification,
        followup=check,
        sheets=sheets,
        history=history,
        duty_notices=told,
    )


def _verify_family(session: Any, status: AlertStatus, settings: Settings) -> Verification:
    """``alert verify`` of every alert of the family, reported as the original's: a
    member's violation names the member in its detail."""
    assert status.family is not None
    out = Verification(status.alert_id)
    for member in status.family.members:
        v = verify_alert(session, member, settings.dispatch)
        for x in v.violations:
            detail = x.detail if member == status.alert_id else f"{member}: {x.detail}"
            out.violations.append(replace(x, detail=detail))
    return out


def _faster(settings: Settings, speed: float) -> Any:
    r = settings.rates
    return replace(
        r,
        sms_per_second=r.sms_per_second * speed,
        calls_per_second=r.calls_per_second * speed,
        push_per_second=r.push_per_second * speed,
        fax_per_second=r.fax_per_second * speed,
        line_per_second=r.line_per_second * speed,
        email_per_second=r.email_per_second * speed,
    )


def _dispatch(
    engine: Engine,
    settings: Settings,
    alert_id: str,
    on_status: Callable[[AlertStatus], None],
    sim: Any,
    reach: Any,
) -> list[dict[str, float]]:
    """Run workers until nothing is left: answers that arrive after the last send queue
    duty-desk notices, so a new pass sends them. Returns the follow-up list over time."""
    from alertsvc.channels import build_channels
    from alertsvc.dispatch.runner import run_worker
    from alertsvc.registry.store import refusal_hook

    channels = build_channels(settings, timeout=5.0)
    history: list[dict[str, float]] = []
    start = time.monotonic()

    def poll() -> None:
        with session_scope(engine) as session:
            st = family_totals(session, alert_id)
        on_status(st)
        helped = {h["resident_id"] for h in st.needs_help}
        history.append(
            {
                "t": round(time.monotonic() - start, 1),
                "answered": st.counts.get("acknowledged", 0),
                "need_help": len(helped),
                "follow_up": len(st.follow_up()),
            }
        )

    for _pass in range(4):
        done = threading.Event()
        errors: list[BaseException] = []

        def work(done: threading.Event = done, errors: list[BaseException] = errors) -> None:
            try:
                run_worker(
                    engine,
                    channels,
                    settings,
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
            poll()
        worker.join()
        if errors:
            raise errors[0]
        # late status callbacks, keypresses, replies and clicks still count
        sim.wait_for_callbacks(timeout=30.0)
        reach.wait_for_callbacks()
        with session_scope(engine) as session:
            left = session.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.state == "queued")
            )
        if not left:
            break
    poll()
    return history


def _write_sheets(sheet: Any, out_dir: Path | None, step: Callable[[str], None]) -> dict[str, str]:
    """Write the door-knock sheets; a missing Japanese font skips the PDF, said aloud."""
    from alertsvc.reports.followup import write_html
    from alertsvc.reports.followup_pdf import write_pdf

    if out_dir is None:
        return {}
    out_dir.mkdir(parents=True, exist_ok=True)
    html = out_dir / f"followup-{sheet.alert_id}.html"
    pdf = out_dir / f"followup-{sheet.alert_id}.pdf"
    write_html(sheet, html)
    written = {"html": str(html)}
    try:
        pages = write_pdf(sheet, pdf)
        written["pdf"] = str(pdf)
        step(f"戸別訪問リスト / door-knock sheets: {html}, {pdf} ({pages} pages)")
    except ConfigError as exc:
        written["pdf_error"] = str(exc)
        step(f"戸別訪問リスト / door-knock sheet: {html}; PDF not written: {exc}")
    return written
