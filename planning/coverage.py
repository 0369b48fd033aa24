"""Walking coverage of elders: who reaches a service within the cutoff.

Built spopt-style: a model is made once from the network and the snapped
demand (elders as weighted points, with their township or community and
their counts per age band and category); ``evaluate`` then takes a set of
sites and returns a frozen result. Each elder counts once, at the nearest
site, so nobody is counted twice across facilities. Unsnapped demand
counts as not covered. The straight-line measure (the common 1,000 m
circle) is computed next to the network one for comparison.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from geo.network import WalkNetwork
from geo.reach import PointIndex, Reach, add_site_inplace
from geo.snapping import Snapped


@dataclass(frozen=True)
class CoverageResult:
    site: np.ndarray  # nearest site per demand point (-1: none within the cutoff)
    network_m: np.ndarray  # walking metres to it (inf: none)
    covered: np.ndarray  # bool per demand point
    area_ids: tuple
    categories: tuple[str, ...]
    area_total: np.ndarray  # (areas, categories) weight
    area_covered: np.ndarray  # (areas, categories) covered weight
    cutoff_m: float
    straight_m: np.ndarray | None = None  # straight-line metres to the nearest site
    straight_covered: np.ndarray | None = None
    straight_area_covered: np.ndarray | None = None  # (areas, categories)

    def share(self, category: str | None = None) -> float:
        """Covered share of the total weight (of one category, or of the first)."""
        k = 0 if category is None else self.categories.index(category)
        total = self.area_total[:, k].sum()
        return float(self.area_covered[:, k].sum() / total) if total else 0.0

    def straight_share(self, category: str | None = None) -> float | None:
        """Share covered by the straight-line measure (None if not computed)."""
        if self.straight_area_covered is None:
            return None
        k = 0 if category is None else self.categories.index(category)
        total = self.area_total[:, k].sum()
        return float(self.straight_area_covered[:, k].sum() / total) if total else 0.0

    def area_table(self) -> pd.DataFrame:
        """One row per area: total, covered and share for every category."""
        cols = {}
        for k, cat in enumerate(self.categories):
            total = self.area_total[:, k]
            cov = self.area_covered[:, k]
            cols[f"{cat}_total"] = total
            cols[f"{cat}_covered"] = cov
            cols[f"{cat}_share"] = np.divide(cov, total, out=np.zeros_like(cov), where=total > 0)
        return pd.DataFrame(cols, index=pd.Index(self.area_ids, name="area"))


def coverage_by(result: CoverageResult, weights: np.ndarray, keys: np.ndarray, *, categories: tuple[str, ...]) -> pd.DataFrame:
    """Covered weight and share per any grouping of the demand points (e.g. community codes)."""
    weights = np.asarray(weights, dtype=np.float64).reshape(len(keys), -1)
    codes, inverse = np.unique(np.asarray(keys), return_inverse=True)
    inverse = inverse.ravel()
    cols = {}
    for k, cat in enumerate(categories):
        total = np.bincount(inverse, weights=weights[:, k], minlength=len(codes))
        cov = np.bincount(inverse, weights=weights[:, k] * result.covered, minlength=len(codes))
        cols[f"{cat}_total"] = total
        cols[f"{cat}_covered"] = cov
        cols[f"{cat}_share"] = np.divide(cov, total, out=np.zeros_like(cov), where=total > 0)
    return pd.DataFrame(cols, index=pd.Index(codes, name="group"))


class CoverageModel:
    """Demand fixed once; evaluate any set of sites against it."""

    def __init__(
        self,
        net: WalkNetwork,
        demand: Snapped,
        weights: np.ndarray,
        *,
        categories: tuple[str, ...],
        area_of_demand: np.ndarray,
    ) -> None:
        weights = np.asarray(weights, dtype=np.float64)
        if weights.ndim == 1:
            weights = weights[:, None]
        if weights.shape != (len(demand.ok), len(categories)):
            msg = f"weights must be ({len(demand.ok)}, {len(categories)}) for {categories}, got {weights.shape}"
            raise ValueError(msg)
        if np.any(weights < 0) or not np.all(np.isfinite(weights)):
            msg = "weights must be finite and non-negative"
            raise ValueError(msg)
        self.net = net
        self.demand = demand
        self.weights = weights
        self.categories = tuple(categories)
        codes, inverse = np.unique(np.asarray(area_of_demand), return_inverse=True)
        self.area_ids = tuple(codes.tolist())
        self.area_index = inverse.ravel().astype(np.int64)
        self.area_total = self._by_area(np.ones(len(demand.ok), dtype=bool))
        self._reach = Reach(net)
        self._index = PointIndex(net, demand)
        self._lock = threading.Lock()  # the search scratch space is shared; sessions run in threads

    def covered_by_area(self, mask: np.ndarray) -> np.ndarray:
        """(areas, categories) weight of the demand points where ``mask`` is true."""
        return self._by_area(mask)

    def _by_area(self, mask: np.ndarray) -> np.ndarray:
        idx = self.area_index[mask]
        w = self.weights[mask]
        return np.column_stack([np.bincount(idx, weights=w[:, k], minlength=len(self.area_ids))
                                for k in range(w.shape[1])])

    def evaluate(self, sites: Snapped, *, cutoff_m: float, straight_line_m: float | None = None) -> CoverageResult:
        if cutoff_m <= 0:
            msg = f"cutoff_m must be positive, got {cutoff_m}"
            raise ValueError(msg)
        with self._lock:
            near = self._reach.nearest(sites, self.demand, cutoff_m=cutoff_m, index=self._index)
        covered = near.site >= 0
        result = CoverageResult(
            site=near.site, network_m=near.network_m, covered=covered, area_ids=self.area_ids,
            categories=self.categories, area_total=self.area_total, area_covered=self._by_area(covered),
            cutoff_m=float(cutoff_m),
        )
        if straight_line_m is not None:
            result = self._with_straight(result, sites, straight_line_m)
        return result

    def _with_straight(self, result: CoverageResult, sites: Snapped, straight_line_m: float) -> CoverageResult:
        if len(sites.xy):
            dist, _ = cKDTree(sites.xy).query(self.demand.xy, k=1)
        else:
            dist = np.full(len(self.demand.xy), np.inf)
        straight_cov = dist <= straight_line_m
        return replace(result, straight_m=dist, straight_covered=straight_cov,
                       straight_area_covered=self._by_area(straight_cov))

    def add_site(self, result: CoverageResult, site: Snapped, *, label: int) -> CoverageResult:
        """The result with one more site, searching only that site's reach."""
        site_of = result.site.copy()
        dist_of = result.network_m.copy()
        with self._lock:
            changed = add_site_inplace(self._reach, self._index, site, label, self.demand, site_of, dist_of,
                                       cutoff_m=result.cutoff_m)
        newly = changed[~result.covered[changed]]
        covered = result.covered.copy()
        covered[newly] = True
        area_cov = result.area_covered.copy()
        np.add.at(area_cov, self.area_index[newly], self.weights[newly])
        return replace(result, site=site_of, network_m=dist_of, covered=covered, area_covered=area_cov,
                       straight_m=None, straight_covered=None, straight_area_covered=None)


