"""A synthetic walkable road network shaped like a Chinese rural district.

Street grids in the district town and the township seats, lanes in every
village, village-to-seat connector roads (a spanning tree per township) and
arterials between seats. Lines meet only where they share a vertex (OSM
semantics): crossing grid lines share their crossing vertex exactly, and
connectors start and end on existing grid or lane vertices.
All coordinates are metric (UTM); the caller converts to WGS84.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from demo.profiles import RoadProfile


@dataclass
class Place:
    """A settlement with its own street pattern; ``vertices`` are its nodes."""

    key: str
    township_code: str
    centre: Point
    vertices: np.ndarray = field(default_factory=lambda: np.empty((0, 2)))


@dataclass(frozen=True)
class RoadLine:
    road_class: str
    line: LineString


def _grid_lines(
    centre: Point,
    *,
    half_size_m: float,
    block_m: float,
    step_m: float,
    angle: float,
    jitter_m: float,
    rng: np.random.Generator,
    road_class: str,
    region: BaseGeometry,
    lattice: Point | None = None,
) -> tuple[list[RoadLine], np.ndarray]:
    """A rotated, gently jittered grid. Crossing lines share vertices exactly.

    With ``lattice`` (a metric origin) the grid is the piece around ``centre`` of one lattice through that origin,
    its vertices and their jitter a function of their place in the lattice only: two districts that draw pieces of
    the same lattice share every vertex where the pieces overlap, so their streets join across the border."""
    per_block = max(1, round(block_m / step_m))
    c, s = np.cos(angle), np.sin(angle)
    if lattice is None:
        n = int(np.ceil(2 * half_size_m / step_m / per_block)) * per_block
        origin = centre
        local = (np.arange(n + 1) * step_m) - n * step_m / 2.0
        jx = rng.uniform(-jitter_m, jitter_m, size=(n + 1, n + 1))
        jy = rng.uniform(-jitter_m, jitter_m, size=(n + 1, n + 1))
        lx, ly = np.meshgrid(local, local, indexing="ij")
    else:
        n = 2 * int(np.ceil(half_size_m / step_m / per_block)) * per_block  # even: the centre on a lattice line
        origin = lattice
        du, dv = centre.x - lattice.x, centre.y - lattice.y
        first_u = int(round((c * du + s * dv) / block_m)) * per_block - n // 2
        first_v = int(round((-s * du + c * dv) / block_m)) * per_block - n // 2
        gi, gj = np.meshgrid(np.arange(n + 1) + first_u, np.arange(n + 1) + first_v, indexing="ij")
        jx, jy = _lattice_jitter(gi, gj, jitter_m)
        lx, ly = gi * step_m, gj * step_m
    lx = lx + jx
    ly = ly + jy
    gx = origin.x + c * lx - s * ly
    gy = origin.y + s * lx + c * ly
    inside = shapely.contains_xy(region, gx, gy)
    lines: list[RoadLine] = []
    for k in range(0, n + 1, per_block):
        lines += _runs(gx[:, k], gy[:, k], inside[:, k], road_class)
        lines += _runs(gx[k, :], gy[k, :], inside[k, :], road_class)
    on_road = np.zeros_like(inside)
    on_road[::per_block, :] = True
    on_road[:, ::per_block] = True
    keep = on_road & inside
    return lines, np.column_stack([gx[keep], gy[keep]])


def _lattice_jitter(gi: np.ndarray, gj: np.ndarray, jitter_m: float) -> tuple[np.ndarray, np.ndarray]:
    """A vertex's jitter from its place in the lattice alone (an integer hash): the same in every district."""
    h = (gi.astype(np.int64) * 73_856_093) ^ (gj.astype(np.int64) * 19_349_663)
    hx = (h * 2_654_435_761) % 1_000_003 / 1_000_003.0
    hy = (h * 40_503 + 12_345) % 999_983 / 999_983.0
    return (2 * hx - 1) * jitter_m, (2 * hy - 1) * jitter_m


