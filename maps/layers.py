"""Drawing onto a folium map: the base map and its panes, roads, elder hexagons (density and the share not
reached), townships, facilities, legends and the frame. No streamlit here: the same map serves the pages and
the HTML export."""

from __future__ import annotations

import html
import weakref

import folium
import geopandas as gpd
import numpy as np
import shapely
from branca.element import Element

from config import Basemap, DashboardConfig
from maps.elements import (
    MAP_CSS,
    PAPER_PANE,
    FacilityLayer,
    FromZoom,
    KeepDrawn,
    Legend,
    LocalAssets,
    MarkLayer,
    MetricScale,
    ShapeLayer,
)
from maps.geojson import (
    HEX_TEXTS,
    facility_geojson,
    features_text,
    for_display,
    polygon_texts,
    round_coords,
    townships_geojson,
)
from maps.vocabulary import (  # noqa: F401  (SHARE_CLASSES: read here by the static report maps too)
    DENSITY_COLOURS,
    FACILITY_STATUS_ZH,
    NEIGHBOUR_COLOUR,
    PROJECT_STATUS_ZH,
    ROAD_STYLE,
    SHARE_CLASSES,
)


def density_bins(values: np.ndarray, classes: int = len(DENSITY_COLOURS)) -> list[float]:
    """Quantile class breaks (at most ``classes`` classes)."""
    if len(values) == 0:
        return [0.0, 1.0]
    qs = np.quantile(values, np.linspace(0, 1, classes + 1))
    return sorted({float(q) for q in qs})


def base_map(outline: gpd.GeoDataFrame, focus_bounds, basemap: Basemap, assets: LocalAssets, *,
             canvas: bool = False) -> folium.Map:
    """An empty map with local Leaflet assets, the basemap (or none) and the district outline
    (``canvas``: vector layers drawn on one canvas, for many thousands of points)."""
    minx, miny, maxx, maxy = focus_bounds
    m = folium.Map(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        zoom_start=10,
        tiles=None,
        control_scale=False,
        prefer_canvas=canvas,
        zoom_control=True,
        # Map options, not tile options: leaflet.markercluster needs maxZoom without tiles.
        **{"minZoom": 7, "maxZoom": 18, "zoomSnap": 0.25},
    )
    m.default_js = assets.leaflet_js()
    m.default_css = assets.leaflet_css()
    m.get_root().header.add_child(Element(MAP_CSS))
    MetricScale().add_to(m)
    KeepDrawn().add_to(m)
    if basemap.url:
        folium.TileLayer(
            tiles=basemap.url,
            attr=basemap.attribution or basemap.name_zh,
            name=basemap.name_zh,
            subdomains=basemap.subdomains or "abc",
            max_zoom=18,
            control=False,
        ).add_to(m)
    shape = round_coords(for_display(outline, basemap).geometry.values).tolist()[0].__geo_interface__
    if not basemap.url:
        # the district as paper on the plain background, in a pane of its own beneath every overlay: in the
        # overlay pane it would be drawn as SVG, which Leaflet stacks above its canvas (z-index 200 over 100),
        # and would wash out all that is drawn on canvas (hexagons, bands) to a tenth of its colour
        folium.map.CustomPane(PAPER_PANE, z_index=350).add_to(m)
        folium.GeoJson(shape, name="区界底色", pane=PAPER_PANE, interactive=False, control=False,
                       style_function=lambda _f: {"stroke": False, "fillColor": "#fafaf5", "fillOpacity": 0.9},
                       ).add_to(m)
    folium.GeoJson(
        shape,
        name="区界",
        style_function=lambda _f: {"color": "#37474f", "weight": 2.5, "fillColor": "#fafaf5", "fillOpacity": 0.0},
        control=False,
    ).add_to(m)
    return m


def street_detail(layers) -> bool:
    """Whether a map of these layers draws side streets and lanes: as the page says (an area small enough:
    services.base.street_detail), else when it shows one township."""
    return layers.street_detail if layers.street_detail is not None else bool(layers.selected_township)


