"""One map per page: overview, 15分钟服务圈, 情景规划, 四同步, 评估, 实时监测, the import preview and a stored
version — each from the layers its service hands over."""

from __future__ import annotations

import html
from collections.abc import Hashable
from dataclasses import dataclass

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element

from config import DashboardConfig
from geo.density import uncovered_share
from maps.elements import LocalAssets, MarkLayer, PreviewPoints, ShapeLayer
from maps.geojson import areas_text, band_text, for_display, kept_text, round_coords
from maps.layers import (
    add_facilities,
    add_hexagons,
    add_neighbours,
    add_points,
    add_roads,
    add_share_hexagons,
    add_townships,
    base_map,
    dot,
    finish,
    focus_bounds,
    frame_map,
    legend_html,
    prepared_outline,
    share_legend,
    street_detail,
    swatches,
)
from maps.live import ClickQueue, LiveMap
from maps.vocabulary import (  # noqa: F401  (SHARE_CLASSES: read here by the static report maps too)
    DENSITY_COLOURS,
    FACILITY_STATUS_ZH,
    LIGHT_FILL,
    LOST_COVER_COLOURS,
    NEIGHBOUR_COLOUR,
    NEIGHBOUR_LABEL,
    NEW_COVER_COLOURS,
    PREVIEW_COLOURS,
    PREVIEW_LABELS,
    PROJECT_STATUS_COLOURS,
    PROJECT_STATUS_ZH,
    ROAD_STYLE,
    SHARE_CLASSES,
    STILL_UNCOVERED_COLOURS,
)


@dataclass(frozen=True)
class MapLayers:
    """What to draw; every frame in WGS84."""

    outline: gpd.GeoDataFrame
    townships: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    density: gpd.GeoDataFrame | None = None
    roads: gpd.GeoDataFrame | None = None
    selected_township: str | None = None
    street_detail: bool | None = None  # side streets and lanes drawn (None: when a township is selected)
    show_townships: bool = True
    area_label: str = "乡镇（街道）"  # what ``townships`` are: a city's map draws its districts there
    facility_popups: bool = True  # a popup of every facility's row (a city's thousands: the tooltip only)


def build_overview_map(
    layers: MapLayers,
    *,
    config: DashboardConfig,
    basemap_id: str,
    assets: LocalAssets | None = None,
    cluster: bool = True,
) -> folium.Map:
    """The 一张图 map: boundaries, roads, elder density hexagons, facilities by kind."""
    assets = assets or LocalAssets()
    basemap = config.basemap(basemap_id)
    bounds = focus_bounds(layers.outline, layers.townships, layers.selected_township, basemap)
    m = base_map(layers.outline, bounds, basemap, assets)
    add_roads(m, layers.roads, basemap, detailed=street_detail(layers))
    add_hexagons(m, layers.density, basemap, name="老年人口密度（H3）", tooltip="60岁以上老人")
    add_townships(m, layers.townships, basemap, selected=layers.selected_township, show_all=layers.show_townships,
                  label=layers.area_label)
    add_facilities(m, layers.facilities, basemap, config, cluster=cluster, assets=assets, popups=layers.facility_popups)
    return finish(m, legend_html(config, layers.facilities, layers.density), bounds)


@dataclass(frozen=True)
class CoverageLayers:
    outline: gpd.GeoDataFrame
    townships: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    covered_hexes: gpd.GeoDataFrame
    uncovered_hexes: gpd.GeoDataFrame
    # the drawn text of the bands and areas is kept with their frame (the services' shared memos): never change
    # a frame after it has been drawn
    bands: gpd.GeoDataFrame | None = None  # dissolved isochrones: minutes, geometry
    areas: gpd.GeoDataFrame | None = None  # service areas: site_id, name, geometry
    roads: gpd.GeoDataFrame | None = None
    selected_township: str | None = None
    street_detail: bool | None = None  # side streets and lanes drawn (None: when a township is selected)
    # other townships' sites that serve the scope's elders: kind_id and position only (services.scoped)
    neighbours: gpd.GeoDataFrame | None = None


