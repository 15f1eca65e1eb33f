"""Gauge parsers on real samples (tests/data/gauges, see SOURCES.md) and synthetic documents."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from alertsvc.errors import GaugeDataInvalid, InputError
from alertsvc.watcher.readings import Quality
from alertsvc.watcher.sources import area_feed, generic, river_json, suimon_dat, uk_ea, usgs

DATA = Path(__file__).resolve().parents[1] / "data" / "gauges"
JST = dt.timezone(dt.timedelta(hours=9))
FUKUOKA = sorted((DATA / "fukuoka").glob("fukuoka_*.json"))


def test_area_feed_archive_shape_reads_every_fukuoka_gauge() -> None:
    doc = area_feed.parse(FUKUOKA[0].read_bytes())
    assert len(doc.readings) == 43 and not doc.warnings
    by_id = {r.station_id: r for r in doc.readings}
    r = by_id["4021100004"]
    assert r.level_m == 10.81 and r.quality is Quality.OK
    assert r.observed_at == dt.datetime(2026, 6, 25, 21, 30, tzinfo=JST)
    meta = doc.stations["4021100004"]
    # default map: 危険水位 -> 3, 氾濫開始水位 -> 4; 観測開始水位 is the floor
    assert meta.thresholds == {3: 10.48, 4: 10.78} and meta.floor_m == 9.78
    # 危険水位 is null for about half the gauges: no level-3 line then
    assert doc.stations["4010000003"].thresholds == {4: 4.76}


def test_area_feed_upstream_shape_and_config_mapping() -> None:
    # synthetic upstream document (obss), same item fields as the real feed
    upstream = {
        "obss": [
            {
                "code": "4020400001",
                "name": "遠賀川／合成観測所 (synthetic)",
                "obsTime": "2026-07-01T02:10:00+09:00",
                "level": 5.2,
                "startLevel": 4.0,
                "warnLevel": None,
                "fladLevel": 6.0,
                "over": 1,
                "townCode": "40204",
                "prefCode": "40000",
                "lat": 33.74,
                "lon": 130.73,
            },
            {"code": "12", "obsTime": "2026-07-01T02:10:00+09:00"},
            {"code": "4020400002", "obsTime": "not a time"},
        ]
    }
    doc = area_feed.parse(json.dumps(upstream).encode(), level_map={"fladLevel": 5})
    assert [r.station_id for r in doc.readings] == ["4020400001"]
    assert doc.stations["4020400001"].thresholds == {5: 6.0}
    assert len(doc.warnings) == 2 and "code" in doc.warnings[0] and "obsTime" in doc.warnings[1]


def test_a_gauge_missing_from_a_document_is_not_a_reading() -> None:
    ids = [{r.station_id for r in area_feed.parse(p.read_bytes()).readings} for p in FUKUOKA]
    # 4021100003 reports at 21時 and then vanishes (water below 観測開始水位 or gauge down)
    assert "4021100003" in ids[0] and all("4021100003" not in later for later in ids[1:])


@pytest.mark.parametrize("payload", [b"", b"[]", b'{"obss": 3}', b"\xff\xfe"])
def test_area_feed_rejects_documents_without_items(payload: bytes) -> None:
    with pytest.raises(GaugeDataInvalid):
        area_feed.parse(payload)


def _river_doc(values: list[dict[str, object]]) -> bytes:
    # synthetic 川の防災情報-shaped station document (no real sample available)
    return json.dumps(
        {
            "obsFcd": "0901000400101",
            "obsNm": "日の出橋 (synthetic)",
            "rsrvStg": 2.5,
            "warnStg": 3.5,
            "spclWarnStg": 4.6,
            "dngStg": 5.0,
            "min10Values": values,
        }
    ).encode()


def test_river_json_thresholds_and_quality_codes() -> None:
    doc = river_json.parse(
        _river_doc(
            [
                {"obsTime": "2026/07/01 23:50", "stg": 4.1, "stgCcd": 0},
                {"obsTime": "2026/07/01 24:00", "stg": 4.2, "stgCcd": 0},
                {"obsTime": "2026/07/02 00:10", "stg": 0.0, "stgCcd": 140},
                {"obsTime": "2026/07/02 00:20", "stg": None, "stgCcd": 160},
                {"obsTime": "2026/07/02 00:30", "stg": 0.0, "stgCcd": 190},
                {"obsTime": "2026/07/02 00:40", "stg": 4.4, "stgCcd": 7},
            ]
        )
    )
    # fldStg is missing: no level-5 line; rsrvStg is not a 警戒レベル
    assert doc.stations["0901000400101"].thresholds == {2: 3.5, 3: 4.6, 4: 5.0}
    qualities = [(r.quality, r.level_m) for r in doc.readings]
    assert qualities == [
        (Quality.OK, 4.1),
        (Quality.OK, 4.2),
        (Quality.CLOSED, None),
        (Quality.MISSING, None),
        (Quality.MISSING, None),
        (Quality.INVALID, None),
    ]
    # 24:00 is 00:00 of the next day
    assert doc.readings[1].observed_at == dt.datetime(2026, 7, 2, 0, 0, tzinfo=JST)


def test_river_json_requires_obsfcd() -> None:
    with pytest.raises(GaugeDataInvalid, match="obsFcd"):
        river_json.parse(b'{"obsFcd": "123", "min10Values": []}')


def _dat(rows: list[str]) -> bytes:
    # synthetic 時刻水位月表 in the download's layout (no real sample available)
    head = ["時刻水位月表", "観測所名,日の出橋(ﾋﾉﾃﾞﾊﾞｼ)", "観測所記号,309091289907010", "単位,m"]
    return "\r\n".join(head + rows).encode("cp932")


def _row(day: str, values: list[tuple[str, str]]) -> str:
    return ",".join([day] + [f"{v},{f}" for v, f in values])


def test_suimon_dat_hour_24_rolls_over_and_flags() -> None:
    values = [(f"{1.0 + h / 100:.2f}", "") for h in range(1, 25)]
    values[2] = ("2.00", "*")
    values[3] = ("-9999.99", "$")
    values[4] = ("", "#")
    values[5] = ("", "-")
    doc = suimon_dat.parse(_dat([_row("2026/07/01", values)]), station_id="309091289907010")
    assert len(doc.readings) == 24
    assert doc.readings[0].observed_at == dt.datetime(2026, 7, 1, 1, 0, tzinfo=JST)
    assert doc.readings[-1].observed_at == dt.datetime(2026, 7, 2, 0, 0, tzinfo=JST)
    assert doc.readings[2].quality is Quality.PROVISIONAL and doc.readings[2].level_m == 2.0
    assert [doc.readings[i].quality for i in (3, 4, 5)] == [
        Quality.MISSING,
        Quality.CLOSED,
        Quality.MISSING,
    ]
    assert all(doc.readings[i].level_m is None for i in (3, 4, 5))
    assert doc.stations["309091289907010"].name.startswith("日の出橋")


def test_suimon_dat_errors_name_the_line() -> None:
    bad = _dat(["2026/02/30," + ",".join(["1.0,"] * 24), "2026/07/01,1.0,,2.0"])
    with pytest.raises(InputError) as info:
        suimon_dat.parse(bad, station_id="x")
    lines = sorted(e.line for e in info.value.errors)
    assert lines == [5, 6]
    with pytest.raises(InputError, match="Shift_JIS"):
        suimon_dat.parse(b"\x82", station_id="x")


def test_uk_ea_skips_broken_ranges_and_stale_readings() -> None:
    doc = uk_ea.parse(
        (DATA / "ea_stations_subset_2020-02-26.json").read_bytes(),
        (DATA / "ea_measures_subset_2020-02-26.json").read_bytes(),
    )
    assert {r.station_id for r in doc.readings} == {
        "1029TH",
        "E2043",
        "52119",
        "2067",
        "720215",
    }
    one = next(r for r in doc.readings if r.station_id == "1029TH")
    assert one.level_m == 0.369 and one.observed_at == dt.datetime(
        2020, 2, 26, 15, 45, tzinfo=dt.UTC
    )
    assert doc.stations["1029TH"].thresholds == {2: 0.42}
    text = "\n".join(doc.warnings)
    for ref in ("50124", "E9740", "L3203"):
        assert f"{ref}: typical range" in text
    # read at 09:00 while the newest reading in the document is 15:45: older than 6 h
    for ref in ("49129", "2175", "E21136"):
        assert f"{ref}: stale" in text
    for ref in ("E60601", "4873"):
        assert f"{ref}: no reading" in text


def test_usgs_gage_height_in_metres() -> None:
    doc = usgs.parse(
        (DATA / "waterservices_iv_latest_01491000_01645000_2020-02-13.json").read_bytes()
    )
    # discharge (00060) is not a water level and is left out
    sites = {r.station_id for r in doc.readings}
    assert sites and sites <= {"01491000", "01645000"}
    raw = json.loads(
        (DATA / "waterservices_iv_latest_01491000_01645000_2020-02-13.json").read_text()
    )
    feet = [
        float(v["value"])
        for ts in raw["value"]["timeSeries"]
        if ts["variable"]["variableCode"][0]["value"] == "00065"
        for block in ts["values"]
        for v in block["value"]
    ]
    assert sorted(r.level_m or 0 for r in doc.readings) == sorted(
        round(f * 0.3048, 4) for f in feet
    )
    assert all(r.quality is Quality.PROVISIONAL for r in doc.readings)
    ranged = usgs.parse(
        (DATA / "waterservices_iv_range_01491000_01645000_2019-02-14.json").read_bytes()
    )
    assert all(r.quality is Quality.OK for r in ranged.readings) and len(ranged.readings) >= 5


def test_generic_json_and_csv_by_field_paths() -> None:
    # synthetic: a municipality's own gauge API
    paths = generic.FieldPaths(
        id_field="station.id",
        time_field="t",
        level_field="obs.level",
        items_path="data.points",
        quality_field="obs.q",
        valid_quality=("0",),
    )
    body = {
        "data": {
            "points": [
                {
                    "station": {"id": "N1"},
                    "t": "2026-07-01T02:00:00",
                    "obs": {"level": 3.2, "q": 0},
                },
                {"station": {"id": "N1"}, "t": "2026-07-01T02:10:00", "obs": {"level": 0, "q": 9}},
                {"station": {}, "t": "2026-07-01T02:10:00", "obs": {"level": 1}},
            ]
        }
    }
    doc = generic.parse_json(json.dumps(body).encode(), paths, tz=JST)
    assert [(r.level_m, r.quality) for r in doc.readings] == [
        (3.2, Quality.OK),
        (None, Quality.INVALID),
    ]
    assert doc.readings[0].observed_at.utcoffset() == dt.timedelta(hours=9)
    assert len(doc.warnings) == 1
    csv_paths = generic.FieldPaths(id_field="id", time_field="time", level_field="level")
    doc = generic.parse_csv(
        b"id,time,level\nN1,2026-07-01T02:00:00+09:00,3.3\nN1,2026-07-01T02:10:00+09:00,\n",
        csv_paths,
        tz=JST,
    )
    assert [(r.level_m, r.quality) for r in doc.readings] == [
        (3.3, Quality.OK),
        (None, Quality.MISSING),
    ]
    with pytest.raises(GaugeDataInvalid, match="level"):
        generic.parse_csv(b"id,time\n", csv_paths, tz=JST)
