"""Network distances: multi-source shortest walks with a cutoff, compiled with Numba.

Sites (facilities) sit on edges, so a search starts from both ends of each
site's edge with the access leg and the position along the edge already
counted. All sites go in one multi-source pass that labels every node with
its nearest site; a point's distance then combines its own edge ends (and a
site on the very same edge, reached directly along it). Searches stop at the
cutoff, so only the streets within reach are ever touched.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from geo.network import WalkNetwork
from geo.snapping import Snapped


@njit(cache=True, nogil=True, inline="always")
def _queue(v, d, lab, dist, label, touched, nt, width, head, nxt, enode, ekey, ne):
    """Record the better walk ``d`` to node ``v`` (from site ``lab``) and queue it; returns (nt, ne)."""
    if dist[v] == np.inf:
        touched[nt] = v
        nt += 1
    dist[v] = d
    label[v] = lab
    b = int(d / width) % head.shape[0]
    enode[ne] = v
    ekey[ne] = d
    nxt[ne] = head[b]
    head[b] = ne
    return nt, ne + 1


@njit(cache=True, nogil=True)
def _dial(indptr, indices, weights, seed_node, seed_dist, seed_label, cutoff, dist, label, touched,
          width, head, nxt, enode, ekey):
    """Multi-source shortest walks with a cutoff, on a circular bucket queue (Dial).

    ``dist`` must be +inf wherever not yet reached. Writes the distance and
    nearest seed label of every node within ``cutoff`` and lists each node it
    reaches in ``touched``, so a caller can reset only those entries.

    Buckets are ``width`` metres wide and there are enough of them to hold any
    pending key (longest edge + largest seed distance), so pushes and pops are
    O(1). Nodes inside one bucket are not ordered: a node improved after it was
    processed is simply pushed and processed again, so distances stay exact.
    Returns the number of reached nodes, or -(that + 1) if the queue arrays
    ran out of room (the caller grows them and runs again).
    """
    nb = head.shape[0]
    for b in range(nb):
        head[b] = -1
    ne = 0
    nt = 0
    pending = 0
    start = np.inf
    for i in range(seed_node.shape[0]):
        d = seed_dist[i]
        v = seed_node[i]
        if d <= cutoff and d < dist[v]:
            if ne == enode.shape[0]:
                return -(nt + 1)
            nt, ne = _queue(v, d, seed_label[i], dist, label, touched, nt, width, head, nxt, enode, ekey, ne)
            pending += 1
            start = min(start, d)
    if pending == 0:
        return nt
    cur = int(start / width) % nb
    while pending > 0:
        e = head[cur]
        if e == -1:
            cur = cur + 1 if cur + 1 < nb else 0
            continue
        head[cur] = nxt[e]
        pending -= 1
        v = enode[e]
        d = ekey[e]
        if d > dist[v]:
            continue
        lab = label[v]
        for k in range(indptr[v], indptr[v + 1]):
            w = indices[k]
            nd = d + weights[k]
            if nd < dist[w] and nd <= cutoff:
                if ne == enode.shape[0]:
                    return -(nt + 1)
                nt, ne = _queue(w, nd, lab, dist, label, touched, nt, width, head, nxt, enode, ekey, ne)
                pending += 1
    return nt


@njit(cache=True, nogil=True)
def _point_distances(touched, n_touched, node_ptr, node_pts, ent_edge, ent_off_u, ent_off_v, ent_access,
                     edge_u, edge_v, dist, label, edge_has_site, s_edge_sorted, s_off_u_sorted, s_access_sorted,
                     s_index_sorted, cutoff, out_d, out_s):
    """Distances of the points hanging off reached nodes; every other point keeps inf / -1.

    A point's walk is the better of its edge's two ends (each already carrying
    the walk from its nearest site), or, when a site sits on the same edge, the
    direct walk along it; then its own access leg.
    """
    for t in range(n_touched):
        node = touched[t]
        for k in range(node_ptr[node], node_ptr[node + 1]):
            e = ent_edge[k]
            u = edge_u[e]
            if node != u and dist[u] < np.inf:
                continue  # handled from its u end, which was reached too
            v = edge_v[e]
            best = dist[u] + ent_off_u[k]
            site = label[u]
            dv = dist[v] + ent_off_v[k]
            if dv < best:
                best = dv
                site = label[v]
            if edge_has_site[e]:
                j = np.searchsorted(s_edge_sorted, e)
                while j < s_edge_sorted.shape[0] and s_edge_sorted[j] == e:
                    direct = abs(ent_off_u[k] - s_off_u_sorted[j]) + s_access_sorted[j]
                    if direct < best:
                        best = direct
                        site = s_index_sorted[j]
                    j += 1
            best += ent_access[k]
            if best <= cutoff:
                i = node_pts[k]
                out_d[i] = best
                out_s[i] = site
    # Points sharing an edge with a site whose ends lie beyond the cutoff (a long edge):
    # reachable only directly along it, so they are not under any reached node.
    for j in range(s_edge_sorted.shape[0]):
        e = s_edge_sorted[j]
        node = edge_u[e]
        for k in range(node_ptr[node], node_ptr[node + 1]):
            if ent_edge[k] == e:
                direct = abs(ent_off_u[k] - s_off_u_sorted[j]) + s_access_sorted[j] + ent_access[k]
                i = node_pts[k]
                if direct <= cutoff and direct < out_d[i]:
                    out_d[i] = direct
                    out_s[i] = s_index_sorted[j]


BUCKET_WIDTH_M = 1.0
MAX_BUCKETS = 2_000_000  # beyond that (edges of thousands of km) the heap is used


@dataclass(frozen=True)
class NearestSites:
    """For each point: index of its nearest site (-1: none within cutoff) and the walk in metres."""

    site: np.ndarray
    network_m: np.ndarray
    cutoff_m: float


class Reach:
    """Reusable search state over one network (scratch arrays allocated once)."""

    def __init__(self, net: WalkNetwork, *, queue_size: int | None = None) -> None:
        self.net = net
        self._dist = np.full(net.n_nodes, np.inf)
        self._label = np.full(net.n_nodes, -1, dtype=np.int64)
        self._touched = np.empty(net.n_nodes, dtype=np.int64)
        self._grow(queue_size if queue_size is not None else len(net.indices) + 1)
        self._head = np.empty(0, dtype=np.int64)
        self._edge_has_site = np.zeros(net.n_edges, dtype=np.bool_)

    def _search(self, nodes: np.ndarray, dists: np.ndarray, labels: np.ndarray, cutoff_m: float) -> int:
        """Run the search into the scratch arrays; returns how many nodes it reached."""
        if len(nodes) == 0:
            return 0
        net = self.net
        span = (float(net.weights.max()) if len(net.weights) else 0.0) + float(dists.max())
        width = max(BUCKET_WIDTH_M, span / MAX_BUCKETS)  # very long edges: wider buckets, still exact
        n_buckets = int(span / width) + 2
        if len(self._head) < n_buckets:
            self._head = np.empty(n_buckets, dtype=np.int64)
        while True:
            if len(self._ekey) < len(nodes) + 1:
                self._grow(len(nodes) + 1)
            n = _dial(net.indptr, net.indices, net.weights, nodes, dists, labels, float(cutoff_m), self._dist,
                      self._label, self._touched, width, self._head[:n_buckets], self._next, self._enode,
                      self._ekey)
            if n >= 0:
                return n
            self._reset(-n - 1)  # the queue ran out of room: grow it and search again
            self._grow(2 * len(self._ekey))

    def _grow(self, size: int) -> None:
        self._ekey = np.empty(size)
        self._enode = np.empty(size, dtype=np.int64)
        self._next = np.empty(size, dtype=np.int64)

    def _reset(self, n: int) -> None:
        touched = self._touched[:n]
        self._dist[touched] = np.inf
        self._label[touched] = -1

    def _seeds(self, sites: Snapped, labels: np.ndarray | None = None):
        ok = np.flatnonzero(sites.ok)
        e = sites.edge[ok]
        lab = (np.arange(len(sites.ok)) if labels is None else labels)[ok]
        nodes = np.concatenate([self.net.edge_u[e], self.net.edge_v[e]])
        dists = np.concatenate([sites.access_m[ok] + sites.offset_u_m[ok], sites.access_m[ok] + sites.offset_v_m[ok]])
        return nodes.astype(np.int64), dists, np.concatenate([lab, lab]).astype(np.int64)

    def node_distances(self, sites: Snapped, *, cutoff_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(touched nodes, their distance, their nearest site) for all sites in one pass."""
        n = self._search(*self._seeds(sites), cutoff_m)
        touched = self._touched[:n].copy()
        out = (touched, self._dist[touched].copy(), self._label[touched].copy())
        self._reset(n)
        return out

    def nearest(self, sites: Snapped, points: Snapped, *, cutoff_m: float,
                index: PointIndex | None = None) -> NearestSites:
        """Nearest site of every point within ``cutoff_m`` walking metres (one multi-source pass).

        Pass the points' :class:`PointIndex` when querying the same points repeatedly.
        """
        index = index or PointIndex(self.net, points)
        n = self._search(*self._seeds(sites), cutoff_m)
        ok = np.flatnonzero(sites.ok)
        order = np.argsort(sites.edge[ok], kind="stable")
        s_idx = ok[order].astype(np.int64)
        out_d = np.full(len(points.ok), np.inf)
        out_s = np.full(len(points.ok), -1, dtype=np.int64)
        site_edges = sites.edge[s_idx]
        self._edge_has_site[site_edges] = True
        _point_distances(self._touched, n, index.node_ptr, index.node_pts, index.ent_edge, index.ent_off_u,
                         index.ent_off_v, index.ent_access, self.net.edge_u, self.net.edge_v, self._dist,
                         self._label, self._edge_has_site, site_edges, sites.offset_u_m[s_idx],
                         sites.access_m[s_idx], s_idx, float(cutoff_m), out_d, out_s)
        self._edge_has_site[site_edges] = False
        self._reset(n)
        return NearestSites(site=out_s, network_m=out_d, cutoff_m=float(cutoff_m))


