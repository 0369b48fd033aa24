"""The real public inputs of the demo district, read from the bundled copies."""

from __future__ import annotations

import csv
import functools
import json
from dataclasses import dataclass
from pathlib import Path

import shapely
from shapely.geometry import MultiPolygon, shape
from shapely.geometry.base import BaseGeometry

SOURCES_DIR = Path(__file__).resolve().parent.parent / "data" / "sources"  # the copied public files and SOURCES.md
DISTRICTS_FILE = SOURCES_DIR / "tianjin_districts_wgs84.geojson"
TOWNSHIPS_FILE = SOURCES_DIR / "tianjin_townships_2023.csv"
VILLAGES_FILE = SOURCES_DIR / "tianjin_villages_2023.csv"


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
def _district_features() -> tuple[dict, ...]:
    return tuple(json.loads(DISTRICTS_FILE.read_text(encoding="utf-8"))["features"])


def city_district_codes(city_code: str) -> list[str]:
    """The codes of the districts of ``city_code`` in the bundled outlines, in code order (Tianjin: 120000, 16)."""
    codes = sorted(f["properties"]["adcode"] for f in _district_features()
                   if f["properties"].get("parent_adcode") == city_code)
    if not codes:
        known = sorted({f["properties"].get("parent_adcode") for f in _district_features()} - {None})
        msg = f"city code {city_code!r} has no district in {DISTRICTS_FILE.name}; known: {known}"
        raise ValueError(msg)
    return codes


def load_district(code: str) -> DistrictSources:
    """The real outline and official township/community lists of one district."""
    features = _district_features()
    match = [f for f in features if f["properties"]["adcode"] == code]
    if not match:
        known = sorted(f["properties"]["adcode"] for f in features)
        msg = f"district code {code!r} is not in {DISTRICTS_FILE.name}; known: {known}"
        raise ValueError(msg)
    outline = shape(match[0]["geometry"])
    if not isinstance(outline, MultiPolygon):
        outline = MultiPolygon([outline])
    outline = shapely.normalize(outline)

    with TOWNSHIPS_FILE.open(encoding="utf-8", newline="") as fh:
        towns = tuple(
            OfficialTownship(code=r["code12"], name=r["name"], type=r["type"])
            for r in csv.DictReader(fh)
            if r["district_code"] == code
        )
    with VILLAGES_FILE.open(encoding="utf-8", newline="") as fh:
        comms = tuple(
            OfficialCommunity(
                code=r["code12"],
                name=r["name"],
                committee_type=r["type"].split("(")[0],
                township_code=r["township_code9"] + "000",
            )
            for r in csv.DictReader(fh)
            if r["district_code"] == code
        )
    return DistrictSources(
        code=code, name=match[0]["properties"]["name"], outline=outline, townships=towns, communities=comms
    )


def district_township_codes(district_code: str) -> set[str]:
    """The district's official township (street) codes, from the bundled 2023 code list."""
    return {t.code for t in load_district(district_code).townships}

