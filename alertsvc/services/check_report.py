"""What a pre-season check found, read from its outbox rows (``registry check`` / ``health``).

The rows are the record: a status callback that arrives after the check (an SMS the
carrier could not deliver to a landline, a call nobody answered) changes the row and so
the next report. Nothing is copied into another table.

Per channel (``ChannelResult.result``): ``confirmed`` (delivered to the handset, or
answered), ``accepted`` (the provider took it), ``failed``, ``unknown`` (may have gone
out), ``in_progress``, ``not_checked`` (off the allow-list, channel unavailable, or not
sent before the timeout), ``refused_before`` (a provider refused it for good before the
check: contact health; not tried again). ``finding`` says what a failure means for the
contact (``CHECK_FINDINGS``). Per resident (``ResidentResult.status``): ``reached`` (some
channel accepted or confirmed), ``no_working_channel`` (nothing can reach them: every
channel failed or was refused before, or the register has none), ``not_reached`` (every
channel tried failed but some were not tried), ``unknown``, ``in_progress``,
``not_checked`` (nothing tried).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alertsvc.db.tables import AlertTarget, Delivery
from alertsvc.dispatch.alerts import load_alert
from alertsvc.dispatch.states import DeliveryState as S
from alertsvc.errors import NotFound
from alertsvc.redact import mask_address
from alertsvc.services.check import CHECK_KIND, TIMEOUT_DETAIL

__all__ = [
    "CHECK_FINDINGS",
    "FAILING_STATUSES",
    "FINDING_LABELS",
    "ChannelResult",
    "CheckReport",
    "ResidentResult",
    "check_report",
    "finding_of",
]

# What a provider's code on a failed row says about the contact. The codes are those of
# ``registry.store.REFUSAL_SCOPE`` (which decides what contact health does with them) plus
# the detail markers of the exercise lock and the check's own timeout.
CHECK_FINDINGS: dict[str, str] = {
    "UNREGISTERED": "dead_token",  # FCM: the app was uninstalled
    "SENDER_ID_MISMATCH": "dead_token",  # FCM: a token of another project
    "INVALID_ARGUMENT": "dead_token",  # FCM: not a valid registration token
    "21614": "not_mobile",  # Twilio: not a mobile number (no SMS)
    "21612": "not_mobile",  # Twilio: not reachable by SMS
    "30006": "not_mobile",  # SMS callback: landline or a carrier without SMS
    "21211": "invalid_number",  # Twilio: invalid To number
    "21217": "invalid_number",  # Twilio: number does not appear valid
    "30005": "invalid_number",  # SMS callback: unknown destination handset
    "invalid_number": "invalid_number",  # FAX (Telnyx 422)
    "21610": "opted_out",  # Twilio: replied STOP
    "unfollowed": "opted_out",  # LINE: not a friend of the account, or blocked it
    "30004": "blocked",  # SMS callback: blocked by the recipient
    "21216": "blocked",  # Twilio: number blocked for calls
    "smtp550": "invalid_address",  # e-mail: mailbox does not exist
    "smtp551": "invalid_address",
    "smtp553": "invalid_address",
    "allow_list": "not_on_allow_list",  # the worker's exercise lock refused the row
}

FINDING_LABELS: dict[str, str] = {
    "dead_token": "無効なプッシュトークン / dead push token",
    "not_mobile": "携帯ではない番号 / not a mobile number",
    "invalid_number": "無効な番号 / invalid number",
    "opted_out": "受信拒否 / opted out",
    "blocked": "着信拒否 / blocked",
    "invalid_address": "無効なアドレス / invalid address",
    "not_on_allow_list": "訓練許可リスト外 / not on exercise.allow_list",
    "channel_unavailable": "手段が使えない / channel unavailable",
    "timeout": "時間切れ / not sent in time",
    "refused_before": "以前に拒否済み / refused before",
    "no_contact": "連絡先なし / no contact",
    "failed": "不達 / failed",
}

# a resident with one of these statuses makes ``registry check`` exit 1
FAILING_STATUSES = frozenset({"no_working_channel", "not_reached"})

_TOKEN = re.compile(r"smtp\s?\d{3}|[A-Za-z_]+|\d{5}")

_RESULT_OF: dict[str, str] = {
    S.ACKNOWLEDGED.value: "confirmed",
    S.DELIVERED.value: "confirmed",
    S.SENT.value: "accepted",
    S.FAILED.value: "failed",
    S.UNKNOWN.value: "unknown",
    S.QUEUED.value: "in_progress",
    S.CLAIMED.value: "in_progress",
    S.SENDING.value: "in_progress",
    S.HELD.value: "in_progress",
    S.CANCELLED.value: "not_checked",
    S.SKIPPED.value: "not_checked",
}


def finding_of(detail: str, error_code: int | str | None = None) -> str | None:
    """The ``CHECK_FINDINGS`` entry for a failed row's error code or detail; None if none.

    The adapters write the provider's code into the detail (``twilio 21614: …``, ``fcm
    UNREGISTERED token …``); status callbacks store Twilio's numeric code.
    """
    if error_code is not None and str(error_code) in CHECK_FINDINGS:
        return CHECK_FINDINGS[str(error_code)]
    for token in _TOKEN.findall(detail or ""):
        key = token.replace(" ", "")
        if key in CHECK_FINDINGS:
            return CHECK_FINDINGS[key]
    return None


@dataclass(frozen=True, slots=True)
class ChannelResult:
    channel: str
    address: str  # masked unless the caller asked otherwise
    result: str
    finding: str | None
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "address": self.address,
            "result": self.result,
            "finding": self.finding,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class ResidentResult:
    resident_id: str
    status: str
    channels: tuple[ChannelResult, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "resident_id": self.resident_id,
            "status": self.status,
            "channels": [c.as_dict() for c in self.channels],
        }


@dataclass(frozen=True, slots=True)
class CheckReport:
    """One check's results; ``as_dict`` is the ``--json`` contract (stable keys)."""

    check_id: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    operator: str
    selection: dict[str, Any]
    residents: tuple[ResidentResult, ...]
    complete: bool
    counts: dict[str, int] = field(default_factory=dict)
    findings: dict[str, int] = field(default_factory=dict)

    @property
    def failing(self) -> list[ResidentResult]:
        """Residents no channel tried could reach (``registry check`` exits 1)."""
        return [r for r in self.residents if r.status in FAILING_STATUSES]

    def as_dict(self) -> dict[str, Any]:
        return {
            "check_id": self.check_id,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "operator": self.operator,
            "exercise": True,
            "selection": self.selection,
            "complete": self.complete,
            "counts": self.counts,
            "findings": self.findings,
            "residents": [r.as_dict() for r in self.residents],
        }


