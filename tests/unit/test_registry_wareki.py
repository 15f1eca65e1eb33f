from __future__ import annotations

import datetime as dt

import pytest

from alertsvc.registry.wareki import parse_date

TODAY = dt.date(2025, 6, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1941-03-02", dt.date(1941, 3, 2)),
        ("1941/3/2", dt.date(1941, 3, 2)),
        ("1941年3月2日", dt.date(1941, 3, 2)),
        ("昭和16年3月2日", dt.date(1941, 3, 2)),
        ("昭和１６年３月２日", dt.date(1941, 3, 2)),
        ("S16.3.2", dt.date(1941, 3, 2)),
        ("s16/3/2", dt.date(1941, 3, 2)),
        ("Ｓ１６．３．２", dt.date(1941, 3, 2)),
        ("㍼16年3月2日", dt.date(1941, 3, 2)),
        ("昭和元年12月25日", dt.date(1926, 12, 25)),
        ("昭和64年1月7日", dt.date(1989, 1, 7)),
        ("平成元年1月8日", dt.date(1989, 1, 8)),
        ("H31.4.30", dt.date(2019, 4, 30)),
        ("令和元年5月1日", dt.date(2019, 5, 1)),
        ("R2.2.29", dt.date(2020, 2, 29)),
        ("大正14年1月1日", dt.date(1925, 1, 1)),
        ("T1.7.30", dt.date(1912, 7, 30)),
        ("明治45年7月29日", dt.date(1912, 7, 29)),
        ("M40.1.1", dt.date(1907, 1, 1)),
    ],
)
def test_accepts_seireki_and_wareki(text: str, expected: dt.date) -> None:
    assert parse_date(text, today=TODAY) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("昭和65年1月1日", "outside the 昭和 era"),
        ("平成元年1月7日", "outside the 平成 era"),
        ("令和1年4月30日", "outside the 令和 era"),
        ("S16.2.30", "not a calendar date"),
        ("1941-13-01", "not a calendar date"),
        ("昭和十六年", "not a date"),
        ("X16.3.2", "not a date"),
        ("2030-01-01", "in the future"),
        ("yesterday", "expected 西暦"),
    ],
)
def test_refuses_with_a_reason(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_date(text, today=TODAY)


def test_empty_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        parse_date("  ", today=TODAY)
