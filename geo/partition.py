"""Partition a polygon into contiguous regions of given areas.

Used to make synthetic township boundaries inside a real district outline.
The polygon is cut into many small Voronoi cells; the cells are grown from one
seed per region (a graph Voronoi, each region's speed the square root of its
target), then balanced: a cell on the border of two regions moves from the
fuller (area over target) to the emptier one while the move lowers
``sum(area_r**2 / target_r)`` and leaves the giver in one piece. That sum falls
with every move, so the balancing ends; it is lowest when every region has its
target. Mass flows along chains of neighbours, so a region hemmed in by others
still reaches its target. Every cell is owned by exactly one region and a
region only gains cells that touch it, so the regions partition the polygon
exactly and each stays connected.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry


@dataclass(frozen=True)
class PartitionResult:
    regions: tuple[BaseGeometry, ...]
    """One (Multi)Polygon per seed, in seed order."""
    area_share: tuple[float, ...]
    """Each region's share of the whole area."""
    n_cells: int


def partition_polygon(
    outline: BaseGeometry,
    seeds: np.ndarray,
    weights: np.ndarray,
    *,
    rng: np.random.Generator,
    n_cells: int = 2500,
    x_scale: float = 1.0,
    tolerance: float = 0.01,
    passes: int = 400,
    tuned_iterations: int | None = None,
) -> PartitionResult:
    """Split ``outline`` into ``len(seeds)`` connected regions, areas ~ ``weights``.

    ``x_scale`` stretches x before the Voronoi step (use cos(latitude) for
    lon/lat input so that cells are round on the ground); the outline's own
    vertices are never moved, so the union of the regions is the outline.
    Balancing stops once every region is within ``tolerance`` of its target
    area (relative), or when no border move helps, or after ``passes``.
    ``tuned_iterations``: instead of balancing, tune the growth speeds this
    many times and keep the last growth (the first method, which can run away
    from the targets; kept only so that a layout made with it, the Jinghai
    demo's, stays the same).
    """
    seeds = np.asarray(seeds, dtype=float)
    weights = np.asarray(weights, dtype=float)
    if seeds.ndim != 2 or seeds.shape[1] != 2:
        msg = f"seeds must be an (n, 2) array, got shape {seeds.shape}"
        raise ValueError(msg)
    if weights.shape != (len(seeds),) or np.any(weights <= 0):
        msg = f"weights must be {len(seeds)} positive numbers, got {weights!r}"
        raise ValueError(msg)
    if not outline.is_valid or outline.is_empty:
        msg = "outline must be a valid, non-empty polygon"
        raise ValueError(msg)

    cells = _voronoi_cells(outline, rng=rng, n_cells=n_cells, x_scale=x_scale)
    areas = shapely.area(cells)
    centroids = shapely.get_coordinates(shapely.centroid(cells))
    neighbours = _adjacency(cells)
    seed_cells = _seed_cells(cells, centroids, seeds)

    target = weights / weights.sum() * areas.sum()
    speed = np.sqrt(target / target.mean())
    owner = _grow(seed_cells, neighbours, centroids, speed, x_scale)
    if tuned_iterations is not None:
        for _ in range(tuned_iterations):
            got = np.bincount(owner, weights=areas, minlength=len(seeds))
            speed = speed * (target / np.maximum(got, 1e-12)) ** 0.35
            owner = _grow(seed_cells, neighbours, centroids, speed, x_scale)
    else:
        owner = _balance(owner, seed_cells, neighbours, areas, target, centroids, seeds, x_scale,
                         tolerance=tolerance, passes=passes)

    regions = []
    for k in range(len(seeds)):
        merged = shapely.union_all(cells[owner == k])
        regions.append(_polygonal(merged))
    total = float(areas.sum())
    share = tuple(float(r.area) / total for r in regions)
    return PartitionResult(regions=tuple(regions), area_share=share, n_cells=len(cells))


def _voronoi_cells(outline, *, rng, n_cells: int, x_scale: float) -> np.ndarray:
    minx, miny, maxx, maxy = outline.bounds
    width = (maxx - minx) * x_scale
    height = maxy - miny
    step = np.sqrt(outline.area * x_scale / n_cells)
    xs = np.arange(0.5 * step, width, step)
    ys = np.arange(0.5 * step, height, step)
    gx, gy = np.meshgrid(xs, ys)
    pts = np.column_stack([gx.ravel(), gy.ravel()])
    pts += rng.uniform(-0.35 * step, 0.35 * step, size=pts.shape)
    pts[:, 0] = minx + pts[:, 0] / x_scale
    pts[:, 1] = miny + pts[:, 1]
    inside = shapely.contains_xy(outline, pts[:, 0], pts[:, 1])
    pts = pts[inside]
    scaled = pts.copy()
    scaled[:, 0] *= x_scale
    frame = shapely.box(minx * x_scale, miny, maxx * x_scale, maxy).buffer(step * 4)
    vor = shapely.voronoi_polygons(shapely.multipoints(scaled), extend_to=frame, ordered=True)
    raw = np.array(shapely.get_parts(vor))
    unscaled = shapely.transform(raw, lambda xy: np.column_stack([xy[:, 0] / x_scale, xy[:, 1]]))
    clipped = shapely.intersection(unscaled, outline)
    clipped = np.array([_polygonal(c) for c in clipped], dtype=object)
    keep = ~shapely.is_empty(clipped) & (shapely.area(clipped) > 0)
    return clipped[keep]


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    """Keep only the polygon parts of an overlay result."""
    if isinstance(geom, Polygon | MultiPolygon):
        return geom
    parts = [g for g in shapely.get_parts(geom) if isinstance(g, Polygon) and g.area > 0]
    if not parts:
        return Polygon()
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