@njit(cache=True, nogil=True)
def _offer(i, best, new_label, cutoff, cur_d, cur_s, changed, nc):
    """Give point ``i`` to the new site if its walk there is shorter; returns the changed count."""
    if best <= cutoff and best < cur_d[i]:
        if cur_s[i] != new_label:
            changed[nc] = i
            nc += 1
        cur_d[i] = best
        cur_s[i] = new_label
    return nc


@njit(cache=True, nogil=True)
def _improve(touched, n_touched, dist, edge_u, edge_v, node_ptr, node_pts, ent_edge, ent_off_u, ent_off_v,
             ent_access, new_edge, new_off_u, new_access, new_label, cur_d, cur_s, cutoff, changed):
    """Points whose nearest site becomes the new one; returns how many changed."""
    nc = 0
    node = edge_u[new_edge]  # points on the new site's own edge, even if its ends are out of reach
    for k in range(node_ptr[node], node_ptr[node + 1]):
        if ent_edge[k] == new_edge:
            best = abs(ent_off_u[k] - new_off_u) + new_access + ent_access[k]
            nc = _offer(node_pts[k], best, new_label, cutoff, cur_d, cur_s, changed, nc)
    for t in range(n_touched):
        node = touched[t]
        for k in range(node_ptr[node], node_ptr[node + 1]):
            e = ent_edge[k]
            best = min(dist[edge_u[e]] + ent_off_u[k], dist[edge_v[e]] + ent_off_v[k])
            if e == new_edge:
                best = min(best, abs(ent_off_u[k] - new_off_u) + new_access)
            nc = _offer(node_pts[k], best + ent_access[k], new_label, cutoff, cur_d, cur_s, changed, nc)
    return nc


