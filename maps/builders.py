"""Folium map builders. No streamlit here: the same map serves the pages and the HTML export.

Leaflet and its plugins are served from the app's own static folder (see
``LocalAssets``), so the no-tiles basemap works with no internet at all.
Vector layers are stored in WGS84 and shifted to GCJ-02 for display only
when the basemap is a Chinese web map.
"""

from __future__ import annotations

import hashlib
import html
import json
import threading
import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from folium.elements import JSCSSMixin
from folium.map import Layer
from jinja2 import Template

from config import Basemap, DashboardConfig
from geo.crs import gcj02_to_wgs84, geom_to_gcj02
from geo.density import uncovered_share
from maps.vocabulary import (  # noqa: F401  (SHARE_CLASSES: read here by the static report maps too)
    DENSITY_COLOURS,
    FACILITY_STATUS_ZH,
    PROJECT_STATUS_ZH,
    ROAD_STYLE,
    SHARE_CLASSES,
)

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


_CSS = """
<style>
.leaflet-container { background: #eef0e8; font-family: "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; }
.fac-marker { width: 22px; height: 22px; border-radius: 11px; border: 2px solid #fff;
  box-shadow: 0 0 2px rgba(0,0,0,.6); color: #fff; font-size: 12px; line-height: 18px;
  text-align: center; font-weight: 700; }
.eldercare-legend { background: rgba(255,255,255,.92); padding: 6px 8px; border-radius: 4px;
  box-shadow: 0 1px 4px rgba(0,0,0,.3); font-size: 12px; line-height: 18px; max-height: 320px; overflow-y: auto; }
.eldercare-legend .sw { display: inline-block; width: 12px; height: 12px; border-radius: 6px;
  margin-right: 5px; vertical-align: -1px; border: 1px solid #fff; }
.eldercare-legend .hx { display: inline-block; width: 16px; height: 10px; margin-right: 1px; }
.fac-dot { width: 11px; height: 11px; border-radius: 6px; border: 1.5px solid #fff;
  box-shadow: 0 0 2px rgba(0,0,0,.7); box-sizing: border-box; }
.fac-popup td { padding: 1px 6px 1px 0; vertical-align: top; }
.fac-popup th { text-align: left; font-size: 13px; padding-bottom: 3px; }
</style>
"""


@dataclass(frozen=True)
class LocalAssets:
    """Where the browser finds the vendored Leaflet files (under ``static/vendor``)."""

    base_url: str = "/app/static/vendor"

    def leaflet_js(self) -> list[tuple[str, str]]:
        return [("leaflet", f"{self.base_url}/leaflet/leaflet.js")]

    def leaflet_css(self) -> list[tuple[str, str]]:
        return [("leaflet_css", f"{self.base_url}/leaflet/leaflet.css")]

    def cluster_js(self) -> list[tuple[str, str]]:
        return [("markerclusterjs", f"{self.base_url}/leaflet.markercluster/leaflet.markercluster.js")]

    def cluster_css(self) -> list[tuple[str, str]]:
        return [
            ("markerclustercss", f"{self.base_url}/leaflet.markercluster/MarkerCluster.css"),
            ("markerclusterdefaultcss", f"{self.base_url}/leaflet.markercluster/MarkerCluster.Default.css"),
        ]


class _Text(Element):
    """Text put into the page as it is. branca compiles every rendered part of a MacroElement as a Jinja
    template once more, which for a layer carrying thousands of features costs more than the rest of the map."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def render(self, **kwargs) -> str:
        return self.text


class _Light(Layer):
    """A layer whose script carries its own data and adds itself to its parent when shown: rendered without
    branca's second template pass, and drawable in place (:meth:`LiveMap.groups_script`)."""

    def render(self, **kwargs) -> None:
        figure = self.get_root()
        for part in ("header", "html", "script"):
            macro = self._template.module.__dict__.get(part)
            if macro is not None:
                getattr(figure, part).add_child(_Text(macro(self, kwargs)), name=self.get_name())
        for child in self._children.values():
            child.render(**kwargs)

    def script(self) -> str:
        return self._template.module.script(self, {})


class _Legend(MacroElement):
    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function() {
          var legend = L.control({position: 'bottomright'});
          legend.onAdd = function () {
            var div = L.DomUtil.create('div', 'eldercare-legend');
            div.innerHTML = {{ this.legend_html|tojson }};
            return div;
          };
          legend.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
        """
    )

    def __init__(self, legend_html: str) -> None:
        super().__init__()
        self._name = "Legend"
        self.legend_html = legend_html


class _FacilityLayer(JSCSSMixin, _Light):
    """All facilities as one GeoJSON layer; markers, tooltips and popups made in the browser.

    Far lighter than one folium Marker per facility (a few hundred bytes each
    instead of kilobytes of generated JS). Text is escaped in Python before it
    is embedded; the browser only concatenates it.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function() {
          var kinds = {{ this.kinds|tojson }};
          var layer = L.geoJSON({{ this.data_json }}, {
            pointToLayer: function (f, latlng) {
              var p = f.properties, k = kinds[p.kind] || {c: '#607d8b', i: '?'};
              var size = {{ this.size }};
              var icon = L.divIcon({
                html: '<div class="{{ this.css_class }}" data-kind="' + p.kind + '" style="background:' + k.c +
                      ';opacity:' + (p.op ? 1 : 0.55) + '">' + ({{ this.with_icon|tojson }} ? k.i : '') + '</div>',
                className: 'fac-icon', iconSize: [size, size], iconAnchor: [size / 2, size / 2]
              });
              var marker = L.marker(latlng, {icon: icon}).bindTooltip(p.tip);
              return p.popup ? marker.bindPopup(p.popup, {maxWidth: 320}) : marker;
            }
          });
          var group = {% if this.cluster %}L.markerClusterGroup({{ this.cluster_options|tojson }}){% else %}L.featureGroup(){% endif %};
          group.addLayer(layer);
          return group;
        })();
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, data: dict, kinds: dict, *, cluster: bool, assets: LocalAssets, name: str,
                 compact: bool = False) -> None:
        super().__init__(name=name, overlay=True, control=True, show=True)
        self.size = 11 if compact else 22
        self.css_class = "fac-dot" if compact else "fac-marker"
        self.with_icon = not compact
        self._name = "FacilityLayer"
        # UTF-8 rather than \\uXXXX escapes halves the size of Chinese text;
        # "</" is escaped so no string can close the surrounding <script>.
        self.data_json = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
        self.kinds = kinds
        self.cluster = cluster
        self.cluster_options = {"maxClusterRadius": 40, "disableClusteringAtZoom": 15}
        self.default_js = assets.cluster_js() if cluster else []
        self.default_css = assets.cluster_css() if cluster else []


