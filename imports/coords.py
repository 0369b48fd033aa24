"""Which coordinate system a table's longitudes and latitudes are in: declared, or decided from evidence.

``auto`` reads the points as WGS84, GCJ-02 (AMap, Tencent) and BD-09 (Baidu)
in turn and counts, for each reading, how many points fall in the township
their row declares and how many fall inside the district. The reading with
clearly the most wins; when the evidence does not separate the readings (say,
a rural district without declared townships, where a 500 m shift keeps every
point inside), it refuses and names the ``--crs`` to give. Swapped longitude /
latitude columns are detected from their ranges. Pure: no database, no Streamlit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely

from geo.crs import lonlat_to_wgs84
from geo.overlay import points_in_polygons

READINGS = ("wgs84", "gcj02", "bd09")
READING_ZH = {"wgs84": "WGS84（GPS、天地图）", "gcj02": "GCJ-02（高德、腾讯）", "bd09": "BD-09（百度）",
              "cgcs2000": "CGCS2000"}


@dataclass(frozen=True)
class CrsDecision:
    system: str | None
    lon: np.ndarray
    lat: np.ndarray
    lines: list[str] = field(default_factory=list)  # what was decided and the evidence, for the user
    evidence: list[dict] = field(default_factory=list)  # per reading: in_township, in_district
    error: str = ""
    fix: str = ""


def decide_lonlat_crs(lon: np.ndarray, lat: np.ndarray, crs: str = "auto", *, outline=None, townships=None,
                      declared: Sequence[str | None] = ()) -> CrsDecision:
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    lines: list[str] = []
    if len(lon) and _looks_swapped(lon, lat):
        lon, lat = lat, lon
        lines.append("经度、纬度两列的数值范围像是填反了（经度 3–54、纬度 73–136）：已按交换后读取")
    crs = (crs or "auto").lower()
    if crs != "auto":
        if crs.startswith("epsg:"):
            from pyproj import Transformer

            t = Transformer.from_crs(crs.upper(), "EPSG:4326", always_xy=True)
            wlon, wlat = t.transform(lon, lat)
            return CrsDecision(crs, np.asarray(wlon), np.asarray(wlat), [*lines, f"坐标系：{crs}（按 --crs）"])
        if crs not in ("wgs84", "cgcs2000", "gcj02", "bd09"):
            return CrsDecision(None, lon, lat, lines, error=f"未知的坐标系 {crs!r}",
                               fix="--crs 取 wgs84、cgcs2000、gcj02、bd09、EPSG:N 或 auto")
        wlon, wlat = lonlat_to_wgs84(lon, lat, crs)
        return CrsDecision(crs, wlon, wlat, [*lines, f"坐标系：{READING_ZH[crs]}（按 --crs），已转换为 WGS84"])
    if not len(lon):
        return CrsDecision("wgs84", lon, lat, lines)
    evidence = []
    readings = {}
    use_towns = townships is not None and any(declared)
    if use_towns:  # one tree and one array of declared codes for the three readings
        codes = townships["code"].to_numpy()
        polygons = townships.geometry.values
        wanted = np.array([d if d is not None else "" for d in declared], dtype=object)
    for system in READINGS:
        wlon, wlat = lonlat_to_wgs84(lon, lat, system)
        readings[system] = (wlon, wlat)
        in_district = int(shapely.contains_xy(outline, wlon, wlat).sum()) if outline is not None else None
        in_town = None
        if use_towns:
            hit_p, hit_t = points_in_polygons(wlon, wlat, polygons)
            in_town = int((wanted[hit_p] == codes[hit_t]).sum())  # a point in two townships counts once at most
        evidence.append({"reading": system, "in_township": in_town, "in_district": in_district})
    n_declared = sum(d is not None for d in declared)
    key = "in_township" if n_declared and evidence[0]["in_township"] is not None else "in_district"
    if evidence[0][key] is None:
        return CrsDecision(None, lon, lat, lines, evidence,
                           error="没有区界或乡镇可供判断坐标系", fix="用 --crs 指定（wgs84、gcj02 或 bd09），或先导入区界")
    scores = sorted(((e[key], e["reading"]) for e in evidence), reverse=True)
    (best, system), (second, runner) = scores[0], scores[1]
    base = n_declared if key == "in_township" else len(lon)
    for e in evidence:
        town = f"落在所填乡镇 {e['in_township']}/{n_declared}，" if e["in_township"] is not None else ""
        lines.append(f"  按 {READING_ZH[e['reading']]} 读：{town}在区界内 {e['in_district']}/{len(lon)}")
    margin = max(3, int(np.ceil(0.05 * base)))
    if best - second < margin or best < 0.5 * base:
        what = "落在所填乡镇" if key == "in_township" else "在区界内"
        return CrsDecision(None, lon, lat, lines, evidence,
                           error=(f"证据不足以区分坐标系：{what}的点数 {READING_ZH[system]} {best}、"
                                  f"{READING_ZH[runner]} {second}（需相差至少 {margin}）"),
                           fix="用 --crs wgs84、--crs gcj02 或 --crs bd09 指定坐标来源（高德拾取为 gcj02，百度为 bd09）")
    lines.insert(0, f"坐标系（自动判断）：{READING_ZH[system]}，已转换为 WGS84。依据：")
    wlon, wlat = readings[system]
    return CrsDecision(system, wlon, wlat, lines, evidence)


def _looks_swapped(lon: np.ndarray, lat: np.ndarray) -> bool:
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        return False
    lo, la = lon[ok], lat[ok]
    return bool(((lo >= 3) & (lo <= 54)).mean() > 0.9 and ((la >= 73) & (la <= 136)).mean() > 0.9)
