"""The demo's river phase: the watcher reads a SYNTHETIC 遠賀川 series and the officer's
approval of each draft it makes is simulated as ``alertsvc alert send --draft ID`` does
it — a draft that updates a live alert (the watcher's escalation to level 4, scope
``"updates"``) is applied as ``alert update`` (``drafts.apply_update_draft``): the people
already reached get the new level's notice, everyone else in the new scope the full
alert (an expansion), all under the original alert; any other draft is sent as a new
alert.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select

from alertsvc.config import Settings
from alertsvc.db import session_scope
from alertsvc.db.tables import AlertTarget
from alertsvc.errors import ConfigError
from alertsvc.models import Level

__all__ = ["COLLAPSE_SET", "DEMO_STATION", "FLOOD_SET", "Approval", "watch_the_river"]

_JST = ZoneInfo("Asia/Tokyo")
FLOOD_SET = "demo-flood"
COLLAPSE_SET = "demo-house-collapse"


DEMO_STATION = "onga-nogata-demo"
_OFFICER = "demo-officer"


@dataclass(frozen=True, slots=True)
class Approval:
    """One draft approved: sent as a new alert (``how`` "alert") or applied as an update
    of a live alert (``how`` "update": ``alert_id`` is the original, the notice and the
    expansion hang under it)."""

    draft_id: str
    how: str  # alert | update
    level: int
    alert_id: str
    deliveries: int  # new alert: its messages; update: notices plus the expansion's
    targets: int  # new alert: its people; update: the expansion's people
    stopped: int = 0
    notice_alert_id: str | None = None
    notified: int = 0
    followup_alert_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "draft_id": self.draft_id,
            "as": self.how,
            "level": self.level,
            "alert_id": self.alert_id,
            "deliveries": self.deliveries,
            "targets": self.targets,
            "stopped": self.stopped,
            "notice_alert_id": self.notice_alert_id,
            "notified": self.notified,
            "followup_alert_id": self.followup_alert_id,
        }

    def describe(self, label: str) -> str:
        head = (
            f"担当者が承認 (模擬) / officer approves (simulated): alertsvc alert send "
            f"--draft {self.draft_id} → 警戒レベル{self.level} {label}: "
        )
        if self.how == "alert":
            return (
                head + f"alert {self.alert_id}, {self.deliveries} messages for "
                f"{self.targets} people"
            )
        notice = self.notice_alert_id or "なし / none: nobody reached yet"
        return (
            head + f"アラート {self.alert_id} の更新 / update of alert {self.alert_id} "
            f"(alertsvc alert update): 未送信停止 / unsent stopped {self.stopped}; "
            f"更新通知 (到達済みの人・支援者へ) / update notices (to the reached and "
            f"supporters) {self.notified} ({notice}); 未到達・新たな対象へ全文 / full alert "
            f"to the rest and the newly in scope {self.deliveries - self.notified} messages "
            f"for {self.targets} people (expansion {self.followup_alert_id or '—'})"
        )


@dataclass
class WatchPhase:
    approvals: list[Approval]
    preview: Any
    decisions: list[dict[str, Any]]
    drafts: list[str]
    told: list[str] = field(default_factory=list)

    @property
    def alert_id(self) -> str:
        """The alert the demo follows: the original of the family the last draft raised."""
        return self.approvals[-1].alert_id

    def as_dict(self) -> dict[str, Any]:
        return {
            "station": DEMO_STATION,
            "decisions": self.decisions,
            "drafts": self.drafts,
            # the alert each draft was sent as (an update: the original it raised)
            "alerts": [a.alert_id for a in self.approvals],
            "approvals": [a.as_dict() for a in self.approvals],
            "duty_notifications": self.told,
        }


def approve(engine: Engine, settings: Settings, draft_id: str) -> tuple[Approval, Any]:
    """The officer's ``alertsvc alert send --draft ID``, simulated: a draft that updates a
    live alert is applied as ``alert update`` (``apply_update_draft``); any other is
    re-planned now and sent once as a new alert. Returns the approval and the preview."""
    from alertsvc.services.drafts import apply_update_draft, claim_draft, load_draft
    from alertsvc.services.preview import build_preview
    from alertsvc.services.scope import scope_from_dict
    from alertsvc.services.send import send_preview

    with session_scope(engine) as session:
        draft = load_draft(session, draft_id)
        scope = scope_from_dict(session, draft.scope)
        preview = build_preview(session, settings, level=Level(draft.level), scope=scope)
        level = int(draft.level)
        updated = apply_update_draft(session, settings, draft_id, actor=_OFFICER)
        if updated is not None:
            people = 0
            if updated.followup_alert_id:
                people = (
                    session.scalar(
                        select(func.count())
                        .select_from(AlertTarget)
                        .where(AlertTarget.alert_id == updated.followup_alert_id)
                    )
                    or 0
                )
            return Approval(
                draft_id, "update", level, updated.alert_id,
                updated.notified + updated.followup_deliveries, int(people),
                stopped=updated.stopped, notice_alert_id=updated.notice_alert_id,
                notified=updated.notified, followup_alert_id=updated.followup_alert_id,
            ), preview  # fmt: skip
        sent = send_preview(session, settings, preview, actor=_OFFICER)
        claim_draft(session, draft_id, sent.alert_id, actor=_OFFICER)
    return Approval(draft_id, "alert", level, sent.alert_id, sent.deliveries, sent.targets), preview


def watch_the_river(engine: Engine, settings: Settings, step: Callable[[str], None]) -> WatchPhase:
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
        phase = WatchPhase([], None, [], [])
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
                    approval, preview = approve(engine, settings, draft_id)
                    phase.approvals.append(approval)
                    phase.preview = preview
                    step(approval.describe(preview.level.label_ja))
        phase.told = [text for _key, _title, text in notifier.sent]
    if not phase.approvals:
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
