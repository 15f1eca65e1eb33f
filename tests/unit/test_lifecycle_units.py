"""Pure parts of the lifecycle: the one-time code, notice texts, the approval rule."""

from __future__ import annotations

import pytest

from alertsvc.planning.language import available_languages
from alertsvc.services.approval import confirm_with_code, one_time_code
from alertsvc.services.lifecycle import notice_text


def _officer(typed: str) -> tuple[list[str], object]:
    shown: list[str] = []

    def ask(prompt: str) -> str:
        shown.append(prompt)
        return typed

    return shown, ask


@pytest.mark.parametrize(("typed", "ok"), [("483920", True), ("４８３９２０", True),
                                           (" 483920 ", True), ("483921", False),
                                           ("send level 4", False), ("", False)])  # fmt: skip
def test_only_the_shown_code_confirms(typed: str, ok: bool) -> None:
    said: list[str] = []
    _, ask = _officer(typed)
    result = confirm_with_code(level=4, recipients=37, code="483920", say=said.append,
                               ask=ask)  # type: ignore[arg-type]  # fmt: skip
    assert result is ok
    assert "483920" in said[0] and "37" in said[0]


def test_codes_change() -> None:
    codes = {one_time_code() for _ in range(50)}
    assert len(codes) > 40 and all(len(c) == 6 and c.isdigit() for c in codes)


@pytest.mark.parametrize("language", sorted(available_languages()))
@pytest.mark.parametrize("kind", ["clear", "correction"])
def test_notice_texts_exist_for_every_language(language: str, kind: str) -> None:
    text = notice_text(language, kind, city="直方市", level=4, exercise=False, text="X")
    drill = notice_text(language, kind, city="直方市", level=4, exercise=True, text="X")
    assert text and "避難勧告" not in text
    assert drill == "【訓練】" + text
    if kind == "correction":
        assert text.endswith("X")
