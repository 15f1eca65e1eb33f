"""The 町名 part of an address, which groups the door-knock sheet."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alertsvc.reports.followup import NO_DISTRICT, district_of


@pytest.mark.parametrize(
    ("address", "district"),
    [
        ("福岡県直方市古町4番5号", "古町"),
        ("福岡県直方市植木19番12号", "植木"),
        ("福岡県鞍手郡小竹町大字勝野1234", "勝野"),
        ("東京都世田谷区太子堂１－２－３", "太子堂"),
        ("北海道札幌市中央区北一条西2丁目", "北一条西"),
        ("大阪府大阪市北区梅田三丁目1番", "梅田"),
        ("直方市新町一丁目", "新町"),
        ("", NO_DISTRICT),
        ("福岡県直方市", NO_DISTRICT),
    ],
)
def test_district_of(address: str, district: str) -> None:
    assert district_of(address) == district


@given(st.text(max_size=60))
def test_district_of_never_raises_and_never_returns_blank(address: str) -> None:
    got = district_of(address)
    assert got and got.strip()