class _PreviewPoints(Layer):
    """Many thousand rows as circle markers on one canvas, from compact arrays: [lon, lat, status, row] per
    point and the problem text of the rows that have one (escaped in Python; the browser only concatenates)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function() {
          var colours = {{ this.colours|tojson }}, said = {{ this.said_json }}, pts = {{ this.points_json }};
          var map = {{ this._parent.get_name() }};
          if (!map.getPane('previewPoints')) {  // above the townships' filled polygons (overlayPane, 400)
            map.createPane('previewPoints').style.zIndex = 450;
          }
          var renderer = L.canvas({padding: 0.2, pane: 'previewPoints'}), group = L.featureGroup();
          for (var i = 0; i < pts.length; i++) {
            var p = pts[i], row = p[3];
            L.circleMarker([p[1], p[0]], {renderer: renderer, radius: 5, weight: 1, color: '#ffffff',
                                          fillColor: colours[p[2]], fillOpacity: 0.9})
              .bindPopup('第 ' + row + ' 行' + (said[row] ? '：' + said[row] : ''))
              .addTo(group);
          }
          return group;
        })();
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, points: list, said: dict, colours: list[str], *, name: str) -> None:
        super().__init__(name=name, overlay=True, control=True, show=True)
        self._name = "PreviewPoints"
        self.colours = colours
        self.points_json = json.dumps(points, separators=(",", ":"))
        self.said_json = json.dumps(said, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")


def _polygon_texts(polygons: np.ndarray, ndigits: int) -> list[str]:
    """Each polygon as :func:`shapes_text` writes one: ``[[ring],[ring]…]``, each ring a flat list of integer
    steps in 10^-ndigits degrees (x, y of the first point, then the differences)."""
    rings, ring_of = shapely.get_rings(polygons, return_index=True)
    coords, coord_of = shapely.get_coordinates(rings, return_index=True)
    ints = np.round(coords * 10.0 ** ndigits).astype(np.int64)
    steps = ints.copy()
    same = coord_of[1:] == coord_of[:-1]  # a point after another of the same ring: its step from that one
    steps[1:][same] = ints[1:][same] - ints[:-1][same]
    numbers = steps.ravel().astype(str).tolist()
    bounds = np.searchsorted(coord_of, np.arange(len(rings) + 1)) * 2
    rings_of: list[list[str]] = [[] for _ in range(len(polygons))]
    for r, p in enumerate(ring_of.tolist()):
        rings_of[p].append("[" + ",".join(numbers[bounds[r]:bounds[r + 1]]) + "]")
    return ["[" + ",".join(rs) + "]" for rs in rings_of]


def _features_text(props: list[dict], polygons: list[list[str]]) -> str:
    """Features from their properties (strings escaped for HTML here: they reach tooltips) and their polygons'
    texts."""
    feats = []
    for p, g in zip(props, polygons, strict=True):
        p = {k: html.escape(v) if isinstance(v, str) else v for k, v in p.items()}
        feats.append(f'{{"p":{json.dumps(p, ensure_ascii=False)},"g":[{",".join(g)}]}}')
    return "[" + ",".join(feats) + "]"


def shapes_text(gdf: gpd.GeoDataFrame, properties: tuple[str, ...], *, ndigits: int = 5) -> str:
    """Polygons as compact JSON for the browser, decoded by :class:`_ShapeLayer`: per feature its properties
    ``p`` (every string escaped for HTML: they reach tooltips) and its polygons ``g``, each ring a flat list of
    integer steps in 10^-ndigits degrees (x, y of the first point, then the differences). A third of the size of
    GeoJSON: what a map redrawn at every slider move sends and parses."""
    parts, part_of = shapely.get_parts(np.asarray(gdf.geometry.values), return_index=True)
    texts = _polygon_texts(parts, ndigits)
    polygons: list[list[str]] = [[] for _ in range(len(gdf))]
    for p, f in enumerate(part_of.tolist()):
        polygons[f].append(texts[p])
    cols = [gdf[c].tolist() for c in properties]
    return _features_text([dict(zip(properties, row, strict=True)) for row in zip(*cols, strict=True)]
                          if properties else [{}] * len(gdf), polygons)


class _HexTexts:
    """Each H3 hexagon written once as :func:`shapes_text` writes a polygon, by its id, the basemap's CRS and the
    digits: the maps redrawn at every edit and slider move draw the same cells again, and an H3 id always names
    the same hexagon. Bounded: past ``limit`` cells it starts afresh."""

    def __init__(self, limit: int = 300_000) -> None:
        self._texts: dict[tuple[str, int], dict[str, str]] = {}
        self._limit = limit
        self._lock = threading.Lock()  # sessions run in threads

    def of(self, hexes: gpd.GeoDataFrame, basemap: Basemap, ndigits: int) -> np.ndarray:
        """The texts of ``hexes`` (H3 ids in ``hex``, their boundaries as WGS84 geometry), in order; shapes
        without ids are written afresh."""
        if "hex" not in hexes.columns:
            return np.array(_polygon_texts(np.asarray(_shift(hexes, basemap).geometry.values), ndigits), dtype=object)
        with self._lock:
            known = self._texts.setdefault((basemap.crs, ndigits), {})
            ids = hexes["hex"].tolist()
            got = [known.get(h) for h in ids]
            missing = [i for i, t in enumerate(got) if t is None]
            if missing:
                shown = _shift(hexes.iloc[missing], basemap).geometry.values
                for i, t in zip(missing, _polygon_texts(np.asarray(shown), ndigits), strict=True):
                    got[i] = t
                if sum(len(d) for d in self._texts.values()) + len(missing) > self._limit:
                    self._texts.clear()
                    known = self._texts.setdefault((basemap.crs, ndigits), {})
                known.update((ids[i], got[i]) for i in missing)
        return np.array(got, dtype=object)


_HEX_TEXTS = _HexTexts()


class _ShapeLayer(_Light):
    """Polygons from :func:`shapes_text` (or its text): a fixed ``style``, the fill (and, ``line_from_fill``, the outline) from
    the property ``fill_from``, and a tooltip: ``tip`` and, if given, the property ``tip_field`` (numbers shown
    with thousands separators); ``canvas``: drawn on one shared canvas rather than as SVG paths."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function () {
          var group = L.featureGroup(), scale = {{ this.scale }};
          {{ this.data }}.forEach(function (f) {
            var polys = f.g.map(function (poly) {
              return poly.map(function (r) {
                var out = [], x = 0, y = 0;
                for (var i = 0; i < r.length; i += 2) { x += r[i]; y += r[i + 1]; out.push([y / scale, x / scale]); }
                return out;
              });
            });
            var s = Object.assign({interactive: {{ this.interactive|tojson }}}, {{ this.style|tojson }});
            {%- if this.canvas %}
            s.renderer = window.__eomCanvas = window.__eomCanvas || L.canvas({padding: 0.3});
            {%- endif %}
            {%- if this.fill_from %}
            s.fillColor = f.p[{{ this.fill_from|tojson }}];
            {%- if this.line_from_fill %} s.color = s.fillColor;{% endif %}
            {%- endif %}
            var shape = L.polygon(polys, s);
            {%- if this.tip is not none %}
            {%- if this.tip_field %}
            var v = f.p[{{ this.tip_field|tojson }}];
            shape.bindTooltip({{ this.tip|tojson }} + (typeof v === 'number' ? v.toLocaleString('zh-CN') : v),
                              {sticky: true});
            {%- else %}
            shape.bindTooltip({{ this.tip|tojson }}, {sticky: true});
            {%- endif %}
            {%- endif %}
            group.addLayer(shape);
          });
          return group;
        })();
        {%- if this.show %}
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {%- endif %}
        {% endmacro %}
        """
    )

    def __init__(self, data: gpd.GeoDataFrame | str, properties: tuple[str, ...] = (), *, style: dict,
                 name: str | None = None,
                 fill_from: str | None = None, line_from_fill: bool = False, tip: str | None = None,
                 tip_field: str | None = None, interactive: bool = True, show: bool = True, control: bool = True,
                 canvas: bool = False, ndigits: int = 5) -> None:
        super().__init__(name=name, overlay=True, control=control, show=show)
        self._name = "ShapeLayer"
        text = data if isinstance(data, str) else shapes_text(data, properties, ndigits=ndigits)  # str: written already
        self.data = text.replace("</", "<\\/")  # no closing </script>
        self.scale = 10 ** ndigits
        self.canvas, self.style, self.fill_from, self.line_from_fill = canvas, style, fill_from, line_from_fill
        self.tip = html.escape(tip) if tip is not None else None
        self.tip_field, self.interactive = tip_field, interactive


class _MarkLayer(_Light):
    """Points as round labelled marks (``symbol`` on ``colour``), or, with ``ring``, as circles (``hollow``: with a
    white centre); each
    with its tooltip (escaped here), ``permanent`` ones with the class ``tip_class``."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.featureGroup();
        {{ this.points|tojson }}.forEach(function (p) {
          {%- if this.ring %}
          var m = L.circleMarker([p[0], p[1]], {radius: 7, color: {{ this.colour|tojson }}, fill: true,
                                                fillColor: {{ this.fill|tojson }}, fillOpacity: {{ this.fill_opacity }},
                                                weight: 2});
          {%- else %}
          var m = L.marker([p[0], p[1]], {icon: L.divIcon({html: {{ this.icon_html|tojson }}, className: 'scn-icon',
                                                           iconSize: [20, 20], iconAnchor: [10, 10]})});
          {%- endif %}
          m.bindTooltip(p[2], {{ this.tip_options|tojson }}).addTo({{ this.get_name() }});
        });
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, points: gpd.GeoDataFrame, tips: list[str], *, colour: str, symbol: str = "",
                 ring: bool = False, hollow: bool = False, permanent: bool = False, tip_class: str = "") -> None:
        super().__init__(overlay=True, control=False)
        self._name = "MarkLayer"
        self.points = [[round(g.y, 6), round(g.x, 6), html.escape(t)]
                       for g, t in zip(points.geometry, tips, strict=True)]
        self.colour, self.ring = colour, ring
        # ``hollow``: a white centre, so the ring reads as "a site here, nothing more" over the coloured bands
        self.fill, self.fill_opacity = ("#ffffff", 0.9) if hollow else (colour, 0.6)
        self.icon_html = f'<div class="scn-mark" style="background:{colour}">{html.escape(symbol)}</div>'
        self.tip_options = {"permanent": True, "direction": "right", "className": tip_class} if permanent else {}


