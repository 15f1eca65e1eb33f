"""Japan's extent in lon/lat (EPSG:4326): the one place this fact lives.

Every importer and the alert scope use it to catch swapped axes and wrong CRSs: a
coordinate outside it is refused. The box has a margin around the outermost islands
(Okinotorishima ~20.4N, Minamitorishima ~154.0E, Yonaguni ~122.9E, Etorofu ~45.6N).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["JAPAN", "LonLatBox"]


@dataclass(frozen=True, slots=True)
class LonLatBox:
    """A lon/lat rectangle; edges belong to it."""

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(min_lon, min_lat, max_lon, max_lat), the order shapely's ``bounds`` uses."""
        return (self.min_lon, self.min_lat, self.max_lon, self.max_lat)

    def has_lon(self, lon: float) -> bool:
        return self.min_lon <= lon <= self.max_lon

    def has_lat(self, lat: float) -> bool:
        return self.min_lat <= lat <= self.max_lat

    def contains(self, lon: float, lat: float) -> bool:
        """True when (lon, lat) is inside the box."""
        return self.has_lon(lon) and self.has_lat(lat)

    def looks_swapped(self, lon: float, lat: float) -> bool:
        """True when the point is outside but (lat, lon) read the other way is inside."""
        return not self.contains(lon, lat) and self.contains(lat, lon)

    def covers(self, bounds: tuple[float, float, float, float]) -> bool:
        """True when a shape's (minx, miny, maxx, maxy) lies wholly inside the box."""
        minx, miny, maxx, maxy = bounds
        return self.contains(minx, miny) and self.contains(maxx, maxy)

    def describe(self) -> str:
        return (
            f"longitude {self.min_lon:g}–{self.max_lon:g} and latitude "
            f"{self.min_lat:g}–{self.max_lat:g}"
        )


JAPAN = LonLatBox(min_lon=122.0, min_lat=20.0, max_lon=154.0, max_lat=46.0)
