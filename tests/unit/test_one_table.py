"""#7 item 10: one table per fact — the Japan extent and contact kind -> channels.

On main the extent was written out four times (services/scope.py, geo/zone_import.py,
geo/shelter_import.py, registry/csv_import.py) and the contact table twice
(planning/channel_order.py, registry/store.py).
"""

from __future__ import annotations

import ast
from pathlib import Path

from alertsvc.geo.extent import JAPAN
from alertsvc.models import ChannelName, ContactKind
from alertsvc.planning.channel_order import CONTACT_CHANNELS

PACKAGE = Path(__file__).resolve().parents[2] / "alertsvc"


def _modules() -> list[tuple[Path, ast.Module]]:
    return [(p, ast.parse(p.read_text(encoding="utf-8"))) for p in sorted(PACKAGE.rglob("*.py"))]


def test_japan_extent_is_written_once() -> None:
    edges = {JAPAN.min_lon, JAPAN.max_lon}  # 122 and 154 say "Japan" and nothing else
    holders = []
    for path, tree in _modules():
        numbers = {
            float(node.value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, int | float)
            and not isinstance(node.value, bool)
        }
        if edges <= numbers:
            holders.append(path.relative_to(PACKAGE).as_posix())
    assert holders == ["geo/extent.py"]


def test_contact_kind_to_channels_is_one_table() -> None:
    holders = []
    for path, tree in _modules():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Dict) or not node.keys:
                continue
            keys = [k for k in node.keys if isinstance(k, ast.Attribute)]
            if (
                len(keys) == len(node.keys)
                and all(isinstance(k.value, ast.Name) and k.value.id == "ContactKind" for k in keys)
                and "ChannelName" in ast.unparse(node)
            ):
                holders.append(path.relative_to(PACKAGE).as_posix())
    assert holders == ["planning/channel_order.py"]
    assert set(CONTACT_CHANNELS) == set(ContactKind)
    assert CONTACT_CHANNELS[ContactKind.LANDLINE] == (ChannelName.VOICE,)


def test_extent_box() -> None:
    assert JAPAN.contains(130.73, 33.74)
    assert not JAPAN.contains(33.74, 130.73) and JAPAN.looks_swapped(33.74, 130.73)
    assert JAPAN.covers((130.0, 33.0, 131.0, 34.0))
    assert not JAPAN.covers((130.0, 33.0, 160.0, 34.0))


# facts several rooms read: each is assigned in exactly one module (the others import it)
ONE_HOME = {
    "DIGEST_RESIDENT": "models.py",
    "DIGEST_LEGAL_BASIS": "models.py",
    "REACHED_STATES": "dispatch/states.py",
    "STOPPED_ALERT_STATES": "dispatch/maintenance.py",
    "REASON_LABELS": "dispatch/follow_up.py",
}


def test_shared_constants_are_assigned_once() -> None:
    homes: dict[str, list[str]] = {name: [] for name in ONE_HOME}
    for path, tree in _modules():
        for node in tree.body:
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else [node.target]
                if isinstance(node, ast.AnnAssign)
                else []
            )
            for t in targets:
                if isinstance(t, ast.Name) and t.id in homes:
                    homes[t.id].append(path.relative_to(PACKAGE).as_posix())
    assert homes == {name: [home] for name, home in ONE_HOME.items()}