def _status(results: list[ChannelResult]) -> str:
    kinds = {r.result for r in results}
    if kinds & {"confirmed", "accepted"}:
        return "reached"
    if "in_progress" in kinds:
        return "in_progress"
    if "unknown" in kinds:
        return "unknown"
    # channels never tried: the allow-list, an unavailable channel, the timeout
    untried = [r for r in results if r.result == "not_checked"]
    if "failed" in kinds:
        return "not_reached" if untried else "no_working_channel"
    if untried:
        return "not_checked"
    # nothing tried and nothing left to try: no contact, or every one refused before
    return "no_working_channel"


def check_report(session: Session, check_id: str, *, unmasked: bool = False) -> CheckReport:
    """The report of check ``check_id``, from its rows as they are now.

    Addresses are masked unless ``unmasked``. Raises ``NotFound`` for an id that is not a
    check. Residents are listed by id only: names stay in the register.
    """
    alert = load_alert(session, check_id)
    if alert.kind != CHECK_KIND:
        raise NotFound(f"点検ではありません / {check_id} is not a check")
    scope = dict(alert.scope.get("check", {}))
    show = (lambda a: a) if unmasked else mask_address
    per: dict[str, list[ChannelResult]] = {}
    rows = session.execute(
        select(
            Delivery.resident_id, Delivery.channel, Delivery.address, Delivery.state,
            Delivery.detail, Delivery.error_code,
        )
        .where(Delivery.alert_id == check_id)
        .order_by(Delivery.id)
    ).all()  # fmt: skip
    for resident_id, channel, address, state, detail, code in rows:
        result = _RESULT_OF.get(state, "in_progress")
        finding: str | None = None
        if result == "failed":
            finding = finding_of(detail, code) or "failed"
        elif result == "not_checked" and detail == TIMEOUT_DETAIL:
            finding = "timeout"
        per.setdefault(resident_id, []).append(
            ChannelResult(channel, show(address), result, finding, _short(detail))
        )
    for u in scope.get("untested", []):
        reason, detail = str(u.get("reason", "")), str(u.get("detail", ""))
        if reason == "refused_before":
            # known dead before the check (contact health): what the provider said then
            result, finding = "refused_before", finding_of(detail)
        else:
            result, finding = "not_checked", reason
        per.setdefault(str(u["resident_id"]), []).append(
            ChannelResult(
                str(u.get("channel", "")), str(u.get("address", "")), result, finding, detail
            )
        )
    targets = session.scalars(
        select(AlertTarget.resident_id)
        .where(AlertTarget.alert_id == check_id)
        .order_by(AlertTarget.resident_id)
    ).all()
    residents = tuple(
        ResidentResult(rid, _status(per.get(rid, [])), tuple(per.get(rid, []))) for rid in targets
    )
    status_counts = Counter(r.status for r in residents)
    result_counts = Counter(c.result for r in residents for c in r.channels)
    findings = Counter(
        c.finding for r in residents for c in r.channels if c.finding and c.finding != "failed"
    )
    counts = {
        "residents": len(residents),
        **{k: status_counts.get(k, 0) for k in _STATUSES},
        "messages": len(rows),
        **{f"channels_{k}": result_counts.get(k, 0) for k in _RESULTS},
    }
    finished = session.scalars(select(Delivery.finished_at).where(Delivery.alert_id == check_id))
    last = max((t for t in finished if t is not None), default=None)
    return CheckReport(
        check_id=check_id,
        started_at=alert.created_at,
        finished_at=alert.cancelled_at or last,
        operator=alert.created_by,
        selection=dict(scope.get("selection", {})),
        residents=residents,
        # complete: every message settled, none stopped by the timeout
        complete=not (result_counts.get("in_progress", 0) or findings.get("timeout", 0)),
        counts=counts,
        findings=dict(sorted(findings.items())),
    )


_STATUSES = (
    "reached",
    "no_working_channel",
    "not_reached",
    "unknown",
    "in_progress",
    "not_checked",
)
_RESULTS = (
    "confirmed",
    "accepted",
    "failed",
    "unknown",
    "in_progress",
    "not_checked",
    "refused_before",
)


def _short(detail: str) -> str:
    # a row's detail is redacted by the adapters already; one short line of it
    first = (detail or "").strip().splitlines()[0] if (detail or "").strip() else ""
    return first[:160]
