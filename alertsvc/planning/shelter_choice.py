"""Shelter choice: the nearest flood-suitable shelter a person can use (pure, vectorised).

Candidates are shelters with ``"flood"`` in their hazards (the GSI 洪水 flag or the imported
suitability) that do not lie inside or on the boundary of any active zone. Then, per person:

* a wheelchair user gets shelters marked wheelchair-accessible; when there is none, the
  nearest candidate with the note 車いす対応不明 (access unknown) rather than nothing;
* a person who is bedridden, uses a wheelchair or has a cognitive need gets the nearest
  福祉避難所 among those, else the nearest general shelter with a note;
* a preference (accessible, welfare) never sends anybody far away in a flood: it holds only
  while the preferred shelter is at most ``PREFERRED_MAX_DETOUR_M`` farther than the nearest
  usable one; beyond that the nearest is chosen and the officer gets a note;
* a shelter that is *only* a 福祉避難所 is not offered to anybody else (it is opened for
  people who need care, not for the general public).

Distance is the great-circle straight line (直線距離) in metres, and the walking time is
``ceil(distance / walking speed)`` at an elderly pace — not a route, which messages say.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely

from alertsvc.models import Need, ResidentInfo, ShelterInfo, ZoneInfo

__all__ = ["WELFARE", "ShelterChoice", "ShelterIndex", "haversine_m"]

WELFARE = "福祉避難所"
_EARTH_RADIUS_M = 6_371_008.8
WELFARE_NEEDS = frozenset({Need.BEDRIDDEN, Need.WHEELCHAIR, Need.COGNITIVE})

NOTE_NO_SHELTER = "洪水に対応した利用可能な避難所なし / no usable flood shelter"
NOTE_WHEELCHAIR_UNKNOWN = "車いす対応不明 / wheelchair access unknown"
NOTE_NO_WELFARE = "福祉避難所なし、一般の避難所を案内 / no suitable welfare shelter, general one"
NOTE_UNLOCATED = "位置不明のため避難所を選べない / no coordinates, no shelter chosen"
NOTE_TOO_FAR = (
    "{what}は{extra}m遠いため最寄りの避難所を案内 / {what_en} is {extra} m farther: nearest"
)
# how much farther a welfare / accessible shelter may be before the nearest one wins
PREFERRED_MAX_DETOUR_M = 1500.0


@dataclass(frozen=True, slots=True)
class ShelterChoice:
    """The chosen shelter and how far it is."""

    shelter: ShelterInfo
    distance_m: float  # straight line (直線距離), not a route
    walk_minutes: int  # ceil(distance / walking speed)
    wheelchair_ok: bool | None  # the shelter's flag, None when unknown
    welfare: bool  # it is a 福祉避難所


def haversine_m(
    lat: float, lon: float, lats: npt.NDArray[np.float64], lons: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Great-circle distances in metres from one point to many (degrees in, metres out)."""
    p1, l1 = math.radians(lat), math.radians(lon)
    p2, l2 = np.radians(lats), np.radians(lons)
    a = np.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * np.cos(p2) * np.sin((l2 - l1) / 2) ** 2
    out: npt.NDArray[np.float64] = 2 * _EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0, 1)))
    return out


