"""#7 items 6 and 16: --skip-invalid never drops a resident; imports never mass-deactivate.

Regression tests: on main a new resident with one bad optional cell was not stored at
all, a 1-row file deactivated everyone else with exit 0, and a damaged id cell
deactivated the resident it was meant to be.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from alertsvc.db import session_scope
from alertsvc.db.tables import RejectedRow, Resident
from alertsvc.registry import (
    RegisterImportFailed,
    RemovalsRefused,
    import_register,
    load_residents,
)
from alertsvc.registry.store import rejected_rows, review_list

HEAD = "名簿番号,氏名,住所,緯度,経度,居住階,電話番号,携帯電話"


def _row(i: int, *, rid: str | None = None, floor: str = "2", landline: str = "") -> str:
    rid = f"R{i:03d}" if rid is None else rid
    return f"{rid},住民 {i},直方市殿町{i},33.74,130.73,{floor},{landline},090-1111-{i:04d}"


def _write(tmp_path: Path, name: str, rows: list[str]) -> Path:
    path = tmp_path / name
    path.write_bytes(("\r\n".join([HEAD, *rows]) + "\r\n").encode("utf-8"))
    return path


@pytest.fixture
def thirty(engine: Engine, tmp_path: Path) -> Engine:
    report = import_register(engine, _write(tmp_path, "base.csv", [_row(i) for i in range(30)]))
    assert (report.added, report.written) == (30, True)
    return engine


def _active(engine: Engine) -> list[str]:
    with session_scope(engine) as s:
        return [r.id for r in load_residents(s)]


# --- item 6 --------------------------------------------------------------------------------


def test_new_resident_with_bad_optional_cells_is_stored_and_flagged(
    thirty: Engine, tmp_path: Path
) -> None:
    rows = [_row(i) for i in range(30)]
    rows.append(_row(30, floor="二階建ての2階", landline="0949-22-11"))
    path = _write(tmp_path, "new.csv", rows)
    # without --skip-invalid nothing is written, as before
    with pytest.raises(RegisterImportFailed):
        import_register(thirty, path)
    assert "R030" not in _active(thirty)

    report = import_register(thirty, path, skip_invalid=True)
    assert (report.added, report.removed) == (1, 0)
    assert [(e.line, e.column) for e in report.errors] == [(32, "居住階"), (32, "電話番号")]
    assert [r.id for r in report.needs_review] == ["R030"]
    with session_scope(thirty) as s:
        row = s.get(Resident, "R030")
        assert row is not None and row.active and row.needs_review
        assert row.floor is None  # cleared, never guessed
        assert [c.kind for c in row.contacts] == ["mobile"]  # the good contact is kept
        [flagged] = review_list(s)
    assert flagged.id == "R030"
    assert [r.split(":")[0] for r in flagged.review_reasons] == ["居住階", "電話番号"]
    assert "二階建ての2階" in flagged.review_reasons[0]

    # a later clean import clears the flag
    rows[-1] = _row(30)
    report = import_register(thirty, _write(tmp_path, "fixed.csv", rows))
    assert report.changed == 1
    with session_scope(thirty) as s:
        assert review_list(s) == []


def test_rows_without_id_name_or_address_are_recorded_until_fixed(
    thirty: Engine, tmp_path: Path
) -> None:
    rows = [_row(i) for i in range(30)]
    rows.append("R030,,直方市殿町30,33.74,130.73,2,,")  # no name
    rows.append("R031,住民 31,,33.74,130.73,2,,")  # no address
    report = import_register(thirty, _write(tmp_path, "bad.csv", rows), skip_invalid=True)
    assert [(r.line, r.resident_id) for r in report.rejected] == [(32, "R030"), (33, "R031")]
    with session_scope(thirty) as s:
        recorded = rejected_rows(s)
    assert [(r.source, r.line, r.resident_id) for r in recorded] == [
        ("bad.csv", 32, "R030"),
        ("bad.csv", 33, "R031"),
    ]
    assert "氏名" in recorded[0].reasons[0]
    # a dry run changes nothing, a failed import changes nothing
    import_register(thirty, _write(tmp_path, "clean.csv", rows[:30]), dry_run=True)
    with session_scope(thirty) as s:
        assert len(rejected_rows(s)) == 2
    # a later import that no longer has them wrong clears the record
    rows[30], rows[31] = _row(30), _row(31)
    import_register(thirty, _write(tmp_path, "clean.csv", rows))
    with session_scope(thirty) as s:
        assert s.scalars(select(RejectedRow)).all() == []


# --- item 16 -------------------------------------------------------------------------------


def test_partial_file_is_refused_naming_the_count(thirty: Engine, tmp_path: Path) -> None:
    path = _write(tmp_path, "one.csv", [_row(0)])
    with pytest.raises(RemovalsRefused) as info:
        import_register(thirty, path)
    assert "29 of 30" in str(info.value)
    assert info.value.report.removed_ids == [f"R{i:03d}" for i in range(1, 30)]
    assert info.value.report.written is False
    assert len(_active(thirty)) == 30
    # the dry run predicts the refusal and lists who would go
    with pytest.raises(RemovalsRefused) as dry:
        import_register(thirty, path, dry_run=True)
    assert len(dry.value.report.removed_ids) == 29
    report = import_register(thirty, path, allow_removals=True)
    assert (report.removed, report.written) == (29, True)
    assert _active(thirty) == ["R000"]


def test_removals_within_the_share_go_through(thirty: Engine, tmp_path: Path) -> None:
    rows = [_row(i) for i in range(27)]  # 3 of 30 = 10 %: not more than the share
    report = import_register(thirty, _write(tmp_path, "most.csv", rows))
    assert report.removed_ids == ["R027", "R028", "R029"]
    # 4 of the 27 now active (15 %) is too many by default, not with a larger share
    with pytest.raises(RemovalsRefused, match="4 of 27"):
        import_register(thirty, _write(tmp_path, "less.csv", rows[:23]))
    report = import_register(thirty, _write(tmp_path, "less.csv", rows[:23]), max_removal_share=0.5)
    assert report.removed == 4


@pytest.mark.parametrize(
    "damaged",
    ["", "R005\u200b", "\u200bR005", "R005\x0b", " "],
    ids=["empty", "zwsp-end", "zwsp-start", "vt", "blank"],
)
def test_damaged_id_never_deactivates_its_resident(
    thirty: Engine, tmp_path: Path, damaged: str
) -> None:
    rows = [_row(i) for i in range(30)]
    rows[5] = _row(5, rid=damaged)
    report = import_register(
        thirty, _write(tmp_path, "damaged.csv", rows), skip_invalid=True, allow_removals=True
    )
    assert report.removed == 0
    assert "R005" in _active(thirty)
    assert [r.line for r in report.rejected] == [7]
    assert any("nobody was deactivated" in w.message for w in report.warnings)


def test_shifted_cells_never_deactivate(thirty: Engine, tmp_path: Path) -> None:
    rows = [_row(i) for i in range(30)]
    rows[5] = "住民 5,直方市殿町5,33.74,130.73,2,,090-1111-0005"  # id cell missing
    rows.pop(6)  # R006 really is missing, but row 7's cells cannot be trusted
    report = import_register(
        thirty, _write(tmp_path, "shifted.csv", rows), skip_invalid=True, allow_removals=True
    )
    assert report.removed == 0
    assert len(_active(thirty)) == 30
