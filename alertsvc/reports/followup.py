"""Door-knock sheets (戸別訪問リスト): everyone in an alert family's scope not confirmed safe.

``build_followup`` reads ``alertsvc.dispatch.status.alert_status`` — so the sheet lists
exactly the people ``alert status`` reports as not reached, plus everyone who asked for
help — and adds what a team at the door needs from the register and the outbox: name,
address, floor, every attempt with its outcome (on any alert of the family), and (only
when the caller is authorised and asks for it) the mobility needs. People are grouped by
district (the 町名 part of the address) or by supporter; within a group, need-help
first, then highest priority.

Writers: ``write_csv`` and ``write_html`` here, ``alertsvc.reports.followup_pdf`` for PDF.
Read-only on the database; files are written atomically (temporary file, then rename).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alertsvc.db.tables import (
    Acknowledgement,
    Alert,
    Delivery,
    Resident,
    Supporter,
    SupporterDisclosure,
)
from alertsvc.dispatch.status import REASON_LABELS, alert_status, follow_up_order
from alertsvc.redact import mask_address
from alertsvc.reports.target_csv import neutralise

__all__ = [
    "REASON_LABELS",
    "Attempt",
    "FollowupGroup",
    "FollowupPerson",
    "FollowupSheet",
    "GroupBy",
    "build_followup",
    "district_of",
    "write_csv",
    "write_html",
]

GroupBy = Literal["district", "supporter"]
TOKYO = ZoneInfo("Asia/Tokyo")

NO_SUPPORTER = "(支援者なし / no supporter)"
NO_DISTRICT = "(町名不明 / district unknown)"

_PREFECTURE = re.compile(r"^(?:東京都|北海道|(?:京都|大阪)府|[^\s]{2,3}県)")
# a municipality: "…郡…町/村" or "…市" (with an optional ward "…区"), or a Tokyo ward
_MUNICIPALITY = re.compile(r"^(?:[^\s]+?郡[^\s]+?[町村]|[^\s]+?市(?:[^\s]+?区)?|[^\s]+?区)")
# the 町名 ends where the block number starts (digits, or a kanji number before 丁目/番)
_BLOCK = re.compile(r"[0-9０-９]|[一二三四五六七八九十]+(?:丁目|番)|丁目|番地?")


@dataclass(frozen=True, slots=True)
class Attempt:
    """One outbox row about the person, or one answer received about them."""

    at: str  # ISO time in Asia/Tokyo, "" when never sent
    recipient: str  # resident | supporter | answer
    channel: str
    address: str  # masked
    outcome: str  # the row's state, or the answer (safe / need_help) for answers
    detail: str


@dataclass(frozen=True, slots=True)
class FollowupPerson:
    resident_id: str
    name: str
    kana: str
    address: str
    floor: int | None
    reason: str  # a key of REASON_LABELS
    priority: float
    district: str
    supporters: list[str]
    attempts: list[Attempt]
    needs: list[str] | None  # None: not shown (not authorised / not asked)

    def as_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "resident_id": self.resident_id,
            "name": self.name,
            "kana": self.kana,
            "address": self.address,
            "floor": self.floor,
            "reason": self.reason,
            "priority": self.priority,
            "district": self.district,
            "supporters": self.supporters,
            "attempts": [
                {
                    "at": a.at,
                    "recipient": a.recipient,
                    "channel": a.channel,
                    "address": a.address,
                    "outcome": a.outcome,
                    "detail": a.detail,
                }
                for a in self.attempts
            ],
        }
        if self.needs is not None:
            doc["needs"] = self.needs
        return doc


@dataclass(frozen=True, slots=True)
class FollowupGroup:
    title: str
    people: list[FollowupPerson]


@dataclass(frozen=True, slots=True)
class FollowupSheet:
    """The whole sheet. ``as_dict`` is the ``alert followup --json`` contract."""

    alert_id: str
    level: int
    exercise: bool
    alert_state: str
    by: GroupBy
    generated_at: str
    show_needs: bool
    groups: list[FollowupGroup] = field(default_factory=list)
    # the family the sheet covers (``dispatch.follow_up``): the original alert, every
    # member (updates, expansions, notices) and the highest level any of them raised
    root_id: str = ""
    members: list[str] = field(default_factory=list)
    family_level: int = 0

    @property
    def people(self) -> list[FollowupPerson]:
        return [p for g in self.groups for p in g.people]

    @property
    def heading(self) -> str:
        """The sheet's title line after 戸別訪問リスト: the original alert, the family's
        level, and how many alerts under it the sheet covers."""
        text = f"{self.root_id or self.alert_id} 警戒レベル{self.family_level or self.level}"
        under = len(self.members) - 1
        if under > 0:
            text += f" (更新・追加対象など{under}件を含む / with {under} alerts under it)"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "level": self.level,
            "exercise": self.exercise,
            "alert_state": self.alert_state,
            "by": self.by,
            "generated_at": self.generated_at,
            "show_needs": self.show_needs,
            "count": len(self.people),
            # additive: the family the list covers
            "root_id": self.root_id,
            "members": self.members,
            "family_level": self.family_level,
            "groups": [
                {"title": g.title, "people": [p.as_dict() for p in g.people]} for g in self.groups
            ],
        }


def district_of(address: str) -> str:
    """The 町名 of a Japanese address: prefecture and municipality dropped, up to the
    block number. ``"福岡県直方市古町4番5号"`` -> ``"古町"``. Never raises; an address
    with nothing left gives ``NO_DISTRICT``."""
    rest = _PREFECTURE.sub("", address.strip(), count=1)
    rest = _MUNICIPALITY.sub("", rest, count=1)
    # 大字/字 is a prefix of the area name in rural addresses, not part of it
    rest = re.sub(r"^大?字", "", rest)
    m = _BLOCK.search(rest)
    town = (rest[: m.start()] if m else rest).strip(" \u3000-‐ー－")
    return town or NO_DISTRICT


def _sort_key(p: FollowupPerson) -> tuple[int, float, str]:
    return follow_up_order(p.reason, p.priority, p.resident_id)


def build_followup(
    session: Session,
    alert_id: str,
    *,
    by: GroupBy = "district",
    show_needs: bool = False,
    now: dt.datetime | None = None,
) -> FollowupSheet:
    """The door-knock sheet of ``alert_id``'s family (the original alert with its
    updates, expansions and notices, whichever member is named).

    Everyone ``alert_status`` lists as unreached, and everyone with a "need help"
    answer (their own or a supporter's, even after a cancellation), each once. Groups are
    ordered by their most urgent person; people within a group need-help first, then by
    priority (highest first), then id. ``needs`` is filled only with ``show_needs``: the
    caller checks the officer's authorisation and audits it. Raises ``NotFound`` for an
    unknown alert id.
    """
    st = alert_status(session, alert_id)
    reasons = st.follow_up()
    ids = sorted(reasons)
    # attempts and answers on every member: the original, its updates, expansions, notices
    members = list(st.family.members) if st.family is not None else [st.alert_id]
    family_level = session.scalar(select(func.max(Alert.level)).where(Alert.id.in_(members)))
    residents = {r.id: r for r in session.scalars(select(Resident).where(Resident.id.in_(ids)))}
    supporters: dict[str, list[str]] = defaultdict(list)
    for s in session.scalars(
        select(Supporter).where(Supporter.resident_id.in_(ids)).order_by(Supporter.position)
    ):
        supporters[s.resident_id].append(s.name)
    attempts: dict[str, list[tuple[dt.datetime | None, int, Attempt]]] = defaultdict(list)
    for d in session.scalars(
        select(Delivery)
        .where(Delivery.alert_id.in_(members), Delivery.resident_id.in_(ids))
        .order_by(Delivery.id)
    ):
        when = d.sent_at or d.finished_at
        attempts[d.resident_id].append(
            (when, d.id, Attempt(_local(when), d.recipient, d.channel,
                                 mask_address(d.address), d.state, d.detail[:120]))
        )  # fmt: skip
    # a supporter digest is an attempt about every person it named
    for d, rid in session.execute(
        select(Delivery, SupporterDisclosure.resident_id)
        .join(SupporterDisclosure, SupporterDisclosure.delivery_key == Delivery.key)
        .where(Delivery.alert_id.in_(members), SupporterDisclosure.resident_id.in_(ids))
        .order_by(Delivery.id)
    ):
        when = d.sent_at or d.finished_at
        attempts[rid].append(
            (when, d.id, Attempt(_local(when), d.recipient, d.channel,
                                 mask_address(d.address), d.state, d.detail[:120]))
        )  # fmt: skip
    for a in session.scalars(
        select(Acknowledgement)
        .where(Acknowledgement.alert_id.in_(members), Acknowledgement.resident_id.in_(ids))
        .order_by(Acknowledgement.id)
    ):
        attempts[a.resident_id].append(
            (a.at, a.id, Attempt(_local(a.at), "answer", a.via, "", a.answer,
                                 f"answered by {a.answered_by}"))
        )  # fmt: skip
    people: list[FollowupPerson] = []
    for rid in ids:
        r = residents.get(rid)
        reason, prio = reasons[rid]
        tried = sorted(
            attempts.get(rid, []),
            key=lambda t: (t[0] is None, t[0] or dt.datetime.min.replace(tzinfo=dt.UTC), t[1]),
        )
        people.append(
            FollowupPerson(
                resident_id=rid,
                # a resident deleted from the register since the alert is still listed
                name=r.name if r else "(名簿にありません / not in register)",
                kana=r.kana if r else "",
                address=r.address if r else "",
                floor=r.floor if r else None,
                reason=reason,
                priority=prio,
                district=district_of(r.address) if r else NO_DISTRICT,
                supporters=supporters.get(rid, []),
                attempts=[t[2] for t in tried],
                needs=[str(n) for n in (r.needs if r else [])] if show_needs else None,
            )
        )
    grouped: dict[str, list[FollowupPerson]] = defaultdict(list)
    for p in people:
        title = p.district if by == "district" else (p.supporters or [NO_SUPPORTER])[0]
        grouped[title].append(p)
    groups = [FollowupGroup(t, sorted(ps, key=_sort_key)) for t, ps in grouped.items()]
    groups.sort(key=lambda g: (_sort_key(g.people[0])[:2], g.title))
    return FollowupSheet(
        alert_id=st.alert_id,
        level=st.level,
        exercise=st.exercise,
        alert_state=st.state,
        by=by,
        generated_at=_local(now or dt.datetime.now(dt.UTC)),
        show_needs=show_needs,
        groups=groups,
        root_id=st.family.root_id if st.family is not None else st.alert_id,
        members=members,
        family_level=int(family_level or st.level),
    )


def _local(when: dt.datetime | None) -> str:
    return when.astimezone(TOKYO).isoformat(timespec="seconds") if when else ""


def attempt_line(a: Attempt) -> str:
    """One attempt as a short line for the sheets (time HH:MM, channel, outcome)."""
    at = a.at[11:16] if a.at else "--:--"
    who = {"supporter": "支援者 ", "answer": "回答 "}.get(a.recipient, "")
    return f"{at} {who}{a.channel} {a.outcome}"


CSV_HEADER = [
    "地区/group",
    "確認/check",
    "理由/reason",
    "名簿番号/resident_id",
    "氏名/name",
    "ふりがな/kana",
    "住所/address",
    "居住階/floor",
    "支援者/supporters",
    "配慮事項/needs",
    "連絡の記録/attempts",
    "優先度/priority",
    "訓練/exercise",  # last: readers of the earlier columns keep working
]


def write_csv(sheet: FollowupSheet, path: Path) -> int:
    """Write the sheet as CSV (UTF-8 with BOM for Excel, formula-like cells neutralised);
    returns the number of people. Raises ``OSError`` when the file cannot be written."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_HEADER)
        for g in sheet.groups:
            for p in g.people:
                row: list[object] = [
                    g.title,
                    "☐",
                    REASON_LABELS.get(p.reason, p.reason),
                    p.resident_id,
                    p.name,
                    p.kana,
                    p.address,
                    "" if p.floor is None else p.floor,
                    "; ".join(p.supporters),
                    "" if p.needs is None else "、".join(p.needs),
                    " / ".join(attempt_line(a) for a in p.attempts),
                    p.priority,
                    "【訓練】" if sheet.exercise else "",
                ]
                writer.writerow([neutralise(v) for v in row])
    tmp.replace(path)
    return len(sheet.people)


_ENV = Environment(
    loader=PackageLoader("alertsvc", "templates/pages"),
    autoescape=select_autoescape(["html"]),
)


def write_html(sheet: FollowupSheet, path: Path) -> int:
    """Write the sheet as one self-contained printable HTML page (one group per printed
    page, black and white); returns the number of people. Raises ``OSError``."""
    html = _ENV.get_template("followup.html").render(
        sheet=sheet, labels=REASON_LABELS, attempt_line=attempt_line
    )
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    return len(sheet.people)
