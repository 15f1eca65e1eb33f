"""The preview's fast paths give the simple paths' answers (#12): nearest shelters for many
people at once, the channel order decided once per contact shape, the SMS probe's cheap
key, stored grown zones, and the migration head read without Alembic."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Polygon, box

from alertsvc.db import _scripts_head, head_revision
from alertsvc.geo import grown_zones as gz
from alertsvc.geo.targeting import join_points
from alertsvc.models import ChannelName, ContactInfo, ContactKind, Need, ResidentInfo, ShelterInfo
from alertsvc.planning import channel_order as co
from alertsvc.planning.render import RenderCache
from alertsvc.planning.shelter_choice import (
    NOTE_NO_SHELTER,
    NOTE_NO_WELFARE,
    NOTE_TOO_FAR,
    NOTE_UNLOCATED,
    NOTE_WHEELCHAIR_UNKNOWN,
    PREFERRED_MAX_DETOUR_M,
    WELFARE,
    WELFARE_NEEDS,
    ShelterIndex,
    haversine_m,
)

NEEDS = list(Need)


def _simple_choose(index: ShelterIndex, r: ResidentInfo) -> tuple[str | None, int, tuple[str, ...]]:
    """One person at a time with the scalar haversine: the plain reading of the rules."""
    if r.lat is None or r.lon is None:
        return None, 0, (NOTE_UNLOCATED,)
    cands = index.candidates
    if not cands:
        return None, 0, (NOTE_NO_SHELTER,)
    wants_welfare = bool(r.needs & WELFARE_NEEDS)
    usable = [wants_welfare or s.kinds != {WELFARE} for s in cands]
    if not any(usable):
        return None, 0, (NOTE_NO_SHELTER,)
    dist = haversine_m(
        r.lat, r.lon, np.array([s.lat for s in cands]), np.array([s.lon for s in cands])
    )
    notes: list[str] = []

    def prefer(
        usable: list[bool], pref: list[bool], none: str, what: tuple[str, str]
    ) -> list[bool]:
        if not any(pref):
            notes.append(none)
            return usable
        extra = min(d for d, p in zip(dist, pref, strict=True) if p) - min(
            d for d, u in zip(dist, usable, strict=True) if u
        )
        if extra > PREFERRED_MAX_DETOUR_M:
            notes.append(
                NOTE_TOO_FAR.format(what=what[0], what_en=what[1], extra=round(float(extra)))
            )
            return usable
        return pref

    if Need.WHEELCHAIR in r.needs:
        ok = [u and s.wheelchair is True for u, s in zip(usable, cands, strict=True)]
        what = ("車いす対応の避難所", "a wheelchair-accessible shelter")
        usable = prefer(usable, ok, NOTE_WHEELCHAIR_UNKNOWN, what)
    if wants_welfare:
        ok = [u and WELFARE in s.kinds for u, s in zip(usable, cands, strict=True)]
        usable = prefer(usable, ok, NOTE_NO_WELFARE, ("福祉避難所", "the welfare shelter"))
    best = min((d, k) for k, (d, u) in enumerate(zip(dist, usable, strict=True)) if u)[1]
    return cands[best].id, math.ceil(dist[best] / index.walking_speed), tuple(notes)


shelters_st = st.lists(
    st.tuples(
        st.floats(33.70, 33.78),
        st.floats(130.70, 130.78),
        st.sampled_from(
            [frozenset({"指定避難所"}), frozenset({WELFARE}), frozenset({"指定避難所", WELFARE})]
        ),
        st.sampled_from([True, False, None]),
    ),
    max_size=8,
)
people_st = st.lists(
    st.tuples(
        st.one_of(st.none(), st.floats(33.65, 33.85)),
        st.floats(130.65, 130.85),
        st.frozensets(st.sampled_from(NEEDS), max_size=3),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(shelters_st, people_st)
def test_choose_many_equals_one_person_at_a_time(shelters: list, people: list) -> None:
    index = ShelterIndex(
        [ShelterInfo(f"S{k}", f"避難所{k}", "直方市", la, lo, kinds, frozenset({"flood"}), wc)
         for k, (la, lo, kinds, wc) in enumerate(shelters)],
        [],
    )  # fmt: skip
    residents = [
        ResidentInfo(f"R{k}", "x", "y", la, lo, needs=needs)
        for k, (la, lo, needs) in enumerate(people)
    ]
    for r, (choice, notes) in zip(residents, index.choose_many(residents), strict=True):
        sid, walk, simple_notes = _simple_choose(index, r)
        assert (choice.shelter.id if choice else None) == sid
        assert notes == simple_notes
        if choice is not None:
            assert max(1, walk) == choice.walk_minutes
        assert index.choose(r) == (choice, notes)


contacts_st = st.lists(
    st.builds(
        ContactInfo,
        st.sampled_from(list(ContactKind)),
        st.sampled_from(["+819011112222", "+819011113333", "+81949220000", "tok-a", "tok-b"]),
        st.booleans(),
        st.frozensets(st.sampled_from(list(ChannelName)), max_size=2),
    ),
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(
    st.frozensets(st.sampled_from(NEEDS), max_size=3),
    contacts_st,
    st.lists(st.sampled_from(list(ChannelName)), max_size=3, unique=True),
)
def test_channel_order_by_shape_equals_direct(needs: frozenset, contacts: list, pref: list) -> None:
    # twice: the second answer comes from the shape cache
    for _ in range(2):
        assert co.channel_order(needs, contacts, pref) == co._channel_order(needs, contacts, pref)


def _context(
    floor: int, distance: int, walk: int, name: str, welfare: bool, rank: int | None
) -> dict:
    from alertsvc.planning.plan import _depth

    return {
        "exercise": False,
        "level": 4,
        "action": "evacuate",
        "municipality": "直方市",
        "floor": floor,
        "shelter": {"id": "S1", "name": name, "reading": name, "address": "直方市" + name,
                    "distance": distance, "walk": walk, "welfare": welfare},
        "depth": _depth(rank),
    }  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 40),
            st.integers(10, 60_000),
            st.integers(1, 1500),
            st.text(alphabet="避難所公民館あいうカタカナABC", min_size=1, max_size=60),
            st.booleans(),
            st.sampled_from([None, 1, 2, 3, 4, 5]),
        ),
        min_size=1,
        max_size=12,
    ),
    st.sampled_from(["ja", "en", "ja-easy", "vi"]),
)
def test_sms_probe_key_gives_a_fresh_cache_answer(items: list, language: str) -> None:
    shared = RenderCache((20, 30))
    for item in items:
        context = _context(*item)
        assert shared.sms_segments(language, context) == RenderCache((20, 30)).sms_segments(
            language, context
        )


def _zones() -> list[Polygon]:
    return [
        box(130.70, 33.70, 130.72, 33.72),
        Polygon([(130.73, 33.73), (130.75, 33.73), (130.74, 33.76)]),
        box(130.76, 33.70, 130.78, 33.71),
    ]


def test_stored_grown_zones_give_the_same_pairs() -> None:
    zones = _zones()
    rng = np.random.default_rng(5)
    lon, lat = rng.uniform(130.69, 130.79, 4000), rng.uniform(33.69, 33.77, 4000)
    geoms = np.empty(len(zones), dtype=object)
    geoms[:] = zones
    gz._GROWN_CACHE.clear()
    cold = join_points(lon, lat, zones, tolerance_m=30.0)
    stored = gz.encode_grown(gz.grown_zones(geoms, 30.0, "EPSG:6670"))
    gz._GROWN_CACHE.clear()
    gz.remember_grown(geoms, 30.0, "EPSG:6670", gz.decode_grown(stored))
    warm = join_points(lon, lat, zones, tolerance_m=30.0)
    assert int(cold.edge_only.sum()) > 0
    for a, b in (
        (cold.point, warm.point),
        (cold.zone, warm.zone),
        (cold.edge_only, warm.edge_only),
    ):
        assert np.array_equal(a, b)
    # another tolerance or other geometries are another key
    assert gz.cache_key(geoms, 30.0, "EPSG:6670") != gz.cache_key(geoms, 31.0, "EPSG:6670")
    moved = geoms.copy()
    moved[0] = shapely.affinity.translate(zones[0], 1e-6)
    assert gz.cache_key(geoms, 30.0, "EPSG:6670") != gz.cache_key(moved, 30.0, "EPSG:6670")


def test_decode_grown_refuses_foreign_bytes() -> None:
    with pytest.raises(ValueError, match="grown-zone"):
        gz.decode_grown(b"not an npz")


def test_migration_head_read_from_the_scripts_is_alembics() -> None:
    assert _scripts_head() == head_revision()