@dataclass(frozen=True)
class GroupNearest:
    """Each demand point's nearest site of every group of sites (a group: the sites of one kind, say) within a
    longest walk, searched once per group; any walk up to that length and any union of groups is then a minimum
    over arrays, with no search (``CoverageModel.evaluate_groups``)."""

    names: tuple  # the groups, in row order
    network_m: np.ndarray  # (groups, points) walking metres to the group's nearest site (inf: none within max)
    site: np.ndarray  # (groups, points) that site's index in the sites given (-1: none)
    straight_m: np.ndarray  # (groups, points) straight-line metres to the group's nearest site (inf: no site)
    max_cutoff_m: float

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, names=np.array([str(n) for n in self.names], dtype=str), network_m=self.network_m,
                 site=self.site, straight_m=self.straight_m, max_cutoff_m=np.array([self.max_cutoff_m]))
        tmp.replace(path)  # atomic: a reader never sees half a file

    @classmethod
    def load(cls, path: Path) -> GroupNearest:
        with np.load(path) as z:
            return cls(tuple(z["names"].tolist()), z["network_m"], z["site"], z["straight_m"],
                       float(z["max_cutoff_m"][0]))


def _group_nearest(model: CoverageModel, sites: Snapped, groups: np.ndarray, max_cutoff_m: float) -> GroupNearest:
    names = tuple(dict.fromkeys(np.asarray(groups).tolist()))
    n = len(model.demand.ok)
    network_m = np.full((len(names), n), np.inf)
    site = np.full((len(names), n), -1, dtype=np.int64)
    straight = np.full((len(names), n), np.inf)
    for g, name in enumerate(names):
        mask = np.asarray(groups) == name
        members = np.flatnonzero(mask)
        subset = sites.subset(mask)
        with model._lock:
            near = model._reach.nearest(subset, model.demand, cutoff_m=max_cutoff_m, index=model._index)
        network_m[g] = near.network_m
        site[g] = np.where(near.site >= 0, members[np.maximum(near.site, 0)], -1)
        if len(subset.xy):
            straight[g], _ = cKDTree(subset.xy).query(model.demand.xy, k=1)
    return GroupNearest(names, network_m, site, straight, float(max_cutoff_m))