def _runs(xs: np.ndarray, ys: np.ndarray, inside: np.ndarray, road_class: str) -> list[RoadLine]:
    """Split a vertex row into runs of consecutive vertices inside the district."""
    out = []
    start = None
    for i, ok in enumerate(np.append(inside, False)):
        if ok and start is None:
            start = i
        elif not ok and start is not None:
            if i - start >= 2:
                out.append(RoadLine(road_class, LineString(np.column_stack([xs[start:i], ys[start:i]]))))
            start = None
    return out


def _winding(a: np.ndarray, b: np.ndarray, *, step_m: float, wiggle_m: float, rng) -> np.ndarray:
    """Vertices from a to b every ~step_m with a smooth sideways wiggle; ends exact."""
    d = b - a
    length = float(np.hypot(*d))
    n = max(2, int(np.ceil(length / step_m)) + 1)
    t = np.linspace(0.0, 1.0, n)
    pts = a + np.outer(t, d)
    if length > 0 and wiggle_m > 0:
        normal = np.array([-d[1], d[0]]) / length
        phase = rng.uniform(0, 2 * np.pi)
        waves = rng.uniform(0.5, 2.0)
        offset = wiggle_m * np.sin(np.pi * t) * np.sin(2 * np.pi * waves * t + phase)
        pts = pts + np.outer(offset, normal)
    pts[0], pts[-1] = a, b
    return pts


def _nearest_vertex(vertices: np.ndarray, target: np.ndarray) -> np.ndarray:
    i = int(np.argmin(np.hypot(vertices[:, 0] - target[0], vertices[:, 1] - target[1])))
    return vertices[i]


def _spanning_tree(points: np.ndarray) -> list[tuple[int, int]]:
    """Prim's minimum spanning tree on Euclidean distance (small n)."""
    n = len(points)
    if n < 2:
        return []
    in_tree = np.zeros(n, dtype=bool)
    in_tree[0] = True
    best = np.hypot(*(points - points[0]).T)
    parent = np.zeros(n, dtype=int)
    edges = []
    for _ in range(n - 1):
        cand = np.where(in_tree, np.inf, best)
        j = int(np.argmin(cand))
        edges.append((int(parent[j]), j))
        in_tree[j] = True
        d = np.hypot(*(points - points[j]).T)
        closer = d < best
        best[closer] = d[closer]
        parent[closer] = j
    return edges


def _connect(a: Place, b: Place, *, road_class: str, step_m: float, wiggle_m: float, rng) -> RoadLine:
    start = _nearest_vertex(a.vertices, np.array([b.centre.x, b.centre.y]))
    end = _nearest_vertex(b.vertices, start)
    start = _nearest_vertex(a.vertices, end)
    pts = _winding(start, end, step_m=step_m, wiggle_m=wiggle_m, rng=rng)
    return RoadLine(road_class, LineString(pts))


