"""A district's boundary files as a bureau hands them over, generated in the repository, so the import tests run in
any clone (the real Hexi street and community polygons in ../shared/data have no stated licence and are never
copied here; where they are beside the checkout, the same tests run on them as well).

Hexi's real outline (data/sources, the product's own copy) is cut into its 14 official streets (codes and names of
data/sources/tianjin_townships_2023.csv) and every street into communities, with the real files' shape: street
properties ``code, parentCode, parentName, name, level``; community properties ``name, x, y, code, parentcode``
(x, y: a point inside), MultiPolygons, and the real community file's two quirks: one community whose code repeats
an earlier one's (the last feature), and one drawn just across its street's boundary road. The geometry is made
here, so it is its own truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import MultiPolygon

from geo.partition import partition_polygon

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
DISTRICTS_WGS84 = ROOT / "data" / "sources" / "tianjin_districts_wgs84.geojson"  # the product's copy (see SOURCES.md)
DISTRICTS_AMAP_GCJ02 = ROOT / "tests" / "data" / "tianjin_districts_amap_gcj02.geojson"  # MIT, tests/data/SOURCES.md
HEXI = "120103"
COMMUNITY_NAMES = ("福安里", "永安里", "平安里", "康乐里", "祥和里", "春华里", "秋实里", "紫金里", "云锦里", "润园",
                   "桂园", "梅园")


@dataclass(frozen=True)
class BoundaryFiles:
    """One source of a district's street and community polygons: the files and what they hold."""

    source: str  # "generated" | "hexi"
    streets_path: Path
    communities_path: Path

    def streets(self) -> gpd.GeoDataFrame:
        streets = gpd.read_file(self.streets_path)
        streets["code"] = streets["code"].astype(str)
        return streets

    def communities(self) -> gpd.GeoDataFrame:
        comms = gpd.read_file(self.communities_path)
        comms["code"] = comms["code"].astype(str)
        comms["parentcode"] = comms["parentcode"].astype(str)
        return comms


def hexi_outline():
    districts = gpd.read_file(DISTRICTS_WGS84)
    return districts[districts["adcode"].astype(str) == HEXI].geometry.iloc[0]


def _polygon(geom):
    return max(geom.geoms, key=lambda g: g.area) if hasattr(geom, "geoms") else geom


def _points_inside(area, n: int, rng: np.random.Generator) -> np.ndarray:
    x0, y0, x1, y1 = area.bounds
    out = []
    while len(out) < n:
        xy = rng.uniform((x0, y0), (x1, y1), size=(4 * n, 2))
        out += [p for p in xy if area.contains(shapely.Point(p))]
    return np.array(out[:n])


def _cut(area, n: int, rng: np.random.Generator, n_cells: int) -> list:
    """``area`` in ``n`` connected pieces of unequal size (a seeded partition: the same pieces on every run)."""
    x_scale = float(np.cos(np.radians(area.centroid.y)))
    got = partition_polygon(_polygon(area), _points_inside(area, n, rng), rng.uniform(0.6, 1.4, n), rng=rng,
                            n_cells=n_cells, x_scale=x_scale)
    return [_multi(g) for g in got.regions]


def _multi(geom) -> MultiPolygon:
    return MultiPolygon([g for g in getattr(geom, "geoms", [geom]) if g.geom_type == "Polygon"])


def _cells(area, n: int, rng: np.random.Generator) -> list:
    """``area`` cut into the Voronoi cells of ``n`` random points inside it: every piece holds its point, and the
    pieces cover ``area`` exactly."""
    seeds = shapely.multipoints(_points_inside(area, n, rng))
    cells = shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=area.envelope.buffer(0.01)))
    return [_multi(shapely.intersection(c, area)) for c in cells]


