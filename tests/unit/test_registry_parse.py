from __future__ import annotations

import pytest

from alertsvc.errors import RowError
from alertsvc.models import ChannelName, ContactKind, Need
from alertsvc.registry.csv_import import decode_register, parse_register

HEAD = "名簿番号,氏名,住所,緯度,経度,電話番号,携帯電話,要配慮事由,連絡手段,支援者氏名,支援者電話"


def _csv(*rows: str, head: str = HEAD) -> str:
    return "\n".join([head, *rows]) + "\n"


def _errors(text: str) -> list[tuple[int, str, str]]:
    return [(e.line, e.column, e.message) for e in parse_register(text).errors]


def _one_error(text: str) -> RowError:
    errors = parse_register(text).errors
    assert len(errors) == 1, errors
    return errors[0]


def test_good_row_is_normalised() -> None:
    result = parse_register(
        _csv(
            "Ｒ１,直方 太郎 , 直方市殿町1-1 ,３３．７４,130.73,,０９０−１２３４−５６７８,"
            "車いす、独居,sms;voice,"
            "山田;佐藤,090-1111-2222;0949-00-1234"
        )
    )
    assert result.errors == []
    (rec,) = result.records
    assert (rec.id, rec.name, rec.address) == ("R1", "直方 太郎", "直方市殿町1-1")
    assert (rec.lat, rec.lon, rec.line) == (33.74, 130.73, 2)
    assert rec.needs == (Need.LIVES_ALONE, Need.WHEELCHAIR)
    assert rec.channel_pref == (ChannelName.SMS, ChannelName.VOICE)
    assert [(c.kind, c.address) for c in rec.contacts] == [(ContactKind.MOBILE, "+819012345678")]
    assert [(s.name, s.phone, s.phone_kind) for s in rec.supporters] == [
        ("山田", "+819011112222", ContactKind.MOBILE),
        ("佐藤", "+81949001234", ContactKind.LANDLINE),
    ]


def test_english_headers_in_any_order() -> None:
    text = (
        "address,id,name,mobile,language,needs,consent\n"
        "A-1,E1,Jane,090-1234-5678,英語,hearing,yes\n"
    )
    result = parse_register(text)
    assert result.errors == []
    (rec,) = result.records
    assert (rec.id, rec.language, rec.needs, rec.consent) == ("E1", "en", (Need.HEARING,), True)


def test_missing_required_columns_one_error_each() -> None:
    assert _errors("氏名,電話番号\nx,0949-22-1111\n") == [
        (1, "名簿番号", "required column 名簿番号/id is missing"),
        (1, "住所", "required column 住所/address is missing"),
    ]


def test_duplicate_header_is_an_error() -> None:
    err = _one_error("名簿番号,氏名,住所,name\n1,a,b,c\n")
    assert (err.line, err.column) == (1, "name")
    assert "duplicate column" in err.message


def test_unknown_column_is_a_warning() -> None:
    result = parse_register("名簿番号,氏名,住所,備考\n1,a,b,memo\n")
    assert result.errors == []
    assert [(w.line, w.column) for w in result.warnings if w.line == 1] == [(1, "備考")]


@pytest.mark.parametrize("text", ["", "\n\n", "名簿番号,氏名,住所\n", "名簿番号,氏名,住所\n\n,,\n"])
def test_empty_or_header_only(text: str) -> None:
    result = parse_register(text)
    assert result.fatal
    assert result.records == []
    assert len(result.errors) == 1
    assert "empty file" in result.errors[0].message or "no residents" in result.errors[0].message


def test_duplicate_id_names_the_first_line() -> None:
    rows = [f"{rid},a,b,,,0949-22-1111,,,,," for rid in ("A1", "A2", "A1")]
    err = _one_error(_csv(*rows))
    assert err.line == 4
    assert err.column == "名簿番号"
    assert "already on line 2" in err.message


def test_line_numbers_count_lines_inside_quoted_cells() -> None:
    head = "名簿番号,氏名,住所,携帯電話"
    text = f'{head}\n1,a,"直方市\n殿町\n1-1",\n2,b,c,090-123\n'
    result = parse_register(text)
    (err,) = result.errors
    assert (err.line, err.column) == (5, "携帯電話")
    assert result.records[0].address == "直方市 殿町 1-1"


