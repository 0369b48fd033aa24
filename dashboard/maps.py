"""Folium map builders. No streamlit here: the same map serves the page and exports.

Leaflet and its plugins are served from the app's own static folder (see
``LocalAssets``), so the no-tiles basemap works with no internet at all.
Vector layers are stored in WGS84 and shifted to GCJ-02 for display only
when the basemap is a Chinese web map.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import shapely
from branca.element import Element, MacroElement
from folium.plugins import MarkerCluster
from jinja2 import Template

from config import Basemap, DashboardConfig
from geo.crs import geom_to_gcj02

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

_ROAD_STYLE = {
    "arterial": {"color": "#8d6e63", "weight": 2.6},
    "connector": {"color": "#a1887f", "weight": 1.4},
    "street": {"color": "#9e9e9e", "weight": 1.0},
    "lane": {"color": "#bdbdbd", "weight": 0.7},
}
DENSITY_COLOURS = ("#fff5eb", "#fdd0a2", "#fdae6b", "#fd8d3c", "#e6550d", "#a63603")

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


class _Popup(MacroElement):
    """A popup bound from a plain HTML string (folium's Popup needs jQuery, which we do not ship)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.bindPopup({{ this.popup_html|tojson }}, {maxWidth: {{ this.max_width }}});
        {% endmacro %}
        """
    )

    def __init__(self, popup_html: str, *, max_width: int = 320) -> None:
        super().__init__()
        self._name = "Popup"
        self.popup_html = popup_html
        self.max_width = int(max_width)


class _MetricScale(MacroElement):
    """A metric-only scale bar (folium's control_scale also shows miles)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        L.control.scale({metric: true, imperial: false, maxWidth: 160}).addTo({{ this._parent.get_name() }});
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
    show_townships: bool = True


def _shift(gdf: gpd.GeoDataFrame, basemap: Basemap) -> gpd.GeoDataFrame:
    if basemap.crs != "gcj02" or gdf is None or gdf.empty:
        return gdf
    out = gdf.copy()
    out["geometry"] = geom_to_gcj02(np.asarray(gdf.geometry.values))
    return out.set_geometry("geometry")


def _round(geoms, ndigits: int = 5):
    return shapely.transform(geoms, lambda xy: np.round(xy, ndigits))


def density_bins(values: np.ndarray) -> list[float]:
    """Quantile class breaks (at most len(DENSITY_COLOURS) classes)."""
    if len(values) == 0:
        return [0.0, 1.0]
    qs = np.quantile(values, np.linspace(0, 1, len(DENSITY_COLOURS) + 1))
    return sorted({float(q) for q in qs})


def _colour_for(value: float, bins: list[float]) -> str:
    idx = int(np.searchsorted(bins[1:-1], value, side="right"))
    return DENSITY_COLOURS[min(idx, len(DENSITY_COLOURS) - 1)]


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


STATUS_LABELS = {"operating": "运营中", "suspended": "暂停", "planned": "规划中", "building": "建设中"}


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
    district = _shift(layers.district, basemap)
    townships = _shift(layers.townships, basemap)
    facilities = _shift(layers.facilities, basemap)
    density = _shift(layers.density, basemap) if layers.density is not None else None
    roads = _shift(layers.roads, basemap) if layers.roads is not None else None

    focus = townships.loc[[layers.selected_township]] if layers.selected_township else district
    minx, miny, maxx, maxy = focus.total_bounds
    m = folium.Map(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        zoom_start=10,
        tiles=None,
        control_scale=False,
        prefer_canvas=False,
        zoom_control=True,
        # Map options, not tile options: leaflet.markercluster needs maxZoom without tiles.
        **{"minZoom": 7, "maxZoom": 18, "zoomSnap": 0.25},
    )
    m.default_js = assets.leaflet_js()
    m.default_css = assets.leaflet_css()
    m.get_root().header.add_child(Element(_CSS))
    _MetricScale().add_to(m)
    if basemap.url:
        folium.TileLayer(
            tiles=basemap.url,
            attr=basemap.attribution or basemap.name_zh,
            name=basemap.name_zh,
            subdomains=basemap.subdomains or "abc",
            max_zoom=18,
            control=False,
        ).add_to(m)

    folium.GeoJson(
        _round(district.geometry.values).tolist()[0].__geo_interface__,
        name="区界",
        style_function=lambda _f: {"color": "#37474f", "weight": 2.5, "fillColor": "#fafaf5",
                                   "fillOpacity": 0.0 if basemap.url else 0.9},
        control=False,
    ).add_to(m)

    if roads is not None and not roads.empty:
        fg = folium.FeatureGroup(name="道路网", show=True)
        for road_class, style in _ROAD_STYLE.items():
            part = roads[roads["road_class"] == road_class]
            if part.empty:
                continue
            merged = _round(shapely.simplify(shapely.union_all(part.geometry.values), 0.00004))
            folium.GeoJson(
                merged.__geo_interface__,
                style_function=lambda _f, s=style: {**s, "opacity": 0.9},
                interactive=False,
            ).add_to(fg)
        fg.add_to(m)

    if density is not None and not density.empty:
        bins = density_bins(density["total"].to_numpy())
        data = density[["hex", "total", "geometry"]].copy()
        data["geometry"] = _round(data.geometry.values)
        data["fill"] = [_colour_for(v, bins) for v in data["total"]]
        folium.GeoJson(
            data.to_json(),
            name="老年人口密度（H3）",
            style_function=lambda f: {"fillColor": f["properties"]["fill"], "fillOpacity": 0.55,
                                      "color": "#ffffff", "weight": 0.3},
            tooltip=folium.GeoJsonTooltip(fields=["total"], aliases=["60岁以上老人"], localize=True),
        ).add_to(m)

    twp = townships[["code", "name", "type", "geometry"]].copy()
    twp["geometry"] = _round(shapely.simplify(twp.geometry.values, 0.00003))
    twp["selected"] = twp["code"] == (layers.selected_township or "")
    if not layers.show_townships:
        twp = twp[twp["selected"]]
    folium.GeoJson(
        twp.to_json(),
        name="乡镇（街道）边界",
        style_function=lambda f: {
            "color": "#d84315" if f["properties"]["selected"] else "#546e7a",
            "weight": 3 if f["properties"]["selected"] else 1.2,
            "dashArray": None if f["properties"]["selected"] else "4 3",
            "fillOpacity": 0.0,
        },
        tooltip=folium.GeoJsonTooltip(fields=["name", "type"], aliases=["乡镇（街道）", "类型"]),
    ).add_to(m)

    if not facilities.empty:
        if cluster:
            group = MarkerCluster(name="养老服务设施", options={"maxClusterRadius": 40, "disableClusteringAtZoom": 15})
            group.default_js = assets.cluster_js()
            group.default_css = assets.cluster_css()
        else:
            group = folium.FeatureGroup(name="养老服务设施")
        kinds = {k.id: k for k in config.facility_kinds}
        for _, row in facilities.iterrows():
            kind = kinds.get(row["kind_id"])
            colour = kind.colour if kind else "#607d8b"
            icon = html.escape(kind.icon if kind else "?")
            kind_name = kind.name_zh if kind else row["kind_id"]
            level_name = config.level(kind.level).name_zh if kind else row["level"]
            status = STATUS_LABELS.get(row["status"], row["status"])
            opacity = "1" if row["status"] == "operating" else "0.55"
            marker = folium.Marker(
                location=[row.geometry.y, row.geometry.x],
                icon=folium.DivIcon(
                    html=f'<div class="fac-marker" data-kind="{html.escape(row["kind_id"])}" '
                    f'style="background:{colour};opacity:{opacity}">{icon}</div>',
                    icon_size=(22, 22),
                    icon_anchor=(11, 11),
                    class_name="fac-icon",
                ),
                tooltip=html.escape(f"{row['name']}（{kind_name}）"),
            )
            _Popup(facility_popup_html(row, kind_name, level_name, status)).add_to(marker)
            marker.add_to(group)
        group.add_to(m)

    _Legend(legend_html(config, facilities, density)).add_to(m)
    folium.LayerControl(collapsed=True, position="topright").add_to(m)
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    return m


def legend_html(config: DashboardConfig, facilities: gpd.GeoDataFrame, density: gpd.GeoDataFrame | None) -> str:
    present = set(facilities["kind_id"]) if not facilities.empty else set()
    items = [
        f'<div><span class="sw" style="background:{k.colour}"></span>{html.escape(k.name_zh)}</div>'
        for k in config.facility_kinds
        if k.id in present
    ]
    parts = ["<b>设施类型</b>", *items]
    if density is not None and not density.empty:
        bins = density_bins(density["total"].to_numpy())
        swatches = "".join(f'<span class="hx" style="background:{c}"></span>' for c in DENSITY_COLOURS[: len(bins) - 1])
        parts.append(f"<b>老年人口（每格）</b><div>{swatches}</div><div>{int(bins[0])} – {int(bins[-1])} 人</div>")
    return "".join(parts)
