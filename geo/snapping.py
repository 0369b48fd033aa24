"""Snapping points to the nearest point on the walking network.

Each point is projected onto its nearest edge (not just the nearest node),
within an explicit maximum distance. The access leg (point to network) and
the position along the edge both count in walking distances. Points that
cannot be snapped are reported with their ids, never dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from geo.crs import WGS84, transformer
from geo.network import WalkNetwork


@dataclass(frozen=True)
class Snapped:
    """Points attached to edges. Arrays cover every input point, in input order;
    ``ok`` is False for points that could not be snapped (their edge is -1)."""

    ids: np.ndarray
    xy: np.ndarray  # metric coordinates of the original points
    ok: np.ndarray
    edge: np.ndarray
    offset_u_m: np.ndarray  # along the edge from its u end
    offset_v_m: np.ndarray  # along the edge from its v end
    access_m: np.ndarray  # straight leg from the point to the network
    max_snap_m: float

    @property
    def unsnapped_ids(self) -> tuple:
        return tuple(self.ids[~self.ok].tolist())

    @property
    def n_unsnapped(self) -> int:
        return int((~self.ok).sum())

    def subset(self, mask: np.ndarray) -> Snapped:
        return Snapped(
            ids=self.ids[mask], xy=self.xy[mask], ok=self.ok[mask], edge=self.edge[mask],
            offset_u_m=self.offset_u_m[mask], offset_v_m=self.offset_v_m[mask],
            access_m=self.access_m[mask], max_snap_m=self.max_snap_m,
        )


def concat_snapped(parts: list[Snapped]) -> Snapped:
    """Several snapped sets (same network and snapping limit) as one, in order."""
    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in parts])

    return Snapped(ids=cat("ids"), xy=np.concatenate([p.xy.reshape(-1, 2) for p in parts]), ok=cat("ok"),
                   edge=cat("edge"), offset_u_m=cat("offset_u_m"), offset_v_m=cat("offset_v_m"),
                   access_m=cat("access_m"), max_snap_m=parts[0].max_snap_m)


def snap_points(net: WalkNetwork, lonlat: np.ndarray, ids, *, max_snap_m: float) -> Snapped:
    """Snap WGS84 points (an (n, 2) lon/lat array) to ``net``."""
    lonlat = np.asarray(lonlat, dtype=np.float64).reshape(-1, 2)
    ids = np.asarray(ids)
    if len(ids) != len(lonlat):
        msg = f"snap_points: {len(ids)} ids for {len(lonlat)} points"
        raise ValueError(msg)
    if max_snap_m <= 0:
        msg = f"snap_points: max_snap_m must be positive, got {max_snap_m}"
        raise ValueError(msg)
    x, y = transformer(WGS84, net.crs).transform(lonlat[:, 0], lonlat[:, 1])
    xy = np.column_stack([x, y])
    n = len(xy)
    edge = np.full(n, -1, dtype=np.int64)
    access = np.full(n, np.inf)
    off_u = np.zeros(n)
    if n and net.n_edges:
        pts = shapely.points(xy)
        (src, hit), dist = net.segment_tree().query_nearest(
            pts, max_distance=max_snap_m, return_distance=True, all_matches=False
        )
        # query_nearest may return ties; keep the first hit per point.
        first = np.unique(src, return_index=True)[1]
        src, hit, dist = src[first], hit[first], dist[first]
        edge[src] = hit
        access[src] = dist
        segs = shapely.linestrings(np.stack([net.node_xy[net.edge_u[hit]], net.node_xy[net.edge_v[hit]]], axis=1))
        off_u[src] = shapely.line_locate_point(segs, pts[src])
    ok = edge >= 0
    length = np.where(ok, net.edge_len[np.maximum(edge, 0)], 0.0)
    off_u = np.clip(off_u, 0.0, length)
    return Snapped(
        ids=ids, xy=xy, ok=ok, edge=edge, offset_u_m=off_u, offset_v_m=length - off_u,
        access_m=np.where(ok, access, np.inf), max_snap_m=float(max_snap_m),
    )
