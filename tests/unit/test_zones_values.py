"""Pure parts of zone import: depth values, set names, --crs parsing, fingerprints."""

from __future__ import annotations

import pytest
import shapely

from alertsvc.errors import ZoneDataError
from alertsvc.geo.zone_import import fingerprint, parse_crs, parse_depth, validate_set_name
from alertsvc.models import DEPTH_RANK_METRES


@pytest.mark.parametrize(
    ("value", "rank"),
    [(1, 1), ("3", 3), (6.0, 6), ("４", 4), (" 2 ", 2), ("5.0", 5)],
)
def test_rank_values_accepted(value: object, rank: int) -> None:
    assert parse_depth(value, "A31a_205") == (rank, None, None)


@pytest.mark.parametrize("value", [0, 7, "2.5", "abc", -1, "1; DROP TABLE zones"])
def test_bad_rank_values_are_errors_naming_the_value(value: object) -> None:
    rank, metres, problem = parse_depth(value, "浸水ランク")
    assert rank is None and metres is None
    assert problem is not None and repr(value) in problem and "1–6" in problem


@pytest.mark.parametrize("value", [None, "", "  "])
def test_empty_depth_is_no_depth_not_an_error(value: object) -> None:
    assert parse_depth(value, "depth_rank") == (None, None, None)


def test_metres_map_to_ranks_by_the_a31a_table() -> None:
    for rank, (low, high) in DEPTH_RANK_METRES.items():
        assert parse_depth(low, "depth_m") == (rank, low, None)
        if high is not None:
            just_below = high - 0.01
            assert parse_depth(just_below, "depth_m")[0] == rank
    assert parse_depth("2.4", "max_depth_m") == (2, 2.4, None)


@pytest.mark.parametrize("value", [-0.5, "deep", "nan", "inf"])
def test_bad_metres_are_errors(value: object) -> None:
    rank, _, problem = parse_depth(value, "depth_m")
    assert rank is None and problem is not None and "metres" in problem


def test_set_names() -> None:
    assert validate_set_name("  nogata-flood ") == "nogata-flood"
    for bad in ("", "   ", "a/b", "x" * 201):
        with pytest.raises(ZoneDataError):
            validate_set_name(bad)


def test_parse_crs() -> None:
    assert parse_crs("EPSG:6670").to_epsg() == 6670
    assert parse_crs("4301").to_epsg() == 4301
    with pytest.raises(ZoneDataError, match="--crs 'EPSG:999999'"):
        parse_crs("EPSG:999999")


def test_fingerprint_changes_with_geometry_and_each_attribute() -> None:
    wkb = shapely.to_wkb(shapely.box(130.7, 33.7, 130.71, 33.71))
    other = shapely.to_wkb(shapely.box(130.7, 33.7, 130.71, 33.72))
    base = fingerprint("inundation", 2, None, "a", {"k": 1}, wkb)
    assert base == fingerprint("inundation", 2, None, "a", {"k": 1}, wkb)
    variants = [
        fingerprint("house-collapse", 2, None, "a", {"k": 1}, wkb),
        fingerprint("inundation", 3, None, "a", {"k": 1}, wkb),
        fingerprint("inundation", 2, 1.0, "a", {"k": 1}, wkb),
        fingerprint("inundation", 2, None, "b", {"k": 1}, wkb),
        fingerprint("inundation", 2, None, "a", {"k": 2}, wkb),
        fingerprint("inundation", 2, None, "a", {"k": 1}, other),
    ]
    assert base not in variants and len(set(variants)) == len(variants)