def test_truncated_last_line() -> None:
    text = "名簿番号,氏名,住所,携帯電話,同意\n1,a,b,090-1234-5678,はい\n2,c,d,090-12"
    err = _one_error(text)
    assert err.line == 3
    assert "fewer than the 5 columns" in err.message


def test_truncated_inside_an_open_quote() -> None:
    text = '名簿番号,氏名,住所\n1,a,b\n2,"cut off'
    err = _one_error(text)
    assert err.line == 3
    assert "truncated" in err.message


@pytest.mark.parametrize(
    ("lat", "lon", "column", "fragment"),
    [
        ("130.7", "33.7", "緯度", "look swapped"),
        ("91", "130.7", "緯度", "outside Japan"),
        ("33.7", "200", "経度", "outside Japan"),
        ("33.7", "", "経度", "both be given"),
        ("north", "130.7", "緯度", "not a decimal number"),
        ("nan", "130.7", "緯度", "not a finite number"),
    ],
)
def test_absurd_coordinates(lat: str, lon: str, column: str, fragment: str) -> None:
    err = _one_error(_csv(f"1,a,b,{lat},{lon},0949-22-1111,,,,,"))
    assert (err.line, err.column) == (2, column)
    assert fragment in err.message


def test_unlocated_is_kept_with_a_warning() -> None:
    result = parse_register(_csv("1,a,b,,,0949-22-1111,,,,,"))
    assert result.errors == []
    assert not result.records[0].located
    assert any("unlocated" in w.message for w in result.warnings)


@pytest.mark.parametrize(
    ("landline", "mobile", "needs", "channels", "column", "fragment"),
    [
        ("", "0949-22-1111", "", "", "携帯電話", "not a mobile number"),
        ("090-1234-567", "", "", "", "電話番号", "not a valid number"),
        ("0949-22-1111", "", "", "sms", "連絡手段", "needs a mobile number"),
        ("0949-22-1111", "", "聴覚", "voice", "連絡手段", "hearing-impaired"),
        ("0949-22-1111", "", "", "pigeon", "連絡手段", "unknown 連絡手段"),
        ("0949-22-1111", "", "腰痛", "", "要配慮事由", "unknown 要配慮事由"),
    ],
)
def test_contact_and_preference_errors(
    landline: str, mobile: str, needs: str, channels: str, column: str, fragment: str
) -> None:
    err = _one_error(_csv(f"1,a,b,,,{landline},{mobile},{needs},{channels},,"))
    assert (err.line, err.column) == (2, column)
    assert fragment in err.message


def test_no_working_channel_is_imported_and_flagged() -> None:
    result = parse_register(
        _csv("1,a,b,33.7,130.7,0949-22-1111,,聴覚,,,", "2,c,d,33.7,130.7,,,,,,")
    )
    assert result.errors == []
    assert [r.id for r in result.records] == ["1", "2"]
    flagged = [w.line for w in result.warnings if "no working channel" in w.message]
    assert flagged == [2, 3]


def test_mobile_in_landline_column_is_typed_mobile_with_warning() -> None:
    result = parse_register(_csv("1,a,b,,,090-1234-5678,,,sms,,"))
    assert result.errors == []
    assert result.records[0].contacts[0].kind == ContactKind.MOBILE
    assert any(w.column == "電話番号" and "typed mobile" in w.message for w in result.warnings)


def test_supporter_count_mismatch() -> None:
    err = _one_error(_csv("1,a,b,,,0949-22-1111,,,,山田、佐藤,090-1111-2222"))
    assert err.column == "支援者電話"
    assert "1 supporter phone(s) for 2 supporter name(s)" in err.message


def test_supporters_without_phones_are_fine() -> None:
    result = parse_register(_csv("1,a,b,,,0949-22-1111,,,,山田;佐藤,"))
    assert [(s.name, s.phone) for s in result.records[0].supporters] == [
        ("山田", None),
        ("佐藤", None),
    ]


