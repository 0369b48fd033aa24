"""The walkable street network: built once, queried many times.

Sources: road lines (shapely LineStrings in WGS84, e.g. the demo district's
roads or a GeoJSON / GeoPackage / Shapefile), or an OSM extract (.osm.pbf,
.osm, .osm.bz2, read with pyosmium). Two lines connect only where they share
a vertex (OSM semantics: the same node id in OSM, the same coordinates in a
line file); every line is walkable both ways. Edges are the straight
segments between consecutive vertices, with lengths in metres in the UTM
zone of the data's centroid. The graph is a symmetric CSR adjacency.
Disconnected pieces are kept and reported (see :meth:`WalkNetwork.components`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from pyproj import CRS

from geo.crs import WGS84, transformer, utm_crs_for
from geo.entry import TAG_KEYS, EntryPolicy, edge_classes, kept_tags

CACHE_VERSION = "2"

# OSM highway values that are not walkable by default (DESIGN: motorways and
# trunk links excluded; the rest are not ways at all).
DEFAULT_EXCLUDED_HIGHWAYS = frozenset(
    {
        "motorway", "motorway_link", "trunk", "trunk_link", "construction", "proposed",
        "planned", "abandoned", "razed", "raceway", "bus_guideway", "escape", "busway",
    }
)
LINE_FILE_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp")
OSM_SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".osm.bz2", ".osm.gz")


class NetworkError(ValueError):
    """A road source that cannot be turned into a network."""


@dataclass(frozen=True)
class ComponentReport:
    n_components: int
    largest_nodes: int
    n_nodes: int
    detached_nodes: int  # nodes outside the largest component
    detached_pieces: int  # components other than the largest

    @property
    def largest_share(self) -> float:
        return self.largest_nodes / self.n_nodes if self.n_nodes else 0.0


class WalkNetwork:
    """An undirected walking graph in a metric CRS (arrays are read-only)."""

    def __init__(
        self,
        *,
        node_lonlat: np.ndarray,
        edge_u: np.ndarray,
        edge_v: np.ndarray,
        crs: CRS,
        source_hash: str = "",
        edge_rule: np.ndarray | None = None,
        entry: EntryPolicy | None = None,
    ) -> None:
        """``edge_rule``: per input edge, 1 + the index of the entry rule its way matched (0: none);
        ``entry``: the policy that decides where points join the network (None: the plain nearest edge)."""
        self.crs = crs
        self.source_hash = source_hash
        self.entry = entry
        node_lonlat = np.asarray(node_lonlat, dtype=np.float64)
        x, y = transformer(WGS84, crs).transform(node_lonlat[:, 0], node_lonlat[:, 1])
        # Number nodes along a Z-order curve: neighbours in space sit close in memory,
        # which makes every search markedly faster. Idempotent, so a cached network
        # loads in the same order.
        order = _z_order(np.column_stack([x, y]))
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        self.node_lonlat = np.ascontiguousarray(node_lonlat[order])
        self.node_xy = np.column_stack([x, y])[order]
        eu, ev = rank[np.asarray(edge_u, dtype=np.int64)], rank[np.asarray(edge_v, dtype=np.int64)]
        edge_order = np.lexsort((np.maximum(eu, ev), np.minimum(eu, ev)))
        self.edge_u = np.ascontiguousarray(np.minimum(eu, ev)[edge_order])
        self.edge_v = np.ascontiguousarray(np.maximum(eu, ev)[edge_order])
        rule = np.zeros(len(eu), dtype=np.int16) if edge_rule is None else np.asarray(edge_rule, dtype=np.int16)
        self.edge_rule = np.ascontiguousarray(rule[edge_order])
        self.edge_len = np.hypot(*(self.node_xy[self.edge_u] - self.node_xy[self.edge_v]).T)
        self.indptr, self.indices, self.weights, self.csr_edge = _csr(
            len(self.node_lonlat), self.edge_u, self.edge_v, self.edge_len
        )
        self.component = _components(len(self.node_lonlat), self.edge_u, self.edge_v)
        self.edge_class = edge_classes(self.component, self.edge_u, self.edge_len, self.edge_rule,
                                       len(self.node_lonlat), entry)
        for arr in (self.node_lonlat, self.node_xy, self.edge_u, self.edge_v, self.edge_len, self.edge_rule,
                    self.indptr, self.indices, self.weights, self.csr_edge, self.component, self.edge_class):
            arr.setflags(write=False)
        self._segment_tree: shapely.STRtree | None = None
        self._class_trees: dict[int, tuple[shapely.STRtree, np.ndarray]] = {}

    @property
    def n_nodes(self) -> int:
        return len(self.node_lonlat)

    @property
    def n_edges(self) -> int:
        return len(self.edge_u)

    def components(self) -> ComponentReport:
        if self.n_nodes == 0:
            return ComponentReport(0, 0, 0, 0, 0)
        sizes = np.bincount(self.component)
        largest = int(sizes.max())
        return ComponentReport(
            n_components=len(sizes),
            largest_nodes=largest,
            n_nodes=self.n_nodes,
            detached_nodes=self.n_nodes - largest,
            detached_pieces=len(sizes) - 1,
        )

    def segments(self, edges: np.ndarray | None = None) -> np.ndarray:
        """Edge geometries (metric LineStrings), in edge order (or of the given edges)."""
        u, v = (self.edge_u, self.edge_v) if edges is None else (self.edge_u[edges], self.edge_v[edges])
        return shapely.linestrings(np.stack([self.node_xy[u], self.node_xy[v]], axis=1))

    @property
    def has_entry_rules(self) -> bool:
        """True when some edge is not a plain entry (an avoided way or a fragment)."""
        return bool(self.edge_class.any())

    def class_tree(self, cls: int) -> tuple[shapely.STRtree, np.ndarray]:
        """(tree, edge ids) of the edges of one entry class (geo.entry), built on first use."""
        if cls not in self._class_trees:
            edges = np.flatnonzero(self.edge_class == cls)
            self._class_trees[cls] = (shapely.STRtree(self.segments(edges)), edges)
        return self._class_trees[cls]

    def segment_tree(self) -> shapely.STRtree:
        if self._segment_tree is None:
            self._segment_tree = shapely.STRtree(self.segments())
        return self._segment_tree

    # ---- cache ---------------------------------------------------------
    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(
            tmp, node_lonlat=self.node_lonlat, edge_u=self.edge_u.astype(np.int32),
            edge_v=self.edge_v.astype(np.int32), epsg=np.array([self.crs.to_epsg()]),
            source_hash=np.array([self.source_hash]), edge_rule=self.edge_rule,
        )
        tmp.replace(path)  # atomic: a reader never sees half a cache file

    @classmethod
    def load(cls, path: Path, *, entry: EntryPolicy | None = None) -> WalkNetwork:
        """A saved network; ``entry`` must be the policy its edge rules were classified with (caches key on it)."""
        with np.load(path) as z:
            return cls(
                node_lonlat=z["node_lonlat"], edge_u=z["edge_u"], edge_v=z["edge_v"],
                crs=CRS.from_epsg(int(z["epsg"][0])), source_hash=str(z["source_hash"][0]),
                edge_rule=z.get("edge_rule"), entry=entry,
            )


def _z_order(xy: np.ndarray) -> np.ndarray:
    """Permutation sorting points along a Morton (Z-order) curve on a 2^16 grid."""
    if len(xy) == 0:
        return np.zeros(0, dtype=np.int64)
    lo = xy.min(axis=0)
    span = max(float((xy.max(axis=0) - lo).max()), 1e-9)
    q = np.minimum(((xy - lo) / span * 65535.0).astype(np.uint64), np.uint64(65535))

    def spread(v):
        v = (v | (v << np.uint64(8))) & np.uint64(0x00FF00FF)
        v = (v | (v << np.uint64(4))) & np.uint64(0x0F0F0F0F)
        v = (v | (v << np.uint64(2))) & np.uint64(0x33333333)
        return (v | (v << np.uint64(1))) & np.uint64(0x55555555)

    return np.argsort(spread(q[:, 0]) | (spread(q[:, 1]) << np.uint64(1)), kind="stable").astype(np.int64)


def _csr(n: int, u: np.ndarray, v: np.ndarray, length: np.ndarray):
    a = np.concatenate([u, v])
    b = np.concatenate([v, u])
    w = np.concatenate([length, length])
    e = np.concatenate([np.arange(len(u)), np.arange(len(u))])
    order = np.argsort(a, kind="stable")
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(a, minlength=n), out=indptr[1:])
    # int32 neighbour ids halve the memory a search walks through
    return indptr, b[order].astype(np.int32), w[order].astype(np.float64), e[order].astype(np.int64)


def _components(n: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if n == 0:
        return np.zeros(0, dtype=np.int64)
    graph = coo_matrix((np.ones(len(u)), (u, v)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    # Relabel so that component 0 is the largest (stable for reports and tests).
    sizes = np.bincount(labels)
    rank = np.empty_like(sizes)
    rank[np.argsort(-sizes, kind="stable")] = np.arange(len(sizes))
    return rank[labels].astype(np.int64)


def _assemble(paths_lonlat: Sequence[np.ndarray], path_keys: Sequence[np.ndarray] | None, source_hash: str,
              path_rule: Sequence[int] | None = None, entry: EntryPolicy | None = None) -> WalkNetwork:
    paths = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in paths_lonlat]
    rules = np.zeros(len(paths), dtype=np.int16) if path_rule is None else np.asarray(path_rule, dtype=np.int16)
    long_enough = np.array([len(p) >= 2 for p in paths], dtype=bool)
    paths = [p for p, ok in zip(paths, long_enough, strict=True) if ok]
    rules = rules[long_enough] if len(rules) else rules
    if not paths:
        msg = "no walkable lines with at least two vertices were found"
        raise NetworkError(msg)
    coords = np.concatenate(paths)
    if not np.all(np.isfinite(coords)) or np.any(np.abs(coords[:, 0]) > 180) or np.any(np.abs(coords[:, 1]) > 90):
        msg = "coordinates must be WGS84 longitude/latitude (EPSG:4326); reproject the roads first"
        raise NetworkError(msg)
    if path_keys is None:
        keys = np.ascontiguousarray(coords).view(np.dtype((np.void, 16))).ravel()
    else:
        keys = np.concatenate([np.asarray(k) for k in path_keys if len(k) >= 2])
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    lengths = np.array([len(p) for p in paths])
    ends = np.cumsum(lengths)
    link = np.ones(len(coords), dtype=bool)
    link[ends - 1] = False  # the last vertex of a path does not link to the next path
    idx = np.flatnonzero(link[:-1])
    u, v = inverse[idx], inverse[idx + 1]
    vertex_rule = np.repeat(rules, lengths)[idx]
    keep = u != v
    u, v, vertex_rule = u[keep], v[keep], vertex_rule[keep]
    lo, hi = np.minimum(u, v), np.maximum(u, v)
    # parallel duplicates collapse; the edge is a plain entry if any of its ways is
    pairs, which = np.unique(np.column_stack([lo, hi]), axis=0, return_inverse=True)
    edge_rule = np.full(len(pairs), np.iinfo(np.int16).max, dtype=np.int16)
    np.minimum.at(edge_rule, which.ravel(), vertex_rule)
    node_lonlat = coords[first]
    centre = node_lonlat.mean(axis=0)
    return WalkNetwork(
        node_lonlat=node_lonlat, edge_u=pairs[:, 0], edge_v=pairs[:, 1],
        crs=utm_crs_for(float(centre[0]), float(centre[1])), source_hash=source_hash,
        edge_rule=edge_rule, entry=entry,
    )


def network_from_lines(lines: Iterable, *, source_hash: str = "", line_rule: Sequence[int] | None = None,
                       entry: EntryPolicy | None = None) -> WalkNetwork:
    """Network from WGS84 LineStrings / MultiLineStrings (shared coordinates connect).

    ``line_rule``: per line, 1 + the index of the entry rule of ``entry`` its tags match (0: none)."""
    geoms = np.asarray(list(lines), dtype=object)
    parts, owner = shapely.get_parts(geoms, return_index=True)
    rule = np.zeros(len(geoms), dtype=np.int16) if line_rule is None else np.asarray(line_rule, dtype=np.int16)
    keep = [i for i, g in enumerate(parts) if g is not None and not g.is_empty and g.geom_type == "LineString"]
    return _assemble([np.asarray(parts[i].coords)[:, :2] for i in keep], None, source_hash,
                     rule[owner[keep]] if len(keep) else None, entry)


def hash_lines(lines: Iterable) -> str:
    h = hashlib.sha256(CACHE_VERSION.encode())
    for g in lines:
        h.update(shapely.to_wkb(g))
    return h.hexdigest()


def read_osm(path: Path, *, excluded_highways: frozenset[str] = DEFAULT_EXCLUDED_HIGHWAYS,
             entry: EntryPolicy | None = None) -> WalkNetwork:
    """Walkable ways of an OSM extract; vertices are joined by OSM node id; ways classified by ``entry``'s rules."""
    import osmium

    paths, keys, rules = [], [], []
    try:
        ways = (
            osmium.FileProcessor(str(path))
            .with_locations()
            .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
            .with_filter(osmium.filter.KeyFilter("highway"))
        )
        for way in ways:
            tags = way.tags
            if not _walkable(tags.get("highway"), tags.get("foot"), tags.get("access"), excluded_highways):
                continue
            nodes = [n for n in way.nodes if n.location.valid()]
            if len(nodes) < 2:
                continue
            paths.append(np.array([(n.lon, n.lat) for n in nodes]))
            keys.append(np.array([n.ref for n in nodes], dtype=np.int64))
            rules.append(entry.rule_of({k: tags.get(k) for k in TAG_KEYS if k in tags}) if entry else 0)
    except RuntimeError as exc:
        msg = f"{path}: cannot read as OSM data ({exc})"
        raise NetworkError(msg) from None
    return _assemble(paths, keys, _file_hash(path, extra=_osm_extra(excluded_highways, entry)), rules, entry)