class _MetricScale(MacroElement):
    """A metric-only scale bar (folium's control_scale also shows miles)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        L.control.scale({metric: true, imperial: false, maxWidth: 160}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )


class _KeepDrawn(MacroElement):
    """Every vector renderer re-fitted to the map whenever the map's element changes size: the frame is laid out
    after the map is made, and renderers made before then kept the first bounds, so that parts of the paper, the
    roads and the bands were cut off in rectangles until the user moved the map."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map) {
          if (!window.ResizeObserver) { return; }
          new ResizeObserver(function () {
            map.invalidateSize({pan: false});
            map.eachLayer(function (l) { if (l instanceof L.Renderer && l._map) { l._reset(); } });
          }).observe(map.getContainer());
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )


@dataclass(frozen=True)
class MapLayers:
    """What to draw; every frame in WGS84."""

    district: gpd.GeoDataFrame
    townships: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    density: gpd.GeoDataFrame | None = None
    roads: gpd.GeoDataFrame | None = None
    selected_township: str | None = None
    street_detail: bool | None = None  # side streets and lanes drawn (None: when a township is selected)
    show_townships: bool = True


def _shift(gdf: gpd.GeoDataFrame, basemap: Basemap) -> gpd.GeoDataFrame:
    if basemap.crs != "gcj02" or gdf is None or gdf.empty:
        return gdf
    out = gdf.copy()
    out["geometry"] = geom_to_gcj02(np.asarray(gdf.geometry.values))
    return out.set_geometry("geometry")


def stored_lonlat(lng: float, lat: float, basemap: Basemap) -> tuple[float, float]:
    """Where a click on a map drawn on ``basemap`` lies in WGS84 (the layers of a GCJ-02 basemap are drawn shifted;
    what is stored is never)."""
    if basemap.crs != "gcj02":
        return float(lng), float(lat)
    lon, la = gcj02_to_wgs84(np.array([lng], dtype=float), np.array([lat], dtype=float))
    return float(lon[0]), float(la[0])


def _round(geoms, ndigits: int = 5):
    return shapely.transform(geoms, lambda xy: np.round(xy, ndigits))


def density_bins(values: np.ndarray, classes: int = len(DENSITY_COLOURS)) -> list[float]:
    """Quantile class breaks (at most ``classes`` classes)."""
    if len(values) == 0:
        return [0.0, 1.0]
    qs = np.quantile(values, np.linspace(0, 1, classes + 1))
    return sorted({float(q) for q in qs})


def facility_popup_html(row, kind_name: str, level_name: str, status_label: str) -> str:
    """Popup HTML for one facility; every value is escaped."""
    def esc(v) -> str:
        return html.escape("" if v is None else str(v))

    rows = [
        ("类型", kind_name),
        ("层级", level_name),
        ("状态", status_label),
        ("地址", row["address"]),
        ("床位（护理型/认知症）", f"{row['beds_total']}（{row['beds_care']}/{row['beds_dementia']}）"),
        ("工作人员（专业/岗前培训）", f"{row['staff_total']}（{row['staff_professional']}/{row['staff_prejob_trained']}）"),
        ("签约医疗机构", row["medical_partner_name"] if row["medical_partner"] else "未签约"),
        ("运营模式", row["operating_model"]),
        ("星级", "—" if row["star_rating"] is None or row["star_rating"] != row["star_rating"] else f"{int(row['star_rating'])} 星"),
    ]
    body = "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in rows)
    return f'<table class="fac-popup"><tr><th colspan="2">{esc(row["name"])}</th></tr>{body}</table>'


PAPER_PANE = "eomPaper"  # beneath the overlay pane (400), above the tiles (200)