class PointIndex:
    """Which snapped points hang off each node (both ends of their edge).

    The points' edge, offsets and access legs are copied in the same order, so
    a search reads them sequentially instead of jumping around memory.
    """

    def __init__(self, net: WalkNetwork, points: Snapped) -> None:
        ok = np.flatnonzero(points.ok)
        nodes = np.concatenate([net.edge_u[points.edge[ok]], net.edge_v[points.edge[ok]]])
        pts = np.concatenate([ok, ok])
        order = np.argsort(nodes, kind="stable")
        self.node_pts = pts[order].astype(np.int64)
        self.node_ptr = np.zeros(net.n_nodes + 1, dtype=np.int64)
        np.cumsum(np.bincount(nodes, minlength=net.n_nodes), out=self.node_ptr[1:])
        self.ent_edge = points.edge[self.node_pts].astype(np.int64)
        self.ent_off_u = points.offset_u_m[self.node_pts].copy()
        self.ent_off_v = points.offset_v_m[self.node_pts].copy()
        self.ent_access = points.access_m[self.node_pts].copy()


def add_site_inplace(reach: Reach, index: PointIndex, site: Snapped, label: int, points: Snapped,
                     site_of_point: np.ndarray, dist_of_point: np.ndarray, *, cutoff_m: float) -> np.ndarray:
    """Search only the new site's reach and update points it now serves best.

    ``site_of_point`` and ``dist_of_point`` are updated in place; returns the
    indices of the points whose nearest site changed to ``label``.
    """
    if len(site.ok) != 1:
        msg = f"add_site_inplace takes exactly one site, got {len(site.ok)}"
        raise ValueError(msg)
    changed = np.empty(len(points.ok), dtype=np.int64)
    if not site.ok[0]:
        return changed[:0]
    net = reach.net
    n = reach._search(*reach._seeds(site, np.array([label])), cutoff_m)
    nc = _improve(reach._touched, n, reach._dist, net.edge_u, net.edge_v, index.node_ptr, index.node_pts,
                  index.ent_edge, index.ent_off_u, index.ent_off_v, index.ent_access,
                  int(site.edge[0]), float(site.offset_u_m[0]), float(site.access_m[0]), int(label),
                  dist_of_point, site_of_point, float(cutoff_m), changed)
    reach._reset(n)
    return changed[:nc]