def _adjacency(cells: np.ndarray) -> list[list[int]]:
    tree = shapely.STRtree(cells)
    left, right = tree.query(cells, predicate="intersects")
    mask = left < right
    left, right = left[mask], right[mask]
    shared = shapely.length(shapely.intersection(cells[left], cells[right]))
    touching = shared > 0
    neighbours: list[list[int]] = [[] for _ in range(len(cells))]
    for a, b in zip(left[touching], right[touching], strict=True):
        neighbours[a].append(int(b))
        neighbours[b].append(int(a))
    return neighbours


def _seed_cells(cells, centroids, seeds) -> np.ndarray:
    chosen: list[int] = []
    for x, y in seeds:
        order = np.argsort(np.hypot(centroids[:, 0] - x, centroids[:, 1] - y))
        cell = next(int(c) for c in order if int(c) not in chosen)
        chosen.append(cell)
    return np.array(chosen)


def _grow(seed_cells, neighbours, centroids, speed, x_scale) -> np.ndarray:
    owner = np.full(len(centroids), -1, dtype=int)
    heap = [(0.0, int(c), k) for k, c in enumerate(seed_cells)]
    heapq.heapify(heap)
    while heap:
        cost, cell, k = heapq.heappop(heap)
        if owner[cell] != -1:
            continue
        owner[cell] = k
        cx, cy = centroids[cell]
        for nb in neighbours[cell]:
            if owner[nb] == -1:
                d = np.hypot((centroids[nb, 0] - cx) * x_scale, centroids[nb, 1] - cy)
                heapq.heappush(heap, (cost + d / speed[k], nb, k))
    orphans = np.flatnonzero(owner == -1)
    if len(orphans):
        claimed = np.flatnonzero(owner != -1)
        for cell in orphans:  # islands not reachable through shared edges
            d = np.hypot(centroids[claimed, 0] - centroids[cell, 0], centroids[claimed, 1] - centroids[cell, 1])
            owner[cell] = owner[claimed[int(np.argmin(d))]]
    return owner


def _balance(owner, seed_cells, neighbours, areas, target, centroids, seeds, x_scale, *, tolerance: float,
             passes: int) -> np.ndarray:
    """Move border cells from fuller to emptier regions (see the module's doc); ``owner`` is changed in place."""
    owner = owner.copy()
    got = np.bincount(owner, weights=areas, minlength=len(target))
    size = np.bincount(owner, minlength=len(target))
    pinned = np.zeros(len(owner), dtype=bool)
    pinned[seed_cells] = True  # a region never gives away its seed
    sx, sy = seeds[:, 0] * x_scale, seeds[:, 1]
    cx, cy = centroids[:, 0] * x_scale, centroids[:, 1]
    for _ in range(passes):
        fill = got / target
        if np.max(np.abs(fill - 1.0)) <= tolerance:
            break
        offers: dict[tuple[int, int], list[int]] = {}
        for cell, nbs in enumerate(neighbours):
            a = owner[cell]
            if pinned[cell] or size[a] < 2:
                continue
            for b in {owner[n] for n in nbs if owner[n] != a}:
                if fill[a] > fill[b]:
                    offers.setdefault((int(a), int(b)), []).append(cell)
        if not offers:
            break
        moved = 0
        for (a, b), cells in sorted(offers.items(), key=lambda kv: got[kv[0][1]] / target[kv[0][1]]
                                    - got[kv[0][0]] / target[kv[0][0]]):
            # the cells that lie most on b's side first: nearest b's seed relative to a's
            lean = [np.hypot(cx[c] - sx[b], cy[c] - sy[b]) - np.hypot(cx[c] - sx[a], cy[c] - sy[a]) for c in cells]
            for cell in (cells[i] for i in np.argsort(lean)):
                s = areas[cell]
                if owner[cell] != a or 2 * (got[a] / target[a] - got[b] / target[b]) <= s * (1 / target[a] + 1 / target[b]):
                    continue
                if not _stays_connected(owner, neighbours, cell):
                    continue
                owner[cell] = b
                got[a] -= s
                got[b] += s
                size[a] -= 1
                size[b] += 1
                moved += 1
        if not moved:
            break
    return owner


def _stays_connected(owner, neighbours, cell: int) -> bool:
    """Whether the region owning ``cell`` keeps its pieces without it: its neighbours in the region still reach
    each other (a breadth-first search from one of them, which ends as soon as it has met the others)."""
    region = owner[cell]
    own = [n for n in neighbours[cell] if owner[n] == region]
    if len(own) <= 1:
        return True  # a leaf of its region
    want = set(own[1:])
    seen = {own[0]}
    queue = deque([own[0]])
    while queue and want:
        c = queue.popleft()
        for n in neighbours[c]:
            if n != cell and n not in seen and owner[n] == region:
                seen.add(n)
                want.discard(n)
                queue.append(n)
    return not want