def base_map(district: gpd.GeoDataFrame, focus_bounds, basemap: Basemap, assets: LocalAssets, *,
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
    m.get_root().header.add_child(Element(_CSS))
    _MetricScale().add_to(m)
    _KeepDrawn().add_to(m)
    if basemap.url:
        folium.TileLayer(
            tiles=basemap.url,
            attr=basemap.attribution or basemap.name_zh,
            name=basemap.name_zh,
            subdomains=basemap.subdomains or "abc",
            max_zoom=18,
            control=False,
        ).add_to(m)
    outline = _round(_shift(district, basemap).geometry.values).tolist()[0].__geo_interface__
    if not basemap.url:
        # the district as paper on the plain background, in a pane of its own beneath every overlay: in the
        # overlay pane it would be drawn as SVG, which Leaflet stacks above its canvas (z-index 200 over 100),
        # and would wash out all that is drawn on canvas (hexagons, bands) to a tenth of its colour
        folium.map.CustomPane(PAPER_PANE, z_index=350).add_to(m)
        folium.GeoJson(outline, name="区界底色", pane=PAPER_PANE, interactive=False, control=False,
                       style_function=lambda _f: {"stroke": False, "fillColor": "#fafaf5", "fillOpacity": 0.9},
                       ).add_to(m)
    folium.GeoJson(
        outline,
        name="区界",
        style_function=lambda _f: {"color": "#37474f", "weight": 2.5, "fillColor": "#fafaf5", "fillOpacity": 0.0},
        control=False,
    ).add_to(m)
    return m


def _street_detail(layers) -> bool:
    """Whether a map of these layers draws side streets and lanes: as the page says (an area small enough:
    services.base.street_detail), else when it shows one township."""
    return layers.street_detail if layers.street_detail is not None else bool(layers.selected_township)


STREET_ZOOM = 15  # Leaflet zoom from which side streets are drawn on a map of a whole (large) district
MAX_LANES_SENT = 30_000  # a district with more lane lines leaves them to its townships' maps (payload)


class _FromZoom(MacroElement):
    """One layer of a group shown only from ``zoom`` in: side streets appear at street zoom and leave when the
    user zooms out (the group's own switch in the layer control still hides all of it)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map, group, layer, zoom) {
          function show() {
            if (map.getZoom() >= zoom) { if (!group.hasLayer(layer)) { group.addLayer(layer); } }
            else if (group.hasLayer(layer)) { group.removeLayer(layer); }
          }
          map.on('zoomend', show);
          show();
        })({{ this.map.get_name() }}, {{ this.group.get_name() }}, {{ this.layer.get_name() }}, {{ this.zoom }});
        {% endmacro %}
        """
    )

    def __init__(self, map_: folium.Map, group, layer, zoom: int) -> None:
        super().__init__()
        self.map, self.group, self.layer, self.zoom = map_, group, layer, int(zoom)


def add_roads(m: folium.Map, roads: gpd.GeoDataFrame, basemap: Basemap, *, detailed: bool) -> None:
    """The road network by class; lanes and footways at every zoom when ``detailed`` (a township, a town
    centre), else from STREET_ZOOM in (at most MAX_LANES_SENT of them)."""
    if roads is None or roads.empty:
        return
    roads = _shift(roads, basemap)
    fg = folium.FeatureGroup(name="道路网", show=True)
    tolerance = 0.00003 if detailed else 0.0001  # degrees: ~3 m / ~9 m
    from_zoom = []
    for road_class, style in ROAD_STYLE.items():
        part = roads[roads["road_class"] == road_class]
        later = road_class == "lane" and not detailed
        if part.empty or (later and len(part) > MAX_LANES_SENT):
            continue
        merged = shapely.multilinestrings(_round(shapely.simplify(part.geometry.values, tolerance)))
        layer = folium.GeoJson(
            merged.__geo_interface__,
            style_function=lambda _f, s=style: {**s, "opacity": 0.9},
            interactive=False,
        ).add_to(fg)
        if later:
            from_zoom.append(layer)
    fg.add_to(m)
    for layer in from_zoom:
        _FromZoom(m, fg, layer, STREET_ZOOM).add_to(m)


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
    texts = _HEX_TEXTS.of(hexes, basemap, 4)  # ~10 m: cells are 170 m+
    style = {"fillOpacity": opacity, "color": "#ffffff", "weight": 0.3}
    if by_class:
        props, polygons = [], []
        for c in np.unique(classes):
            pick = classes == c
            lo, hi, n = int(totals[pick].min()), int(totals[pick].max()), int(pick.sum())
            props.append({"fill": colours[c], "tip": f"{tooltip}：每格 {lo:,}{'' if lo == hi else f'–{hi:,}'} 人（{n:,} 格）"})
            polygons.append(texts[pick].tolist())
        _ShapeLayer(_features_text(props, polygons), name=name, show=show, style=style, fill_from="fill", tip="",
                    tip_field="tip", canvas=True, ndigits=4).add_to(m)
        return
    props = [{"total": t, "fill": colours[c]} for t, c in zip(totals.astype(int).tolist(), classes.tolist(), strict=True)]
    _ShapeLayer(_features_text(props, [[t] for t in texts.tolist()]), name=name, show=show, style=style,
                fill_from="fill", tip=f"{tooltip}：", tip_field="total", canvas=True, ndigits=4).add_to(m)


# elder hexagons by the share of their elders the walk does not reach: (upper bound, colour, label); the first
# class is "all reached". The report's static map uses the same classes (reports/static_map.py).


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
    texts[inside] = _HEX_TEXTS.of(shares[inside], basemap, 4) if inside.any() else []
    border: list[list[str]] = [[] for _ in range(len(shares))]  # the cut parts of each border hexagon
    if not inside.all():
        cut = _shift(shares[~inside].assign(geometry=shapely.intersection(shares.geometry.values[~inside], within)),
                     basemap).geometry.values
        parts, of = shapely.get_parts(cut, return_index=True)
        # polygons that are left (a cut may leave nothing, or lines and points on the edge)
        keep = (shapely.get_type_id(parts) == 3) & ~shapely.is_empty(parts)
        rows = np.flatnonzero(~inside)
        for i, t in zip(of[keep].tolist(), _polygon_texts(parts[keep], 4), strict=True):
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
    _ShapeLayer(_features_text(props, polygons), name=name, show=show,
                style={"fillOpacity": opacity, "color": "#ffffff", "weight": 0.3}, fill_from="fill", tip="",
                tip_field="tip", canvas=True, ndigits=4).add_to(m)


_OUTLINES: dict[int, tuple[weakref.ref, object]] = {}


def _prepared_outline(district: gpd.GeoDataFrame):
    """The district's outline as one prepared polygon, kept while its frame lives (the services' shared frame:
    the same object at every slider move)."""
    got = _OUTLINES.get(id(district))
    if got is not None and got[0]() is district:
        return got[1]
    outline = shapely.union_all(district.geometry.values)
    shapely.prepare(outline)
    _OUTLINES[id(district)] = (weakref.ref(district), outline)
    weakref.finalize(district, _OUTLINES.pop, id(district), None)
    return outline


def share_legend() -> str:
    return "<b>老人未覆盖比例（每格）</b>" + "".join(
        f'<div><span class="hx" style="background:{colour}"></span>{html.escape(label)}</div>'
        for _, colour, label in SHARE_CLASSES)


def townships_geojson(townships: gpd.GeoDataFrame, basemap: Basemap, *, selected: str | None,
                      show_all: bool = True) -> str:
    """The township outlines as GeoJSON text, simplified, shifted for the basemap and with escaped names (the
    slow part of drawing them: callers that draw the same outlines on every rerun keep this text)."""
    twp = _shift(townships, basemap)[["code", "name", "type", "geometry"]].copy()
    twp["geometry"] = _round(shapely.simplify(twp.geometry.values, 0.00003))
    twp["name"] = [html.escape(str(n)) for n in twp["name"]]  # names come from a bureau's file; tooltips are HTML
    twp["type"] = [html.escape(str(n)) for n in twp["type"]]
    twp["selected"] = twp["code"] == (selected or "")
    if not show_all:
        twp = twp[twp["selected"]]
    return twp.to_json()