@njit(cache=True, nogil=True)
def _collect(touched, n_touched, dist, edge_u, edge_v, node_ptr, node_pts, ent_edge, ent_off_u, ent_off_v,
             ent_access, site_edge, site_off_u, site_access, cutoff, stamp, mark, out, out_m):
    """Points within ``cutoff`` of one site (searched into ``dist``): how many, listed in ``out`` with their
    walks in ``out_m``. A point on the site's own edge takes the better of the direct walk and the ends."""
    n = 0
    node = edge_u[site_edge]
    for k in range(node_ptr[node], node_ptr[node + 1]):
        if ent_edge[k] == site_edge:
            i = node_pts[k]
            direct = abs(ent_off_u[k] - site_off_u) + site_access + ent_access[k]
            ends = min(dist[edge_u[site_edge]] + ent_off_u[k], dist[edge_v[site_edge]] + ent_off_v[k]) + ent_access[k]
            best = min(direct, ends)
            if best <= cutoff and mark[i] != stamp:
                mark[i] = stamp
                out[n] = i
                out_m[n] = best
                n += 1
    for t in range(n_touched):
        node = touched[t]
        for k in range(node_ptr[node], node_ptr[node + 1]):
            i = node_pts[k]
            if mark[i] == stamp:
                continue
            e = ent_edge[k]
            best = min(dist[edge_u[e]] + ent_off_u[k], dist[edge_v[e]] + ent_off_v[k]) + ent_access[k]
            if best <= cutoff:
                mark[i] = stamp
                out[n] = i
                out_m[n] = best
                n += 1
    return n


