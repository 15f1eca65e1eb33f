"""The pre-season check's texts (templates/check.toml) and its finding table (#10 item 6)."""

from __future__ import annotations

import pytest

from alertsvc.dispatch.alerts import EXERCISE_PREFIX
from alertsvc.models import LANGUAGES, ChannelName
from alertsvc.planning.check_text import CHECK_TEXT_IDS, _table, render_check
from alertsvc.planning.sms import sms_segments
from alertsvc.services.check_report import CHECK_FINDINGS, finding_of


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("channel", list(ChannelName))
def test_every_text_is_an_exercise_and_an_sms_is_one_message(
    channel: ChannelName, language: str
) -> None:
    title, body = render_check(channel, language, "直方市")
    assert body.startswith(EXERCISE_PREFIX)
    assert not title or title.startswith(EXERCISE_PREFIX)
    assert "避難勧告" not in title + body and "{" not in title + body
    if channel is ChannelName.SMS:
        assert sms_segments(body)[0] == 1, body


def test_every_language_has_every_text() -> None:
    table = _table()
    assert set(table) == set(CHECK_TEXT_IDS)
    for text_id in CHECK_TEXT_IDS:
        assert set(table[text_id]) == set(LANGUAGES), text_id


def test_unknown_language_falls_back() -> None:
    assert render_check(ChannelName.SMS, "xx", "直方市") == render_check(
        ChannelName.SMS, "ja-easy", "直方市"
    )


@pytest.mark.parametrize(
    ("detail", "code", "finding"),
    [
        ("fcm UNREGISTERED token (tok-…aaaa)", None, "dead_token"),
        ("fcm SENDER_ID_MISMATCH (tok-…aaaa)", None, "dead_token"),
        ("twilio 21614: To number is not a mobile number (+81…0002)", None, "not_mobile"),
        ("status undelivered", 30006, "not_mobile"),
        ("twilio 21211: invalid To number (+81…0003)", None, "invalid_number"),
        ("retries spent; twilio 21610: opted out (STOP) (+81…0001)", None, "opted_out"),
        ("smtp 550 at RCPT", None, "invalid_address"),
        ("exercise: address not on exercise.allow_list; not sent", None, "not_on_allow_list"),
        ("status no-answer", None, None),
        ("twilio http 500 (code 20500)", None, None),
        ("", None, None),
    ],
)
def test_finding_of(detail: str, code: int | None, finding: str | None) -> None:
    assert finding_of(detail, code) == finding


def test_findings_cover_every_refusal_code() -> None:
    from alertsvc.registry.store import REFUSAL_SCOPE

    assert set(REFUSAL_SCOPE) <= set(CHECK_FINDINGS)