def add_townships(m: folium.Map, townships: gpd.GeoDataFrame, basemap: Basemap, *, selected: str | None,
                  show_all: bool = True, geojson: str | None = None) -> None:
    """Township outlines (``geojson``: the text :func:`townships_geojson` made for the same arguments)."""
    folium.GeoJson(
        geojson or townships_geojson(townships, basemap, selected=selected, show_all=show_all),
        name="乡镇（街道）边界",
        style_function=lambda f: {
            "color": "#d84315" if f["properties"]["selected"] else "#546e7a",
            "weight": 3 if f["properties"]["selected"] else 1.2,
            "dashArray": None if f["properties"]["selected"] else "4 3",
            "fillOpacity": 0.0,
        },
        tooltip=folium.GeoJsonTooltip(fields=["name", "type"], aliases=["乡镇（街道）", "类型"]),
    ).add_to(m)


def add_facilities(m: folium.Map, facilities: gpd.GeoDataFrame, basemap: Basemap, config: DashboardConfig, *,
                   cluster: bool, assets: LocalAssets, compact: bool = False, popups: bool = True) -> None:
    """Facility markers: icons by kind (``compact``: small dots that leave the layers below readable;
    without ``popups`` only the tooltip, which halves the page on maps redrawn at every edit)."""
    if facilities.empty:
        return
    _FacilityLayer(
        facility_geojson(_shift(facilities, basemap), config, popups=popups),
        {k.id: {"c": k.colour, "i": html.escape(k.icon)} for k in config.facility_kinds},
        cluster=cluster,
        assets=assets,
        name="养老服务设施",
        compact=compact,
    ).add_to(m)


def finish(m: folium.Map, legend: str, focus_bounds) -> folium.Map:
    _frame(m, legend, focus_bounds)
    folium.LayerControl(collapsed=True, position="topright").add_to(m)
    return m


def _frame(m: folium.Map, legend: str, focus_bounds) -> None:
    """The legend and the first view (fitted once, when the map is made; later views are the user's)."""
    minx, miny, maxx, maxy = focus_bounds
    _Legend(legend).add_to(m)
    m.fit_bounds([[miny, minx], [maxy, maxx]])


@dataclass
class LiveMap:
    """A map in two parts, for maps that change while the user works on them: the base (basemap, outline,
    townships, roads, legend; the same on every rerun, so the browser keeps the map, its centre and zoom) and
    the ``groups`` that change, drawn in place.

    The base is built on first use (``build_base``): a page that already shows the base of ``base_key`` need
    not build it again. ``base_key`` is None when the caller cannot tell one base from another."""

    build_base: Callable[[], folium.Map]
    groups: list
    base_key: Hashable | None = None
    _base: folium.Map | None = field(default=None, repr=False)

    @property
    def base(self) -> folium.Map:
        if self._base is None:
            self._base = self.build_base()
        return self._base

    def composed(self) -> folium.Map:
        """Everything on one static map (offline HTML export, tests)."""
        m = self.base
        for g in self.groups:
            g.add_to(m)
        folium.LayerControl(collapsed=True, position="topright").add_to(m)
        return m

    def groups_script(self) -> str:
        """The groups as one script for streamlit-folium's ``feature_group`` argument, evaluated in the mounted
        map (the variable ``map_div``): each group a feature group of light layers (no second render pass).

        The script keeps what it drew in ``window.__eomShown``, by the content of each group: a group the last
        update drew the same stays on the map as it is, and only the groups that changed are built again (the
        facilities stay while the minutes slider moves); the ones gone are removed. A group built again is shown
        as the user last left the layer of its name (``window.__eomNames``), else as ``show`` says. The groups
        are then stacked in their order again (a group built again would otherwise draw over one that stayed).
        None is listed in ``window.feature_group``: the frontend would remove them all."""
        out = ["var __eomWas = window.__eomShown || {}, __eomNow = {}, __eomSeen = {}, __eomNames = {};",
               "for (var n in (window.__eomNames || {})) { __eomSeen[n] = map_div.hasLayer(window.__eomNames[n]); }"]
        taken: dict[str, int] = {}
        for g in self.groups:
            # named by the layer's name, not by place or at random: the same layer gives the same script, however
            # many groups come before it (the bands are as many as the minutes ask for)
            stem = hashlib.sha256(g.layer_name.encode()).hexdigest()[:10]
            taken[stem] = taken.get(stem, -1) + 1
            g._id = f"{stem}_{taken[stem]}"
            name = g.get_name()
            parts = []
            for j, child in enumerate(g._children.values()):
                if not isinstance(child, _Light):
                    msg = f"{type(child).__name__} in a live group: use the light layers of maps.builders"
                    raise TypeError(msg)
                child._id = f"{g._id}_{j}"
                parts.append(child.script())
            body = "\n".join(parts)
            key = json.dumps(hashlib.sha256(f"{name}\n{body}".encode()).hexdigest()[:20])
            label = json.dumps(g.layer_name, ensure_ascii=False)
            out.append(f"var {name} = __eomWas[{key}] || (function () {{ var {name} = L.featureGroup();\n{body}\n"
                       f"if ({label} in __eomSeen ? __eomSeen[{label}] : {json.dumps(bool(g.show))}) "
                       f"{{ map_div.addLayer({name}); }} return {name}; }})();\n"
                       f"__eomNow[{key}] = {name}; __eomNames[{label}] = {name};")
        names = ", ".join(g.get_name() for g in self.groups)
        out.append("for (var k in __eomWas) { if (!(k in __eomNow)) { map_div.removeLayer(__eomWas[k]); } }\n"
                   f"[{names}].forEach(function (g) {{ if (map_div.hasLayer(g)) {{ g.bringToFront(); }} }});\n"
                   "window.__eomShown = __eomNow; window.__eomNames = __eomNames;")
        return "\n".join(out)

    def control_script(self, base_layers: list[tuple[str, str, bool]]) -> str:
        """The layer control over ``base_layers`` (name, variable, overlay) of the mounted base and the groups,
        as streamlit-folium's ``layer_control`` argument (it removes ``window.layer_control`` before)."""
        groups = [(g.layer_name, g.get_name(), True) for g in self.groups]
        bases = {n: v for n, v, overlay in base_layers if not overlay}
        overlays = {n: v for n, v, overlay in base_layers + groups if overlay}

        def js(d: dict) -> str:
            return "{" + ",".join(f"{json.dumps(n, ensure_ascii=False)}:{v}" for n, v in d.items()) + "}"

        return (f"var layer_control_layer_control = L.control.layers({js(bases)}, {js(overlays)}, "
                '{"autoZIndex": true, "collapsed": true, "position": "topright"}).addTo(map_div);\n'
                "window.layer_control = layer_control_layer_control;")


class ClickQueue(MacroElement):
    """Every map click, numbered, sent to Streamlit at once (no debounce) as the list of the last clicks.

    streamlit-folium returns only the last click, so clicks made while the page is busy overwrite each other;
    here each click gets (map instance, sequence number, lat, lng) and the whole recent list rides in the
    ``selected_tags`` field streamlit-folium passes through, so the page applies every click it has not seen.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
          var map = {{ this._parent.get_name() }};
          var inst = Math.random().toString(36).slice(2, 10);
          var seq = 0, clicks = [];
          map.on('click', function (e) {
            seq += 1;
            clicks.push([inst, seq, e.latlng.lat, e.latlng.lng]);
            if (clicks.length > {{ this.keep }}) { clicks.shift(); }
            var gd = window.__GLOBAL_DATA__;
            if (!gd || !window.Streamlit) { return; }
            gd.selected_tags = clicks.slice();
            var data = {selected_tags: gd.selected_tags};
            gd.previous_data = data;
            window.Streamlit.setComponentValue(data);
          });
        })();
        {% endmacro %}
        """
    )

    def __init__(self, keep: int = 200) -> None:
        super().__init__()
        self._name = "ClickQueue"
        self.keep = int(keep)