def build_coverage_map(layers: CoverageLayers, *, config: DashboardConfig, basemap_id: str,
                       assets: LocalAssets | None = None) -> folium.Map:
    """The 15-minute circle map on one static map (offline exports)."""
    return coverage_live_map(layers, config=config, basemap_id=basemap_id, assets=assets,
                             facility_popups=True).composed()


def coverage_live_map(layers: CoverageLayers, *, config: DashboardConfig, basemap_id: str,
                      assets: LocalAssets | None = None, base_key: Hashable | None = None,
                      facility_popups: bool = False) -> LiveMap:
    """The 15-minute circle map: isochrone bands or service areas, covered / uncovered elders, facilities.
    The base holds the district, the townships, the roads and the legend; the rest changes with the sliders.
    The facilities carry popups only with ``facility_popups`` (the export): on the page they are sent again at
    every slider move, and the tooltip names each."""
    assets = assets or LocalAssets()
    basemap = config.basemap(basemap_id)

    def build_base() -> folium.Map:
        bounds = focus_bounds(layers.outline, layers.townships, layers.selected_township, basemap)
        m = base_map(layers.outline, bounds, basemap, assets)
        add_roads(m, layers.roads, basemap, detailed=street_detail(layers))
        add_townships(m, layers.townships, basemap, selected=layers.selected_township)
        legend = ["<b>步行等时圈 / 服务范围</b><div>颜色由深到浅：步行时间由短到长；服务范围每块归属步行最近的设施</div>",
                  share_legend()]
        if layers.neighbours is not None and not layers.neighbours.empty:
            legend.append(f'<div><span class="sw" style="background:none;border:2px solid {NEIGHBOUR_COLOUR}"></span>'
                          f"{NEIGHBOUR_LABEL}：仅示位置与类型</div>")
        frame_map(m, "".join(legend), bounds)
        return m

    groups = []
    # elders first, so the walking bands and service areas read on top of them: each hexagon once, by the share
    # of its elders not reached
    fg = folium.FeatureGroup(name="未覆盖老人", show=True)
    add_share_hexagons(fg, uncovered_share(layers.covered_hexes, layers.uncovered_hexes), basemap, name="未覆盖老人",
                       within=prepared_outline(layers.outline))
    groups.append(fg)
    if layers.bands is not None and not layers.bands.empty:
        # one group per band, longest first: a minutes move builds only the band that changed
        for minutes in sorted(layers.bands["minutes"], reverse=True):
            fg = folium.FeatureGroup(name=f"步行 {minutes} 分钟等时圈")
            text = kept_text(layers.bands, ("band", minutes, basemap.crs),
                              lambda m=minutes: band_text(layers.bands, m, basemap))
            ShapeLayer(text, style={"fillOpacity": 0.3, "weight": 1.2}, fill_from="fill", line_from_fill=True,
                        tip="", tip_field="tip", canvas=True).add_to(fg)
            groups.append(fg)
    if layers.areas is not None and not layers.areas.empty:
        fg = folium.FeatureGroup(name="服务范围（最近设施）")
        ShapeLayer(kept_text(layers.areas, ("areas", basemap.crs), lambda: areas_text(layers.areas, basemap)),
                    style={"fillOpacity": 0.3, "weight": 1.0}, fill_from="fill", line_from_fill=True,
                    tip="最近设施：", tip_field="name", canvas=True).add_to(fg)
        groups.append(fg)
    fg = folium.FeatureGroup(name="养老服务设施")
    add_facilities(fg, layers.facilities, basemap, config, cluster=False, assets=assets, compact=True,
                   popups=facility_popups)
    groups.append(fg)
    if layers.neighbours is not None and not layers.neighbours.empty:
        fg = folium.FeatureGroup(name=NEIGHBOUR_LABEL)
        add_neighbours(fg, layers.neighbours, basemap, config)
        groups.append(fg)
    return LiveMap(build_base, [g for g in groups if g._children], base_key)


