"""Which polygon each point stands in: the point-in-polygon join every import and map needs.

``shapely.STRtree(polygons).query(points, predicate="within")`` tests each point
against unprepared polygons; here each polygon is tested once against the points
inside its bounding box with ``contains_xy`` (a prepared polygon), many times faster
for the few detailed township polygons and the many points of a district.
"""

from __future__ import annotations

import numpy as np
import shapely


def points_in_polygons(x: np.ndarray, y: np.ndarray, polygons) -> tuple[np.ndarray, np.ndarray]:
    """(point index, polygon index) of every point strictly inside a polygon (a point on a boundary is in none;
    a point in two overlapping polygons gives two pairs), sorted by point then polygon. NaN points are in none."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    hit_p, hit_g = [], []
    for i, g in enumerate(polygons):
        if g is None or g.is_empty:
            continue
        x0, y0, x1, y1 = g.bounds
        cand = np.flatnonzero((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))
        inside = cand[shapely.contains_xy(g, x[cand], y[cand])]
        hit_p.append(inside)
        hit_g.append(np.full(len(inside), i))
    if not hit_p:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
    p, g = np.concatenate(hit_p), np.concatenate(hit_g)
    order = np.lexsort((g, p))
    return p[order].astype(np.intp), g[order].astype(np.intp)


def polygon_of(x: np.ndarray, y: np.ndarray, polygons) -> np.ndarray:
    """For each point the index of the first polygon it stands in, -1 for none."""
    out = np.full(len(np.asarray(x)), -1, dtype=np.intp)
    p, g = points_in_polygons(x, y, polygons)
    first = np.ones(len(p), dtype=bool)
    first[1:] = p[1:] != p[:-1]
    out[p[first]] = g[first]
    return out
