"""Reading point files (facilities, demand, candidates): GeoJSON or CSV with lon/lat.

Every problem is an error that names the file, the row or feature, and what
to fix; nothing is skipped silently.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class PointFileError(ValueError):
    """A point file that cannot be used as it is."""


@dataclass(frozen=True)
class PointTable:
    ids: np.ndarray  # str
    lonlat: np.ndarray  # (n, 2) WGS84
    weight: np.ndarray  # (n,) >= 0, 1 when the file has none
    cost: np.ndarray | None = None  # (n,) a candidate's cost (NaN where not given); None: no cost column
    build: np.ndarray | None = None  # (n,) "new" | "renovation" | "" (candidates: build new or renovate)
    capacity: np.ndarray | None = None  # (n,) elders a facility serves (inf where not given); None: no such column
    township: np.ndarray | None = None  # (n,) demand: the township a point belongs to ("" where not given)
    rural: np.ndarray | None = None  # (n,) demand: lives in a village (农村)
    people: np.ndarray | None = None  # (n,) demand: elders at the point, who take places (None: the weight)

    def __len__(self) -> int:
        return len(self.ids)


def _fail(path: Path, where: str, problem: str) -> None:
    msg = f"{path}: {where}: {problem}"
    raise PointFileError(msg)


def _number(path: Path, where: str, name: str, value) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        _fail(path, where, f"{name} must be a number, got {value!r}")
    if not math.isfinite(x):
        _fail(path, where, f"{name} must be a finite number, got {value!r}")
    return x


def read_points(path: str | Path, *, weighted: bool = False) -> PointTable:
    """Points with an ``id`` (and, when ``weighted``, an optional ``weight``, default 1); candidate files may
    add ``cost`` (any unit, the budget's) and ``build`` (new / renovation, 新建 / 改造); demand files ``people``
    (the elders at a point, who take places within capacities; default the weight)."""
    path = Path(path)
    if not path.exists():
        _fail(path, "file", "not found")
    suffix = path.suffix.lower()
    if suffix in (".geojson", ".json"):
        rows = _geojson_rows(path)
    elif suffix == ".csv":
        rows = _csv_rows(path)
    else:
        _fail(path, "file", f"unknown type {suffix!r}; use GeoJSON (.geojson) or CSV with lon,lat columns")
    if not rows:
        _fail(path, "file", "contains no points")
    ids, lonlat, weight, cost, build, capacity, township, rural, people = [], [], [], [], [], [], [], [], []
    seen: dict[str, str] = {}
    for where, props, lon, lat in rows:
        pid = props.get("id")
        if pid is None or str(pid).strip() == "":
            _fail(path, where, "missing 'id' (every point needs a unique id)")
        pid = str(pid).strip()
        if pid in seen:
            _fail(path, where, f"duplicate id {pid!r} (first at {seen[pid]})")
        seen[pid] = where
        lon = _number(path, where, "lon", lon)
        lat = _number(path, where, "lat", lat)
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            _fail(path, where, f"lon/lat ({lon}, {lat}) is not a WGS84 coordinate (EPSG:4326)")
        w = _non_negative(path, where, props, "weight", 1.0) if weighted else 1.0
        n = _non_negative(path, where, props, "people", w)
        if w > 0 and n <= 0:
            _fail(path, where, f"people must be at least 1 where weight is {w:g} (who would take a place?)")
        c = _non_negative(path, where, props, "cost", np.nan)
        b = str(props.get("build") or "").strip().lower()
        b = BUILD_WORDS.get(b, b)
        if b not in ("", "new", "renovation"):
            _fail(path, where, f"build must be new (新建) or renovation (改造), got {props.get('build')!r}")
        cap = _non_negative(path, where, props, "capacity", np.inf)
        r = str(props.get("rural") or "").strip().lower()
        if r not in RURAL_WORDS:
            _fail(path, where, f"rural must be 1/0 (是/否, 村/居), got {props.get('rural')!r}")
        ids.append(pid)
        lonlat.append((lon, lat))
        weight.append(w)
        cost.append(c)
        build.append(b)
        capacity.append(cap)
        township.append(str(props.get("township") or "").strip())
        rural.append(RURAL_WORDS[r])
        people.append(n)
    keys = set().union(*(props for _, props, _, _ in rows))
    return PointTable(ids=np.array(ids, dtype=object), lonlat=np.array(lonlat, dtype=float), weight=np.array(weight),
                      cost=np.array(cost) if any(np.isfinite(cost)) else None,
                      build=np.array(build, dtype=object) if any(build) else None,
                      capacity=np.array(capacity) if "capacity" in keys else None,
                      township=np.array(township, dtype=object) if "township" in keys else None,
                      rural=np.array(rural, dtype=bool) if "rural" in keys else None,
                      people=np.array(people) if "people" in keys else None)


RURAL_WORDS = {"": False, "0": False, "1": True, "是": True, "否": False, "true": True, "false": False, "村": True,
               "居": False, "村委会": True, "居委会": False, "rural": True, "urban": False}


def _non_negative(path: Path, where: str, props: dict, name: str, default: float) -> float:
    """An optional non-negative number column; ``default`` when the cell is empty or the column absent."""
    if props.get(name) in (None, ""):
        return default
    value = _number(path, where, name, props[name])
    if value < 0:
        _fail(path, where, f"{name} must not be negative, got {value}")
    return value


BUILD_WORDS = {"新建": "new", "改造": "renovation", "改建": "renovation", "闲置改造": "renovation",
               "renovate": "renovation"}


def _geojson_rows(path: Path) -> list:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        _fail(path, "file", f"not valid GeoJSON ({exc})")
    except RecursionError:  # arrays nested thousands deep: no GeoJSON looks like that
        _fail(path, "file", "not valid GeoJSON (nested too deeply)")
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        _fail(path, "file", "expected a GeoJSON FeatureCollection")
    crs = (data.get("crs") or {}).get("properties", {}).get("name", "")
    if crs and not any(tag in crs for tag in ("4326", "CRS84")):
        _fail(path, "file", f"coordinates must be WGS84 (EPSG:4326), the file declares {crs}")
    rows = []
    for i, feat in enumerate(data.get("features") or []):
        where = f"feature {i + 1}"
        geom = (feat or {}).get("geometry") or {}
        if geom.get("type") != "Point":
            _fail(path, where, f"expected a Point geometry, got {geom.get('type')!r}")
        coords = geom.get("coordinates") or []
        if len(coords) < 2:
            _fail(path, where, "a Point needs [lon, lat] coordinates")
        props = dict(feat.get("properties") or {})
        if "id" not in props and feat.get("id") is not None:
            props["id"] = feat["id"]
        rows.append((where, props, coords[0], coords[1]))
    return rows


def _csv_text(path: Path) -> str:
    """UTF-8 (with or without BOM), else GB18030 (a superset of GBK: what Excel writes on a Chinese Windows)."""
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding == "utf-8-sig" or not any(ch in text for ch in "\x00\ufffd"):
            return text
    _fail(path, "file", "is neither UTF-8 nor GBK text; save the CSV as UTF-8")
    return ""


def _csv_rows(path: Path) -> list:
    reader = csv.DictReader(io.StringIO(_csv_text(path), newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in ("id", "lon", "lat") if c not in header]
    if missing:
        _fail(path, "header", f"missing column(s) {missing}; expected id, lon, lat (and optional weight)")
    return [
        (f"row {n}", {k.strip(): v for k, v in row.items() if k}, row.get("lon"), row.get("lat"))
        for n, row in enumerate(reader, start=2)
    ]
