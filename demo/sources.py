"""The real public inputs of the demo district, read from the bundled copies."""

from __future__ import annotations

import csv
import functools
import gzip
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
import shapely.geometry
from shapely.geometry import MultiPolygon, shape
from shapely.geometry.base import BaseGeometry

SOURCES_DIR = Path(__file__).resolve().parent.parent / "data" / "sources"  # the copied public files and SOURCES.md
DISTRICTS_FILE = SOURCES_DIR / "tianjin_districts_wgs84.geojson"
TOWNSHIPS_FILE = SOURCES_DIR / "tianjin_townships_2023.csv"
VILLAGES_FILE = SOURCES_DIR / "tianjin_villages_2023.csv"


@dataclass(frozen=True)
class Bundled:
    """One province's bundled public files (data/sources/SOURCES.md): outlines, township and village codes."""

    districts: Path
    townships: Path
    villages: Path
    gcj02: bool  # the outlines are Amap's (GCJ-02), converted to WGS84 on reading


# by province code (2 digits); Tianjin's outlines were converted when copied, Hebei's are read as delivered
BUNDLED = {
    "12": Bundled(DISTRICTS_FILE, TOWNSHIPS_FILE, VILLAGES_FILE, gcj02=False),
    "13": Bundled(SOURCES_DIR / "hebei_districts_amap_gcj02.geojson.gz", SOURCES_DIR / "hebei_townships_2023.csv.gz",
                  SOURCES_DIR / "hebei_villages_2023.csv.gz", gcj02=True),
}


def _text(path: Path) -> str:
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            return fh.read()
    return path.read_text(encoding="utf-8")


@functools.cache
def _by_district(path: Path) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in csv.DictReader(io.StringIO(_text(path))):
        out.setdefault(r["district_code"], []).append(r)
    return out


def _rows(path: Path, district_code: str) -> list[dict]:
    return _by_district(path).get(district_code, [])


@dataclass(frozen=True)
class OfficialTownship:
    code: str
    name: str
    type: str


@dataclass(frozen=True)
class OfficialCommunity:
    code: str
    name: str
    committee_type: str  # 村委会 / 居委会 / 其他
    township_code: str


@dataclass(frozen=True)
class DistrictSources:
    code: str
    name: str
    outline: BaseGeometry
    townships: tuple[OfficialTownship, ...]
    communities: tuple[OfficialCommunity, ...]


@functools.cache
def _features(province: str) -> tuple[dict, ...]:
    """The bundled outlines of a province (WGS84), or () when none is bundled."""
    found = BUNDLED.get(province)
    if found is None:
        return ()
    features = json.loads(_text(found.districts))["features"]
    if found.gcj02:  # Amap's shifted coordinates to WGS84, vertex by vertex (geo.crs: the iterative inverse)
        from geo.crs import gcj02_to_wgs84

        def to_wgs(xy):
            return np.column_stack(gcj02_to_wgs84(xy[:, 0], xy[:, 1]))

        features = [{**f, "geometry": shapely.geometry.mapping(shapely.transform(shape(f["geometry"]), to_wgs))}
                    for f in features]
    return tuple(features)


def _district_features() -> tuple[dict, ...]:
    return tuple(f for province in sorted(BUNDLED) for f in _features(province))


def bundled_files() -> str:
    return "、".join(b.districts.name for b in BUNDLED.values())


def city_district_codes(city_code: str) -> list[str]:
    """The codes of the districts of ``city_code`` in the bundled outlines, in code order (Tianjin: 120000, 16)."""
    codes = sorted(f["properties"]["adcode"] for f in _features(city_code[:2])
                   if f["properties"].get("parent_adcode") == city_code)
    if not codes:
        known = sorted({f["properties"].get("parent_adcode") for f in _district_features()} - {None})
        msg = f"city code {city_code!r} has no district in the bundled outlines ({bundled_files()}); known: {known}"
        raise ValueError(msg)
    return codes


def province_district_codes(province: str) -> list[str]:
    """The codes of every district of a province (``13`` or ``130000``) in the bundled outlines, in code order."""
    codes = sorted(f["properties"]["adcode"] for f in _features(str(province)[:2]))
    if not codes:
        msg = f"province {province!r} has no bundled outlines; bundled: {sorted(BUNDLED)} ({bundled_files()})"
        raise ValueError(msg)
    return codes


def city_names(province: str) -> dict[str, str]:
    """City code → name of a province's bundled outlines (as the outline files name them)."""
    return {f["properties"]["parent_adcode"]: f["properties"].get("city_name", "")
            for f in _features(str(province)[:2]) if f["properties"].get("city_name")}


def province_names(province: str) -> dict[str, str]:
    """The province's code (``PP0000``) → name, where its bundled outlines say it (not for a municipality)."""
    named = {f["properties"].get("province_name") for f in _features(str(province)[:2])} - {None, ""}
    return {f"{str(province)[:2]}0000": named.pop()} if len(named) == 1 else {}


def load_district(code: str) -> DistrictSources:
    """The real outline and official township/community lists of one district."""
    features = _features(code[:2])
    match = [f for f in features if f["properties"]["adcode"] == code]
    if not match:
        known = sorted(f["properties"]["adcode"] for f in _district_features())
        msg = f"district code {code!r} is not in the bundled outlines ({bundled_files()}); known: {known}"
        raise ValueError(msg)
    outline = shape(match[0]["geometry"])
    if not isinstance(outline, MultiPolygon):
        outline = MultiPolygon([outline])
    outline = shapely.normalize(shapely.make_valid(outline))
    if not isinstance(outline, MultiPolygon):  # make_valid may return a collection: its polygons
        outline = MultiPolygon([g for g in getattr(outline, "geoms", [outline]) if g.geom_type == "Polygon"])
    files = BUNDLED[code[:2]]
    towns = tuple(OfficialTownship(code=r["code12"], name=r["name"], type=r["type"])
                  for r in _rows(files.townships, code))
    comms = tuple(OfficialCommunity(code=r["code12"], name=r["name"], committee_type=r["type"].split("(")[0],
                                    township_code=r["township_code9"] + "000")
                  for r in _rows(files.villages, code))
    return DistrictSources(
        code=code, name=match[0]["properties"]["name"], outline=outline, townships=towns, communities=comms
    )


def district_township_codes(district_code: str) -> set[str]:
    """The district's official township (street) codes, from the bundled 2023 code list."""
    return {t.code for t in load_district(district_code).townships}

