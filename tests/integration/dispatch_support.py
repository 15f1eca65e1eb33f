"""Shared by the dispatch integration tests: a manual clock and settings with no limits."""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import Engine

from alertsvc.config import DatabaseSettings, DispatchSettings, RateSettings, Settings

T0 = dt.datetime(2026, 7, 1, 0, 0, tzinfo=dt.UTC)


class Clock:
    """A clock the test moves by hand: escalation waits and leases without sleeping."""

    def __init__(self, start: dt.datetime = T0) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


def fast_settings(engine: Engine, **dispatch: float) -> Settings:
    """Settings on ``engine`` whose rate limits never bind, with ``dispatch`` overrides."""
    return Settings(
        database=DatabaseSettings(url=str(engine.url)),
        rates=RateSettings(sms_per_second=1e6, calls_per_second=1e6, push_per_second=1e6),
        dispatch=dataclasses.replace(DispatchSettings(), **dispatch),  # type: ignore[arg-type]
    )