STREET_ZOOM = 15  # Leaflet zoom from which side streets are drawn on a map of a whole (large) district
MAX_LANES_SENT = 30_000  # a district with more lane lines leaves them to its townships' maps (payload)


def add_roads(m: folium.Map, roads: gpd.GeoDataFrame, basemap: Basemap, *, detailed: bool) -> None:
    """The road network by class; lanes and footways at every zoom when ``detailed`` (a township, a town
    centre), else from STREET_ZOOM in (at most MAX_LANES_SENT of them)."""
    if roads is None or roads.empty:
        return
    roads = for_display(roads, basemap)
    fg = folium.FeatureGroup(name="道路网", show=True)
    tolerance = 0.00003 if detailed else 0.0001  # degrees: ~3 m / ~9 m
    from_zoom = []
    for road_class, style in ROAD_STYLE.items():
        part = roads[roads["road_class"] == road_class]
        later = road_class == "lane" and not detailed
        if part.empty or (later and len(part) > MAX_LANES_SENT):
            continue
        merged = shapely.multilinestrings(round_coords(shapely.simplify(part.geometry.values, tolerance)))
        layer = folium.GeoJson(
            merged.__geo_interface__,
            style_function=lambda _f, s=style: {**s, "opacity": 0.9},
            interactive=False,
        ).add_to(fg)
        if later:
            from_zoom.append(layer)
    fg.add_to(m)
    for layer in from_zoom:
        FromZoom(m, fg, layer, STREET_ZOOM).add_to(m)


def add_hexagons(m: folium.Map, hexes: gpd.GeoDataFrame, basemap: Basemap, *, name: str, tooltip: str,
                 colours: tuple[str, ...] = DENSITY_COLOURS, opacity: float = 0.55, show: bool = True,
                 by_class: bool = False) -> None:
    """H3 hexagons (``hex``, ``total``, their boundaries) coloured by ``total`` in quantile classes; the tooltip
    says ``tooltip`` and the number.

    ``by_class``: one feature per colour class (the tooltip gives the class's range), for maps redrawn at every
    edit: a few shapes for the browser to replace instead of one per hexagon."""
    if hexes is None or hexes.empty:
        return
    totals = hexes["total"].to_numpy()
    bins = density_bins(totals, len(colours))
    classes = np.minimum(np.searchsorted(bins[1:-1], totals, side="right"), len(colours) - 1)
    texts = HEX_TEXTS.of(hexes, basemap, 4)  # ~10 m: cells are 170 m+
    style = {"fillOpacity": opacity, "color": "#ffffff", "weight": 0.3}
    if by_class:
        props, polygons = [], []
        for c in np.unique(classes):
            pick = classes == c
            lo, hi, n = int(totals[pick].min()), int(totals[pick].max()), int(pick.sum())
            props.append({"fill": colours[c], "tip": f"{tooltip}：每格 {lo:,}{'' if lo == hi else f'–{hi:,}'} 人（{n:,} 格）"})
            polygons.append(texts[pick].tolist())
        ShapeLayer(features_text(props, polygons), name=name, show=show, style=style, fill_from="fill", tip="",
                    tip_field="tip", canvas=True, ndigits=4).add_to(m)
        return
    props = [{"total": t, "fill": colours[c]} for t, c in zip(totals.astype(int).tolist(), classes.tolist(), strict=True)]
    ShapeLayer(features_text(props, [[t] for t in texts.tolist()]), name=name, show=show, style=style,
                fill_from="fill", tip=f"{tooltip}：", tip_field="total", canvas=True, ndigits=4).add_to(m)


def share_classes(share: np.ndarray) -> np.ndarray:
    """The SHARE_CLASSES index of each share (0: none uncovered)."""
    return np.searchsorted([c[0] for c in SHARE_CLASSES], np.asarray(share, dtype=float), side="left")


