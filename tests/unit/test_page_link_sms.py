"""The resident page link in an SMS keeps the SMS rules (first part stands alone)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from alertsvc.planning.sms import MAX_SEGMENTS, split_sms
from alertsvc.web.pages import is_resident_alert_sms, page_link, with_page_link

LINK = page_link("https://alerts.example.jp", b"s", "A20261130230757abcd:12345")


def test_short_japanese_body_gets_the_link_on_its_own_line() -> None:
    body = "【警戒レベル3】高齢者等避難。植木小学校へ避難してください。"
    assert with_page_link(body, LINK) == body + "\n" + LINK


def test_body_filling_one_message_keeps_its_first_part_whole() -> None:
    body = "あ" * 69  # one message alone; with a link the first part would cut it at 67
    assert with_page_link(body, LINK) is None


@given(st.text(alphabet="あいう警戒ABC 123。", min_size=1, max_size=220))
def test_link_never_changes_the_first_part_nor_adds_more_than_one_part(body: str) -> None:
    linked = with_page_link(body, LINK)
    if linked is None:
        return
    assert linked.endswith("\n" + LINK)
    assert split_sms(linked)[0].startswith(split_sms(body)[0])
    assert len(split_sms(linked)) <= MAX_SEGMENTS + 1


def test_only_residents_own_alert_messages_get_a_page() -> None:
    assert is_resident_alert_sms((("key", "k"), ("action", "evacuate"), ("resident_id", "R1")))
    assert not is_resident_alert_sms((("kind", "cancellation"), ("cancels", "A1")))
    assert not is_resident_alert_sms((("key", "k"),))  # a supporter notice
    assert not is_resident_alert_sms((("duty_for", "A1"), ("action", "evacuate")))