@dataclass(frozen=True)
class WalkPairs:
    """Every (site, point) pair within the cutoff and its walk in metres, sorted by site then point."""

    site: np.ndarray  # int64
    point: np.ndarray  # int64
    metres: np.ndarray  # float64
    n_sites: int
    n_points: int
    cutoff_m: float

    def coverage(self):
        """The (sites × points) boolean matrix of the same pairs."""
        from scipy import sparse

        return sparse.csr_matrix((np.ones(len(self.site), dtype=bool), (self.site, self.point)),
                                 shape=(self.n_sites, self.n_points))

    def subset(self, *, sites: np.ndarray | None = None, points: np.ndarray | None = None) -> WalkPairs:
        """The pairs of the given sites and points (index arrays), renumbered in that order."""
        keep = np.ones(len(self.site), dtype=bool)
        site_map = np.arange(self.n_sites)
        point_map = np.arange(self.n_points)
        n_s, n_p = self.n_sites, self.n_points
        if sites is not None:
            site_map = np.full(self.n_sites, -1)
            site_map[sites] = np.arange(len(sites))
            keep &= site_map[self.site] >= 0
            n_s = len(sites)
        if points is not None:
            point_map = np.full(self.n_points, -1)
            point_map[points] = np.arange(len(points))
            keep &= point_map[self.point] >= 0
            n_p = len(points)
        s, p = site_map[self.site[keep]], point_map[self.point[keep]]
        order = np.lexsort((p, s))
        return WalkPairs(s[order], p[order], self.metres[keep][order], n_s, n_p, self.cutoff_m)


def walk_pairs(reach: Reach, index: PointIndex, sites: Snapped, points: Snapped, *, cutoff_m: float) -> WalkPairs:
    """Every site's points within ``cutoff_m`` walking metres, with the walk: one search per site, each stopping
    at the cutoff (the input of the siting models; the walks are those :meth:`Reach.nearest` finds)."""
    net = reach.net
    mark = np.full(len(points.ok), -1, dtype=np.int64)
    out = np.empty(len(points.ok), dtype=np.int64)
    out_m = np.empty(len(points.ok))
    rows, cols, metres = [], [], []
    for j in np.flatnonzero(sites.ok):
        n = reach._search(*reach._seeds(sites.subset(np.arange(len(sites.ok)) == j), np.array([j])), cutoff_m)
        m = _collect(reach._touched, n, reach._dist, net.edge_u, net.edge_v, index.node_ptr, index.node_pts,
                     index.ent_edge, index.ent_off_u, index.ent_off_v, index.ent_access, int(sites.edge[j]),
                     float(sites.offset_u_m[j]), float(sites.access_m[j]), float(cutoff_m), int(j), mark, out, out_m)
        reach._reset(n)
        order = np.argsort(out[:m], kind="stable")
        rows.append(np.full(m, j, dtype=np.int64))
        cols.append(out[:m][order])
        metres.append(out_m[:m][order])
    if not rows:
        return WalkPairs(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), len(sites.ok), len(points.ok),
                         float(cutoff_m))
    return WalkPairs(np.concatenate(rows), np.concatenate(cols), np.concatenate(metres), len(sites.ok),
                     len(points.ok), float(cutoff_m))


def coverage_matrix(reach: Reach, index: PointIndex, sites: Snapped, points: Snapped, *, cutoff_m: float):
    """A sparse (sites × points) matrix: True where the site is within ``cutoff_m`` walk of the point.

    One search per site, each stopping at the cutoff (the input of siting models).
    """
    return walk_pairs(reach, index, sites, points, cutoff_m=cutoff_m).coverage()