@dataclass(frozen=True)
class ScenarioLayers:
    outline: gpd.GeoDataFrame
    townships: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame  # counted facilities after the changes
    newly_covered: gpd.GeoDataFrame  # hexagons with a "total"
    newly_uncovered: gpd.GeoDataFrame
    still_uncovered: gpd.GeoDataFrame
    opened: gpd.GeoDataFrame  # new sites: code, name, geometry
    closed: gpd.GeoDataFrame  # closed (or no longer counted) sites: code, name, geometry
    proposed: gpd.GeoDataFrame | None = None  # optimiser's proposal not yet saved: id, geometry
    roads: gpd.GeoDataFrame | None = None
    selected_township: str | None = None
    street_detail: bool | None = None  # side streets and lanes drawn (None: when a township is selected)
    refused: gpd.GeoDataFrame | None = None  # clicks that opened nothing: geometry and "why"
    base_facilities: gpd.GeoDataFrame | None = None  # drawn in the fixed base (default: ``facilities``)


def build_scenario_map(layers: ScenarioLayers, *, config: DashboardConfig, basemap_id: str,
                       assets: LocalAssets | None = None) -> folium.Map:
    """The difference map on one static map (offline exports)."""
    return scenario_live_map(layers, config=config, basemap_id=basemap_id, assets=assets).composed()


def scenario_live_map(layers: ScenarioLayers, *, config: DashboardConfig, basemap_id: str,
                      assets: LocalAssets | None = None, clickable: bool = False,
                      townships_json: str | None = None, base_key: Hashable | None = None) -> LiveMap:
    """The difference map: newly covered / newly uncovered elders, opened, closed and proposed sites, and the
    clicks that opened nothing (with why). The base (outline, townships, roads, legend and, ``clickable``, the
    click queue) stays; the rest is redrawn in place after every edit."""
    assets = assets or LocalAssets()
    basemap = config.basemap(basemap_id)
    marks = ((layers.closed, "关闭的站点", "关闭", "#616161", "×"), (layers.opened, "新增站点", "新增", "#2e7d32", "+"),
             (layers.proposed, "优化建议站点", "建议", "#6a1b9a", "★"))
    hex_layers = ((layers.still_uncovered, "仍未覆盖老人", STILL_UNCOVERED_COLOURS),
                  (layers.newly_uncovered, "新失去覆盖的老人", LOST_COVER_COLOURS),
                  (layers.newly_covered, "新增覆盖的老人", NEW_COVER_COLOURS))

    def build_base() -> folium.Map:
        bounds = focus_bounds(layers.outline, layers.townships, layers.selected_township, basemap)
        m = base_map(layers.outline, bounds, basemap, assets)
        m.get_root().header.add_child(Element(
            "<style>.scn-mark{width:20px;height:20px;border-radius:10px;border:2px solid #fff;color:#fff;"
            "font:700 13px/16px sans-serif;text-align:center;box-shadow:0 0 3px rgba(0,0,0,.7);box-sizing:border-box}"
            ".scn-refused{background:#fff3e0;border:1px solid #e65100;color:#bf360c;font:12px sans-serif;padding:2px 4px}"
            "</style>"))
        add_roads(m, layers.roads, basemap, detailed=street_detail(layers))
        add_townships(m, layers.townships, basemap, selected=layers.selected_township, geojson=townships_json)
        # the facilities of the scenario's base stay in the base; what the edits open or close is marked on top
        add_facilities(m, layers.base_facilities if layers.base_facilities is not None else layers.facilities,
                       basemap, config, cluster=False, assets=assets, compact=True, popups=False)
        legend = [f"<b>{name}</b><div>{swatches(colours)}</div>" for _h, name, colours in hex_layers]
        legend.append("<div>" + " ".join(f"{dot(colour)}{label}" for _p, _n, label, colour, _s in marks) + "</div>")
        if clickable:
            legend.append("<div>点击地图即在该处新增站点</div>")
            ClickQueue().add_to(m)
        frame_map(m, "".join(legend), bounds)
        return m

    groups = []
    for hexes, name, colours in hex_layers:
        fg = folium.FeatureGroup(name=name)
        add_hexagons(fg, hexes, basemap, name=name, tooltip=name, colours=colours, opacity=0.65, by_class=True)
        groups.append(fg)
    for points, name, label, colour, symbol in marks:
        fg = folium.FeatureGroup(name=name)
        add_points(fg, points, basemap, label=label, colour=colour, symbol=symbol)
        groups.append(fg)
    if layers.refused is not None and not layers.refused.empty:
        fg = folium.FeatureGroup(name="未新增的点击")
        MarkLayer(for_display(layers.refused, basemap), list(layers.refused["why"]), colour="#e65100", ring=True,
                   permanent=True, tip_class="scn-refused").add_to(fg)
        groups.append(fg)
    return LiveMap(build_base, [g for g in groups if g._children], base_key)


