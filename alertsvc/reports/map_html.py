"""The preview map: one self-contained HTML file with an inline SVG.

No tiles, no scripts or styles from the network: the data layers (zones coloured by
depth rank, house-collapse strips, the alert area, residents coloured by action,
shelters) render offline. A few lines of inline JavaScript give zoom and pan.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from alertsvc.models import ZoneKind

if TYPE_CHECKING:
    from alertsvc.services.preview import Preview

__all__ = ["render_map", "write_map"]

DEPTH_COLOURS = {
    None: "#bdbdbd",
    1: "#f7f5a9",
    2: "#ffd8c0",
    3: "#ffb7b7",
    4: "#ff9191",
    5: "#f285c9",
    6: "#dc7adc",
}  # the MLIT hazard-map palette for 想定浸水深
ACTION_COLOURS = {"evacuate": "#d32f2f", "move_up": "#1976d2", "secure_now": "#6a1b9a"}
ACTION_LABELS = {
    "evacuate": "立退き避難 / evacuate",
    "move_up": "屋内安全確保 / move upstairs",
    "secure_now": "緊急安全確保 / secure safety now",
}
WIDTH = 1000


class _Projection:
    """Equirectangular with cos(latitude) scaling: good enough for a city."""

    def __init__(self, bounds: tuple[float, float, float, float]) -> None:
        minx, miny, maxx, maxy = bounds
        pad_x = (maxx - minx) * 0.05 or 0.01
        pad_y = (maxy - miny) * 0.05 or 0.01
        self.minx, self.maxx = minx - pad_x, maxx + pad_x
        self.miny, self.maxy = miny - pad_y, maxy + pad_y
        self.kx = math.cos(math.radians((self.miny + self.maxy) / 2))
        self.scale = WIDTH / ((self.maxx - self.minx) * self.kx)
        self.height = max(200, round((self.maxy - self.miny) * self.scale))

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        return (
            round((lon - self.minx) * self.kx * self.scale, 1),
            round((self.maxy - lat) * self.scale, 1),
        )


def _rings(geom: BaseGeometry) -> Iterable[Polygon]:
    if isinstance(geom, Polygon):
        yield geom
    elif isinstance(geom, MultiPolygon):
        yield from geom.geoms
    elif hasattr(geom, "geoms"):
        for part in geom.geoms:
            yield from _rings(part)


def _path(geom: BaseGeometry, proj: _Projection) -> str:
    parts: list[str] = []
    for poly in _rings(geom):
        for ring in (poly.exterior, *poly.interiors):
            pts = [proj.xy(x, y) for x, y, *_ in ring.coords]
            parts.append("M" + " L".join(f"{x},{y}" for x, y in pts) + " Z")
    return " ".join(parts)


def render_map(preview: Preview) -> str:
    """The HTML document for ``preview``."""
    shapes = [z.geometry for z in preview.scope.zones]
    if preview.scope.area is not None:
        shapes.append(preview.scope.area)
    lons = [p.target.resident.lon for p in preview.plans if p.target.resident.lon is not None]
    lats = [p.target.resident.lat for p in preview.plans if p.target.resident.lat is not None]
    bounds = [s.bounds for s in shapes]
    if lons:
        bounds.append((min(lons), min(lats), max(lons), max(lats)))
    if not bounds:
        bounds.append((130.69, 33.70, 130.78, 33.80))
    proj = _Projection(
        (
            min(b[0] for b in bounds),
            min(b[1] for b in bounds),
            max(b[2] for b in bounds),
            max(b[3] for b in bounds),
        )
    )
    esc = html.escape
    layers: list[str] = ['<g id="zones">']
    for zone in sorted(preview.scope.zones, key=lambda z: z.depth_rank or 0):
        collapse = zone.kind == ZoneKind.HOUSE_COLLAPSE
        fill = "url(#hatch)" if collapse else DEPTH_COLOURS.get(zone.depth_rank, "#bdbdbd")
        label = f"{zone.id} — {'家屋倒壊等氾濫想定区域' if collapse else '浸水想定区域'}"
        if zone.depth_rank:
            label += f" ランク{zone.depth_rank}"
        layers.append(
            f'<path class="zone" d="{_path(zone.geometry, proj)}" fill="{fill}" '
            f'fill-rule="evenodd" stroke="#888" stroke-width="0.5" fill-opacity="0.75">'
            f"<title>{esc(label)}</title></path>"
        )
    layers.append("</g>")
    if preview.scope.area is not None:
        layers.append(
            f'<path id="area" d="{_path(preview.scope.area, proj)}" fill="none" '
            f'stroke="#000" stroke-width="2" stroke-dasharray="6 4"><title>指定範囲 / alert area'
            "</title></path>"
        )
    layers.append('<g id="shelters">')
    for shelter in preview.shelters:
        x, y = proj.xy(shelter.lon, shelter.lat)
        flood = "flood" in shelter.hazards
        tip = f"{shelter.name}（{'・'.join(sorted(shelter.kinds))}）" + (
            " 洪水対応" if flood else " 洪水非対応 / not for floods"
        )
        layers.append(
            f'<rect class="shelter" x="{x - 5}" y="{y - 5}" width="10" height="10" '
            f'fill="{"#2e7d32" if flood else "#9e9e9e"}" stroke="#fff" stroke-width="1.5">'
            f"<title>{esc(tip)}</title></rect>"
        )
    layers.append("</g>")
    layers.append('<g id="residents">')
    for plan in preview.plans:
        r = plan.target.resident
        if r.lon is None or r.lat is None:
            continue
        x, y = proj.xy(r.lon, r.lat)
        colour = "#000" if plan.unreachable_reason else ACTION_COLOURS[plan.action.value]
        tip = (
            f"{r.id} {ACTION_LABELS[plan.action.value]} ランク{plan.target.depth_rank or '-'}"
            + (
                f" → {plan.shelter.shelter.name} {round(plan.shelter.distance_m)}m"
                if plan.shelter
                else ""
            )
            + (f" 【要直接連絡】{plan.unreachable_reason}" if plan.unreachable_reason else "")
        )
        layers.append(
            f'<circle class="resident" cx="{x}" cy="{y}" r="4" fill="{colour}" stroke="#fff" '
            f'stroke-width="1"><title>{esc(tip)}</title></circle>'
        )
    layers.append("</g>")

    legend = "".join(
        f'<li><span style="background:{c}"></span>ランク{k}</li>'
        for k, c in DEPTH_COLOURS.items()
        if k is not None
    ) + "".join(
        f'<li><span class="dot" style="background:{ACTION_COLOURS[a]}"></span>{esc(lbl)}</li>'
        for a, lbl in ACTION_LABELS.items()
    )
    legend += (
        '<li><span class="dot" style="background:#000"></span>連絡手段なし / no working channel</li>'
        '<li><span style="background:#2e7d32"></span>避難所（洪水対応）/ flood shelter</li>'
        '<li><span class="hatch"></span>家屋倒壊等氾濫想定区域 / house collapse</li>'
    )
    direct = [(p.target.resident, p.unreachable_reason or "") for p in preview.unreachable] + [
        (r, "位置不明 / unlocated") for r in preview.unlocated
    ]
    direct_rows = "".join(
        f"<tr><td>{esc(r.id)}</td><td>{esc(r.name)}</td><td>{esc(r.address)}</td>"
        f"<td>{esc(why)}</td></tr>"
        for r, why in direct
    )
    counts = preview.counts()
    title = f"警戒レベル{int(preview.level)} {preview.level.label_ja} — プレビュー / preview"
    if preview.exercise:
        title = "【訓練】" + title
    return f"""<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>{esc(title)}</title>