def test_formula_and_sql_strings_are_stored_verbatim() -> None:
    name = "=cmd|' /C calc'!A0"
    address = "'; DROP TABLE residents; --"
    text = _csv(f'1,"{name}","{address}",,,0949-22-1111,,,,"+SUM(A1:A9)","@x"')
    result = parse_register(text)
    # the supporter phone "@x" is not a phone: that is an error; the text fields are data
    assert [(e.column, "only digits" in e.message) for e in result.errors] == [("支援者電話", True)]
    text = _csv(f'1,"{name}","{address}",,,0949-22-1111,,,,"+SUM(A1:A9)",')
    (rec,) = parse_register(text).records
    assert (rec.name, rec.address, rec.supporters[0].name) == (name, address, "+SUM(A1:A9)")


def test_every_bad_row_is_reported() -> None:
    text = _csv(
        "1,a,b,,,090-1234-567,,,,,",
        "2,,b,,,0949-22-1111,,,,,",
        "3,c,d,130,33,0949-22-1111,,,,,",
        "4,e,f,,,0949-22-1111,,,,,",
    )
    result = parse_register(text)
    assert [(e.line, e.column) for e in result.errors] == [
        (2, "電話番号"),
        (3, "氏名"),
        (4, "緯度"),
    ]
    # a bad optional cell (phone, coordinates) keeps the resident, cleared and flagged;
    # only the row without a name is rejected (#7 item 6)
    assert [(r.id, bool(r.review)) for r in result.records] == [
        ("1", True),
        ("3", True),
        ("4", False),
    ]
    assert [(r.line, r.resident_id) for r in result.rejected] == [(3, "2")]
    assert result.bad_ids == {"2"}
    assert result.id_damaged == []


@pytest.mark.parametrize(
    ("column", "value", "fragment"),
    [
        ("性別", "?", "男/女/その他"),
        ("同意", "maybe", "はい/いいえ"),
        ("言語", "klingon", "unknown language"),
        ("居住階", "屋上", "not a floor"),
        ("居住階", "0", "out of range"),
        ("生年月日", "昭和70年1月1日", "outside the 昭和 era"),
        ("FCMトークン", "abc", "characters"),
    ],
)
def test_field_errors(column: str, value: str, fragment: str) -> None:
    err = _one_error(f"名簿番号,氏名,住所,電話番号,{column}\n1,a,b,0949-22-1111,{value}\n")
    assert (err.line, err.column) == (2, column)
    assert fragment in err.message


def test_floor_forms() -> None:
    text = "名簿番号,氏名,住所,居住階\n1,a,b,２階\n2,a,b,地下1\n3,a,b,B2\n"
    assert [r.floor for r in parse_register(text).records] == [2, -1, -2]


# --- decoding ---


def test_decode_auto() -> None:
    body = "名簿番号,氏名\n"
    assert decode_register(body.encode("utf-8")) == (body, "utf-8")
    assert decode_register(b"\xef\xbb\xbf" + body.encode("utf-8")) == (body, "utf-8-sig")
    assert decode_register(body.encode("cp932")) == (body, "cp932")


def test_decode_neither_utf8_nor_cp932() -> None:
    data = "名簿番号,氏名\n".encode() + b"1,\x81\x20\n"
    with pytest.raises(
        ValueError, match=r"cannot decode as UTF-8 or CP932 \(byte offset \d+, line 2\)"
    ):
        decode_register(data)


def test_decode_forced_encoding_names_the_line() -> None:
    data = "id,name,address\n1,a,b\n2,直方,c\n".encode("cp932")
    with pytest.raises(ValueError, match="line 3"):
        decode_register(data, "utf-8")


def test_decode_utf16_is_refused() -> None:
    with pytest.raises(ValueError, match="UTF-16"):
        decode_register("名簿番号".encode("utf-16"))


def test_damaged_utf8_is_refused_not_read_as_cp932() -> None:
    # a UTF-8 register with one broken byte must not become CP932 mojibake
    body = "名簿番号,氏名,住所\n" + "".join(
        f"{i},直方 花子,福岡県直方市殿町{i}\n" for i in range(20)
    )
    data = bytearray(body.encode("utf-8"))
    data[40] = 0xFF
    with pytest.raises(ValueError, match=r"invalid UTF-8 byte sequence at line \d+"):
        decode_register(bytes(data))