def add_share_hexagons(m: folium.Map, shares: gpd.GeoDataFrame, basemap: Basemap, *, name: str,
                       opacity: float = 0.6, show: bool = True, within=None) -> None:
    """Elder hexagons (``geo.density.uncovered_share``: ``hex``, ``elders``, ``uncovered``, ``share``) coloured by
    the share not reached, one shape per class, the class's cells and people in its tooltip: a hexagon with one
    uncovered elder among fifty reads as nearly covered, as the figures count it. ``within``: a (prepared)
    outline the hexagons are cut to; those inside it are written from the per-id cache, the others cut anew."""
    if shares is None or shares.empty:
        return
    classes = share_classes(shares["share"].to_numpy())
    inside = np.ones(len(shares), dtype=bool) if within is None else shapely.within(shares.geometry.values, within)
    texts = np.empty(len(shares), dtype=object)
    texts[inside] = HEX_TEXTS.of(shares[inside], basemap, 4) if inside.any() else []
    border: list[list[str]] = [[] for _ in range(len(shares))]  # the cut parts of each border hexagon
    if not inside.all():
        cut = for_display(shares[~inside].assign(geometry=shapely.intersection(shares.geometry.values[~inside], within)),
                     basemap).geometry.values
        parts, of = shapely.get_parts(cut, return_index=True)
        # polygons that are left (a cut may leave nothing, or lines and points on the edge)
        keep = (shapely.get_type_id(parts) == 3) & ~shapely.is_empty(parts)
        rows = np.flatnonzero(~inside)
        for i, t in zip(of[keep].tolist(), polygon_texts(parts[keep], 4), strict=True):
            border[rows[i]].append(t)
    elders, uncovered = shares["elders"].to_numpy(), shares["uncovered"].to_numpy()
    props, polygons = [], []
    for c in np.unique(classes):
        pick = classes == c
        drawn = [t for i in np.flatnonzero(pick) for t in ([texts[i]] if inside[i] else border[i])]
        if not drawn:  # all of this class lies outside the district
            continue
        props.append({"fill": SHARE_CLASSES[c][1],
                      "tip": f"{SHARE_CLASSES[c][2]}：{int(pick.sum()):,} 格，老人 {elders[pick].sum():,.0f} 人，"
                             f"其中未覆盖 {uncovered[pick].sum():,.0f} 人"})
        polygons.append(drawn)
    if not props:
        return
    ShapeLayer(features_text(props, polygons), name=name, show=show,
                style={"fillOpacity": opacity, "color": "#ffffff", "weight": 0.3}, fill_from="fill", tip="",
                tip_field="tip", canvas=True, ndigits=4).add_to(m)


_OUTLINES: dict[int, tuple[weakref.ref, object]] = {}


def prepared_outline(outline: gpd.GeoDataFrame):
    """The district's outline as one prepared polygon, kept while its frame lives (the services' shared frame:
    the same object at every slider move)."""
    got = _OUTLINES.get(id(outline))
    if got is not None and got[0]() is outline:
        return got[1]
    shape = shapely.union_all(outline.geometry.values)
    shapely.prepare(shape)
    _OUTLINES[id(outline)] = (weakref.ref(outline), shape)
    weakref.finalize(outline, _OUTLINES.pop, id(outline), None)
    return shape


def share_legend() -> str:
    return "<b>老人未覆盖比例（每格）</b>" + "".join(
        f'<div><span class="hx" style="background:{colour}"></span>{html.escape(label)}</div>'
        for _, colour, label in SHARE_CLASSES)


def add_townships(m: folium.Map, townships: gpd.GeoDataFrame, basemap: Basemap, *, selected: str | None,
                  show_all: bool = True, geojson: str | None = None, label: str = "乡镇（街道）") -> None:
    """Township outlines (``geojson``: the text :func:`townships_geojson` made for the same arguments); ``label``
    names what they are (a city's map draws its districts so)."""
    folium.GeoJson(
        geojson or townships_geojson(townships, basemap, selected=selected, show_all=show_all),
        name=f"{label}边界",
        style_function=lambda f: {
            "color": "#d84315" if f["properties"]["selected"] else "#546e7a",
            "weight": 3 if f["properties"]["selected"] else 1.2,
            "dashArray": None if f["properties"]["selected"] else "4 3",
            "fillOpacity": 0.0,
        },
        tooltip=folium.GeoJsonTooltip(fields=["name", "type"], aliases=[label, "类型"]),
    ).add_to(m)