def build_projects_map(outline: gpd.GeoDataFrame, townships: gpd.GeoDataFrame, projects, *, config: DashboardConfig,
                       basemap_id: str, selected_township: str | None = None,
                       assets: LocalAssets | None = None) -> folium.Map:
    """Residential projects coloured by their four-synchronous status; the reasons in the popup."""
    assets = assets or LocalAssets()
    basemap = config.basemap(basemap_id)
    bounds = focus_bounds(outline, townships, selected_township, basemap)
    m = base_map(outline, bounds, basemap, assets)
    add_townships(m, townships, basemap, selected=selected_township)
    if len(projects):
        # GeoJSON with popups made by Leaflet itself: folium.Popup needs jQuery, which the local assets leave out
        pts = gpd.GeoDataFrame({
            "name": [html.escape(v) for v in projects["name"]],
            "state": [PROJECT_STATUS_ZH[v] for v in projects["status"]],
            "colour": [PROJECT_STATUS_COLOURS[v] for v in projects["status"]],
            "households": projects["households"].astype(int).to_numpy(),
            "reasons": [html.escape(v) if v else "全部适用规则均合规" for v in projects["reasons"]],
        }, geometry=gpd.points_from_xy(projects["lon"], projects["lat"]), crs="EPSG:4326")
        folium.GeoJson(
            for_display(pts, basemap).to_json(), name="住宅项目（四同步）",
            marker=folium.CircleMarker(radius=7, weight=1.5, color="#ffffff", fill=True, fill_opacity=0.95),
            style_function=lambda f: {"fillColor": f["properties"]["colour"], "className": "project-mark"},
            tooltip=folium.GeoJsonTooltip(fields=["name", "state"], aliases=["项目", "四同步"]),
            popup=folium.GeoJsonPopup(fields=["name", "households", "reasons"], aliases=["项目", "户数", "问题"]),
        ).add_to(m)
    legend = "<b>四同步状态</b>" + "".join(
        f"<div>{dot(c)}{PROJECT_STATUS_ZH[s]}</div>"
        for s, c in PROJECT_STATUS_COLOURS.items())
    return finish(m, legend, bounds)


def build_scorecard_map(outline: gpd.GeoDataFrame, townships: gpd.GeoDataFrame, cells: pd.DataFrame, *,
                        label: str, legend: dict[str, str], config: DashboardConfig, basemap_id: str,
                        selected_township: str | None = None, assets: LocalAssets | None = None) -> folium.Map:
    """Townships filled by the traffic light of one target; ``cells`` indexed by township code
    with ``light`` and ``text`` (the formatted value); ``legend`` light → label."""
    assets = assets or LocalAssets()
    basemap = config.basemap(basemap_id)
    bounds = focus_bounds(outline, townships, selected_township, basemap)
    m = base_map(outline, bounds, basemap, assets)
    twp = for_display(townships, basemap)[["code", "name", "geometry"]].copy()
    twp["geometry"] = round_coords(shapely.simplify(twp.geometry.values, 0.00003))
    twp["name"] = [html.escape(str(n)) for n in twp["name"]]  # names come from a bureau's file; tooltips are HTML
    twp["fill"] = [LIGHT_FILL[cells["light"].get(c, "none")] for c in twp["code"]]
    twp["value"] = [html.escape(str(cells["text"].get(c, "—"))) for c in twp["code"]]
    twp["selected"] = twp["code"] == (selected_township or "")
    folium.GeoJson(
        twp.to_json(), name=html.escape(label),  # the layer control writes names as HTML
        style_function=lambda f: {"fillColor": f["properties"]["fill"], "fillOpacity": 0.65, "className": "score-area",
                                  "color": "#d84315" if f["properties"]["selected"] else "#ffffff",
                                  "weight": 3 if f["properties"]["selected"] else 1.2},
        tooltip=folium.GeoJsonTooltip(fields=["name", "value"], aliases=["乡镇（街道）", html.escape(label)]),
    ).add_to(m)
    html_legend = f"<b>{html.escape(label)}</b>" + "".join(
        f"<div>{dot(LIGHT_FILL[k])}{html.escape(v)}</div>" for k, v in legend.items())
    return finish(m, html_legend, bounds)


