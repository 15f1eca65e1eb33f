"""Helpers shared by the parsers: JSON loading and number checks."""

from __future__ import annotations

import json
import math
from typing import Any

from alertsvc.errors import GaugeDataInvalid

__all__ = ["as_float", "load_json"]


def load_json(data: bytes, what: str) -> Any:
    """Parse JSON or raise GaugeDataInvalid naming the source and the position."""
    try:
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise GaugeDataInvalid(f"{what}: not UTF-8 text at byte {exc.start}") from exc
    except json.JSONDecodeError as exc:
        raise GaugeDataInvalid(f"{what}: not JSON (line {exc.lineno}: {exc.msg})") from exc


def as_float(value: object) -> float | None:
    """A finite number (JSON number or numeric text), else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        result = float(value)
    elif isinstance(value, str) and value.strip():
        try:
            result = float(value)
        except ValueError:
            return None
    else:
        return None
    return result if math.isfinite(result) else None
