"""Generate the FICTIONAL demo 避難行動要支援者名簿 for 直方市 (``recipients/register.csv``).

Every person, address, phone number and push token in the output is made up. Phone numbers
are valid for libphonenumber (so the importer accepts them) but randomly drawn: landlines
use the 0949-00-xxxx block, which is never assigned in practice (a local number cannot
start with 0); mobiles are random and must only ever be reached through the loopback
provider simulator or the exercise allow-list.

Deterministic for a given ``--seed``: the same seed and zone files give the same bytes.
About 60% of the located residents fall inside the synthetic flood zones (every depth
rank, some in the house-collapse strips), the rest anywhere in the city; 5 are unlocated.

Usage::

    .venv/bin/python scripts/gen_demo_register.py [--seed 2024] [--count 300]
        [--out recipients/register.csv] [--encoding utf-8|cp932] [--zones zones]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import random
import string
import unicodedata
from pathlib import Path
from typing import Any

import phonenumbers
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

ROOT = Path(__file__).resolve().parent.parent
# fixed reference date so that ages (and the file) do not drift with the calendar
REFERENCE_DATE = dt.date(2025, 6, 1)
CITY_BOUNDS = (130.69, 33.70, 130.78, 33.80)  # lon min, lat min, lon max, lat max

HEADER = [
    "名簿番号",
    "氏名",
    "ふりがな",
    "生年月日",
    "性別",
    "住所",
    "緯度",
    "経度",
    "居住階",
    "電話番号",
    "携帯電話",
    "FCMトークン",
    "言語",
    "連絡手段",
    "要配慮事由",
    "支援者氏名",
    "支援者電話",
    "同意",
    "FAX番号",
    "LINEユーザーID",
    "メールアドレス",
]

TOWNS = [
    "殿町",
    "新町",
    "須崎町",
    "山部",
    "感田",
    "頓野",
    "下境",
    "上境",
    "植木",
    "中泉",
    "知古",
    "溝堀",
    "津田町",
    "日吉町",
    "古町",
    "丸山町",
    "下新入",
    "上新入",
]

FAMILY = [
    ("田中", "たなか"),
    ("中村", "なかむら"),
    ("古賀", "こが"),
    ("松尾", "まつお"),
    ("井上", "いのうえ"),
    ("山本", "やまもと"),
    ("吉田", "よしだ"),
    ("渡辺", "わたなべ"),
    ("原田", "はらだ"),
    ("野田", "のだ"),
    ("石橋", "いしばし"),
    ("江口", "えぐち"),
    ("末松", "すえまつ"),
    ("花田", "はなだ"),
    ("安部", "あべ"),
    ("木村", "きむら"),
    ("藤井", "ふじい"),
    ("森", "もり"),
    ("平田", "ひらた"),
    ("村上", "むらかみ"),
    ("柴田", "しばた"),
    ("大塚", "おおつか"),
    ("林", "はやし"),
    ("坂本", "さかもと"),
    ("宮崎", "みやざき"),
    ("堤", "つつみ"),
    ("有吉", "ありよし"),
    ("白石", "しらいし"),
]
GIVEN_F = [
    ("和子", "かずこ"),
    ("幸子", "さちこ"),
    ("節子", "せつこ"),
    ("久子", "ひさこ"),
    ("トシ子", "としこ"),
    ("キヨ", "きよ"),
    ("チヨ", "ちよ"),
    ("美代子", "みよこ"),
    ("文子", "ふみこ"),
    ("恵子", "けいこ"),
    ("静江", "しずえ"),
    ("ハツエ", "はつえ"),
    ("由美", "ゆみ"),
    ("真由美", "まゆみ"),
]
GIVEN_M = [
    ("弘", "ひろし"),
    ("清", "きよし"),
    ("茂", "しげる"),
    ("勇", "いさむ"),
    ("正雄", "まさお"),
    ("忠", "ただし"),
    ("武", "たけし"),
    ("博", "ひろし"),
    ("進", "すすむ"),
    ("義男", "よしお"),
    ("健一", "けんいち"),
    ("誠", "まこと"),
]
# foreign residents per language: (family, given) pairs written the way a register would
FOREIGN: dict[str, list[tuple[str, str]]] = {
    "en": [("SMITH", "Margaret"), ("BROWN", "David"), ("WILSON", "Helen")],
    "zh": [("李", "秀英"), ("王", "建国"), ("張", "麗華")],
    "ko": [("金", "英子"), ("朴", "正浩"), ("崔", "順子")],
    "vi": [("NGUYEN", "VAN AN"), ("TRAN", "THI HOA"), ("PHAM", "MINH DUC")],
    "pt": [("SILVA", "MARIA APARECIDA"), ("SANTOS", "JOSE CARLOS"), ("OLIVEIRA", "ANA")],
    "tl": [("SANTOS", "MARIA CRISTINA"), ("REYES", "JOSEFINA"), ("BAUTISTA", "ROSALIE")],
}
SUPPORTER_NAMES = [
    "田中 聡",
    "中村 美穂",
    "古賀 大輔",
    "松尾 直子",
    "井上 隆",
    "民生委員 山下 恵美",
    "自治会長 平野 修",
    "吉田 智子",
    "原田 浩二",
    "花田 裕子",
]
LANG_WEIGHTS = {"ja": 80, "ja-easy": 8, "en": 2, "zh": 2, "ko": 2, "vi": 2, "pt": 2, "tl": 2}
NEED_RATES = {
    "wheelchair": 0.15,
    "bedridden": 0.08,
    "hearing": 0.07,
    "sight": 0.06,
    "cognitive": 0.12,
    "lives_alone": 0.35,
}
NEED_JA = {
    "wheelchair": "車いす",
    "bedridden": "寝たきり",
    "hearing": "聴覚",
    "sight": "視覚",
    "cognitive": "認知症",
    "language": "外国語",
    "lives_alone": "独居",
}
ERAS = [("令和", "R", 2019), ("平成", "H", 1989), ("昭和", "S", 1926), ("大正", "T", 1912)]
ERA_START = {
    "令和": dt.date(2019, 5, 1),
    "平成": dt.date(1989, 1, 8),
    "昭和": dt.date(1926, 12, 25),
    "大正": dt.date(1912, 7, 30),
}


def _load_zones(zones_dir: Path) -> tuple[dict[int, list[BaseGeometry]], list[BaseGeometry]]:
    flood: dict[int, list[BaseGeometry]] = {}
    doc = json.loads((zones_dir / "nogata_flood_synthetic.geojson").read_text("utf-8"))
    for feature in doc["features"]:
        rank = int(feature["properties"]["depth_rank"])
        flood.setdefault(rank, []).append(shape(feature["geometry"]))
    doc = json.loads((zones_dir / "nogata_house_collapse_synthetic.geojson").read_text("utf-8"))
    collapse = [shape(f["geometry"]) for f in doc["features"]]
    return flood, collapse


def _point_in(rng: random.Random, geom: BaseGeometry) -> tuple[float, float]:
    min_x, min_y, max_x, max_y = geom.bounds
    for _ in range(10_000):
        lon = round(rng.uniform(min_x, max_x), 6)
        lat = round(rng.uniform(min_y, max_y), 6)
        if geom.contains(Point(lon, lat)):
            return lat, lon
    raise RuntimeError("could not sample a point inside a zone polygon")


def _mobile(rng: random.Random) -> str:
    while True:
        number = f"0{rng.choice('987')}0-{rng.randint(1000, 9999)}-{rng.randint(0, 9999):04d}"
        parsed = phonenumbers.parse(number, "JP")
        if (
            phonenumbers.is_valid_number(parsed)
            and phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.MOBILE
        ):
            return number


def _landline(rng: random.Random) -> str:
    # 0949 is Nogata's area code; the "00" exchange is never assigned (fictional block)
    return f"0949-00-{rng.randint(0, 9999):04d}"


def _ip_phone(rng: random.Random) -> str:
    return f"050-{rng.randint(1000, 9999)}-{rng.randint(0, 9999):04d}"


def _token(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits + "-_"
    head = "".join(rng.choice(alphabet) for _ in range(22))
    tail = "".join(rng.choice(alphabet) for _ in range(134))
    return f"{head}:APA91b{tail}"


def _full_width(text: str) -> str:
    # some municipal systems export full-width digits and hyphens
    return text.translate(str.maketrans("0123456789-", "０１２３４５６７８９－"))


def _birth(rng: random.Random, age: int) -> str:
    days = rng.randint(0, 364)
    born = REFERENCE_DATE.replace(year=REFERENCE_DATE.year - age - 1) + dt.timedelta(days=days)
    style = rng.random()
    if style < 0.25:
        return born.isoformat()
    era, abbrev, _start = next(e for e in ERAS if born >= ERA_START[e[0]])
    year = born.year - ERA_START[era].year + 1
    if style < 0.75:
        year_text = "元" if year == 1 else str(year)
        return f"{era}{year_text}年{born.month}月{born.day}日"
    return f"{abbrev}{year}.{born.month}.{born.day}"


def generate(seed: int, count: int, zones_dir: Path) -> list[list[str]]:
    """Return the register rows (header first)."""
    rng = random.Random(seed)
    # FAX / LINE / e-mail (issue 11) come from their own stream, so that every other cell
    # of the register stays what it was before those columns existed
    reach = random.Random(seed + 11)
    flood, collapse = _load_zones(zones_dir)
    ranks = sorted(flood)
    rows: list[list[str]] = [HEADER]
    unlocated = set(rng.sample(range(count), 5))
    # a few hearing-impaired people with a landline only: they have no working channel
    deaf_landline = set(rng.sample([i for i in range(count) if i not in unlocated], 4))
    for i in range(count):
        language = rng.choices(list(LANG_WEIGHTS), weights=list(LANG_WEIGHTS.values()))[0]
        young = rng.random() < 0.08
        age = rng.randint(20, 64) if young else min(100, int(rng.triangular(65, 101, 80)))
        female = rng.random() < (0.5 if young else 0.62)
        foreign_lang = language if language not in ("ja", "ja-easy") else None
        if language == "ja-easy" and rng.random() < 0.6:
            foreign_lang = rng.choice(list(FOREIGN))
        if foreign_lang:
            family, given = rng.choice(FOREIGN[foreign_lang])
            name, kana = f"{family} {given}", ""
        else:
            family_kana = rng.choice(FAMILY)
            given_kana = rng.choice(GIVEN_F if female else GIVEN_M)
            name = f"{family_kana[0]} {given_kana[0]}"
            kana = f"{family_kana[1]} {given_kana[1]}"

        needs = [n for n, rate in NEED_RATES.items() if rng.random() < rate]
        if young and not set(needs) & {"wheelchair", "hearing", "sight", "cognitive"}:
            needs.append(rng.choice(["wheelchair", "hearing", "sight", "cognitive"]))
        if foreign_lang and rng.random() < 0.7:
            needs.append("language")
        if i in deaf_landline and "hearing" not in needs:
            needs.append("hearing")

        # contacts: the oldest mostly have a landline only
        weights = [10, 25, 50, 8, 5, 2] if age >= 80 else [40, 35, 10, 8, 3, 4]
        kinds = ["push+mobile", "mobile", "landline", "landline+mobile", "none", "ip"]
        contact = rng.choices(kinds, weights=weights)[0]
        if i in deaf_landline:
            contact = "landline"
        elif "hearing" in needs and contact in ("landline", "ip", "none"):
            contact = rng.choice(["push+mobile", "mobile"])  # most have a text channel
        landline = mobile = token = ""
        if contact in ("landline", "landline+mobile"):
            landline = _landline(rng)
        if contact == "ip":
            landline = _ip_phone(rng)
        if contact in ("mobile", "push+mobile", "landline+mobile"):
            mobile = _mobile(rng)
        if contact == "push+mobile":
            token = _token(rng)
        if rng.random() < 0.05:
            landline, mobile = _full_width(landline), _full_width(mobile)

        channels = ""
        if rng.random() < 0.2 and contact != "none":
            if "sight" in needs and "hearing" not in needs and contact != "push+mobile":
                channels = "voice"
            elif contact == "push+mobile":
                channels = "push;sms"
            elif contact in ("mobile", "landline+mobile"):
                channels = "sms;voice"
            elif "hearing" not in needs:
                channels = "voice"

        if i in unlocated:
            lat_text = lon_text = ""
        else:
            pick = rng.random()
            if pick < 0.05:
                lat, lon = _point_in(rng, rng.choice(collapse))
            elif pick < 0.60:
                lat, lon = _point_in(rng, rng.choice(flood[rng.choice(ranks)]))
            else:
                lon = round(rng.uniform(CITY_BOUNDS[0], CITY_BOUNDS[2]), 6)
                lat = round(rng.uniform(CITY_BOUNDS[1], CITY_BOUNDS[3]), 6)
            lat_text, lon_text = f"{lat:.6f}", f"{lon:.6f}"

        floor = rng.choices(["1", "2", "3", "4", "5"], weights=[60, 25, 7, 5, 3])[0]
        if "bedridden" in needs or "wheelchair" in needs:
            floor = rng.choices(["1", "2", "3"], weights=[80, 15, 5])[0]

        sup_names: list[str] = []
        sup_phones: list[str] = []
        if rng.random() < 0.6:
            n_sup = 2 if rng.random() < 0.2 else 1
            sup_names = rng.sample(SUPPORTER_NAMES, n_sup)
            if rng.random() < 0.9:
                sup_phones = [
                    _mobile(rng) if rng.random() < 0.8 else _landline(rng) for _ in sup_names
                ]
        consent = rng.choices(["はい", "いいえ", ""], weights=[80, 10, 10])[0]
        language_cell = {"ja": "", "ja-easy": "やさしい日本語"}.get(language, language)
        if language_cell and rng.random() < 0.3 and language not in ("ja", "ja-easy"):
            language_cell = {
                "en": "英語",
                "zh": "中国語",
                "ko": "韓国語",
                "vi": "ベトナム語",
                "pt": "ポルトガル語",
                "tl": "タガログ語",
            }[language]
        town = rng.choice(TOWNS)
        address = f"福岡県直方市{town}{rng.randint(1, 30)}番{rng.randint(1, 20)}号"
        if rng.random() < 0.3:
            address = f"福岡県直方市大字{town}{rng.randint(100, 2999)}番地"
        rows.append(
            [
                f"NG{i + 1:05d}",
                name,
                kana,
                _birth(rng, age),
                "女" if female else "男",
                address,
                lat_text,
                lon_text,
                floor,
                landline,
                mobile,
                token,
                language_cell,
                channels,
                "、".join(NEED_JA[n] for n in needs),
                ";".join(sup_names),
                ";".join(sup_phones),
                consent,
                *_reach_cells(reach, i, needs, landline),
            ]
        )
    return rows


def _reach_cells(rng: random.Random, i: int, needs: list[str], landline: str) -> list[str]:
    """FAX番号, LINEユーザーID, メールアドレス: most deaf residents with a landline have a
    FAX (often on the same line: the next number here), some follow the city's LINE
    account, a few take the 防災メール."""
    fax = line = mail = ""
    if "hearing" in needs and landline and rng.random() < 0.6:
        digits = "".join(ch for ch in unicodedata.normalize("NFKC", landline) if ch.isdigit())
        fax = f"{digits[:-4]}{(int(digits[-4:]) + 1) % 10000:04d}"
    if rng.random() < 0.12:
        line = "U" + "".join(rng.choice("0123456789abcdef") for _ in range(32))
    if rng.random() < 0.08:
        mail = f"resident{i + 1:05d}@example.jp"
    return [fax, line, mail]


def render(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    # CRLF, as spreadsheet software and municipal systems write it
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--out", type=Path, default=ROOT / "recipients" / "register.csv")
    parser.add_argument("--encoding", choices=["utf-8", "cp932"], default="utf-8")
    parser.add_argument("--zones", type=Path, default=ROOT / "zones")
    args: Any = parser.parse_args(argv)
    if args.count < 10:
        parser.error("--count must be at least 10")
    rows = generate(args.seed, args.count, args.zones)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(render(rows).encode(args.encoding))
    print(f"wrote {len(rows) - 1} residents to {args.out} ({args.encoding})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
