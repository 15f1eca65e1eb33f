from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from alertsvc.config import Settings, load_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"


def test_example_documents_every_key_with_its_default() -> None:
    loaded = load_settings(EXAMPLE, env={})
    defaults = Settings()
    for section in asdict(defaults):
        if section == "source":
            continue
        assert asdict(loaded)[section] == asdict(defaults)[section], section


def test_example_names_every_key() -> None:
    import tomllib

    raw = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    for section, values in asdict(Settings()).items():
        if section == "source":
            continue
        assert section in raw, section
        assert set(raw[section]) == set(values), section
