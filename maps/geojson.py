"""Layers as GeoJSON text: rounded coordinates, shifted to GCJ-02 for display only when the basemap is a Chinese
web map (stored data stays WGS84), popups escaped, and the texts of shared frames kept while the frames live."""

from __future__ import annotations

import html
import json
import threading
import weakref
from collections.abc import Callable, Hashable

import geopandas as gpd
import numpy as np
import shapely

from config import Basemap, DashboardConfig
from geo.crs import gcj02_to_wgs84, geom_to_gcj02
from maps.vocabulary import (  # noqa: F401  (SHARE_CLASSES: read here by the static report maps too)
    AREA_PALETTE,
    BAND_COLOURS,
    DENSITY_COLOURS,
    FACILITY_STATUS_ZH,
    PROJECT_STATUS_ZH,
    ROAD_STYLE,
    SHARE_CLASSES,
)


def polygon_texts(polygons: np.ndarray, ndigits: int) -> list[str]:
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


def features_text(props: list[dict], polygons: list[list[str]]) -> str:
    """Features from their properties (strings escaped for HTML here: they reach tooltips) and their polygons'
    texts."""
    feats = []
    for p, g in zip(props, polygons, strict=True):
        p = {k: html.escape(v) if isinstance(v, str) else v for k, v in p.items()}
        feats.append(f'{{"p":{json.dumps(p, ensure_ascii=False)},"g":[{",".join(g)}]}}')
    return "[" + ",".join(feats) + "]"


def shapes_text(gdf: gpd.GeoDataFrame, properties: tuple[str, ...], *, ndigits: int = 5) -> str:
    """Polygons as compact JSON for the browser, decoded by :class:`ShapeLayer`: per feature its properties
    ``p`` (every string escaped for HTML: they reach tooltips) and its polygons ``g``, each ring a flat list of
    integer steps in 10^-ndigits degrees (x, y of the first point, then the differences). A third of the size of
    GeoJSON: what a map redrawn at every slider move sends and parses."""
    parts, part_of = shapely.get_parts(np.asarray(gdf.geometry.values), return_index=True)
    texts = polygon_texts(parts, ndigits)
    polygons: list[list[str]] = [[] for _ in range(len(gdf))]
    for p, f in enumerate(part_of.tolist()):
        polygons[f].append(texts[p])
    cols = [gdf[c].tolist() for c in properties]
    return features_text([dict(zip(properties, row, strict=True)) for row in zip(*cols, strict=True)]
                          if properties else [{}] * len(gdf), polygons)


class HexTexts:
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
            return np.array(polygon_texts(np.asarray(for_display(hexes, basemap).geometry.values), ndigits), dtype=object)
        with self._lock:
            known = self._texts.setdefault((basemap.crs, ndigits), {})
            ids = hexes["hex"].tolist()
            got = [known.get(h) for h in ids]
            missing = [i for i, t in enumerate(got) if t is None]
            if missing:
                shown = for_display(hexes.iloc[missing], basemap).geometry.values
                for i, t in zip(missing, polygon_texts(np.asarray(shown), ndigits), strict=True):
                    got[i] = t
                if sum(len(d) for d in self._texts.values()) + len(missing) > self._limit:
                    self._texts.clear()
                    known = self._texts.setdefault((basemap.crs, ndigits), {})
                known.update((ids[i], got[i]) for i in missing)
        return np.array(got, dtype=object)


HEX_TEXTS = HexTexts()


def for_display(gdf: gpd.GeoDataFrame, basemap: Basemap) -> gpd.GeoDataFrame:
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


def round_coords(geoms, ndigits: int = 5):
    return shapely.transform(geoms, lambda xy: np.round(xy, ndigits))


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


def townships_geojson(townships: gpd.GeoDataFrame, basemap: Basemap, *, selected: str | None,
                      show_all: bool = True) -> str:
    """The township outlines as GeoJSON text, simplified, shifted for the basemap and with escaped names (the
    slow part of drawing them: callers that draw the same outlines on every rerun keep this text)."""
    twp = for_display(townships, basemap)[["code", "name", "type", "geometry"]].copy()
    twp["geometry"] = round_coords(shapely.simplify(twp.geometry.values, 0.00003))
    twp["name"] = [html.escape(str(n)) for n in twp["name"]]  # names come from a bureau's file; tooltips are HTML
    twp["type"] = [html.escape(str(n)) for n in twp["type"]]
    twp["selected"] = twp["code"] == (selected or "")
    if not show_all:
        twp = twp[twp["selected"]]
    return twp.to_json()


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


_KEPT: dict[int, tuple[weakref.ref, dict]] = {}  # id(frame) -> (the frame, its texts by key)
_KEPT_LOCK = threading.Lock()


def kept_text(frame: gpd.GeoDataFrame, key: Hashable, make: Callable[[], str]) -> str:
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


def band_text(bands: gpd.GeoDataFrame, minutes: int, basemap: Basemap) -> str:
    """One walking band of ``bands`` (``minutes``, nested polygons; simplified for drawing by services.coverage),
    coloured by its rank: the shortest darkest."""
    rank = sorted(bands["minutes"]).index(minutes)
    band = for_display(bands[bands["minutes"] == minutes], basemap)
    return shapes_text(gpd.GeoDataFrame({"fill": [BAND_COLOURS[min(rank, len(BAND_COLOURS) - 1)]],
                                         "tip": [f"步行 {minutes} 分钟可达"]},
                                        geometry=band.geometry.values, crs=band.crs), ("fill", "tip"))


def areas_text(areas: gpd.GeoDataFrame, basemap: Basemap) -> str:
    """Service areas (``name`` of the nearest facility: a bureau's file, escaped by shapes_text), each its colour."""
    areas = for_display(areas, basemap).reset_index(drop=True)
    return shapes_text(gpd.GeoDataFrame({
        "fill": [AREA_PALETTE[i % len(AREA_PALETTE)] for i in range(len(areas))],
        "name": [str(n) for n in areas["name"]],
    }, geometry=areas.geometry.values, crs=areas.crs), ("fill", "name"))
