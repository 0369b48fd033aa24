"""Gap finder: clusters of uncovered elders, ranked by weight, each with its best single site.

Uncovered demand points closer than ``link_m`` to each other (straight line,
metric CRS) form one cluster. For every cluster the candidate that would
cover the most of its weight is named, with how much of the cluster it covers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree


@dataclass(frozen=True)
class Gap:
    rank: int
    weight: float  # uncovered weight in the cluster
    n_points: int
    centre_xy: tuple[float, float]  # weighted centre, metric
    points: np.ndarray  # indices of the demand points
    best_site: object | None  # candidate id, None when no candidate reaches the cluster
    best_site_weight: float  # cluster weight the best site would cover

    @property
    def best_site_share(self) -> float:
        return self.best_site_weight / self.weight if self.weight else 0.0


def find_gaps(
    xy: np.ndarray,
    weights: np.ndarray,
    uncovered: np.ndarray,
    *,
    link_m: float = 300.0,
    candidate_cover: sparse.spmatrix | None = None,
    candidate_ids=None,
    top: int | None = None,
) -> list[Gap]:
    """Clusters of uncovered demand, heaviest first.

    ``candidate_cover``: (candidates × demand) coverage matrix, as for siting.
    """
    xy = np.asarray(xy, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    idx = np.flatnonzero(np.asarray(uncovered, dtype=bool) & (weights > 0))
    if link_m <= 0:
        msg = f"link_m must be positive, got {link_m}"
        raise ValueError(msg)
    if len(idx) == 0:
        return []
    pairs = cKDTree(xy[idx]).query_pairs(link_m, output_type="ndarray")
    graph = sparse.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(idx), len(idx)))
    n, labels = connected_components(graph, directed=False)
    cluster_w = np.bincount(labels, weights=weights[idx], minlength=n)
    order = np.argsort(-cluster_w, kind="stable")[: top or n]
    cover = sparse.csr_matrix(candidate_cover) if candidate_cover is not None else None
    ids = np.asarray(candidate_ids, dtype=object) if candidate_ids is not None else None
    gaps = []
    for rank, c in enumerate(order, start=1):
        members = idx[labels == c]
        w = weights[members]
        centre = tuple((xy[members] * w[:, None]).sum(axis=0) / w.sum())
        best, best_w = None, 0.0
        if cover is not None and cover.shape[0]:
            gain = cover[:, members].astype(np.float64) @ w
            j = int(np.argmax(gain))
            if gain[j] > 0:
                best, best_w = (ids[j] if ids is not None else j), float(gain[j])
        gaps.append(Gap(rank=rank, weight=float(w.sum()), n_points=len(members), centre_xy=centre,
                        points=members, best_site=best, best_site_weight=best_w))
    return gaps
