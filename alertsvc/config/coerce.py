"""TOML values -> typed, frozen settings dataclasses.

``build`` turns one TOML table into a settings dataclass, key by key: an unknown key, or a
value of the wrong type for the field's annotation, raises ``ConfigError`` naming the full
key (``<file>: <section>.<key>``). Knows nothing about any one section: the section
classes live in ``settings``, ``providers`` and ``watcher``; cross-key checks in ``load``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

from alertsvc.errors import ConfigError

__all__ = ["build"]

T = TypeVar("T")


def build(cls: type[T], values: Mapping[str, Any], prefix: str) -> T:
    """``cls(**values)`` with every value checked against ``cls``'s annotations."""
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"{prefix}.{key}: unknown key (known: {', '.join(sorted(known))})")
        kwargs[key] = _coerce(hints[key], value, f"{prefix}.{key}")
    return cls(**kwargs)


def _coerce(expected: Any, value: Any, key: str) -> Any:
    origin = get_origin(expected)
    if origin is tuple:
        (item_type, _ellipsis) = get_args(expected)
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {type(value).__name__}")
        return tuple(_coerce(item_type, v, f"{key}[{i}]") for i, v in enumerate(value))
    if expected is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if expected is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected a whole number, got {value!r}")
        return value
    if expected is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if expected is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    if is_dataclass(expected) and isinstance(expected, type):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a table, got {value!r}")
        return build(expected, value, key)
    raise ConfigError(f"{key}: unsupported setting type")  # pragma: no cover