def build_city_coverage_map(outline: gpd.GeoDataFrame, districts: gpd.GeoDataFrame, shares: gpd.GeoDataFrame,
                            texts: dict[str, str], *, config: DashboardConfig, basemap_id: str,
                            selected: str | None = None, assets: LocalAssets | None = None) -> folium.Map:
    """A whole city's walk coverage: elder hexagons by the share not reached (``geo.density.uncovered_share``), cut
    to the city's outline, under the districts' outlines (``districts``: code, name, geometry; ``texts``: each
    district's figure for its tooltip); framed on ``selected`` (a district code) or the city."""
    assets = assets or LocalAssets()
    basemap = config.basemap(basemap_id)
    bounds = focus_bounds(outline, districts, selected, basemap)
    m = base_map(outline, bounds, basemap, assets, canvas=True)
    add_share_hexagons(m, shares, basemap, name="老人未覆盖比例（H3）", within=prepared_outline(outline))
    shown = for_display(districts, basemap)[["code", "name", "geometry"]].copy()
    shown["geometry"] = round_coords(shapely.simplify(shown.geometry.values, 0.0001))
    shown["value"] = [html.escape(texts.get(c, "—")) for c in shown["code"]]
    shown["name"] = [html.escape(str(n)) for n in shown["name"]]
    shown["selected"] = shown["code"] == (selected or "")
    folium.GeoJson(
        shown.to_json(), name="区县边界",
        style_function=lambda f: {"fillOpacity": 0.0, "color": "#d84315" if f["properties"]["selected"] else "#37474f",
                                  "weight": 3 if f["properties"]["selected"] else 1.4},
        tooltip=folium.GeoJsonTooltip(fields=["name", "value"], aliases=["区县", "步行覆盖"]),
    ).add_to(m)
    return finish(m, share_legend(), bounds)


def build_live_map(outline: gpd.GeoDataFrame, townships: gpd.GeoDataFrame, *, config: DashboardConfig,
                   basemap_id: str, legend: dict[str, tuple[str, str]],
                   assets: LocalAssets | None = None) -> folium.Map:
    """The fixed part of the live map (boundaries, legend); the stations come as a layer that
    st_folium swaps at every refresh without redrawing the map. ``legend``: state → (label, colour)."""
    assets = assets or LocalAssets()
    basemap = config.basemap(basemap_id)
    bounds = focus_bounds(outline, townships, None, basemap)
    m = base_map(outline, bounds, basemap, assets)
    add_townships(m, townships, basemap, selected=None)
    html_legend = "<b>站点状态</b>" + "".join(
        f"<div>{dot(colour)}{html.escape(label)}</div>" for label, colour in legend.values())
    html_legend += "<div>粗红边：有未解除的紧急告警</div>"
    return finish(m, html_legend, bounds)


def live_station_layer(stations: gpd.GeoDataFrame, *, config: DashboardConfig, basemap_id: str,
                       colours: dict[str, str], labels: dict[str, str]) -> folium.FeatureGroup:
    """Stations as dots coloured by state (``colours`` / ``labels`` by state); a red ring
    marks an open critical alert. Class ``live-<state>`` on each dot (browser tests).

    Plain circle markers, not one GeoJson: st_folium re-evaluates this layer's script at
    every refresh, and GeoJson's generated helper functions do not survive that."""
    basemap = config.basemap(basemap_id)
    fg = folium.FeatureGroup(name="站点实时状态")
    for row in for_display(stations, basemap).itertuples():
        critical = row.worst == "critical"
        occupancy = "—" if pd.isna(row.occupancy) else f"{int(row.occupancy)} / " + (
            "—" if pd.isna(row.capacity) else f"{int(row.capacity)}")
        tip = "<br>".join(html.escape(x) for x in (
            row.name, f"状态：{labels[row.state]}", f"在站 / 额定：{occupancy}", f"最后心跳：{row.last_seen}",
            f"未解除告警：{row.open_alerts}"))
        folium.CircleMarker(
            [round(row.geometry.y, 6), round(row.geometry.x, 6)], radius=10 if critical else 7, tooltip=tip,
            color="#b71c1c" if critical else "#ffffff", weight=4 if critical else 1.5, fill_color=colours[row.state],
            fill_opacity=0.95, class_name=f"live-{row.state}",
        ).add_to(fg)
    return fg