def group_nearest(model: CoverageModel, sites: Snapped, groups, *, max_cutoff_m: float) -> GroupNearest:
    """The nearest site of each group (``groups[i]`` names the group of site ``i``) for every demand point of
    ``model``, within ``max_cutoff_m``: one search per group."""
    if max_cutoff_m <= 0:
        msg = f"max_cutoff_m must be positive, got {max_cutoff_m}"
        raise ValueError(msg)
    if len(groups) != len(sites.ok):
        msg = f"one group per site: {len(groups)} groups for {len(sites.ok)} sites"
        raise ValueError(msg)
    return _group_nearest(model, sites, np.asarray(groups), max_cutoff_m)


def evaluate_groups(model: CoverageModel, nearest: GroupNearest, chosen, *, cutoff_m: float,
                    straight_line_m: float | None = None) -> CoverageResult:
    """The coverage of the sites of the ``chosen`` groups with a walk of ``cutoff_m`` (at most the index's longest),
    from the index: the same result as a search over those sites (``result.site`` indexes all the sites the index
    was made of)."""
    if not 0 < cutoff_m <= nearest.max_cutoff_m:
        msg = f"cutoff_m must be in (0, {nearest.max_cutoff_m}], got {cutoff_m}"
        raise ValueError(msg)
    rows = [nearest.names.index(g) for g in chosen if g in nearest.names]
    n = len(model.demand.ok)
    if rows:
        d = nearest.network_m[rows]
        best = np.argmin(d, axis=0)
        dist = d[best, np.arange(n)]
        site = nearest.site[rows][best, np.arange(n)]
        straight = nearest.straight_m[rows].min(axis=0)
    else:
        dist, site, straight = np.full(n, np.inf), np.full(n, -1, dtype=np.int64), np.full(n, np.inf)
    covered = dist <= cutoff_m
    result = CoverageResult(site=np.where(covered, site, -1), network_m=np.where(covered, dist, np.inf),
                            covered=covered, area_ids=model.area_ids, categories=model.categories,
                            area_total=model.area_total, area_covered=model.covered_by_area(covered),
                            cutoff_m=float(cutoff_m))
    if straight_line_m is not None:
        near = straight <= straight_line_m
        result = replace(result, straight_m=straight, straight_covered=near,
                         straight_area_covered=model.covered_by_area(near))
    return result