def _osm_extra(excluded_highways: frozenset[str], entry: EntryPolicy | None) -> str:
    return ",".join(sorted(excluded_highways)) + "|" + (entry.key() if entry else "")


def _walkable(highway: str | None, foot: str | None, access: str | None, excluded: frozenset[str]) -> bool:
    """OSM walkability: an explicit foot=yes wins; otherwise excluded types and no-access ways are out."""
    if highway is None:
        return False
    if foot in ("yes", "designated", "permissive"):
        return True
    if highway in excluded or foot in ("no", "private"):
        return False
    return access not in ("no", "private")


def read_line_file(path: Path, entry: EntryPolicy | None = None) -> WalkNetwork:
    """Network from a GeoJSON / GeoPackage / Shapefile of lines (any CRS with a definition)."""
    import geopandas as gpd

    try:
        gdf = gpd.read_file(path)
    except Exception as exc:  # noqa: BLE001  (pyogrio raises several types)
        msg = f"{path}: cannot read as a line file ({exc})"
        raise NetworkError(msg) from None
    if gdf.crs is None:
        msg = f"{path}: the file has no coordinate reference system; save it with one (e.g. EPSG:4326)"
        raise NetworkError(msg)
    lines = gdf.to_crs(WGS84).geometry
    kinds = set(lines.geom_type.dropna())
    if not kinds <= {"LineString", "MultiLineString"}:
        msg = f"{path}: expected LineString geometries, found {sorted(kinds)}"
        raise NetworkError(msg)
    rules = entry.rules_of(tags_of_columns(gdf)) if entry else None
    return network_from_lines(lines.values, source_hash=_file_hash(path), line_rule=rules, entry=entry)


