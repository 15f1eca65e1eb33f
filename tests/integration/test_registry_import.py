"""Register import on SQLite and PostgreSQL: upsert, deactivation, bad input writes nothing."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from alertsvc.db import session_scope
from alertsvc.db.tables import AuditEntry, Contact, Resident, Supporter
from alertsvc.models import ChannelName, ContactKind, Need
from alertsvc.registry import (
    RegisterImportFailed,
    import_register,
    load_residents,
    mark_contact_unhealthy,
)

ROOT = Path(__file__).resolve().parents[2]
HEAD = "名簿番号,氏名,住所,緯度,経度,電話番号,携帯電話,FCMトークン,要配慮事由,支援者氏名,支援者電話"
TOKEN = "fcmTOKENaaaaaaaaaaaaaaaa:APA91bzzzzzzzzzzzzzzzzzzzz"


def _write(
    tmp_path: Path, name: str, *rows: str, head: str = HEAD, encoding: str = "utf-8"
) -> Path:
    path = tmp_path / name
    path.write_bytes(("\r\n".join([head, *rows]) + "\r\n").encode(encoding))
    return path


BASE = (
    "R1,直方 太郎,直方市殿町1-1,33.74,130.73,,090-1111-2222,,独居,山田 花子,090-3333-4444",
    "R2,古賀 キヨ,直方市新町2-2,33.75,130.72,0949-00-1111,,,聴覚,,",
    "R3,花田 茂,直方市感田3-3,,,0949-00-2222,,,,,",
)


def _snapshot(engine: Engine) -> dict[str, list[Any]]:
    with session_scope(engine) as s:
        return {
            "residents": [
                (r.id, r.name, r.address, r.lat, r.lon, r.active, r.fingerprint, r.deactivated_at)
                for r in s.scalars(select(Resident).order_by(Resident.id))
            ],
            "contacts": [
                (c.resident_id, c.kind, c.address, c.position, c.healthy)
                for c in s.scalars(select(Contact).order_by(Contact.id))
            ],
            "supporters": [
                (p.resident_id, p.name, p.phone)
                for p in s.scalars(select(Supporter).order_by(Supporter.id))
            ],
            "audit": [(a.action, a.result) for a in s.scalars(select(AuditEntry))],
        }


@pytest.fixture
def seeded(engine: Engine, tmp_path: Path) -> Engine:
    report = import_register(engine, _write(tmp_path, "base.csv", *BASE))
    assert (report.added, report.written) == (3, True)
    return engine


def test_cp932_register_with_japanese_headers_imports(engine: Engine, data_dir: Path) -> None:
    report = import_register(engine, data_dir / "registry" / "small_cp932.csv")
    assert (report.added, report.changed, report.removed, report.errors) == (3, 0, 0, [])
    with session_scope(engine) as s:
        residents = {r.id: r for r in load_residents(s)}
    hanako = residents["T01"]
    assert hanako.name == "直方 花子"
    assert (hanako.lat, hanako.lon, hanako.floor) == (33.7441, 130.7295, 2)
    assert hanako.needs == frozenset({Need.LIVES_ALONE, Need.WHEELCHAIR})
    assert [(c.kind, c.address) for c in hanako.contacts] == [
        (ContactKind.LANDLINE, "+81949001234")
    ]
    assert [(p.name, p.phone, p.phone_kind) for p in hanako.supporters] == [
        ("山田 一郎", "+819012345678", ContactKind.MOBILE)
    ]
    assert residents["T02"].language == "ja-easy"
    assert residents["T02"].channel_pref == (ChannelName.SMS, ChannelName.VOICE)
    # unlocated residents are kept, never dropped
    assert not residents["T03"].located
    assert residents["T03"].language == "vi"


def test_english_bom_register_imports(engine: Engine, data_dir: Path) -> None:
    report = import_register(engine, data_dir / "registry" / "small_english_bom.csv")
    assert (report.added, report.errors) == (2, [])
    with session_scope(engine) as s:
        (jane, john) = load_residents(s)
    assert [c.kind for c in jane.contacts] == [ContactKind.PUSH, ContactKind.MOBILE]
    assert [p.name for p in john.supporters] == ["Amy", "Bob"]


def test_upsert_counts_deactivation_and_reactivation(seeded: Engine, tmp_path: Path) -> None:
    second = _write(
        tmp_path,
        "second.csv",
        BASE[0],  # unchanged
        "R2,古賀 キヨ,直方市新町2-2,33.75,130.72,0949-00-1111,090-5555-6666,,聴覚,,",  # changed
        "R4,新しい 人,直方市頓野4-4,33.76,130.74,,,,,,",  # added; R3 missing -> removed
    )
    report = import_register(seeded, second, allow_removals=True)
    assert (report.added, report.changed, report.removed, report.unchanged) == (1, 1, 1, 1)
    with session_scope(seeded) as s:
        active = [r.id for r in load_residents(s)]
        everyone = [r.id for r in load_residents(s, active_only=False)]
        r3 = s.get(Resident, "R3")
        assert r3 is not None
        assert (r3.active, r3.deactivated_at is not None) == (False, True)
        r2 = s.get(Resident, "R2")
        assert r2 is not None
        # R2 got a mobile: no longer "hearing-impaired with only a landline"
        assert r2.no_working_channel is False
        assert sorted(c.kind for c in r2.contacts) == ["landline", "mobile"]
    assert active == ["R1", "R2", "R4"]
    assert everyone == ["R1", "R2", "R3", "R4"]

    report = import_register(seeded, _write(tmp_path, "third.csv", *BASE), allow_removals=True)
    assert (report.added, report.changed, report.removed, report.unchanged) == (0, 2, 1, 1)
    with session_scope(seeded) as s:
        r3 = s.get(Resident, "R3")
        assert r3 is not None
        assert (r3.active, r3.deactivated_at) == (True, None)


def test_no_working_channel_is_stored(seeded: Engine) -> None:
    with session_scope(seeded) as s:
        flags = {r.id: r.no_working_channel for r in s.scalars(select(Resident))}
    assert flags == {"R1": False, "R2": True, "R3": False}


def _bad_files(tmp_path: Path) -> list[tuple[str, Path, list[tuple[int, str, str]]]]:
    good = BASE[0]
    cases = [
        (
            "wrong encoding",
            tmp_path / "latin1.csv",
            [(-1, "", "cannot decode as UTF-8 or CP932")],
        ),
        (
            "missing required column",
            _write(tmp_path, "nocol.csv", "R1,a", head="名簿番号,氏名"),
            [(1, "住所", "required column 住所/address is missing")],
        ),
        (
            "bad phone",
            _write(tmp_path, "phone.csv", good, "R9,a,b,33.7,130.7,0949-22-11,,,,,"),
            [(3, "電話番号", "not a valid number")],
        ),
        (
            "duplicate id",
            _write(tmp_path, "dup.csv", good, good),
            [(3, "名簿番号", "duplicate 名簿番号 'R1': already on line 2")],
        ),
        ("empty file", _write(tmp_path, "empty.csv", head=""), [(1, "", "empty file")]),
        (
            "header only",
            _write(tmp_path, "header.csv"),
            [(1, "", "header only: the file has no residents")],
        ),
        (
            "truncated file",
            tmp_path / "truncated.csv",
            [(4, "", "fewer than the 11 columns")],
        ),
        (
            "absurd coordinates",
            _write(tmp_path, "coords.csv", good, "R9,a,b,999,130.7,0949-22-1111,,,,,"),
            [(3, "緯度", "outside Japan")],
        ),
        (
            "swapped coordinates",
            _write(tmp_path, "swapped.csv", good, "R9,a,b,130.7,33.7,0949-22-1111,,,,,"),
            [(3, "緯度", "look swapped")],
        ),
        (
            "SQL in the phone column",
            _write(tmp_path, "sqlphone.csv", good, "R9,a,b,,,' OR '1'='1,,,,,"),
            [(3, "電話番号", "only digits")],
        ),
    ]
    (tmp_path / "latin1.csv").write_bytes(
        "id,name,address\n1,Jos\xe9,Nogata\n".encode("latin-1").replace(b"\xe9", b"\xe9\x2c\xff")
    )
    full = _write(tmp_path, "full.csv", *BASE).read_bytes()
    (tmp_path / "truncated.csv").write_bytes(full[: full.rindex(b"\r\n") - 15])
    return cases


def test_bad_input_writes_nothing(seeded: Engine, tmp_path: Path) -> None:
    before = _snapshot(seeded)
    for label, path, expected in _bad_files(tmp_path):
        with pytest.raises(RegisterImportFailed) as info:
            import_register(seeded, path)
        got = [(e.line, e.column, e.message) for e in info.value.report.errors]
        assert len(got) == len(expected), (label, got)
        for (line, column, message), (e_line, e_column, fragment) in zip(
            got, expected, strict=True
        ):
            assert (line, column) == (e_line, e_column), (label, got)
            assert fragment in message, (label, got)
        assert info.value.report.written is False
        # even --skip-invalid refuses a file that cannot be read as a whole
        if line <= 1:
            with pytest.raises(RegisterImportFailed):
                import_register(seeded, path, skip_invalid=True)
        assert _snapshot(seeded) == before, label


def test_one_bad_row_writes_nothing_and_names_the_row(seeded: Engine, tmp_path: Path) -> None:
    before = _snapshot(seeded)
    rows = [*BASE, "R4,a,b,33.7,130.7,,0949-22-1111,,,,", "R5,c,d,33.7,130.7,,,,,,"]
    with pytest.raises(RegisterImportFailed) as info:
        import_register(seeded, _write(tmp_path, "onebad.csv", *rows))
    (err,) = info.value.report.errors
    assert (err.line, err.column) == (5, "携帯電話")
    assert "not a mobile number" in err.message
    assert _snapshot(seeded) == before


def test_skip_invalid_writes_good_rows_and_keeps_bad_ones_active(
    seeded: Engine, tmp_path: Path
) -> None:
    rows = [
        BASE[0],
        "R2,古賀 キヨ,直方市新町2-2,33.75,130.72,0949-00-11,,,聴覚,,",
        "R5,c,d,,,,,,,,",
    ]
    path = _write(tmp_path, "skip.csv", *rows)
    report = import_register(seeded, path, skip_invalid=True, allow_removals=True)
    assert [(e.line, e.column) for e in report.errors] == [(3, "電話番号")]
    # R2's landline was bad: R2 is stored with it cleared and flagged; R3 is missing
    assert (report.added, report.changed, report.removed, report.unchanged) == (1, 1, 1, 1)
    with session_scope(seeded) as s:
        residents = {r.id: r for r in load_residents(s)}
        assert list(residents) == ["R1", "R2", "R5"]
        assert residents["R2"].contacts == ()
        assert len(residents["R2"].review_reasons) == 1
        assert residents["R2"].review_reasons[0].startswith("電話番号: ")
        assert residents["R1"].review_reasons == ()


def test_dry_run_writes_nothing(seeded: Engine, tmp_path: Path) -> None:
    before = _snapshot(seeded)
    path = _write(tmp_path, "dry.csv", BASE[0])
    report = import_register(seeded, path, dry_run=True, allow_removals=True)
    assert (report.removed, report.unchanged, report.dry_run, report.written) == (2, 1, True, False)
    assert report.removed_ids == ["R2", "R3"]
    assert _snapshot(seeded) == before


def test_formula_and_sql_text_stored_verbatim(engine: Engine, tmp_path: Path) -> None:
    name, address = "=cmd|' /C calc'!A0", "'); DROP TABLE residents; --"
    path = _write(tmp_path, "inj.csv", f'X1,"{name}","{address}",,,0949-00-1111,,,,"@SUM(1)",')
    assert import_register(engine, path).added == 1
    with session_scope(engine) as s:
        (res,) = load_residents(s)
    assert (res.name, res.address, res.supporters[0].name) == (name, address, "@SUM(1)")


def test_audit_entry_has_counts_but_no_personal_data(seeded: Engine) -> None:
    with session_scope(seeded) as s:
        (entry,) = s.scalars(select(AuditEntry).where(AuditEntry.action == "registry.import"))
        dumped = repr((entry.args, entry.result))
    assert entry.result["added"] == 3
    for secret in ("直方 太郎", "+819011112222", "090-1111-2222", "山田"):
        assert secret not in dumped


def test_contact_health_survives_reimport_and_flags_unreachable(
    seeded: Engine, tmp_path: Path
) -> None:
    with session_scope(seeded) as s:
        assert mark_contact_unhealthy(s, "+81949002222", "opted out") == 1
    with session_scope(seeded) as s:
        r3 = s.get(Resident, "R3")
        assert r3 is not None and r3.no_working_channel is True
    # R3 changes address but keeps the number: the number stays unhealthy
    rows = [BASE[0], BASE[1], "R3,花田 茂,直方市感田9-9,,,0949-00-2222,,,,,"]
    assert import_register(seeded, _write(tmp_path, "moved.csv", *rows)).changed == 1
    with session_scope(seeded) as s:
        (r3_info,) = load_residents(s, ids=["R3"])
        assert [c.healthy for c in r3_info.contacts] == [False]
        r3 = s.get(Resident, "R3")
        assert r3 is not None and r3.no_working_channel is True
    with session_scope(seeded) as s:
        assert mark_contact_unhealthy(s, "+81949002222", "again") == 0


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location(
        "gen_demo_register", ROOT / "scripts" / "gen_demo_register.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_register_is_committed_and_matches_the_generator(tmp_path: Path) -> None:
    gen = _generator()
    out = tmp_path / "register.csv"
    assert gen.main(["--out", str(out)]) == 0
    assert out.read_bytes() == (ROOT / "recipients" / "register.csv").read_bytes()


def test_demo_register_imports_in_utf8_and_cp932(engine: Engine, tmp_path: Path) -> None:
    report = import_register(engine, ROOT / "recipients" / "register.csv")
    assert report.errors == []
    assert report.added == 300
    with session_scope(engine) as s:
        residents = load_residents(s)
        flagged = s.scalars(select(Resident.id).where(Resident.no_working_channel.is_(True))).all()
    languages = {r.language for r in residents}
    assert languages == {"ja", "ja-easy", "en", "zh", "ko", "vi", "pt", "tl"}
    assert sum(1 for r in residents if not r.located) == 5
    hearing_landline_only = [
        r.id
        for r in residents
        if Need.HEARING in r.needs and {c.kind for c in r.contacts} == {ContactKind.LANDLINE}
    ]
    assert hearing_landline_only and set(hearing_landline_only) <= set(flagged)
    # issue 11: a deaf resident with a landline and a FAX is reached, not flagged
    hearing_fax = [
        r.id
        for r in residents
        if Need.HEARING in r.needs
        and {c.kind for c in r.contacts} == {ContactKind.LANDLINE, ContactKind.FAX}
    ]
    assert hearing_fax and not set(hearing_fax) & set(flagged)
    assert any(len(r.supporters) == 2 for r in residents)
    assert {r.consent for r in residents} == {True, False, None}

    cp932 = tmp_path / "register_cp932.csv"
    assert _generator().main(["--encoding", "cp932", "--out", str(cp932)]) == 0
    with pytest.raises(UnicodeDecodeError):
        cp932.read_bytes().decode("utf-8")
    again = import_register(engine, cp932)
    assert (again.added, again.changed, again.removed, again.unchanged) == (0, 0, 0, 300)


def test_truncated_file_is_refused_even_with_skip_invalid(seeded: Engine, tmp_path: Path) -> None:
    before = _snapshot(seeded)
    full = _write(tmp_path, "full.csv", *BASE).read_bytes()
    cut = tmp_path / "cut.csv"
    cut.write_bytes(full[: full.index(b"\r\nR3") + 8])
    with pytest.raises(RegisterImportFailed) as info:
        import_register(seeded, cut, skip_invalid=True)
    assert [(e.line, e.column) for e in info.value.report.errors] == [(4, "")]
    assert _snapshot(seeded) == before