def build_roads(
    *,
    district_seat: Point,
    seats: dict[str, Point],
    villages: dict[str, tuple[str, Point]],
    estates: dict[str, tuple[str, Point]],
    district_metric: BaseGeometry,
    rng: np.random.Generator,
    profile: RoadProfile | None = None,
    wards: dict[str, float] | None = None,
    lattice: Point | None = None,
) -> list[RoadLine]:
    """The whole network. ``seats``: township code -> seat; ``villages`` and
    ``estates`` (urban communities): community code -> (township code, point);
    ``profile``: the district town's grid (a rural district's by default);
    ``wards``: urban streets (街道) away from the district town, code -> the
    half size of their built-up grid (a town's seat gets a small one);
    ``lattice``: the metric origin of the city's street lattice, which a
    whole-district grid follows (its streets then join the neighbours')."""
    wards = wards or {}
    profile = profile or RoadProfile()
    region = district_metric.buffer(150)
    roads: list[RoadLine] = []

    town_half = profile.town_half_m
    if profile.whole_district:  # a central district: one street grid over all of it
        minx, miny, maxx, maxy = region.bounds
        corners = np.array([[minx, miny], [minx, maxy], [maxx, miny], [maxx, maxy]])
        town_half = float(np.max(np.hypot(*(corners - [district_seat.x, district_seat.y]).T))) * 1.1
    lines, verts = _grid_lines(
        district_seat, half_size_m=town_half, block_m=profile.block_m, step_m=profile.step_m, angle=np.radians(8),
        jitter_m=3.0, rng=rng, road_class="street", region=region,
        lattice=lattice if profile.whole_district else None,
    )
    roads += lines
    district_town = Place("district_town", "", district_seat, verts)

    seat_places: dict[str, Place] = {}
    for code, seat in seats.items():
        if seat.distance(district_seat) < town_half * 0.8:
            seat_places[code] = district_town
            continue
        if code in wards:
            half, block, step = wards[code], profile.block_m, profile.step_m
        else:
            half, block, step = float(rng.uniform(700, 950)), float(rng.choice([120, 140, 160])), 40.0
        lines, verts = _grid_lines(
            seat, half_size_m=half, block_m=block, step_m=step, angle=float(rng.uniform(-0.4, 0.4)), jitter_m=4.0,
            rng=rng, road_class="street", region=region,
        )
        roads += lines
        seat_places[code] = Place(f"seat:{code}", code, seat, verts)

    by_township: dict[str, list[Place]] = {code: [] for code in seats}
    for code, (town, p) in villages.items():
        spacing = float(rng.uniform(65, 95))
        lines, verts = _grid_lines(
            p, half_size_m=spacing * float(rng.integers(2, 4)), block_m=spacing, step_m=spacing / 3,
            angle=float(rng.uniform(0, np.pi / 2)), jitter_m=6.0, rng=rng, road_class="lane", region=region,
        )
        if len(verts):
            roads += lines
            by_township[town].append(Place(code, town, p, verts))
    for code, (town, p) in estates.items():
        home = seat_places[town]
        if len(home.vertices) and np.min(np.hypot(*(home.vertices - [p.x, p.y]).T)) < 250:
            continue  # already inside a street grid
        lines, verts = _grid_lines(
            p, half_size_m=220.0, block_m=110, step_m=55, angle=float(rng.uniform(0, np.pi / 2)),
            jitter_m=2.0, rng=rng, road_class="street", region=region,
        )
        if len(verts):
            roads += lines
            by_township[town].append(Place(code, town, p, verts))

    for town, places in by_township.items():
        nodes = [seat_places[town], *places]
        pts = np.array([[pl.centre.x, pl.centre.y] for pl in nodes])
        for i, j in _spanning_tree(pts):
            roads.append(_connect(nodes[i], nodes[j], road_class="connector", step_m=70, wiggle_m=60, rng=rng))

    hubs: list[Place] = []
    for pl in seat_places.values():
        if all(pl is not h for h in hubs):
            hubs.append(pl)
    pts = np.array([[h.centre.x, h.centre.y] for h in hubs])
    edges = _spanning_tree(pts)
    edges += _extra_links(pts, edges, count=max(2, len(hubs) // 3))
    for i, j in edges:
        roads.append(_connect(hubs[i], hubs[j], road_class="arterial", step_m=100, wiggle_m=250, rng=rng))
    return roads


def _extra_links(points: np.ndarray, edges: list[tuple[int, int]], *, count: int) -> list[tuple[int, int]]:
    """The shortest non-tree links, so the arterial net has a few loops."""
    have = {tuple(sorted(e)) for e in edges}
    cands = []
    for i in range(len(points)):
        for j in range(i + 1, len(points)):
            if (i, j) not in have:
                cands.append((float(np.hypot(*(points[i] - points[j]))), i, j))
    cands.sort()
    return [(i, j) for _, i, j in cands[:count]]
