"""Candidate sites for new stations and the demand weights siting maximises.

Candidates are either imported (points with ids: vacant public buildings, the
facility rooms of new compounds, …) or generated here from the walking
network: every uncovered elder point hands its weight to the nearer end of
the street it sits on, and in each square of ``spacing_m`` the node holding
the most uncovered weight becomes a candidate. The heaviest ``max_count``
are kept, so candidates sit where elders are under-served, on a street.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from geo.network import WalkNetwork
from geo.reach import PointIndex, Reach, walk_pairs
from geo.snapping import Snapped, snap_points


@dataclass(frozen=True)
class Candidates:
    ids: np.ndarray  # str
    lonlat: np.ndarray  # (n, 2) WGS84
    weight: np.ndarray  # uncovered weight that handed itself to the site (0 for imported ones)
    source: str  # "generated" | "imported"
    cost: np.ndarray | None = None  # per candidate (NaN: not given in its file); None: none given
    build: np.ndarray | None = None  # "new" | "renovation" | "" per candidate

    def __len__(self) -> int:
        return len(self.ids)


def siting_weights(elders: np.ndarray, categories: Mapping[str, np.ndarray], extra: Mapping[str, float]) -> np.ndarray:
    """Weight per demand point: every elder counts 1, plus each category's extra weight.

    ``elders``: 60+ per point; ``categories``: counts per point of each
    category named in ``extra`` (a missing category is an error, not a zero).
    """
    w = np.asarray(elders, dtype=np.float64).copy()
    for cat, x in extra.items():
        if cat not in categories:
            msg = f"no counts for elder category {cat!r} (have {sorted(categories)})"
            raise KeyError(msg)
        w += float(x) * np.asarray(categories[cat], dtype=np.float64)
    return w


def underserved_candidates(net: WalkNetwork, demand: Snapped, weights: np.ndarray, covered: np.ndarray, *,
                           spacing_m: float, max_count: int, prefix: str = "G") -> Candidates:
    """Network nodes next to uncovered elders, at most one per ``spacing_m`` square, heaviest first.

    ``covered`` is a mask (covered elders hand nothing) or, in a dense city where almost everyone is within
    reach of a station but the stations are full, the share of each point already served (0 … 1): then the
    elders beyond capacity are what the candidates gather.
    """
    if spacing_m <= 0 or max_count < 1:
        msg = f"spacing_m must be positive and max_count at least 1 (got {spacing_m}, {max_count})"
        raise ValueError(msg)
    weights = np.asarray(weights, dtype=np.float64)
    covered = np.asarray(covered)
    need = weights * (1.0 - np.clip(covered.astype(np.float64), 0.0, 1.0))
    take = demand.ok & (need > 1e-9)
    edge = demand.edge[take]
    near_u = demand.offset_u_m[take] <= demand.offset_v_m[take]
    node = np.where(near_u, net.edge_u[edge], net.edge_v[edge])
    node_w = np.bincount(node, weights=need[take], minlength=net.n_nodes)
    nodes = np.flatnonzero(node_w > 0)
    if len(nodes) == 0:
        return Candidates(np.array([], dtype=str), np.empty((0, 2)), np.empty(0), "generated")
    cell = np.floor(net.node_xy[nodes] / spacing_m).astype(np.int64)
    _, cell_id = np.unique(cell, axis=0, return_inverse=True)
    cell_id = cell_id.ravel()
    # heaviest node of each square: sort by (square, -weight) and keep the first of each square
    order = np.lexsort((-node_w[nodes], cell_id))
    first = order[np.r_[True, cell_id[order][1:] != cell_id[order][:-1]]]
    best = nodes[first]
    best = best[np.argsort(-node_w[best], kind="stable")][:max_count]
    ids = np.array([f"{prefix}{i:04d}" for i in range(1, len(best) + 1)])
    return Candidates(ids, net.node_lonlat[best].copy(), node_w[best], "generated")


def across_candidates(net: WalkNetwork, demand: Snapped, need: np.ndarray, nodes: np.ndarray, *, cutoff_m: float,
                      spacing_m: float, max_count: int, prefix: str = "X") -> Candidates:
    """Candidates on ``nodes`` (network nodes outside the district: its neighbours' streets near the border) from
    which a walk within ``cutoff_m`` reaches under-served elders: the nodes thinned to one per ``spacing_m`` square,
    each weighted by the ``need`` (per demand point) it reaches, the heaviest ``max_count`` with any kept."""
    nodes = np.asarray(nodes, dtype=np.int64)
    if len(nodes) == 0 or max_count < 1:
        return Candidates(np.array([], dtype=str), np.empty((0, 2)), np.empty(0), "generated")
    _, first = np.unique(np.floor(net.node_xy[nodes] / spacing_m).astype(np.int64), axis=0, return_index=True)
    thinned = nodes[np.sort(first)]
    sites = snap_points(net, net.node_lonlat[thinned], thinned, max_snap_m=1.0)
    pairs = walk_pairs(Reach(net), PointIndex(net, demand), sites, demand, cutoff_m=cutoff_m)
    reached = np.bincount(pairs.site, weights=np.asarray(need, dtype=np.float64)[pairs.point],
                          minlength=len(thinned))
    keep = np.flatnonzero(reached > 1e-9)
    keep = keep[np.argsort(-reached[keep], kind="stable")][:max_count]
    ids = np.array([f"{prefix}{i:04d}" for i in range(1, len(keep) + 1)])
    return Candidates(ids, net.node_lonlat[thinned[keep]].copy(), reached[keep], "generated")


def joined(a: Candidates, b: Candidates) -> Candidates:
    """Two generated candidate lists as one (ids stay unique by their prefixes)."""
    return Candidates(np.concatenate([a.ids, b.ids]), np.concatenate([a.lonlat, b.lonlat]),
                      np.concatenate([a.weight, b.weight]), a.source)


def imported_candidates(ids, lonlat: np.ndarray, *, cost=None, build=None) -> Candidates:
    lonlat = np.asarray(lonlat, dtype=np.float64).reshape(-1, 2)
    return Candidates(np.asarray(ids).astype(str), lonlat, np.zeros(len(lonlat)), "imported",
                      None if cost is None else np.asarray(cost, dtype=np.float64),
                      None if build is None else np.asarray(build, dtype=object))


def candidate_costs(cands: Candidates, *, new_build: float, renovation: float) -> np.ndarray:
    """Each candidate's cost: its file's figure, else the configured cost of renovating (when it is marked
    a renovation) or of building new."""
    n = len(cands)
    build = cands.build if cands.build is not None else np.full(n, "", dtype=object)
    default = np.where(build == "renovation", float(renovation), float(new_build))
    if cands.cost is None:
        return default
    return np.where(np.isfinite(cands.cost), cands.cost, default)