<style>
body{{font-family:sans-serif;margin:1em;color:#222}}
#map{{border:1px solid #999;background:#eef5fb;width:100%;max-width:{WIDTH}px;cursor:grab}}
ul.legend{{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.3em 1.2em;font-size:.9em}}
ul.legend span{{display:inline-block;width:14px;height:14px;margin-right:4px;vertical-align:middle;border:1px solid #888}}
ul.legend span.dot{{border-radius:50%}}
ul.legend span.hatch{{background:repeating-linear-gradient(45deg,#7b1fa2 0 2px,#fff 2px 5px)}}
table{{border-collapse:collapse;font-size:.9em}} td,th{{border:1px solid #ccc;padding:2px 6px}}
</style></head><body>
<h1>{esc(title)}</h1>
<p>対象 {counts["targets"]} 人 / targets · 要直接連絡 {counts["unreachable"] + counts["unlocated"]} 人 / contact directly ·
支援者への通知 {counts["supporters"]} 件 / supporter notices</p>
<ul class="legend">{legend}</ul>
<svg id="map" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {proj.height}">
<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
<rect width="6" height="6" fill="#fff" fill-opacity="0.3"/><line x1="0" y1="0" x2="0" y2="6" stroke="#7b1fa2" stroke-width="3"/></pattern></defs>
{"".join(layers)}
</svg>
<p>ホイールで拡大・ドラッグで移動 / wheel to zoom, drag to pan. 地図は合成データを含む場合があります。</p>
<h2>要直接連絡 / contact directly ({len(direct)})</h2>
<table><tr><th>名簿番号</th><th>氏名</th><th>住所</th><th>理由 / reason</th></tr>{direct_rows}</table>
<script>
(function(){{
  var svg=document.getElementById('map');var vb=svg.viewBox.baseVal;var drag=null;
  svg.addEventListener('wheel',function(e){{e.preventDefault();var k=e.deltaY<0?0.8:1.25;
    var r=svg.getBoundingClientRect();var mx=vb.x+(e.clientX-r.left)/r.width*vb.width;
    var my=vb.y+(e.clientY-r.top)/r.height*vb.height;vb.x=mx-(mx-vb.x)*k;vb.y=my-(my-vb.y)*k;
    vb.width*=k;vb.height*=k;}},{{passive:false}});
  svg.addEventListener('mousedown',function(e){{drag=[e.clientX,e.clientY];}});
  window.addEventListener('mouseup',function(){{drag=null;}});
  window.addEventListener('mousemove',function(e){{if(!drag)return;var r=svg.getBoundingClientRect();
    vb.x-=(e.clientX-drag[0])/r.width*vb.width;vb.y-=(e.clientY-drag[1])/r.height*vb.height;
    drag=[e.clientX,e.clientY];}});
}})();
</script>
</body></html>
"""


def write_map(preview: Preview, path: Path) -> None:
    """Write the map atomically (temp file + rename)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render_map(preview), encoding="utf-8")
    tmp.replace(path)