def tags_of_columns(frame) -> list[str | None]:
    """Each line's OSM-style tags from columns named like them (``tunnel``, ``bridge``, ``layer`` ...), as the
    JSON text :func:`geo.entry.kept_tags` makes; None for every line of a file without such columns."""
    columns = [c for c in frame.columns if str(c).lower() in TAG_KEYS]
    if not columns:
        return [None] * len(frame)
    records = frame[columns].rename(columns=lambda c: str(c).lower()).to_dict("records")
    return [kept_tags({k: v for k, v in r.items() if v is not None and v == v}) for r in records]


def _file_hash(path: Path, extra: str = "") -> str:
    h = hashlib.sha256(f"{CACHE_VERSION}|{extra}|".encode())
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_network(
    path: str | Path,
    *,
    cache_dir: Path | None = None,
    excluded_highways: frozenset[str] = DEFAULT_EXCLUDED_HIGHWAYS,
    entry: EntryPolicy | None = None,
) -> WalkNetwork:
    """Read roads from ``path`` (OSM or a line file), using the on-disk cache when given; OSM ways are
    classified by ``entry``'s rules (a line file has no tags: all its edges are plain entries)."""
    path = Path(path)
    if not path.exists():
        msg = f"{path}: road file not found"
        raise NetworkError(msg)
    name = path.name.lower()
    is_osm = name.endswith(OSM_SUFFIXES)
    if not is_osm and not name.endswith(LINE_FILE_SUFFIXES):
        msg = f"{path}: unknown road file type; use one of {', '.join(OSM_SUFFIXES + LINE_FILE_SUFFIXES)}"
        raise NetworkError(msg)
    key = _file_hash(path, extra=_osm_extra(excluded_highways, entry) if is_osm else (entry.key() if entry else ""))
    cached = cache_dir / f"network-{key[:24]}.npz" if cache_dir else None
    if cached is not None and cached.exists():
        return WalkNetwork.load(cached, entry=entry)
    net = read_osm(path, excluded_highways=excluded_highways, entry=entry) if is_osm else read_line_file(path, entry)
    if cached is not None:
        net.save(cached)
    return net
