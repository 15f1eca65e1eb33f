"""Per-channel contact health: a refused channel is skipped, the address still works."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, select

from alertsvc.db import session_scope
from alertsvc.db.tables import Contact, Resident
from alertsvc.models import ChannelName
from alertsvc.planning.channel_order import channel_order
from alertsvc.registry.csv_import import import_register
from alertsvc.registry.store import block_contact, load_residents
from tests.clirun import run_cli

CSV = (
    "名簿番号,氏名,住所,緯度,経度,電話番号,携帯電話,FCMトークン,要配慮事由\n"
    "R1,直方 一郎,福岡県直方市殿町1,33.74,130.73,,090-1234-5678,,\n"
    "R2,直方 花子,福岡県直方市殿町2,33.74,130.73,,090-2345-6789,{token},\n"
    "R3,直方 聴子,福岡県直方市殿町3,33.74,130.73,,090-3456-7890,,聴覚\n"
)
TOKEN = "tok-" + "a" * 60


def _import(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "reg.csv"
    path.write_text(CSV.format(token=TOKEN), encoding="utf-8")
    import_register(engine, path, actor="test")


def _orders(engine: Engine) -> dict[str, tuple[ChannelName, ...]]:
    with session_scope(engine) as s:
        return {
            r.id: channel_order(r.needs, r.contacts, r.channel_pref).channels
            for r in load_residents(s)
        }


def test_opted_out_number_keeps_voice(engine: Engine, tmp_path: Path) -> None:
    _import(engine, tmp_path)
    with session_scope(engine) as s:
        assert block_contact(s, ChannelName.SMS, "+819012345678", "21610 opted out") == 1
        # a second refusal of the same channel changes nothing
        assert block_contact(s, ChannelName.SMS, "+819012345678", "21610 opted out") == 0
    assert _orders(engine)["R1"] == (ChannelName.VOICE,)
    with session_scope(engine) as s:
        contact = s.scalars(select(Contact).where(Contact.resident_id == "R1")).one()
        assert contact.healthy and contact.blocked_channels == ["sms"]


def test_dead_token_and_last_channel(engine: Engine, tmp_path: Path) -> None:
    _import(engine, tmp_path)
    with session_scope(engine) as s:
        block_contact(s, ChannelName.PUSH, TOKEN, "UNREGISTERED", whole_address=True)
        # hearing-impaired: with SMS refused only a voice line is left -> unreachable
        block_contact(s, ChannelName.SMS, "+819034567890", "21614 not a mobile")
    orders = _orders(engine)
    assert ChannelName.PUSH not in orders["R2"] and orders["R2"]
    assert orders["R3"] == ()
    with session_scope(engine) as s:
        assert s.get(Resident, "R3").no_working_channel  # type: ignore[union-attr]
        assert not s.get(Resident, "R2").no_working_channel  # type: ignore[union-attr]


def test_reimport_keeps_what_providers_said(engine: Engine, tmp_path: Path) -> None:
    _import(engine, tmp_path)
    with session_scope(engine) as s:
        block_contact(s, ChannelName.SMS, "+819012345678", "21610 opted out")
    _import(engine, tmp_path)
    assert _orders(engine)["R1"] == (ChannelName.VOICE,)


def test_health_report_cli(engine: Engine, tmp_path: Path, cli_env: dict[str, str]) -> None:
    _import(engine, tmp_path)
    with session_scope(engine) as s:
        block_contact(s, ChannelName.SMS, "+819034567890", "21614 not a mobile")
    res = run_cli(["registry", "health", "--json"], env=cli_env)
    assert res.exit_code == 0, res.stderr
    [item] = res.json()
    assert item["resident_id"] == "R3" and item["blocked"] == ["sms"]
    assert item["resident_reachable"] is False
    assert item["address"] != "+819034567890" and item["address"].endswith("7890")