class ShelterIndex:
    """Flood-suitable shelters outside every active zone, ready for many nearest queries.

    Build it once per alert; ``choose`` is then a few numpy operations per person.
    """

    def __init__(
        self,
        shelters: Sequence[ShelterInfo],
        active_zones: Sequence[ZoneInfo],
        *,
        walking_speed_m_per_min: float = 40.0,
    ) -> None:
        if walking_speed_m_per_min <= 0:
            raise ValueError("walking_speed_m_per_min must be positive")
        self.walking_speed = walking_speed_m_per_min
        flood = [s for s in shelters if "flood" in s.hazards]
        if flood and active_zones:
            points = shapely.points([s.lon for s in flood], [s.lat for s in flood])
            # intersects: a shelter on a zone boundary counts as inside (boundary inclusive).
            # Any zone hit is the union hit, without building the union of thousands.
            tree = shapely.STRtree([z.geometry for z in active_zones])
            inside = np.zeros(len(flood), dtype=bool)
            inside[tree.query(points, predicate="intersects")[0]] = True
            flood = [s for s, hit in zip(flood, inside, strict=True) if not hit]
        self.candidates: tuple[ShelterInfo, ...] = tuple(flood)
        self._lats = np.array([s.lat for s in flood], dtype=np.float64)
        self._lons = np.array([s.lon for s in flood], dtype=np.float64)
        self._wheelchair = np.array([s.wheelchair is True for s in flood], dtype=bool)
        self._welfare = np.array([WELFARE in s.kinds for s in flood], dtype=bool)
        self._welfare_only = np.array([s.kinds == {WELFARE} for s in flood], dtype=bool)

    def choose(self, resident: ResidentInfo) -> tuple[ShelterChoice | None, tuple[str, ...]]:
        """(choice or None, officer-facing notes) for one resident; never raises."""
        return self.choose_many([resident])[0]

    def choose_many(
        self, residents: Sequence[ResidentInfo]
    ) -> list[tuple[ShelterChoice | None, tuple[str, ...]]]:
        """``choose`` for every resident, in order: people with the same kind of need are
        taken together, their distances to every candidate one numpy matrix; never raises."""
        out: list[tuple[ShelterChoice | None, tuple[str, ...]]] = [(None, ())] * len(residents)
        groups: dict[tuple[bool, bool], list[int]] = {}
        for i, r in enumerate(residents):
            if r.lat is None or r.lon is None:
                out[i] = (None, (NOTE_UNLOCATED,))
            elif not self.candidates:
                out[i] = (None, (NOTE_NO_SHELTER,))
            else:
                kind = (bool(r.needs & WELFARE_NEEDS), Need.WHEELCHAIR in r.needs)
                groups.setdefault(kind, []).append(i)
        for (wants_welfare, wheelchair), members in groups.items():
            base = np.ones(len(self.candidates), dtype=bool)
            if not wants_welfare:
                base &= ~self._welfare_only
            if not base.any():
                for i in members:
                    out[i] = (None, (NOTE_NO_SHELTER,))
                continue
            for at in range(0, len(members), _BATCH):
                chunk = members[at : at + _BATCH]
                lats = np.array([residents[i].lat for i in chunk], dtype=np.float64)
                lons = np.array([residents[i].lon for i in chunk], dtype=np.float64)
                for i, result in zip(
                    chunk,
                    self._choose_batch(lats, lons, base, wants_welfare, wheelchair),
                    strict=True,
                ):
                    out[i] = result
        return out

    def _choose_batch(
        self,
        lats: npt.NDArray[np.float64],
        lons: npt.NDArray[np.float64],
        base: npt.NDArray[np.bool_],
        wants_welfare: bool,
        wheelchair: bool,
    ) -> list[tuple[ShelterChoice | None, tuple[str, ...]]]:
        distances = _haversine_matrix(lats, lons, self._lats, self._lons)
        usable = np.broadcast_to(base, distances.shape)
        notes: list[list[str]] = [[] for _ in range(lats.size)]
        if wheelchair:
            usable = self._prefer(
                usable,
                usable & self._wheelchair,
                distances,
                notes,
                NOTE_WHEELCHAIR_UNKNOWN,
                ("車いす対応の避難所", "a wheelchair-accessible shelter"),
            )
        if wants_welfare:
            usable = self._prefer(
                usable,
                usable & self._welfare,
                distances,
                notes,
                NOTE_NO_WELFARE,
                ("福祉避難所", "the welfare shelter"),
            )
        masked = np.where(usable, distances, np.inf)
        # argmin takes the first of equal distances: input order breaks ties deterministically
        best = np.argmin(masked, axis=1)
        chosen = distances[np.arange(lats.size), best].tolist()
        out: list[tuple[ShelterChoice | None, tuple[str, ...]]] = []
        for k, b in enumerate(best.tolist()):
            shelter = self.candidates[b]
            distance = float(chosen[k])
            choice = ShelterChoice(
                shelter=shelter,
                distance_m=distance,
                walk_minutes=max(1, math.ceil(distance / self.walking_speed)),
                wheelchair_ok=shelter.wheelchair,
                welfare=bool(self._welfare[b]),
            )
            out.append((choice, tuple(notes[k])))
        return out

    @staticmethod
    def _prefer(
        usable: npt.NDArray[np.bool_],
        preferred: npt.NDArray[np.bool_],
        distances: npt.NDArray[np.float64],
        notes: list[list[str]],
        none_note: str,
        what: tuple[str, str],
    ) -> npt.NDArray[np.bool_]:
        """Per row: narrow ``usable`` to ``preferred`` unless that means a long detour (or
        nothing), with the note that says why not."""
        has = preferred.any(axis=1)
        with np.errstate(invalid="ignore"):
            nearest_any = np.min(np.where(usable, distances, np.inf), axis=1)
            nearest_preferred = np.min(np.where(preferred, distances, np.inf), axis=1)
            extra = nearest_preferred - nearest_any
        far = has & (extra > PREFERRED_MAX_DETOUR_M)
        for k in np.flatnonzero(~has).tolist():
            notes[k].append(none_note)
        for k in np.flatnonzero(far).tolist():
            notes[k].append(
                NOTE_TOO_FAR.format(what=what[0], what_en=what[1], extra=round(float(extra[k])))
            )
        take = has & ~far
        return np.where(take[:, None], preferred, usable)


# people per distance matrix in choose_many: bounds its memory (x a few hundred shelters)
_BATCH = 4096


def _haversine_matrix(
    lat: npt.NDArray[np.float64],
    lon: npt.NDArray[np.float64],
    lats: npt.NDArray[np.float64],
    lons: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """``haversine_m`` from each of many points (rows) to many (columns), in metres."""
    p1, l1 = np.radians(lat)[:, None], np.radians(lon)[:, None]
    p2, l2 = np.radians(lats)[None, :], np.radians(lons)[None, :]
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin((l2 - l1) / 2) ** 2
    out: npt.NDArray[np.float64] = 2 * _EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0, 1)))
    return out