def focus_bounds(district: gpd.GeoDataFrame, townships: gpd.GeoDataFrame, selected: str | None,
                 basemap: Basemap):
    focus = townships.loc[[selected]] if selected else district
    return _shift(focus, basemap).total_bounds


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
    bounds = focus_bounds(layers.district, layers.townships, layers.selected_township, basemap)
    m = base_map(layers.district, bounds, basemap, assets)
    add_roads(m, layers.roads, basemap, detailed=_street_detail(layers))
    add_hexagons(m, layers.density, basemap, name="老年人口密度（H3）", tooltip="60岁以上老人")
    add_townships(m, layers.townships, basemap, selected=layers.selected_township, show_all=layers.show_townships)
    add_facilities(m, layers.facilities, basemap, config, cluster=cluster, assets=assets)
    return finish(m, legend_html(config, layers.facilities, layers.density), bounds)


def facility_geojson(facilities: gpd.GeoDataFrame, config: DashboardConfig, *, popups: bool = True) -> dict:
    """Facilities as a GeoJSON dict for the browser: kind, escaped tooltip and popup."""
    kinds = {k.id: k for k in config.facility_kinds}
    kind_ids, statuses, names = (facilities[c].tolist() for c in ("kind_id", "status", "name"))
    kind_names = [kinds[k].name_zh if k in kinds else k for k in kind_ids]
    geoms = np.asarray(facilities.geometry.values)
    xs, ys = np.round(shapely.get_x(geoms), 6).tolist(), np.round(shapely.get_y(geoms), 6).tolist()
    popup_html = [""] * len(facilities)
    if popups:  # the whole row: the export only (maps redrawn at every move leave them out)
        popup_html = [facility_popup_html(row._asdict(), name,
                                          config.level(kinds[row.kind_id].level).name_zh if row.kind_id in kinds
                                          else row.level, FACILITY_STATUS_ZH.get(row.status, row.status))
                      for row, name in zip(facilities.itertuples(index=False), kind_names, strict=True)]
    features = [{
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [x, y]},
        "properties": {"kind": html.escape(k), "op": st == "operating", "tip": html.escape(f"{n}（{kn}）"), "popup": pop},
    } for k, st, n, kn, x, y, pop in zip(kind_ids, statuses, names, kind_names, xs, ys, popup_html, strict=True)]
    return {"type": "FeatureCollection", "features": features}


def _swatches(colours) -> str:
    """Legend colour boxes for hexagon / band classes."""
    return "".join(f'<span class="hx" style="background:{c}"></span>' for c in colours)


def _dot(colour: str) -> str:
    """A legend dot for point symbols."""
    return f'<span class="sw" style="background:{colour}"></span>'


def legend_html(config: DashboardConfig, facilities: gpd.GeoDataFrame, density: gpd.GeoDataFrame | None) -> str:
    present = set(facilities["kind_id"]) if not facilities.empty else set()
    items = [
        f"<div>{_dot(k.colour)}{html.escape(k.name_zh)}</div>"
        for k in config.facility_kinds
        if k.id in present
    ]
    parts = ["<b>设施类型</b>", *items]
    if density is not None and not density.empty:
        bins = density_bins(density["total"].to_numpy())
        parts.append(f"<b>老年人口（每格）</b><div>{_swatches(DENSITY_COLOURS[: len(bins) - 1])}</div><div>{int(bins[0])} – {int(bins[-1])} 人</div>")
    return "".join(parts)


BAND_COLOURS = ("#1b5e20", "#43a047", "#81c784", "#c8e6c9", "#e8f5e9")
AREA_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                "#bcbd22", "#17becf")


@dataclass(frozen=True)
class CoverageLayers:
    district: gpd.GeoDataFrame
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


_KEPT: dict[int, tuple[weakref.ref, dict]] = {}  # id(frame) -> (the frame, its texts by key)
_KEPT_LOCK = threading.Lock()


def _kept_text(frame: gpd.GeoDataFrame, key: Hashable, make: Callable[[], str]) -> str:
    """``make()``, written once per ``frame`` and ``key`` and kept while the frame lives: for the shared frames of
    the services' resource memos (never changed; the same object at every slider move)."""
    with _KEPT_LOCK:
        ref, texts = _KEPT.get(id(frame), (None, None))
        if ref is not None and ref() is frame and key in texts:
            return texts[key]
    text = make()
    with _KEPT_LOCK:
        ref, texts = _KEPT.get(id(frame), (None, None))
        if ref is None or ref() is not frame:
            texts = {}
            _KEPT[id(frame)] = (weakref.ref(frame), texts)
            weakref.finalize(frame, _KEPT.pop, id(frame), None)
        texts[key] = text
    return text


def _band_text(bands: gpd.GeoDataFrame, minutes: int, basemap: Basemap) -> str:
    """One walking band of ``bands`` (``minutes``, nested polygons; simplified for drawing by services.coverage),
    coloured by its rank: the shortest darkest."""
    rank = sorted(bands["minutes"]).index(minutes)
    band = _shift(bands[bands["minutes"] == minutes], basemap)
    return shapes_text(gpd.GeoDataFrame({"fill": [BAND_COLOURS[min(rank, len(BAND_COLOURS) - 1)]],
                                         "tip": [f"步行 {minutes} 分钟可达"]},
                                        geometry=band.geometry.values, crs=band.crs), ("fill", "tip"))


