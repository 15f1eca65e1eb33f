"""SMS unit counting and segmenting: GSM-7 vs UCS-2, 160/153 and 70/67."""

from __future__ import annotations

import pytest

from alertsvc.planning.sms import encoding_of, sms_segments, sms_units, split_sms


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", (1, "GSM-7")),
        ("a" * 160, (1, "GSM-7")),
        ("a" * 161, (2, "GSM-7")),
        ("a" * 306, (2, "GSM-7")),
        ("a" * 307, (3, "GSM-7")),
        # extension characters cost two septets
        ("[" * 80, (1, "GSM-7")),
        ("[" * 81, (2, "GSM-7")),
        ("€" + "a" * 158, (1, "GSM-7")),
        ("€" + "a" * 159, (2, "GSM-7")),
        # Japanese: 70 in one message, 67 per part
        ("あ" * 70, (1, "UCS-2")),
        ("あ" * 71, (2, "UCS-2")),
        ("あ" * 134, (2, "UCS-2")),
        ("あ" * 135, (3, "UCS-2")),
        ("あ" * 201, (3, "UCS-2")),
        ("あ" * 202, (4, "UCS-2")),
        # one non-GSM character turns the whole text into UCS-2
        ("a" * 69 + "ç", (1, "UCS-2")),
        ("a" * 70 + "ç", (2, "UCS-2")),
        # outside the BMP: a surrogate pair, two units
        ("𠮷" * 35, (1, "UCS-2")),
        ("𠮷" * 36, (2, "UCS-2")),
    ],
)
def test_segments(text: str, expected: tuple[int, str]) -> None:
    assert sms_segments(text) == expected


def test_gsm_basic_accents_stay_gsm() -> None:
    assert encoding_of("Ñandù à été") == "GSM-7"
    assert encoding_of("ú") == "UCS-2"  # ù is GSM-7, ú is not
    assert encoding_of("Việt") == "UCS-2"


def test_units() -> None:
    assert sms_units("ab{") == 4
    assert sms_units("あ𠮷") == 3


def test_split_never_breaks_escape_or_surrogate() -> None:
    parts = split_sms("a" * 152 + "[" + "b" * 10)
    assert parts[0] == "a" * 152  # the escape pair moves whole to part two
    assert parts[1].startswith("[")
    parts = split_sms("あ" * 66 + "𠮷" + "い" * 10)
    assert parts[0] == "あ" * 66
    assert parts[1].startswith("𠮷")
    assert "".join(parts) == "あ" * 66 + "𠮷" + "い" * 10