def add_facilities(m: folium.Map, facilities: gpd.GeoDataFrame, basemap: Basemap, config: DashboardConfig, *,
                   cluster: bool, assets: LocalAssets, compact: bool = False, popups: bool = True) -> None:
    """Facility markers: icons by kind (``compact``: small dots that leave the layers below readable;
    without ``popups`` only the tooltip, which halves the page on maps redrawn at every edit)."""
    if facilities.empty:
        return
    FacilityLayer(
        facility_geojson(for_display(facilities, basemap), config, popups=popups),
        {k.id: {"c": k.colour, "i": html.escape(k.icon)} for k in config.facility_kinds},
        cluster=cluster,
        assets=assets,
        name="养老服务设施",
        compact=compact,
    ).add_to(m)


def finish(m: folium.Map, legend: str, focus_bounds) -> folium.Map:
    frame_map(m, legend, focus_bounds)
    folium.LayerControl(collapsed=True, position="topright").add_to(m)
    return m


def frame_map(m: folium.Map, legend: str, focus_bounds) -> None:
    """The legend and the first view (fitted once, when the map is made; later views are the user's)."""
    minx, miny, maxx, maxy = focus_bounds
    Legend(legend).add_to(m)
    m.fit_bounds([[miny, minx], [maxy, maxx]])


def focus_bounds(outline: gpd.GeoDataFrame, townships: gpd.GeoDataFrame, selected: str | None,
                 basemap: Basemap):
    focus = townships.loc[[selected]] if selected else outline
    return for_display(focus, basemap).total_bounds


def swatches(colours) -> str:
    """Legend colour boxes for hexagon / band classes."""
    return "".join(f'<span class="hx" style="background:{c}"></span>' for c in colours)


def dot(colour: str) -> str:
    """A legend dot for point symbols."""
    return f'<span class="sw" style="background:{colour}"></span>'


def legend_html(config: DashboardConfig, facilities: gpd.GeoDataFrame, density: gpd.GeoDataFrame | None) -> str:
    present = set(facilities["kind_id"]) if not facilities.empty else set()
    items = [
        f"<div>{dot(k.colour)}{html.escape(k.name_zh)}</div>"
        for k in config.facility_kinds
        if k.id in present
    ]
    parts = ["<b>设施类型</b>", *items]
    if density is not None and not density.empty:
        bins = density_bins(density["total"].to_numpy())
        parts.append(f"<b>老年人口（每格）</b><div>{swatches(DENSITY_COLOURS[: len(bins) - 1])}</div><div>{int(bins[0])} – {int(bins[-1])} 人</div>")
    return "".join(parts)


def add_neighbours(m: folium.Map, neighbours: gpd.GeoDataFrame, basemap: Basemap, config: DashboardConfig) -> None:
    """Other townships' sites that serve the scope's elders: a grey ring and their kind, nothing else (the frame
    holds nothing else: services.scoped)."""
    kinds = {k.id: k.name_zh for k in config.facility_kinds}
    points = for_display(neighbours, basemap)
    MarkLayer(points, [f"邻近乡镇的{kinds.get(k, k)}（步行可达本乡镇老人，计入覆盖）" for k in points["kind_id"]],
               colour=NEIGHBOUR_COLOUR, ring=True, hollow=True).add_to(m)


def add_points(m: folium.Map, points: gpd.GeoDataFrame, basemap: Basemap, *, label: str, colour: str,
                 symbol: str) -> None:
    if points is None or points.empty:
        return
    points = for_display(points, basemap)
    MarkLayer(points, [f"{label}：{n}" for n in points["name"]], colour=colour, symbol=symbol).add_to(m)
