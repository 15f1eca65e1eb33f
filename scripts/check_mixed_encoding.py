"""Measure the mixed-encoding check of alertsvc.textdecode on the demo register.

Prints (1) false alarms on adversarial CP932 lines (every JIS level-2 kanji whose bytes look
like the start of a UTF-8 sequence, placed before, inside and after 100 demo names) and
(2) how many single-character UTF-8 strays in demo names and addresses are caught, among
those that leave the line decodable as CP932. Run: .venv/bin/python scripts/check_mixed_encoding.py
"""

from __future__ import annotations

import csv
from pathlib import Path

from alertsvc.textdecode import _find_utf8_in_cp932, _is_japanese

REGISTER = Path(__file__).resolve().parents[1] / "recipients" / "register.csv"


def main() -> None:
    with REGISTER.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    names = [r["氏名"] for r in rows]
    addresses = [r["住所"] for r in rows]
    level2: list[str] = []
    for lead in range(0xE3, 0xEA):
        for trail in range(0x80, 0xC0):
            try:
                level2.append(bytes([lead, trail]).decode("cp932"))
            except UnicodeDecodeError:
                continue
    alarms = lines = 0
    for kanji in level2:
        for name in names[:100]:
            for text in (kanji + name, name + kanji, name[:2] + kanji + name[2:]):
                try:
                    data = f"R1,{text},{addresses[0]},0949-00-1111\r\n".encode("cp932")
                except UnicodeEncodeError:
                    continue
                lines += 1
                alarms += _find_utf8_in_cp932(data) is not None
    print(f"false alarms: {alarms} of {lines} adversarial CP932 lines")
    caught = strays = 0
    for text in names + addresses:
        for i, ch in enumerate(text):
            if not _is_japanese(ch):
                continue
            try:
                data = (
                    b"R1,"
                    + text[:i].encode("cp932")
                    + ch.encode("utf-8")
                    + text[i + 1 :].encode("cp932")
                    + f",{addresses[1]},0949-00-1111\r\n".encode("cp932")
                )
                data.decode("cp932")
            except UnicodeError:
                continue  # refused anyway: the line is not CP932 at all
            strays += 1
            caught += _find_utf8_in_cp932(data) is not None
    print(f"strays caught: {caught} of {strays} ({100 * caught / strays:.0f} %)")


if __name__ == "__main__":
    main()
