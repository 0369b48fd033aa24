"""Elder density on H3 hexagons."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely


def hex_density(
    groups: gpd.GeoDataFrame,
    *,
    resolution: int,
    count_columns: tuple[str, ...],
    cell_column: str = "cell_h3",
) -> gpd.GeoDataFrame:
    """Sum ``count_columns`` of elder groups into H3 hexagons at ``resolution``.

    ``groups`` carries an H3 cell id per row (any finer resolution); returns one
    polygon per non-empty hexagon with the summed counts and ``total``.
    """
    missing = [c for c in (*count_columns, cell_column) if c not in groups.columns]
    if missing:
        msg = f"hex_density: groups lack column(s) {missing}; got {list(groups.columns)}"
        raise ValueError(msg)
    if groups.empty:
        return gpd.GeoDataFrame({"hex": [], "total": [], "geometry": []}, geometry="geometry", crs="EPSG:4326")
    lonlat = np.column_stack([groups.geometry.x, groups.geometry.y]) if "geometry" in groups else None
    idx = HexIndex.of(groups[cell_column], resolution, lonlat)
    df = pd.DataFrame(groups[list(count_columns)].to_numpy(), columns=list(count_columns))
    summed = df.groupby(idx.of_point, sort=True)[list(count_columns)].sum()  # every hexagon has a group
    summed["total"] = summed.sum(axis=1) if len(count_columns) > 1 else summed[count_columns[0]]
    summed.insert(0, "hex", idx.hexes)
    out = gpd.GeoDataFrame(summed.reset_index(drop=True), geometry=idx.polygons, crs="EPSG:4326")
    out["total"] = out["total"].astype(np.int64)
    return out


def hex_polygons(cells) -> np.ndarray:
    """The WGS84 polygon of each H3 cell, in order (an empty array for none)."""
    if not len(cells):
        return np.array([], dtype=object)
    return shapely.polygons([[(lng, lat) for lat, lng in h3.cell_to_boundary(c)] for c in cells])


@dataclass(frozen=True)
class HexIndex:
    """Fixed points (elder groups) assigned once to their H3 hexagons at one resolution, so that summing any
    selection of them into hexagons is a bincount, not a pass of H3 calls (maps redrawn at every edit)."""

    resolution: int
    hexes: np.ndarray  # the hexagon ids, sorted
    of_point: np.ndarray  # per point, its hexagon's index in ``hexes``
    polygons: np.ndarray  # per hexagon, its WGS84 polygon

    @classmethod
    def of(cls, cells, resolution: int, lonlat: np.ndarray | None = None) -> HexIndex:
        """The index of points with H3 ``cells``; at a resolution finer than a point's cell, its own position
        (``lonlat``, needed then) places it."""
        if lonlat is not None and any(h3.get_resolution(c) < resolution for c in cells):
            cells = [h3.latlng_to_cell(lat, lng, resolution) for lng, lat in np.asarray(lonlat, dtype=float)]
        parents = [h3.cell_to_parent(c, resolution) if h3.get_resolution(c) > resolution else c for c in cells]
        hexes, of_point = np.unique(np.asarray(parents, dtype=object), return_inverse=True)
        polygons = hex_polygons(hexes)
        return cls(resolution, hexes, of_point.astype(np.int64), polygons)

    def sum(self, weights: np.ndarray, mask: np.ndarray | None = None, *, column: str = "n") -> gpd.GeoDataFrame:
        """The hexagons of the points with ``mask`` and weight > 0: their summed ``weights`` (``column``), the same
        frame :func:`hex_density` makes (``hex``, ``column``, ``total`` as whole numbers, ``geometry``)."""
        w = np.asarray(weights, dtype=float)
        keep = (w > 0) if mask is None else (np.asarray(mask, dtype=bool) & (w > 0))
        summed = np.bincount(self.of_point[keep], weights=w[keep], minlength=len(self.hexes))
        used = np.flatnonzero(np.bincount(self.of_point[keep], minlength=len(self.hexes)))
        return gpd.GeoDataFrame({"hex": self.hexes[used], column: summed[used],
                                 "total": summed[used].astype(np.int64)},
                                geometry=self.polygons[used], crs="EPSG:4326")


def cells_in(boundary, resolution: int) -> list[str]:
    """The H3 cells whose centres fall inside ``boundary`` (a WGS84 polygon or multipolygon), sorted."""
    parts = getattr(boundary, "geoms", [boundary])
    cells: set[str] = set()
    for poly in parts:
        shell = [(lat, lng) for lng, lat in poly.exterior.coords]
        holes = [[(lat, lng) for lng, lat in ring.coords] for ring in poly.interiors]
        cells.update(h3.h3shape_to_cells(h3.LatLngPoly(shell, *holes), resolution))
    return sorted(cells)


def _deal(counts: np.ndarray, quotas: np.ndarray) -> np.ndarray:
    """(cells × bands) integers: ``counts`` of each band dealt into cells of ``quotas`` people each, every cell
    getting bands in proportion (the units are interleaved by band before they are dealt in order)."""
    band = np.repeat(np.arange(len(counts)), counts)
    key = np.concatenate([(np.arange(n) + 0.5) / n for n in counts if n > 0]) if len(band) else np.array([])
    band = band[np.argsort(key, kind="stable")]
    cell = np.repeat(np.arange(len(quotas)), quotas)
    out = np.zeros((len(quotas), len(counts)), dtype=np.int64)
    np.add.at(out, (cell, band), 1)
    return out


def largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """``total`` split into integers proportional to ``weights`` (Hamilton's method; the sum is exact)."""
    w = np.asarray(weights, dtype=float)
    if total == 0 or w.sum() <= 0:
        return np.zeros(len(w), dtype=np.int64)
    exact = total * w / w.sum()
    out = np.floor(exact).astype(np.int64)
    short = total - int(out.sum())
    out[np.argsort(-(exact - out), kind="stable")[:short]] += 1
    return out


def spread_counts(cells: list[str], bands: dict[str, int], subsets: dict[str, int]) -> list[dict]:
    """A community's counts spread evenly over its cells, as whole people.

    ``bands`` partition the people (age bands); each cell gets its share of the
    total and, within it, the bands in proportion. ``subsets`` (categories such as
    living alone) are parts of the total: each cell gets them in proportion to its
    people, never more than it has. Every column's sum over the cells equals the
    input. Cells that would get nobody are left out; one row per remaining cell.
    """
    names = list(bands)
    counts = np.array([bands[b] for b in names], dtype=np.int64)
    total = int(counts.sum())
    quotas = largest_remainder(total, np.ones(len(cells)))
    per_band = _deal(counts, quotas)
    rows = []
    sub = {s: largest_remainder(n, quotas) for s, n in subsets.items()}
    for i, c in enumerate(cells):
        if quotas[i] == 0:
            continue
        rows.append({"cell": c, **{b: int(per_band[i, j]) for j, b in enumerate(names)},
                     **{s: int(v[i]) for s, v in sub.items()}})
    return rows


def uncovered_share(covered: gpd.GeoDataFrame | None, uncovered: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """One row per hexagon of either frame (``hex``, ``n``, ``geometry``, as :meth:`HexIndex.sum` makes them):
    its elders (``elders``), those not covered (``uncovered``) and their ``share`` of the hexagon's elders — what
    a coverage map colours, so that a hexagon with one uncovered elder among fifty reads as nearly covered."""
    parts = [f[["hex", "n", "geometry"]].assign(part=p) for f, p in ((covered, "covered"), (uncovered, "uncovered"))
             if f is not None and not f.empty]
    if not parts:
        return gpd.GeoDataFrame({"hex": [], "elders": [], "uncovered": [], "share": []}, geometry=[], crs="EPSG:4326")
    both = pd.concat(parts, ignore_index=True)
    n = both.pivot_table(index="hex", columns="part", values="n", aggfunc="sum", fill_value=0.0)
    for col in ("covered", "uncovered"):
        if col not in n:
            n[col] = 0.0
    geometry = both.drop_duplicates("hex").set_index("hex").geometry.reindex(n.index)
    elders = n["covered"] + n["uncovered"]
    share = np.divide(n["uncovered"].to_numpy(), elders.to_numpy(), out=np.zeros(len(n)), where=elders.to_numpy() > 0)
    return gpd.GeoDataFrame({"hex": n.index.to_numpy(), "elders": elders.to_numpy(), "uncovered": n["uncovered"].to_numpy(),
                             "share": share}, geometry=geometry.to_numpy(), crs="EPSG:4326")


STORED_RESOLUTION = 9  # the elder groups' cells (cell_h3)
FINEST_POINT_RESOLUTION = 10  # groups at their own points (communities imported as points): about 65 m across


def finest_resolution(cells, lonlat: np.ndarray, weights: np.ndarray) -> int:
    """The finest resolution the groups' positions support: finer than their cells only when most of the
    elders (by ``weights``) sit at their own points (communities imported as points); a community spread over its
    cells sits at the cells' centres, where a finer hexagon would show only the centre child."""
    lonlat = np.asarray(lonlat, dtype=float).reshape(-1, 2)
    w = np.asarray(weights, dtype=float)
    if len(lonlat) == 0 or w.sum() <= 0:
        return STORED_RESOLUTION
    centres = np.array([h3.cell_to_latlng(c)[::-1] for c in cells])
    at_point = np.abs(centres - lonlat).max(axis=1) >= 1e-5  # 1e-5 degrees: about 1 m
    return FINEST_POINT_RESOLUTION if w[at_point].sum() > 0.5 * w.sum() else STORED_RESOLUTION


def resolution_for(area_km2: float, *, target_cells: int, finest: int = STORED_RESOLUTION, coarsest: int = 5) -> int:
    """The coarsest H3 resolution at which an area of ``area_km2`` holds at least ``target_cells`` hexagons (by
    H3's average hexagon area), else ``finest``: a district's map has hundreds of cells, never a handful."""
    for res in range(coarsest, finest + 1):
        if area_km2 / h3.average_hexagon_area(res, unit="km^2") >= target_cells:
            return res
    return finest
