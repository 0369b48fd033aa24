"""Entry points: where a home or a facility joins the walking network.

The whole walkable graph is kept for routing (a pedestrian may pass through an
underpass or over a footbridge), but a point joins it only where a pedestrian
can reach it from the street level. Each way is classified once by its OSM
tags against the configured rules (tunnel, bridge, layer, covered service
ways, private or destination service ways, parking aisles ...); each piece of
the graph too small to matter is marked. A point then snaps to the best of its
candidate edges, where an edge a rule avoids counts as ``avoid_m`` metres
farther away and an edge of a small piece as ``piece_m`` farther (the snapping
limit: taken only when nothing else is within it). The walk itself always
counts the true distance. Pure: no database, no configuration file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import shapely

# The tags kept with each road line: the ones the rules may read (a new rule on another key needs a new import).
TAG_KEYS = ("highway", "tunnel", "bridge", "layer", "covered", "access", "service", "foot", "indoor", "level")

# Edge classes: how a point may join an edge.
SURFACE, AVOIDED, PIECE, AVOIDED_PIECE = 0, 1, 2, 3


@dataclass(frozen=True)
class EntryRule:
    """Ways whose ``tag`` has one of ``values`` ("*": any value but ``except_values``), on the listed highway
    types only when ``highway`` is given, are not used as entry points when another edge is near."""

    id: str
    label_zh: str
    label_en: str
    tag: str
    values: tuple[str, ...]
    except_values: tuple[str, ...] = ()
    highway: tuple[str, ...] = ()

    def matches(self, tags: Mapping[str, str]) -> bool:
        value = tags.get(self.tag)
        if value is None or (self.highway and tags.get("highway") not in self.highway):
            return False
        value = str(value).strip()
        if "*" in self.values:
            return value not in self.except_values
        return value in self.values


@dataclass(frozen=True)
class EntryPolicy:
    """The rules and the distances that decide where points join the network."""

    rules: tuple[EntryRule, ...]
    avoid_m: float  # an avoided edge counts this much farther: a surface edge this close wins
    min_piece_m: float  # a piece (not the largest) shorter than this in total ...
    min_piece_nodes: int  # ... or with fewer nodes is a fragment: used only when nothing else is within the limit

    def rule_of(self, tags: Mapping[str, str] | None) -> int:
        """1 + the index of the first rule the tags match; 0 when none does (or no tags)."""
        if not tags:
            return 0
        for i, rule in enumerate(self.rules):
            if rule.matches(tags):
                return i + 1
        return 0

    def rules_of(self, tag_texts: Iterable[str | None]) -> np.ndarray:
        """The rule code of each line from its stored tags (JSON text, or None)."""
        cache: dict[str | None, int] = {}
        out = []
        for text in tag_texts:
            if text not in cache:
                cache[text] = self.rule_of(parse_tags(text))
            out.append(cache[text])
        return np.asarray(out, dtype=np.int16)

    def key(self) -> str:
        """A text that changes whenever a result of the policy may change (for caches)."""
        rules = [[r.id, r.tag, list(r.values), list(r.except_values), list(r.highway)] for r in self.rules]
        return json.dumps([rules, self.avoid_m, self.min_piece_m, self.min_piece_nodes], sort_keys=True)

    def penalties(self, max_snap_m: float) -> np.ndarray:
        """Extra metres an edge of each class counts when choosing the entry."""
        return np.array([0.0, self.avoid_m, max_snap_m, self.avoid_m + max_snap_m])


def kept_tags(tags: Mapping[str, str]) -> str | None:
    """The tags a rule may read, as compact JSON text (None when the way has none of them)."""
    kept = {k: _text(tags[k]) for k in TAG_KEYS if tags.get(k) not in (None, "")}
    return json.dumps(kept, ensure_ascii=False, separators=(",", ":"), sort_keys=True) if kept else None


def _text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a GIS column of layers read as 1.0
    return str(value).strip()


def parse_tags(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def edge_classes(component: np.ndarray, edge_u: np.ndarray, edge_len: np.ndarray, edge_rule: np.ndarray,
                 n_nodes: int, policy: EntryPolicy | None) -> np.ndarray:
    """The class of every edge (SURFACE, AVOIDED, PIECE or AVOIDED_PIECE); all SURFACE without a policy."""
    cls = np.zeros(len(edge_u), dtype=np.int8)
    if policy is None or len(edge_u) == 0:
        return cls
    cls[edge_rule > 0] = AVOIDED
    cls[small_pieces(component, edge_u, edge_len, n_nodes, policy)[component[edge_u]]] += PIECE
    return cls


def small_pieces(component: np.ndarray, edge_u: np.ndarray, edge_len: np.ndarray, n_nodes: int,
                 policy: EntryPolicy) -> np.ndarray:
    """Per component: True when it is a fragment (not the largest, and short or with few nodes)."""
    if n_nodes == 0:
        return np.zeros(0, dtype=bool)
    n_comp = int(component.max()) + 1
    nodes = np.bincount(component, minlength=n_comp)
    length = np.bincount(component[edge_u], weights=edge_len, minlength=n_comp)
    small = (length < policy.min_piece_m) | (nodes < policy.min_piece_nodes)
    small[0] = False  # component 0 is the largest: the district's main network
    return small


FRAGMENT = "fragment"  # the reason of a point moved off a fragment (not a rule of the policy)


@dataclass(frozen=True)
class RuleUse:
    id: str
    label_zh: str
    label_en: str
    edges: int
    km: float


@dataclass(frozen=True)
class MovedPoints:
    """The points of one set whose entry is not their plain nearest edge (arrays in the set's order)."""

    name: str
    n_points: int
    ids: np.ndarray
    reason: np.ndarray  # rule id of the plain nearest edge, or FRAGMENT
    plain_m: np.ndarray  # distance to the plain nearest edge
    entry_m: np.ndarray  # distance to the entry taken
    lonlat: np.ndarray  # (n, 2) the points
    plain_lonlat: np.ndarray  # (n, 2) where the plain nearest edge would have been joined
    entry_lonlat: np.ndarray  # (n, 2) where the network is joined


@dataclass(frozen=True)
class EntryReport:
    n_nodes: int
    n_edges: int
    n_components: int
    main_nodes: int
    main_km: float
    fragments: int
    fragment_nodes: int
    fragment_km: float
    other_pieces: int  # pieces neither the main network nor fragments (large enough to stand on their own)
    rules: tuple[RuleUse, ...]
    moved: tuple[MovedPoints, ...]


def entry_report(net, points: Mapping[str, object]) -> EntryReport:
    """What the entry policy does on ``net``: its pieces, the edges each rule avoids, and every point (of each
    named set of :class:`geo.snapping.Snapped`) whose entry differs from its plain nearest edge, and by how much."""
    from geo.crs import WGS84, transformer

    km = net.edge_len / 1000.0
    comp_of_edge = net.component[net.edge_u]
    fragment_edge = net.edge_class >= PIECE
    n_comp = int(net.component.max()) + 1 if net.n_nodes else 0
    small = small_pieces(net.component, net.edge_u, net.edge_len, net.n_nodes, net.entry) if net.entry else \
        np.zeros(n_comp, dtype=bool)
    rules = []
    if net.entry is not None:
        for i, r in enumerate(net.entry.rules):
            on = net.edge_rule == i + 1
            rules.append(RuleUse(r.id, r.label_zh, r.label_en, int(on.sum()), float(km[on].sum())))
    to_lonlat = transformer(net.crs, WGS84)
    moved = []
    for name, snapped in points.items():
        m = np.flatnonzero(snapped.moved)  # none when the network has nothing to avoid (plain_edge None)
        plain = snapped.plain_edge[m] if len(m) else np.zeros(0, dtype=np.int64)
        plain_m = snapped.plain_access_m[m] if len(m) else np.zeros(0)
        rule = net.edge_rule[plain]
        reason = np.array([net.entry.rules[r - 1].id if r else FRAGMENT for r in rule], dtype=object)
        xy = snapped.xy[m]
        segs = net.segments(plain)
        plain_xy = shapely.get_coordinates(shapely.line_interpolate_point(segs, shapely.line_locate_point(
            segs, shapely.points(xy)))) if len(m) else np.zeros((0, 2))
        e = snapped.edge[m]
        t = np.divide(snapped.offset_u_m[m], net.edge_len[e], out=np.zeros(len(m)), where=net.edge_len[e] > 0)
        entry_xy = net.node_xy[net.edge_u[e]] + (net.node_xy[net.edge_v[e]] - net.node_xy[net.edge_u[e]]) * t[:, None]

        def lonlat(a):
            return np.column_stack(to_lonlat.transform(a[:, 0], a[:, 1])) if len(a) else np.zeros((0, 2))

        moved.append(MovedPoints(name, len(snapped.ok), snapped.ids[m], reason, plain_m,
                                 snapped.access_m[m], lonlat(xy), lonlat(plain_xy), lonlat(entry_xy)))
    main = comp_of_edge == 0
    return EntryReport(
        n_nodes=net.n_nodes, n_edges=net.n_edges, n_components=n_comp,
        main_nodes=int((net.component == 0).sum()), main_km=float(km[main].sum()),
        fragments=int(small.sum()), fragment_nodes=int(small[net.component].sum()) if n_comp else 0,
        fragment_km=float(km[fragment_edge].sum()), other_pieces=int(n_comp - 1 - small.sum()) if n_comp else 0,
        rules=tuple(rules), moved=tuple(moved),
    )
