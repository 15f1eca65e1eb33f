from __future__ import annotations

from pathlib import Path

import pytest

from alertsvc.config import Secret, load_settings
from alertsvc.errors import ConfigError


def test_defaults_are_the_embedded_setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings(None, env={})
    assert s.database.url == "sqlite:///alertsvc.db"
    assert s.source is None
    assert s.twilio.base_url.startswith("http://127.0.0.1")


def test_env_overrides_database_and_provider_urls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings(
        None,
        env={
            "ALERTSVC_DATABASE_URL": "postgresql://x@h/db",
            "ALERTSVC_TWILIO_BASE_URL": "http://127.0.0.1:9",
            "ALERTSVC_FCM_BASE_URL": "http://127.0.0.1:10",
        },
    )
    assert s.database.url == "postgresql://x@h/db"
    assert s.twilio.base_url == "http://127.0.0.1:9"
    assert s.fcm.base_url == "http://127.0.0.1:10"


def test_explicit_file_then_env_var_then_local(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "alertsvc.toml").write_text('[database]\nurl = "sqlite:///local.db"\n')
    other = tmp_path / "other.toml"
    other.write_text('[database]\nurl = "sqlite:///other.db"\n')
    assert load_settings(None, env={}).database.url == "sqlite:///local.db"
    assert (
        load_settings(None, env={"ALERTSVC_CONFIG": str(other)}).database.url
        == "sqlite:///other.db"
    )
    assert load_settings(other, env={}).source == other


@pytest.mark.parametrize(
    ("toml", "fragment"),
    [
        ("[nope]\nx = 1\n", "unknown section [nope]"),
        ("[database]\nurl = 5\n", "database.url: expected a string"),
        ('[database]\nurl = "mysql://x"\n', "database.url"),
        ("[rates]\ncalls_per_second = 0\n", "rates.calls_per_second: must be greater than 0"),
        ("[rates]\ncalls_per_second = true\n", "rates.calls_per_second: expected a number"),
        ('[twilio]\ntoken = "x"\n', "twilio.token: unknown key"),
        ('[exercise]\nallow_list = "+81"\n', "exercise.allow_list: expected a list"),
        ("not toml at all [", "not valid TOML"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, toml: str, fragment: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as err:
        load_settings(path, env={})
    assert fragment in str(err.value)


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "missing.toml", env={})


def test_secret_never_shows() -> None:
    s = Secret("hunter2")
    assert "hunter2" not in repr(s) and "hunter2" not in str(s)
    settings = load_settings(None, env={"TOK": "abc"})
    tok = settings.secret("TOK", env={"TOK": "abc"})
    assert tok is not None and tok.value == "abc"
    assert settings.secret("MISSING", env={}) is None
