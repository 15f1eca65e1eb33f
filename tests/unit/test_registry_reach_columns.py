"""Register columns of issue 11: FAX番号, LINEユーザーID, メールアドレス (validated), and
environment-dependent characters kept as written."""

from __future__ import annotations

import pytest

from alertsvc.models import ChannelName, ContactKind, Need
from alertsvc.registry.csv_import import parse_register

HEAD = (
    "名簿番号,氏名,住所,緯度,経度,電話番号,FAX番号,LINEユーザーID,メールアドレス,"
    "要配慮事由,連絡手段"
)
LINE_ID = "U" + "0123456789abcdef" * 2


def _csv(*rows: str) -> str:
    return "\n".join([HEAD, *rows]) + "\n"


def test_deaf_resident_with_landline_and_fax_is_reachable_by_fax() -> None:
    result = parse_register(
        _csv(
            f"1,髙﨑 花子,直方市殿町①-1,33.7,130.7,0949-22-1111,０９４９−２２−１１１２,"
            f"{LINE_ID},Hanako.T@Example.JP,聴覚,ファクス;line"
        )
    )
    assert result.errors == []
    (rec,) = result.records
    # environment-dependent characters are kept as written, never rejected
    assert (rec.name, rec.address) == ("髙﨑 花子", "直方市殿町①-1")
    assert rec.needs == (Need.HEARING,)
    assert rec.channel_pref == (ChannelName.FAX, ChannelName.LINE)
    assert [(c.kind, c.address) for c in rec.contacts] == [
        (ContactKind.LANDLINE, "+81949221111"),
        (ContactKind.FAX, "+81949221112"),
        (ContactKind.LINE, LINE_ID),
        (ContactKind.EMAIL, "Hanako.T@example.jp"),
    ]
    assert not any("no working channel" in w.message for w in result.warnings)


@pytest.mark.parametrize(
    ("fax", "line", "email", "column", "fragment"),
    [
        ("0949-22", "", "", "FAX番号", "not a valid number"),
        ("", "U123", "", "LINEユーザーID", "not a LINE user id"),
        ("", "u" + "0" * 32, "", "LINEユーザーID", "not a LINE user id"),
        ("", "", "taro@", "メールアドレス", "not an e-mail address"),
        ("", "", "taro.example.jp", "メールアドレス", "not an e-mail address"),
    ],
)
def test_bad_cells_name_line_and_column(
    fax: str, line: str, email: str, column: str, fragment: str
) -> None:
    errors = parse_register(_csv(f"1,a,b,,,0949-22-1111,{fax},{line},{email},,")).errors
    assert [(e.line, e.column) for e in errors] == [(2, column)]
    assert fragment in errors[0].message
