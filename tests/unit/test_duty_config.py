"""The [duty] section: a list of contact tables, each checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from alertsvc.config import DutyContact, load_settings
from alertsvc.duty import duty_message
from alertsvc.errors import ConfigError


def test_duty_contacts_load(tmp_path: Path) -> None:
    cfg = tmp_path / "a.toml"
    cfg.write_text(
        '[duty]\ncontacts = [{name = "当番", phone = "+815012345678", channel = "sms"}]\n',
        encoding="utf-8",
    )
    s = load_settings(cfg, env={})
    assert s.duty.contacts == (DutyContact("当番", "+815012345678", "sms"),)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('{name = "x", phone = "0501234"}', "duty.contacts[0].phone"),
        ('{name = "x", phone = "+815012345678", channel = "voice"}', "duty.contacts[0].channel"),
        ('{name = "x", phone = "+815012345678", colour = "red"}', "duty.contacts[0].colour"),
        ('"+815012345678"', "duty.contacts[0]: expected a table"),
    ],
)
def test_bad_duty_contact_is_a_clear_error(tmp_path: Path, entry: str, message: str) -> None:
    cfg = tmp_path / "a.toml"
    cfg.write_text(f"[duty]\ncontacts = [{entry}]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_settings(cfg, env={})


def test_duty_message_names_the_person_and_marks_exercises() -> None:
    text = duty_message(name="中村 二郎", resident_id="R1", address="直方市植木1番", floor=None,
                        needs=[], level=4, alert_id="A1", answered_by="supporter", via="sms",
                        exercise=True)  # fmt: skip
    assert text.startswith("【訓練】") and "中村 二郎" in text and "支援者" in text
    assert "階" not in text and "配慮:なし" in text
