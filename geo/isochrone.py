"""Isochrones (walking-time bands per site) and service areas (nearest-site zones).

Polygons follow the streets actually reached: the network's nodes are
triangulated once (Delaunay, dropping long triangles that span fields,
water or walled land), and a band is the union of the triangles whose three
corners are all reached within it, plus a small square around any reached
node left outside them. Bands are built cumulatively, so they nest. Service
areas split every reached triangle into three corner pieces and give each to
its corner's nearest site, so they never overlap and each node lies in its
own site's area.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

from geo.crs import WGS84
from geo.network import WalkNetwork
from geo.reach import Reach
from geo.snapping import Snapped


@dataclass(frozen=True)
class Triangulation:
    triangles: np.ndarray  # (T, 3) node indices
    polygons: np.ndarray  # (T,) shapely Polygons, metric
    node_ptr: np.ndarray  # CSR: triangles around each node
    node_tri: np.ndarray


def triangulate(net: WalkNetwork, *, max_edge_m: float = 250.0) -> Triangulation:
    """Delaunay triangles over the network's nodes, without edges longer than ``max_edge_m``."""
    from scipy.spatial import Delaunay

    if net.n_nodes < 3:
        empty = np.zeros((0, 3), dtype=np.int64)
        return Triangulation(empty, np.array([], dtype=object), np.zeros(net.n_nodes + 1, dtype=np.int64),
                             np.zeros(0, dtype=np.int64))
    tri = Delaunay(net.node_xy).simplices.astype(np.int64)
    p = net.node_xy[tri]
    sides = np.stack([np.hypot(*(p[:, a] - p[:, b]).T) for a, b in ((0, 1), (1, 2), (2, 0))], axis=1)
    tri = tri[sides.max(axis=1) <= max_edge_m]
    polys = shapely.polygons(net.node_xy[tri])
    flat = tri.ravel()
    order = np.argsort(flat, kind="stable")
    node_ptr = np.zeros(net.n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(flat, minlength=net.n_nodes), out=node_ptr[1:])
    return Triangulation(tri, polys, node_ptr, (order // 3).astype(np.int64))


def _triangles_around(tri: Triangulation, nodes: np.ndarray) -> np.ndarray:
    if len(nodes) == 0:
        return np.zeros(0, dtype=np.int64)
    starts, ends = tri.node_ptr[nodes], tri.node_ptr[nodes + 1]
    counts = ends - starts
    idx = np.repeat(starts - np.cumsum(np.r_[0, counts[:-1]]), counts) + np.arange(counts.sum())
    return np.unique(tri.node_tri[idx])


def _band_polygon(tri: Triangulation, net: WalkNetwork, reached_mask: np.ndarray, nodes: np.ndarray,
                  node_square_m: float):
    cand = _triangles_around(tri, nodes)
    inside = cand[reached_mask[tri.triangles[cand]].all(axis=1)] if len(cand) else cand
    parts = []
    if len(inside):
        parts.append(shapely.coverage_union_all(tri.polygons[inside]))
    covered_nodes = np.zeros(net.n_nodes, dtype=bool)
    covered_nodes[tri.triangles[inside].ravel()] = True
    lone = nodes[~covered_nodes[nodes]]
    if len(lone):
        h = node_square_m / 2
        xy = net.node_xy[lone]
        parts.append(shapely.union_all(shapely.box(xy[:, 0] - h, xy[:, 1] - h, xy[:, 0] + h, xy[:, 1] + h)))
    return parts


def isochrones(
    net: WalkNetwork,
    sites: Snapped,
    *,
    bands_m: tuple[float, ...],
    triangulation: Triangulation | None = None,
    reach: Reach | None = None,
    node_square_m: float = 30.0,
) -> gpd.GeoDataFrame:
    """One polygon per (site, band), bands in walking metres; columns site_id, band_m, geometry (WGS84)."""
    bands = tuple(sorted(float(b) for b in bands_m))
    if not bands or bands[0] <= 0:
        msg = f"bands_m must be positive distances, got {bands_m}"
        raise ValueError(msg)
    tri = triangulation or triangulate(net)
    reach = reach or Reach(net)
    rows_id, rows_band, rows_geom = [], [], []
    mask = np.zeros(net.n_nodes, dtype=bool)
    for i in np.flatnonzero(sites.ok):
        touched, dist, _ = reach.node_distances(sites.subset(np.arange(len(sites.ok)) == i), cutoff_m=bands[-1])
        previous = None
        for band in bands:
            nodes = touched[dist <= band]
            mask[nodes] = True
            parts = _band_polygon(tri, net, mask, nodes, node_square_m)
            if previous is not None:
                parts.append(previous)
            geom = shapely.union_all(parts) if parts else shapely.Polygon()
            rows_id.append(sites.ids[i])
            rows_band.append(band)
            rows_geom.append(geom)
            previous = geom
            mask[nodes] = False
    return _frame(net, {"site_id": rows_id, "band_m": rows_band}, rows_geom)


def service_areas(
    net: WalkNetwork,
    sites: Snapped,
    *,
    cutoff_m: float,
    triangulation: Triangulation | None = None,
    reach: Reach | None = None,
) -> gpd.GeoDataFrame:
    """Non-overlapping zones, each place given to its nearest site within ``cutoff_m``."""
    tri = triangulation or triangulate(net)
    reach = reach or Reach(net)
    touched, dist, label = reach.node_distances(sites, cutoff_m=cutoff_m)
    node_label = np.full(net.n_nodes, -1, dtype=np.int64)
    node_label[touched] = label
    cand = _triangles_around(tri, touched)
    corners = tri.triangles[cand]
    labels = node_label[corners]
    full = (labels >= 0).all(axis=1)
    corners, labels = corners[full], labels[full]
    # Each triangle is cut into three corner quads (corner, two edge midpoints,
    # centroid) and every quad goes to its corner's nearest site: each node's
    # surroundings belong to its own site, and the pieces tile without overlap.
    p = net.node_xy[corners]  # (T, 3, 2)
    g = p.mean(axis=1)
    mid = {(0, 1): (p[:, 0] + p[:, 1]) / 2, (1, 2): (p[:, 1] + p[:, 2]) / 2, (0, 2): (p[:, 0] + p[:, 2]) / 2}
    quads = [
        np.stack([p[:, 0], mid[(0, 1)], g, mid[(0, 2)]], axis=1),
        np.stack([p[:, 1], mid[(1, 2)], g, mid[(0, 1)]], axis=1),
        np.stack([p[:, 2], mid[(0, 2)], g, mid[(1, 2)]], axis=1),
    ]
    polys = shapely.polygons(np.concatenate(quads))
    owner = np.concatenate([labels[:, 0], labels[:, 1], labels[:, 2]])
    ids, geoms = [], []
    for site in np.unique(owner):
        ids.append(sites.ids[site])
        geoms.append(shapely.coverage_union_all(polys[owner == site]))
    return _frame(net, {"site_id": ids}, geoms)


def _frame(net: WalkNetwork, columns: dict, geoms: list) -> gpd.GeoDataFrame:
    out = gpd.GeoDataFrame(columns, geometry=list(geoms), crs=net.crs)
    return out.to_crs(WGS84) if len(out) else out.set_crs(net.crs, allow_override=True).to_crs(WGS84)
