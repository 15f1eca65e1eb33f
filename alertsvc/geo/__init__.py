"""Geography: flood-zone import (GeoJSON, GeoPackage, Shapefile, PLATEAU CityGML), CRS
handling and zone loading for targeting. Stored geometries are EPSG:4326 (lon, lat)."""

from __future__ import annotations
