"""Merging GSI twins into one shelter (pure: no files, no database)."""

from __future__ import annotations

import dataclasses

from alertsvc.geo.shelter_import import ShelterEntry, merge_entries, normalise_key

EVAC, EMERG, WELFARE = "指定避難所", "指定緊急避難場所", "福祉避難所"


def entry(source_id: str, kinds: set[str], **kw: object) -> ShelterEntry:
    base = ShelterEntry(
        source_id=source_id,
        name="直方市火葬場　天翔館",
        address="福岡県直方市大字上新入2430-14",
        lat=33.76,
        lon=130.73,
        kinds=frozenset(kinds),
        hazards=frozenset(),
        origin=f"f {source_id}",
    )
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def test_normalise_key_removes_all_whitespace_and_width() -> None:
    assert normalise_key("直方市　火葬場　天翔館") == normalise_key("直方市火葬場 天翔館")
    assert normalise_key("ＡＢ１ ２") == "AB12"
    assert normalise_key("遠賀川水辺館") != normalise_key("遠賀川水辺館別館")


def test_twins_merge_with_the_evacuation_shelter_id_and_emergency_hazards() -> None:
    site = entry(
        "E201", {EMERG}, name="直方市　火葬場　天翔館", hazards=frozenset({"flood"}), lat=33.7601
    )
    shelter = entry("E111", {EVAC})
    merged, warnings = merge_entries([site, shelter])
    assert len(merged) == 1
    only = merged[0]
    assert only.info.id == "E111"
    assert only.source_ids == ("E111", "E201")
    assert only.info.kinds == {EVAC, EMERG}
    assert only.info.hazards == {"flood"}
    # name and location come from the 指定避難所 entry
    assert only.info.name == "直方市火葬場　天翔館"
    assert only.info.lat == 33.76
    assert warnings == []


def test_single_role_shelter_gets_no_hazards() -> None:
    merged, _ = merge_entries(
        [
            entry("E111", {EVAC}),
            entry("E201", {EMERG}, address="別の住所", hazards=frozenset({"flood"})),
        ]
    )
    by_id = {s.info.id: s.info for s in merged}
    assert by_id["E111"].hazards == frozenset()
    assert by_id["E111"].kinds == {EVAC}
    assert by_id["E201"].hazards == {"flood"}


def test_without_evacuation_entry_the_first_id_wins() -> None:
    merged, _ = merge_entries([entry("W1", {WELFARE}), entry("E201", {EMERG})])
    assert [s.info.id for s in merged] == ["W1"]
    assert merged[0].source_ids == ("W1", "E201")


def test_far_apart_twins_and_conflicting_details_warn() -> None:
    merged, warnings = merge_entries(
        [
            entry("E111", {EVAC}, wheelchair=False),
            entry("W1", {WELFARE}, lat=33.77, wheelchair=True, capacity=30),
        ]
    )
    assert merged[0].info.wheelchair is False  # the primary entry wins
    assert merged[0].info.capacity == 30  # filled from the twin when the primary has none
    columns = sorted(w.column for w in warnings)
    assert columns == ["location", "wheelchair"]
    assert "W1" in next(w.message for w in warnings if w.column == "location")
