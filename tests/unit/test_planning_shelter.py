"""Shelter choice: flood suitability, active zones, wheelchair, 福祉避難所, distance."""

from __future__ import annotations

import math

import numpy as np
import pytest
from shapely.geometry import box

from alertsvc.models import Need, ResidentInfo, ShelterInfo, ZoneInfo, ZoneKind
from alertsvc.planning.shelter_choice import (
    NOTE_NO_SHELTER,
    NOTE_NO_WELFARE,
    NOTE_UNLOCATED,
    NOTE_WHEELCHAIR_UNKNOWN,
    PREFERRED_MAX_DETOUR_M,
    ShelterIndex,
    haversine_m,
)

HOME = (33.74, 130.74)  # lat, lon
GENERAL = frozenset({"指定避難所"})
WELFARE = frozenset({"福祉避難所"})
FLOOD = frozenset({"flood"})


def shelter(
    sid: str,
    north_m: float,
    *,
    kinds: frozenset[str] = GENERAL,
    hazards: frozenset[str] = FLOOD,
    wheelchair: bool | None = None,
) -> ShelterInfo:
    # place the shelter due north of HOME by north_m metres
    lat = HOME[0] + north_m / 111_195.0
    return ShelterInfo(sid, f"避難所{sid}", "直方市", lat, HOME[1], kinds, hazards, wheelchair)


def resident(*needs: Need, lat: float | None = HOME[0]) -> ResidentInfo:
    return ResidentInfo("R1", "名前", "住所", lat, HOME[1], needs=frozenset(needs))


def zone_around(s: ShelterInfo, half: float = 0.001) -> ZoneInfo:
    geom = box(s.lon - half, s.lat - half, s.lon + half, s.lat + half)
    return ZoneInfo("Z", "set", ZoneKind.INUNDATION, 3, geom)


def test_nearest_flood_shelter_with_distance_and_walk() -> None:
    near_no_flood = shelter("A", 100, hazards=frozenset({"earthquake"}))
    far = shelter("B", 1000)
    nearer = shelter("C", 500)
    choice, notes = ShelterIndex([near_no_flood, far, nearer], []).choose(resident())
    assert choice is not None and choice.shelter.id == "C"
    assert choice.distance_m == pytest.approx(500, abs=2)
    assert choice.walk_minutes == math.ceil(choice.distance_m / 40.0) == 13
    assert notes == ()


def test_walking_speed_is_configurable() -> None:
    choice, _ = ShelterIndex([shelter("A", 600)], [], walking_speed_m_per_min=60).choose(resident())
    assert choice is not None and choice.walk_minutes == 11  # 600.0x m / 60 -> 11


def test_shelter_inside_or_on_boundary_of_active_zone_is_excluded() -> None:
    near, far = shelter("A", 200), shelter("B", 900)
    inside = zone_around(near)
    choice, _ = ShelterIndex([near, far], [inside]).choose(resident())
    assert choice is not None and choice.shelter.id == "B"
    # a zone whose edge passes exactly through the shelter point
    west_edge = box(near.lon, near.lat - 0.001, near.lon + 0.01, near.lat + 0.001)
    edge = ZoneInfo("E", "s", ZoneKind.INUNDATION, 2, west_edge)
    choice, _ = ShelterIndex([near, far], [edge]).choose(resident())
    assert choice is not None and choice.shelter.id == "B"


def test_no_candidate_gives_none_and_note() -> None:
    only = shelter("A", 200)
    choice, notes = ShelterIndex([only], [zone_around(only)]).choose(resident())
    assert choice is None and notes == (NOTE_NO_SHELTER,)
    choice, notes = ShelterIndex([], []).choose(resident())
    assert choice is None and NOTE_NO_SHELTER in notes


def test_unlocated_resident() -> None:
    choice, notes = ShelterIndex([shelter("A", 1)], []).choose(resident(lat=None))
    assert choice is None and notes == (NOTE_UNLOCATED,)


def test_wheelchair_user_gets_accessible_shelter() -> None:
    near = shelter("A", 100, wheelchair=None)
    far_ok = shelter("B", 800, wheelchair=True)
    choice, notes = ShelterIndex([near, far_ok], []).choose(resident(Need.HEARING))
    assert choice is not None and choice.shelter.id == "A"
    welfare_ok = shelter("W", 900, kinds=WELFARE, wheelchair=True)
    choice, notes = ShelterIndex([near, far_ok, welfare_ok], []).choose(resident(Need.WHEELCHAIR))
    # wheelchair is also a welfare need: the accessible 福祉避難所 wins over nearer ones
    assert choice is not None and choice.shelter.id == "W" and choice.welfare
    assert choice.wheelchair_ok is True and notes == ()


def test_wheelchair_without_any_accessible_shelter_gets_nearest_with_note() -> None:
    near, far = shelter("A", 100, wheelchair=False), shelter("B", 300)
    choice, notes = ShelterIndex([far, near], []).choose(resident(Need.WHEELCHAIR))
    assert choice is not None and choice.shelter.id == "A"
    assert NOTE_WHEELCHAIR_UNKNOWN in notes and NOTE_NO_WELFARE in notes


@pytest.mark.parametrize("need", [Need.BEDRIDDEN, Need.COGNITIVE])
def test_welfare_needs_prefer_welfare_shelter(need: Need) -> None:
    general = shelter("G", 100)
    welfare = shelter("W", 1500, kinds=WELFARE)
    welfare_no_flood = shelter("X", 50, kinds=WELFARE, hazards=frozenset())
    choice, notes = ShelterIndex([general, welfare, welfare_no_flood], []).choose(resident(need))
    assert choice is not None and choice.shelter.id == "W" and choice.welfare
    assert notes == ()
    choice, notes = ShelterIndex([general, welfare_no_flood], []).choose(resident(need))
    assert choice is not None and choice.shelter.id == "G" and notes == (NOTE_NO_WELFARE,)


@pytest.mark.parametrize("need", [Need.BEDRIDDEN, Need.WHEELCHAIR])
def test_a_preferred_shelter_never_means_a_long_detour(need: Need) -> None:
    # in a flood the nearest safe place wins over a welfare / accessible one far away
    general = shelter("G", 100)
    far_welfare = shelter("W", 100 + PREFERRED_MAX_DETOUR_M + 500, kinds=WELFARE, wheelchair=True)
    choice, notes = ShelterIndex([general, far_welfare], []).choose(resident(need))
    assert choice is not None and choice.shelter.id == "G"
    assert any("遠いため最寄りの避難所" in n for n in notes), notes


def test_welfare_only_shelter_not_offered_to_general_public() -> None:
    welfare = shelter("W", 100, kinds=WELFARE)
    both = shelter("B", 200, kinds=frozenset({"指定避難所", "福祉避難所"}))
    choice, _ = ShelterIndex([welfare, both], []).choose(resident())
    assert choice is not None and choice.shelter.id == "B"


def test_haversine_known_distance() -> None:
    # one degree of latitude is ~111.2 km
    d = haversine_m(0.0, 0.0, np.array([1.0, 0.0]), np.array([0.0, 0.0]))
    assert d[0] == pytest.approx(111_195, rel=1e-4) and d[1] == 0.0