def _across_the_boundary(community, street, outline, *, out_m: float = 80.0, radius_m: float = 35.0):
    """The real files' other quirk: a community drawn just across its street's boundary road (a pin on the wrong
    side): a small disc ``out_m`` beyond the street's edge nearest the community, where it borders another street."""
    gk = "EPSG:4527"  # Gauss–Krüger zone 39: metres
    comm, edge, rim = gpd.GeoSeries([community, street.boundary, outline.boundary], crs="EPSG:4326").to_crs(gk)
    along = shapely.line_interpolate_point(edge, np.arange(0.0, edge.length, 10.0))
    inner = along[shapely.distance(along, rim) > 300.0]  # a boundary with another street, not the district's
    centre = comm.centroid
    p = inner[np.argmin(shapely.distance(inner, centre))]
    d = np.array([p.x - centre.x, p.y - centre.y])
    out = shapely.Point(np.array([p.x, p.y]) + d / np.linalg.norm(d) * out_m).buffer(radius_m)
    return _multi(gpd.GeoSeries([out], crs=gk).to_crs("EPSG:4326").iloc[0])


def generate(folder: Path, *, seed: int = 7) -> BoundaryFiles:
    """Write ``streets.geojson`` and ``communities.geojson`` into ``folder`` (WGS84, as the real files)."""
    rng = np.random.default_rng(seed)
    official = pd.read_csv(ROOT / "data" / "sources" / "tianjin_townships_2023.csv", dtype=str)
    official = official[official["district_code"] == HEXI].sort_values("code12")
    outline = hexi_outline()
    streets = gpd.GeoDataFrame({
        "code": official["code12"].to_numpy(), "parentCode": f"{HEXI}000000", "parentName": "河西区",
        "name": official["name"].to_numpy(), "level": 3,
    }, geometry=_cut(outline, len(official), rng, n_cells=3000), crs="EPSG:4326")
    rows = []
    for street in streets.itertuples():
        pieces = _cells(street.geometry, int(rng.integers(8, 13)), rng)
        for i, piece in enumerate(pieces, start=1):
            inside = piece.representative_point()
            rows.append({"name": f"{street.name.removesuffix('街道')}{COMMUNITY_NAMES[i - 1]}社区居委会", "x": round(inside.x, 6), "y": round(inside.y, 6),
                         "code": f"{street.code[:9]}{i:03d}", "parentcode": street.code, "geometry": piece})
    rows[5]["geometry"] = _across_the_boundary(rows[5]["geometry"], streets.geometry.iloc[0], outline)
    # the real file's quirk: its last community repeats the code of an earlier one of the same street (its 30th),
    # here the other half of that one
    kept, split = _cells(rows[29]["geometry"], 2, rng)
    inside = split.representative_point()
    rows[29]["geometry"] = kept
    rows.append({**rows[29], "name": "珠海里社区", "x": round(inside.x, 6), "y": round(inside.y, 6), "geometry": split})
    comms = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
    folder.mkdir(parents=True, exist_ok=True)
    files = BoundaryFiles("generated", folder / "streets.geojson", folder / "communities.geojson")
    streets.to_file(files.streets_path, driver="GeoJSON")
    comms.to_file(files.communities_path, driver="GeoJSON")
    return files


def real_hexi() -> BoundaryFiles | None:
    """The real Hexi files, when ../shared/data is beside the checkout."""
    streets = SHARED / "tianjin_hexi_streets_wgs84.geojson"
    if not streets.exists():
        return None
    return BoundaryFiles("hexi", streets, SHARED / "tianjin_hexi_communities_wgs84.geojson")


def one_source(folder: Path) -> BoundaryFiles:
    """For the slower page and browser tests, which run on one source: the real Hexi files when they are beside
    the checkout, else generated ones (``ELDERCARE_TEST_BOUNDARIES=generated`` asks for those anyway)."""
    import os

    real = real_hexi()
    if real is None or os.environ.get("ELDERCARE_TEST_BOUNDARIES") == "generated":
        return generate(folder)
    return real