def _areas_text(areas: gpd.GeoDataFrame, basemap: Basemap) -> str:
    """Service areas (``name`` of the nearest facility: a bureau's file, escaped by shapes_text), each its colour."""
    areas = _shift(areas, basemap).reset_index(drop=True)
    return shapes_text(gpd.GeoDataFrame({
        "fill": [AREA_PALETTE[i % len(AREA_PALETTE)] for i in range(len(areas))],
        "name": [str(n) for n in areas["name"]],
    }, geometry=areas.geometry.values, crs=areas.crs), ("fill", "name"))


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
        bounds = focus_bounds(layers.district, layers.townships, layers.selected_township, basemap)
        m = base_map(layers.district, bounds, basemap, assets)
        add_roads(m, layers.roads, basemap, detailed=_street_detail(layers))
        add_townships(m, layers.townships, basemap, selected=layers.selected_township)
        legend = ["<b>步行等时圈 / 服务范围</b><div>颜色由深到浅：步行时间由短到长；服务范围每块归属步行最近的设施</div>",
                  share_legend()]
        if layers.neighbours is not None and not layers.neighbours.empty:
            legend.append(f'<div><span class="sw" style="background:none;border:2px solid {NEIGHBOUR_COLOUR}"></span>'
                          f"{NEIGHBOUR_LABEL}：仅示位置与类型</div>")
        _frame(m, "".join(legend), bounds)
        return m

    groups = []
    # elders first, so the walking bands and service areas read on top of them: each hexagon once, by the share
    # of its elders not reached
    fg = folium.FeatureGroup(name="未覆盖老人", show=True)
    add_share_hexagons(fg, uncovered_share(layers.covered_hexes, layers.uncovered_hexes), basemap, name="未覆盖老人",
                       within=_prepared_outline(layers.district))
    groups.append(fg)
    if layers.bands is not None and not layers.bands.empty:
        # one group per band, longest first: a minutes move builds only the band that changed
        for minutes in sorted(layers.bands["minutes"], reverse=True):
            fg = folium.FeatureGroup(name=f"步行 {minutes} 分钟等时圈")
            text = _kept_text(layers.bands, ("band", minutes, basemap.crs),
                              lambda m=minutes: _band_text(layers.bands, m, basemap))
            _ShapeLayer(text, style={"fillOpacity": 0.3, "weight": 1.2}, fill_from="fill", line_from_fill=True,
                        tip="", tip_field="tip", canvas=True).add_to(fg)
            groups.append(fg)
    if layers.areas is not None and not layers.areas.empty:
        fg = folium.FeatureGroup(name="服务范围（最近设施）")
        _ShapeLayer(_kept_text(layers.areas, ("areas", basemap.crs), lambda: _areas_text(layers.areas, basemap)),
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


NEIGHBOUR_LABEL = "邻近乡镇设施（计入覆盖）"
NEIGHBOUR_COLOUR = "#546e7a"


def add_neighbours(m: folium.Map, neighbours: gpd.GeoDataFrame, basemap: Basemap, config: DashboardConfig) -> None:
    """Other townships' sites that serve the scope's elders: a grey ring and their kind, nothing else (the frame
    holds nothing else: services.scoped)."""
    kinds = {k.id: k.name_zh for k in config.facility_kinds}
    points = _shift(neighbours, basemap)
    _MarkLayer(points, [f"邻近乡镇的{kinds.get(k, k)}（步行可达本乡镇老人，计入覆盖）" for k in points["kind_id"]],
               colour=NEIGHBOUR_COLOUR, ring=True, hollow=True).add_to(m)


NEW_COVER_COLOURS = ("#e5f5e0", "#a1d99b", "#74c476", "#31a354", "#006d2c")
LOST_COVER_COLOURS = ("#fcbba1", "#fb6a4a", "#ef3b2c", "#cb181d", "#67000d")
STILL_UNCOVERED_COLOURS = ("#fff7bc", "#fee391", "#fec44f", "#fe9929", "#ec7014")


@dataclass(frozen=True)
class ScenarioLayers:
    district: gpd.GeoDataFrame
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


def _point_layer(m: folium.Map, points: gpd.GeoDataFrame, basemap: Basemap, *, label: str, colour: str,
                 symbol: str) -> None:
    if points is None or points.empty:
        return
    points = _shift(points, basemap)
    _MarkLayer(points, [f"{label}：{n}" for n in points["name"]], colour=colour, symbol=symbol).add_to(m)


def build_scenario_map(layers: ScenarioLayers, *, config: DashboardConfig, basemap_id: str,
                       assets: LocalAssets | None = None) -> folium.Map:
    """The difference map on one static map (offline exports)."""
    return scenario_live_map(layers, config=config, basemap_id=basemap_id, assets=assets).composed()


def scenario_live_map(layers: ScenarioLayers, *, config: DashboardConfig, basemap_id: str,
                      assets: LocalAssets | None = None, clickable: bool = False,
                      townships_json: str | None = None, base_key: Hashable | None = None) -> LiveMap:
    """The difference map: newly covered / newly uncovered elders, opened, closed and proposed sites, and the
    clicks that opened nothing (with why). The base (district, townships, roads, legend and, ``clickable``, the
    click queue) stays; the rest is redrawn in place after every edit."""
    assets = assets or LocalAssets()
    basemap = config.basemap(basemap_id)
    marks = ((layers.closed, "关闭的站点", "关闭", "#616161", "×"), (layers.opened, "新增站点", "新增", "#2e7d32", "+"),
             (layers.proposed, "优化建议站点", "建议", "#6a1b9a", "★"))
    hex_layers = ((layers.still_uncovered, "仍未覆盖老人", STILL_UNCOVERED_COLOURS),
                  (layers.newly_uncovered, "新失去覆盖的老人", LOST_COVER_COLOURS),
                  (layers.newly_covered, "新增覆盖的老人", NEW_COVER_COLOURS))

    def build_base() -> folium.Map:
        bounds = focus_bounds(layers.district, layers.townships, layers.selected_township, basemap)
        m = base_map(layers.district, bounds, basemap, assets)
        m.get_root().header.add_child(Element(
            "<style>.scn-mark{width:20px;height:20px;border-radius:10px;border:2px solid #fff;color:#fff;"
            "font:700 13px/16px sans-serif;text-align:center;box-shadow:0 0 3px rgba(0,0,0,.7);box-sizing:border-box}"
            ".scn-refused{background:#fff3e0;border:1px solid #e65100;color:#bf360c;font:12px sans-serif;padding:2px 4px}"
            "</style>"))
        add_roads(m, layers.roads, basemap, detailed=_street_detail(layers))
        add_townships(m, layers.townships, basemap, selected=layers.selected_township, geojson=townships_json)
        # the facilities of the scenario's base stay in the base; what the edits open or close is marked on top
        add_facilities(m, layers.base_facilities if layers.base_facilities is not None else layers.facilities,
                       basemap, config, cluster=False, assets=assets, compact=True, popups=False)
        legend = [f"<b>{name}</b><div>{_swatches(colours)}</div>" for _h, name, colours in hex_layers]
        legend.append("<div>" + " ".join(f"{_dot(colour)}{label}" for _p, _n, label, colour, _s in marks) + "</div>")
        if clickable:
            legend.append("<div>点击地图即在该处新增站点</div>")
            ClickQueue().add_to(m)
        _frame(m, "".join(legend), bounds)
        return m

    groups = []
    for hexes, name, colours in hex_layers:
        fg = folium.FeatureGroup(name=name)
        add_hexagons(fg, hexes, basemap, name=name, tooltip=name, colours=colours, opacity=0.65, by_class=True)
        groups.append(fg)
    for points, name, label, colour, symbol in marks:
        fg = folium.FeatureGroup(name=name)
        _point_layer(fg, points, basemap, label=label, colour=colour, symbol=symbol)
        groups.append(fg)
    if layers.refused is not None and not layers.refused.empty:
        fg = folium.FeatureGroup(name="未新增的点击")
        _MarkLayer(_shift(layers.refused, basemap), list(layers.refused["why"]), colour="#e65100", ring=True,
                   permanent=True, tip_class="scn-refused").add_to(fg)
        groups.append(fg)
    return LiveMap(build_base, [g for g in groups if g._children], base_key)


PROJECT_STATUS_COLOURS = {"compliant": "#2e7d32", "violation": "#c62828", "incomplete": "#757575"}


def build_projects_map(district: gpd.GeoDataFrame, townships: gpd.GeoDataFrame, projects, *, config: DashboardConfig,
                       basemap_id: str, selected_township: str | None = None,
                       assets: LocalAssets | None = None) -> folium.Map:
    """Residential projects coloured by their four-synchronous status; the reasons in the popup."""
    assets = assets or LocalAssets()
    basemap = config.basemap(basemap_id)
    bounds = focus_bounds(district, townships, selected_township, basemap)
    m = base_map(district, bounds, basemap, assets)
    add_townships(m, townships, basemap, selected=selected_township)
    if len(projects):
        # GeoJSON with popups made by Leaflet itself: folium.Popup needs jQuery, which the local assets leave out
        pts = gpd.GeoDataFrame({
            "name": [html.escape(v) for v in projects["name"]],
            "state": [PROJECT_STATUS_ZH[v] for v in projects["status"]],
            "colour": [PROJECT_STATUS_COLOURS[v] for v in projects["status"]],
            "households": projects["households"].astype(int).to_numpy(),
            "reasons": [html.escape(v) if v else "全部适用规则均合规" for v in projects["原因"]],
        }, geometry=gpd.points_from_xy(projects["lon"], projects["lat"]), crs="EPSG:4326")
        folium.GeoJson(
            _shift(pts, basemap).to_json(), name="住宅项目（四同步）",
            marker=folium.CircleMarker(radius=7, weight=1.5, color="#ffffff", fill=True, fill_opacity=0.95),
            style_function=lambda f: {"fillColor": f["properties"]["colour"], "className": "project-mark"},
            tooltip=folium.GeoJsonTooltip(fields=["name", "state"], aliases=["项目", "四同步"]),
            popup=folium.GeoJsonPopup(fields=["name", "households", "reasons"], aliases=["项目", "户数", "问题"]),
        ).add_to(m)
    legend = "<b>四同步状态</b>" + "".join(
        f"<div>{_dot(c)}{PROJECT_STATUS_ZH[s]}</div>"
        for s, c in PROJECT_STATUS_COLOURS.items())
    return finish(m, legend, bounds)


LIGHT_FILL = {"green": "#43a047", "amber": "#fbc02d", "red": "#e53935", "none": "#bdbdbd",
              "not_judged": "#90a4ae", "not_evaluated": "#bdbdbd"}


def build_scorecard_map(district: gpd.GeoDataFrame, townships: gpd.GeoDataFrame, cells: pd.DataFrame, *,
                        label: str, legend: dict[str, str], config: DashboardConfig, basemap_id: str,
                        selected_township: str | None = None, assets: LocalAssets | None = None) -> folium.Map:
    """Townships filled by the traffic light of one target; ``cells`` indexed by township code
    with ``light`` and ``text`` (the formatted value); ``legend`` light → label."""
    assets = assets or LocalAssets()
    basemap = config.basemap(basemap_id)
    bounds = focus_bounds(district, townships, selected_township, basemap)
    m = base_map(district, bounds, basemap, assets)
    twp = _shift(townships, basemap)[["code", "name", "geometry"]].copy()
    twp["geometry"] = _round(shapely.simplify(twp.geometry.values, 0.00003))
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
        f"<div>{_dot(LIGHT_FILL[k])}{html.escape(v)}</div>" for k, v in legend.items())
    return finish(m, html_legend, bounds)


