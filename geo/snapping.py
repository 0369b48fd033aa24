"""Snapping points to the nearest point on the walking network.

Each point is projected onto an edge (not just a node), within an explicit
maximum distance: the nearest edge, or, when the network carries an entry
policy (geo.entry), the best edge under it: an edge a rule avoids (a tunnel,
a viaduct, a private service way) or a fragment of the graph counts as
farther than it is, so a surface street of the main network close by wins.
Points whose entry differs from the plain nearest edge are kept with that
edge and its distance, so they can be counted and listed. The access leg (point to network) and
the position along the edge both count in walking distances. Points that
cannot be snapped are reported with their ids, never dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
    plain_edge: np.ndarray | None = None  # the nearest edge, whatever its class (None: same as ``edge``)
    plain_access_m: np.ndarray | None = None  # the distance to it

    @property
    def moved(self) -> np.ndarray:
        """True where the entry is not the plain nearest edge (an entry rule or a fragment moved it)."""
        if self.plain_edge is None:
            return np.zeros(len(self.ok), dtype=bool)
        return self.ok & (self.plain_edge != self.edge)

    @property
    def unsnapped_ids(self) -> tuple:
        return tuple(self.ids[~self.ok].tolist())

    @property
    def n_unsnapped(self) -> int:
        return int((~self.ok).sum())

    _ARRAYS = ("xy", "ok", "edge", "offset_u_m", "offset_v_m", "access_m")

    def save(self, path: Path) -> None:
        """The snapping's arrays (not the ids: the caller keys the file on them and gives them back to :meth:`load`)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        plain = {} if self.plain_edge is None else {"plain_edge": self.plain_edge, "plain_access_m": self.plain_access_m}
        np.savez(tmp, max_snap_m=np.array([self.max_snap_m]), **{k: getattr(self, k) for k in self._ARRAYS}, **plain)
        tmp.replace(path)  # atomic: a reader never sees half a file

    @classmethod
    def load(cls, path: Path, ids: np.ndarray) -> Snapped:
        with np.load(path) as z:
            if len(z["ok"]) != len(ids):
                msg = f"{path.name}: {len(z['ok'])} snapped points for {len(ids)} ids"
                raise ValueError(msg)
            return cls(ids=np.asarray(ids), max_snap_m=float(z["max_snap_m"][0]), **{k: z[k] for k in cls._ARRAYS},
                       plain_edge=z.get("plain_edge"),
                       plain_access_m=z.get("plain_access_m"))

    def subset(self, mask: np.ndarray) -> Snapped:
        return Snapped(
            ids=self.ids[mask], xy=self.xy[mask], ok=self.ok[mask], edge=self.edge[mask],
            offset_u_m=self.offset_u_m[mask], offset_v_m=self.offset_v_m[mask],
            access_m=self.access_m[mask], max_snap_m=self.max_snap_m,
            plain_edge=None if self.plain_edge is None else self.plain_edge[mask],
            plain_access_m=None if self.plain_access_m is None else self.plain_access_m[mask],
        )


def concat_snapped(parts: list[Snapped]) -> Snapped:
    """Several snapped sets (same network and snapping limit) as one, in order."""
    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in parts])

    plain = any(p.plain_edge is not None for p in parts)
    return Snapped(ids=cat("ids"), xy=np.concatenate([p.xy.reshape(-1, 2) for p in parts]), ok=cat("ok"),
                   edge=cat("edge"), offset_u_m=cat("offset_u_m"), offset_v_m=cat("offset_v_m"),
                   access_m=cat("access_m"), max_snap_m=parts[0].max_snap_m,
                   plain_edge=np.concatenate([p.edge if p.plain_edge is None else p.plain_edge for p in parts])
                   if plain else None,
                   plain_access_m=np.concatenate([p.access_m if p.plain_access_m is None else p.plain_access_m
                                                  for p in parts]) if plain else None)


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
        if net.entry is not None and net.has_entry_rules:
            plain_edge, plain_access = edge.copy(), access.copy()
            hit, dist = _best_entries(net, pts[src], hit, dist, max_snap_m)
            edge[src] = hit
            access[src] = dist
        segs = shapely.linestrings(np.stack([net.node_xy[net.edge_u[hit]], net.node_xy[net.edge_v[hit]]], axis=1))
        off_u[src] = shapely.line_locate_point(segs, pts[src])
    ok = edge >= 0
    length = np.where(ok, net.edge_len[np.maximum(edge, 0)], 0.0)
    off_u = np.clip(off_u, 0.0, length)
    moved = net.entry is not None and n and net.n_edges and net.has_entry_rules
    return Snapped(
        ids=ids, xy=xy, ok=ok, edge=edge, offset_u_m=off_u, offset_v_m=length - off_u,
        access_m=np.where(ok, access, np.inf), max_snap_m=float(max_snap_m),
        plain_edge=plain_edge if moved else None, plain_access_m=np.where(ok, plain_access, np.inf) if moved else None,
    )


def _best_entries(net: WalkNetwork, pts: np.ndarray, hit: np.ndarray, dist: np.ndarray,
                  max_snap_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Each point's entry edge under the network's entry policy, given its plain nearest edge.

    Only points whose nearest edge is not a plain entry are searched again: for each edge class, its nearest
    edge of that class within the limit; the one with the least distance plus the class's penalty wins (on a tie
    the better class, searched first). Exact: the best edge of a class is always its nearest."""
    penalty = net.entry.penalties(max_snap_m)
    hit, dist = hit.copy(), dist.copy()
    cls = net.edge_class[hit]
    todo = np.flatnonzero(cls != 0)
    if len(todo) == 0:
        return hit, dist
    best_score = np.full(len(todo), np.inf)  # the plain edge's own class is searched too
    best_edge, best_dist = hit[todo], dist[todo]
    for c in range(len(penalty)):
        tree, edges = net.class_tree(c)
        if len(edges) == 0:
            continue
        (i, h), d = tree.query_nearest(pts[todo], max_distance=max_snap_m, return_distance=True, all_matches=False)
        first = np.unique(i, return_index=True)[1]
        i, h, d = i[first], edges[h[first]], d[first]
        better = d + penalty[c] < best_score[i]
        i, h, d = i[better], h[better], d[better]
        best_score[i], best_edge[i], best_dist[i] = d + penalty[c], h, d
    hit[todo], dist[todo] = best_edge, best_dist
    return hit, dist
