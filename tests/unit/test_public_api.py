from __future__ import annotations

import alertsvc
import alertsvc.errors
import alertsvc.models


def test_top_level_api_is_pinned() -> None:
    assert alertsvc.__all__ == ["__version__"]


def test_every_error_is_an_alertsvc_error_with_an_exit_code() -> None:
    for name in alertsvc.errors.__all__:
        obj = getattr(alertsvc.errors, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, alertsvc.errors.AlertsvcError)
            assert obj.exit_code in (1, 3)


def test_level_terms_are_the_current_official_ones() -> None:
    labels = {level.label_ja for level in alertsvc.models.Level}
    assert labels == {"高齢者等避難", "避難指示", "緊急安全確保"}
    assert all("勧告" not in label for label in labels)  # 避難勧告 was abolished in 2021