def build_preview_map(outline: gpd.GeoDataFrame, townships: gpd.GeoDataFrame | None, points: pd.DataFrame,
                      *, config: DashboardConfig, basemap_id: str, assets: LocalAssets | None = None) -> folium.Map:
    """An import's rows before anything is stored: one dot per row (``row``, ``lon``, ``lat``, ``status``,
    ``problems`` — plain text, escaped here), coloured fine / warning / error, over the district and townships;
    a click shows the row and its problems."""
    basemap = config.basemap(basemap_id)
    pts = gpd.GeoDataFrame(points[["row", "status"]].copy(), crs=4326,
                           geometry=gpd.points_from_xy(points["lon"], points["lat"]))
    bounds = for_display(outline, basemap).total_bounds
    if not pts.empty:  # rows far outside the district must be seen too
        pb = for_display(pts, basemap).total_bounds
        bounds = [min(bounds[0], pb[0]), min(bounds[1], pb[1]), max(bounds[2], pb[2]), max(bounds[3], pb[3])]
    m = base_map(outline, bounds, basemap, assets or LocalAssets())
    if townships is not None and not townships.empty:
        add_townships(m, townships, basemap, selected=None)
    if not pts.empty:
        shown = for_display(pts, basemap)
        status = list(PREVIEW_COLOURS)
        xy = np.round(shapely.get_coordinates(shown.geometry.values), 6)
        rows = points["row"].astype(int).to_numpy()
        compact = [[float(x), float(y), status.index(st), int(r)]
                   for (x, y), st, r in zip(xy, points["status"], rows, strict=True)]
        said = {int(r): html.escape(str(text)) for r, text in zip(rows, points["problems"], strict=True) if text}
        PreviewPoints(compact, said, [PREVIEW_COLOURS[k] for k in status], name="导入预览").add_to(m)
    counts = points["status"].value_counts() if len(points) else pd.Series(dtype=int)
    legend = "<b>导入预览</b>" + "".join(
        f"<div>{dot(PREVIEW_COLOURS[s])}{PREVIEW_LABELS[s]} {int(counts.get(s, 0)):,}</div>" for s in PREVIEW_COLOURS)
    return finish(m, legend, bounds)


def build_version_map(outline: gpd.GeoDataFrame, frame: gpd.GeoDataFrame, *, label: str, config: DashboardConfig,
                      basemap_id: str, assets: LocalAssets | None = None) -> folium.Map:
    """One stored version of a kind drawn over the current outline: polygons as outlines, points as dots, each
    with its name (escaped) as the tooltip."""
    basemap = config.basemap(basemap_id)
    bounds = for_display(outline, basemap).total_bounds
    if not frame.empty:
        fb = for_display(frame, basemap).total_bounds
        bounds = [min(bounds[0], fb[0]), min(bounds[1], fb[1]), max(bounds[2], fb[2]), max(bounds[3], fb[3])]
    m = base_map(outline, bounds, basemap, assets or LocalAssets())
    if not frame.empty:
        shown = for_display(frame[["name", "geometry"]].reset_index(drop=True), basemap)
        shown["name"] = [html.escape(str(n)) for n in shown["name"]]
        points = bool(shown.geom_type.isin(["Point"]).all())
        shown["geometry"] = round_coords(shown.geometry.values if points else
                                   shapely.simplify(shown.geometry.values, 0.00003))
        folium.GeoJson(
            shown.to_json(), name=html.escape(label),
            marker=folium.CircleMarker(radius=4, weight=1, color="#ffffff", fill=True, fill_color="#1565c0",
                                       fill_opacity=0.9) if points else None,
            style_function=(lambda _f: {}) if points else
            (lambda _f: {"color": "#1565c0", "weight": 1.5, "fillOpacity": 0.05}),
            tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False),
        ).add_to(m)
    return finish(m, f"<b>{html.escape(label)}</b><div>{len(frame):,} 条</div>", bounds)
