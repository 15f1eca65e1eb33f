"""CAP import: every real agency message imports or is refused exactly as its schema
validity says (the table below is the one in ../shared/realdata/cap/SOURCES.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from alertsvc.interop.cap_import import read_cap
from alertsvc.interop.cap_schema import CapInvalid

CAP_DIR = Path(__file__).resolve().parents[1] / "data" / "cap"

# file -> None when valid, else a fragment of the refusal reason
EXPECTED: dict[str, str | None] = {
    "capparselib_samples/CanadaNaad.xml": None,
    "capparselib_samples/NOAA_MultiplePolygons.xml": None,
    "capparselib_samples/australia.cap": None,
    "capparselib_samples/australia_bom.cap": None,
    "capparselib_samples/canada.cap": None,
    "capparselib_samples/canada_errors.cap": None,
    "capparselib_samples/earthquake-iso8859-1.cap": None,
    "capparselib_samples/iceland_met_office.cap": None,
    "capparselib_samples/mexico.xml": None,
    "capparselib_samples/no_info_tag.cap": None,
    "capparselib_samples/ph.cap": None,
    "capparselib_samples/taiwan.cap": None,
    "capparselib_samples/wcatwc-warning.cap": None,
    "capparselib_samples/smhi.se.alerts.cap": None,
    "capparselib_samples/rfs.xml": None,
    "oasis_cap12_amber_alert_example.xml": None,
    "ea_uk/ea_severe_flood_warning_wainfleet_2020-02-16.xml": None,
    "capparselib_samples/invalid.cap": "schema",
    "capparselib_samples/sweden.cap": "schema",
    "capparselib_samples/invalid_xmlns.cap": "urn:oasis:names:tc:emergency:alerts:1.2",
    "capparselib_samples/noaa_errors.cap": "cap:1.1",
    "capparselib_samples/no_optional_fields.cap": "cap:1.1",
}


def test_the_table_covers_every_sample() -> None:
    files = {
        str(p.relative_to(CAP_DIR))
        for p in CAP_DIR.rglob("*")
        if p.is_file() and p.suffix != ".xsd"
    }
    assert files == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_sample_imports_or_is_refused_as_its_validity_says(name: str) -> None:
    data = (CAP_DIR / name).read_bytes()
    reason = EXPECTED[name]
    if reason is None:
        alerts = read_cap(data)
        assert alerts and all(a.identifier and a.sender and a.status for a in alerts)
    else:
        with pytest.raises(CapInvalid, match=reason.replace(".", r"\.")):
            read_cap(data)


def test_smhi_list_gives_every_alert() -> None:
    alerts = read_cap((CAP_DIR / "capparselib_samples/smhi.se.alerts.cap").read_bytes())
    assert len(alerts) == 17


def test_several_polygons_become_one_area() -> None:
    (alert,) = read_cap((CAP_DIR / "capparselib_samples/NOAA_MultiplePolygons.xml").read_bytes())
    assert alert.area is not None and alert.area.geom_type == "MultiPolygon"
    assert alert.msg_type == "Update" and alert.references


def test_test_status_is_never_live() -> None:
    (alert,) = read_cap((CAP_DIR / "capparselib_samples/ph.cap").read_bytes())
    assert alert.status == "Test" and not alert.live


def test_circle_is_a_true_distance_disc() -> None:
    doc = _cap(area="<circle>33.74,130.72 2.0</circle>")
    (alert,) = read_cap(doc)
    assert alert.area is not None
    from pyproj import Geod

    _, miny, _, maxy = alert.area.bounds
    _, _, north_south = Geod(ellps="WGS84").inv(130.72, miny, 130.72, maxy)
    assert north_south == pytest.approx(4000, rel=0.01)


def test_hostile_and_broken_documents_are_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        b"<alert>&b;</alert>"
    )
    for data, reason in (
        (bomb, "refused"),
        (b"<alert", "well-formed"),
        (_cap(area="<polygon>1,2 3,4</polygon>"), "4 or more"),
        (_cap(area="<polygon>x,y 1,2 3,4 x,y</polygon>"), "lat,lon"),
        ("<?xml version='1.0' encoding='utf-8'?><a>\u00e9</a>".encode("latin-1"), "well-formed"),
    ):
        with pytest.raises(CapInvalid, match=reason):
            read_cap(data)


def _cap(area: str, status: str = "Actual") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
<identifier>t1</identifier><sender>s@example.org</sender><sent>2026-07-01T09:00:00+09:00</sent>
<status>{status}</status><msgType>Alert</msgType><scope>Public</scope>
<info><category>Met</category><event>Flood</event><urgency>Immediate</urgency>
<severity>Severe</severity><certainty>Likely</certainty>
<area><areaDesc>x</areaDesc>{area}</area></info></alert>""".encode()
