"""The report's map layers for GIS: one GeoPackage, or a zip of GeoJSON files (WGS84, EPSG:4326).

Field names are ASCII (every GIS reads them); names and labels stay Chinese in
the values. Elders appear only as counts per H3 hexagon, never as records.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
from shapely.geometry import Point

from reports.content import Report
from services.base import get_config


def _points(frame: pd.DataFrame, lon: str, lat: str, columns: dict[str, str]) -> gpd.GeoDataFrame:
    out = frame[list(columns)].rename(columns=columns)
    return gpd.GeoDataFrame(out, geometry=[Point(x, y) for x, y in zip(frame[lon], frame[lat], strict=True)],
                            crs="EPSG:4326")


def _sites(frame: gpd.GeoDataFrame, kinds: dict[str, str]) -> gpd.GeoDataFrame:
    out = gpd.GeoDataFrame({
        "code": frame["code"], "name": frame["name"], "kind_id": frame["kind_id"],
        "kind_zh": [kinds.get(k, k) for k in frame["kind_id"]], "status": frame["status"],
        "township_code": frame["township_code"], "beds_total": frame["beds_total"],
    }, geometry=frame.geometry.values, crs="EPSG:4326")
    return out.reset_index(drop=True)


def layers(r: Report) -> dict[str, gpd.GeoDataFrame]:
    """Layer name -> frame (EPSG:4326), only the non-empty ones."""
    kinds = {k.id: k.name_zh for k in get_config().facility_kinds}
    m = r.map_layers
    out = {
        "district": m.outline[["code", "name", "geometry"]].reset_index(drop=True),
        "townships": m.townships[["code", "name", "type", "geometry"]].reset_index(drop=True),
        "care_facilities": _sites(m.facilities, kinds),
    }
    if m.neighbours is not None and not m.neighbours.empty:  # a township's: kind and position only
        out["neighbour_facilities"] = gpd.GeoDataFrame(
            {"kind_id": m.neighbours["kind_id"].to_numpy(), "kind_zh": [kinds.get(k, k) for k in m.neighbours["kind_id"]]},
            geometry=m.neighbours.geometry.values, crs="EPSG:4326")
    hexes = [h.assign(covered=flag)[["hex", "n", "covered", "geometry"]]
             for h, flag in ((m.covered, True), (m.uncovered, False)) if h is not None and not h.empty]
    if hexes:
        out["elder_hexagons"] = gpd.GeoDataFrame(pd.concat(hexes, ignore_index=True), crs="EPSG:4326").rename(
            columns={"hex": "h3_cell", "n": "elders"})
    if r.has("gaps") and len(r.gaps):
        out["uncovered_clusters"] = _points(r.gaps, "中心经度", "中心纬度", {
            "排名": "rank", "所在乡镇": "township", "主要村（社区）": "community", "未覆盖老人": "elders_uncovered",
            "其中80岁以上": "aged_80_plus", "加权缺口": "weighted_gap", "最佳单点可覆盖": "best_site_share",
            "建议选址经度": "best_site_lon", "建议选址纬度": "best_site_lat"})
    if r.has("four_sync") and len(r.four_sync):
        out["four_sync_violations"] = _points(r.four_sync, "经度", "纬度", {
            "项目": "project", "所在乡镇": "township", "户数": "households", "不合规项": "failed_rules", "原因": "reasons"})
    if r.has("scenario"):
        for name, frame in (("scenario_opened", r.scenario.after.opened), ("scenario_closed", r.scenario.before.closed)):
            if frame is not None and not frame.empty:
                out[name] = _sites(frame, kinds)
    return out


def render_gpkg(r: Report) -> bytes:
    """Every layer in one GeoPackage."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "layers.gpkg"
        for name, frame in layers(r).items():
            frame.to_file(path, layer=name, driver="GPKG", engine="pyogrio")
        return path.read_bytes()


def render_geojson_zip(r: Report) -> bytes:
    """One GeoJSON file per layer (RFC 7946), zipped."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, frame in layers(r).items():
            z.writestr(f"{name}.geojson", frame.to_json(ensure_ascii=False, drop_id=True))
    return buf.getvalue()
