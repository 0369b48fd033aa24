"""The Leaflet elements of the maps, written for them: lightweight layers drawn from GeoJSON text (shapes,
marks, facilities, preview points), legends, the metric scale, layers shown from a zoom on, and the assets (Leaflet
and its plugins from the app's own static folder, so the no-tiles basemap works with no internet at all)."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path

import folium
import geopandas as gpd
from branca.element import Element, MacroElement
from folium.elements import JSCSSMixin
from folium.map import Layer
from jinja2 import Template

from maps.geojson import shapes_text
from maps.vocabulary import (  # noqa: F401  (SHARE_CLASSES: read here by the static report maps too)
    DENSITY_COLOURS,
    FACILITY_STATUS_ZH,
    PROJECT_STATUS_ZH,
    ROAD_STYLE,
    SHARE_CLASSES,
)

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


MAP_CSS = """
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


class TextElement(Element):
    """Text put into the page as it is. branca compiles every rendered part of a MacroElement as a Jinja
    template once more, which for a layer carrying thousands of features costs more than the rest of the map."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def render(self, **kwargs) -> str:
        return self.text


class LightLayer(Layer):
    """A layer whose script carries its own data and adds itself to its parent when shown: rendered without
    branca's second template pass, and drawable in place (:meth:`LiveMap.groups_script`)."""

    def render(self, **kwargs) -> None:
        figure = self.get_root()
        for part in ("header", "html", "script"):
            macro = self._template.module.__dict__.get(part)
            if macro is not None:
                getattr(figure, part).add_child(TextElement(macro(self, kwargs)), name=self.get_name())
        for child in self._children.values():
            child.render(**kwargs)

    def script(self) -> str:
        return self._template.module.script(self, {})


class Legend(MacroElement):
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


class FacilityLayer(JSCSSMixin, LightLayer):
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


class PreviewPoints(Layer):
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


class ShapeLayer(LightLayer):
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


class MarkLayer(LightLayer):
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


class MetricScale(MacroElement):
    """A metric-only scale bar (folium's control_scale also shows miles)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        L.control.scale({metric: true, imperial: false, maxWidth: 160}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )


class KeepDrawn(MacroElement):
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


PAPER_PANE = "eomPaper"  # beneath the overlay pane (400), above the tiles (200)


class FromZoom(MacroElement):
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