def build_live_map(district: gpd.GeoDataFrame, townships: gpd.GeoDataFrame, *, config: DashboardConfig,
                   basemap_id: str, legend: dict[str, tuple[str, str]],
                   assets: LocalAssets | None = None) -> folium.Map:
    """The fixed part of the live map (boundaries, legend); the stations come as a layer that
    st_folium swaps at every refresh without redrawing the map. ``legend``: state → (label, colour)."""
    assets = assets or LocalAssets()
    basemap = config.basemap(basemap_id)
    bounds = focus_bounds(district, townships, None, basemap)
    m = base_map(district, bounds, basemap, assets)
    add_townships(m, townships, basemap, selected=None)
    html_legend = "<b>站点状态</b>" + "".join(
        f"<div>{_dot(colour)}{html.escape(label)}</div>" for label, colour in legend.values())
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
    for row in _shift(stations, basemap).itertuples():
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


PREVIEW_COLOURS = {"ok": "#2e7d32", "warning": "#f9a825", "error": "#c62828"}
PREVIEW_LABELS = {"ok": "无问题", "warning": "警告", "error": "错误"}


def build_preview_map(district: gpd.GeoDataFrame, townships: gpd.GeoDataFrame | None, points: pd.DataFrame,
                      *, config: DashboardConfig, basemap_id: str, assets: LocalAssets | None = None) -> folium.Map:
    """An import's rows before anything is stored: one dot per row (``row``, ``lon``, ``lat``, ``status``,
    ``problems`` — plain text, escaped here), coloured fine / warning / error, over the district and townships;
    a click shows the row and its problems."""
    basemap = config.basemap(basemap_id)
    pts = gpd.GeoDataFrame(points[["row", "status"]].copy(), crs=4326,
                           geometry=gpd.points_from_xy(points["lon"], points["lat"]))
    bounds = _shift(district, basemap).total_bounds
    if not pts.empty:  # rows far outside the district must be seen too
        pb = _shift(pts, basemap).total_bounds
        bounds = [min(bounds[0], pb[0]), min(bounds[1], pb[1]), max(bounds[2], pb[2]), max(bounds[3], pb[3])]
    m = base_map(district, bounds, basemap, assets or LocalAssets())
    if townships is not None and not townships.empty:
        add_townships(m, townships, basemap, selected=None)
    if not pts.empty:
        shown = _shift(pts, basemap)
        status = list(PREVIEW_COLOURS)
        xy = np.round(shapely.get_coordinates(shown.geometry.values), 6)
        rows = points["row"].astype(int).to_numpy()
        compact = [[float(x), float(y), status.index(st), int(r)]
                   for (x, y), st, r in zip(xy, points["status"], rows, strict=True)]
        said = {int(r): html.escape(str(text)) for r, text in zip(rows, points["problems"], strict=True) if text}
        _PreviewPoints(compact, said, [PREVIEW_COLOURS[k] for k in status], name="导入预览").add_to(m)
    counts = points["status"].value_counts() if len(points) else pd.Series(dtype=int)
    legend = "<b>导入预览</b>" + "".join(
        f"<div>{_dot(PREVIEW_COLOURS[s])}{PREVIEW_LABELS[s]} {int(counts.get(s, 0)):,}</div>" for s in PREVIEW_COLOURS)
    return finish(m, legend, bounds)


def build_version_map(district: gpd.GeoDataFrame, frame: gpd.GeoDataFrame, *, label: str, config: DashboardConfig,
                      basemap_id: str, assets: LocalAssets | None = None) -> folium.Map:
    """One stored version of a kind drawn over the current outline: polygons as outlines, points as dots, each
    with its name (escaped) as the tooltip."""
    basemap = config.basemap(basemap_id)
    bounds = _shift(district, basemap).total_bounds
    if not frame.empty:
        fb = _shift(frame, basemap).total_bounds
        bounds = [min(bounds[0], fb[0]), min(bounds[1], fb[1]), max(bounds[2], fb[2]), max(bounds[3], fb[3])]
    m = base_map(district, bounds, basemap, assets or LocalAssets())
    if not frame.empty:
        shown = _shift(frame[["name", "geometry"]].reset_index(drop=True), basemap)
        shown["name"] = [html.escape(str(n)) for n in shown["name"]]
        points = bool(shown.geom_type.isin(["Point"]).all())
        shown["geometry"] = _round(shown.geometry.values if points else
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
