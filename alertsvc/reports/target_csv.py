"""The officer's target list as CSV (UTF-8 with BOM, so Excel shows Japanese).

Cells that a spreadsheet would run as a formula (=, +, -, @, tab, CR) are prefixed with
an apostrophe: register data is untrusted input.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

from alertsvc.redact import mask_address

if TYPE_CHECKING:
    from alertsvc.services.preview import Preview

__all__ = ["neutralise", "write_target_csv"]

HEADER = [
    "区分/status",
    "名簿番号/resident_id",
    "氏名/name",
    "住所/address",
    "浸水ランク/depth_rank",
    "家屋倒壊/house_collapse",
    "縁のみ/edge_only",
    "行動/action",
    "避難所/shelter",
    "距離m/distance_m",
    "徒歩分/walk_min",
    "言語/language",
    "連絡手段/channels",
    "連絡先/contacts",
    "優先度/priority",
    "備考/notes",
]


def neutralise(value: object) -> str:
    text = "" if value is None else str(value)
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text


def write_target_csv(preview: Preview, path: Path, *, show_contacts: bool = False) -> int:
    """Write every target, unreachable and unlocated resident; returns the row count."""

    def addr(a: str) -> str:
        return a if show_contacts else mask_address(a)

    rows: list[list[object]] = []
    for plan in preview.plans:
        r = plan.target.resident
        status = "要直接連絡/contact directly" if plan.unreachable_reason else "対象/target"
        rows.append(
            [
                status,
                r.id,
                r.name,
                r.address,
                plan.target.depth_rank,
                plan.target.house_collapse,
                plan.target.edge_only,
                plan.action.value,
                plan.shelter.shelter.name if plan.shelter else "",
                round(plan.shelter.distance_m) if plan.shelter else "",
                plan.shelter.walk_minutes if plan.shelter else "",
                plan.language,
                " > ".join(c.value for c, _ in plan.entries),
                " ; ".join(addr(a) for _, a in plan.entries),
                plan.priority,
                " / ".join(
                    [*plan.notes, *([plan.unreachable_reason] if plan.unreachable_reason else [])]
                ),
            ]
        )
    for r in preview.unlocated:
        unlocated: list[object] = [
            "位置不明・要直接連絡/unlocated: contact directly",
            r.id,
            r.name,
            r.address,
        ]
        rows.append(unlocated + [""] * (len(HEADER) - 4))
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for row in rows:
            writer.writerow([neutralise(v) for v in row])
    tmp.replace(path)
    return len(rows)
