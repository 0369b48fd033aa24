"""数据管理 → 道路与入口: the edges the entry rules avoid and the points they moved, on one map.

Every avoided edge (a tunnel, a viaduct, a private service way, a fragment of the network) is drawn in its
rule's colour; every point whose entry point is not its plain nearest edge is drawn with a dashed line to where
it would have joined the network and a solid line to where it does. Values from the data are escaped.
"""

from __future__ import annotations

import html

import folium
import geopandas as gpd
import numpy as np
import shapely

from config.settings import DashboardConfig
from geo.entry import FRAGMENT
from maps.elements import LocalAssets
from maps.geojson import for_display, round_coords
from maps.layers import base_map, finish

# one colour per rule id (others: the last), and the fragment's
REASON_COLOURS = {"tunnel": "#6a1b9a", "bridge": "#ef6c00", "layer": "#8d6e63", "indoor": "#546e7a",
                  FRAGMENT: "#d81b60"}
OTHER_COLOUR = "#b71c1c"
PLAIN_COLOUR, ENTRY_COLOUR, POINT_COLOUR = "#c62828", "#2e7d32", "#1565c0"


def reason_colour(reason: str) -> str:
    return REASON_COLOURS.get(reason, OTHER_COLOUR)


def build_entry_map(outline: gpd.GeoDataFrame, avoided: gpd.GeoDataFrame, moved: gpd.GeoDataFrame, *,
                    labels: dict[str, str], config: DashboardConfig, basemap_id: str,
                    assets: LocalAssets | None = None) -> folium.Map:
    """``avoided``: edges with their ``reason``; ``moved``: one row per moved point with ``text`` (its tooltip)
    and the point, its plain entry and its entry as ``lon, lat, plain_lon, plain_lat, entry_lon, entry_lat``;
    ``labels``: reason id -> label."""
    basemap = config.basemap(basemap_id)
    bounds = for_display(outline, basemap).total_bounds
    m = base_map(outline, bounds, basemap, assets or LocalAssets(), canvas=True)
    for reason, part in avoided.groupby("reason", sort=True):
        merged = shapely.line_merge(shapely.union_all(part.geometry.values))  # fewer, longer lines to send
        shown = for_display(gpd.GeoDataFrame({"label": [labels.get(reason, reason)]}, geometry=[merged], crs=4326),
                       basemap)
        shown["label"] = shown["label"].map(lambda s: html.escape(str(s)))
        shown["geometry"] = round_coords(shown.geometry.values, 6)
        colour = reason_colour(reason)
        folium.GeoJson(shown.to_json(), name=html.escape(f"{labels.get(reason, reason)}（{len(part):,} 条边）"),
                       style_function=lambda _f, c=colour: {"color": c, "weight": 4, "opacity": 0.85},
                       tooltip=folium.GeoJsonTooltip(fields=["label"], labels=False)).add_to(m)
    if not moved.empty:
        group = folium.FeatureGroup(name=f"入口改变的点（{len(moved):,}）")
        plain = _lines(moved, "plain", basemap)
        entry = _lines(moved, "entry", basemap)
        points = for_display(gpd.GeoDataFrame({"text": moved["text"].map(lambda s: html.escape(str(s)))},
                                         geometry=gpd.points_from_xy(moved["lon"], moved["lat"]), crs=4326), basemap)
        folium.GeoJson(plain.to_json(), style_function=lambda _f: {"color": PLAIN_COLOUR, "weight": 2,
                                                                   "dashArray": "4 4"}).add_to(group)
        folium.GeoJson(entry.to_json(), style_function=lambda _f: {"color": ENTRY_COLOUR, "weight": 3}).add_to(group)
        folium.GeoJson(points.to_json(), marker=folium.CircleMarker(radius=5, weight=1, color="#ffffff", fill=True,
                                                                    fill_color=POINT_COLOUR, fill_opacity=0.95),
                       tooltip=folium.GeoJsonTooltip(fields=["text"], labels=False)).add_to(group)
        group.add_to(m)
    return finish(m, entry_legend(avoided, labels, len(moved)), bounds)


def _lines(moved: gpd.GeoDataFrame, end: str, basemap) -> gpd.GeoDataFrame:
    coords = np.stack([moved[["lon", "lat"]].to_numpy(float), moved[[f"{end}_lon", f"{end}_lat"]].to_numpy(float)],
                      axis=1)
    return for_display(gpd.GeoDataFrame(geometry=shapely.linestrings(coords), crs=4326), basemap)


def entry_legend(avoided: gpd.GeoDataFrame, labels: dict[str, str], n_moved: int) -> str:
    rows = [f'<div><span style="display:inline-block;width:18px;height:4px;background:{reason_colour(r)};'
            f'vertical-align:middle"></span> {html.escape(labels.get(r, r))}</div>'
            for r in sorted(set(avoided["reason"]))]
    rows += [
        f'<div><span style="color:{POINT_COLOUR}">●</span> 入口改变的点（{n_moved:,}）</div>',
        f'<div><span style="color:{PLAIN_COLOUR}">┅</span> 到最近边（未采用）</div>',
        f'<div><span style="color:{ENTRY_COLOUR}">━</span> 到入口点（采用）</div>',
    ]
    return "<b>道路与入口</b><div style='font-size:12px'>不作入口的边（仍可步行通过）</div>" + "".join(rows)
