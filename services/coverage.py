"""Walking coverage: the network and coverage engine of a district's data, isochrones, service areas, tables."""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field, replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from data.db import PROJECT_ROOT
from data.versions import DataRef
from geo.density import HexIndex
from geo.entry import FRAGMENT, EntryPolicy, EntryReport, entry_report
from geo.isochrone import Triangulation, isochrones, service_areas, triangulate
from geo.network import WalkNetwork, hash_lines, network_from_lines
from geo.snapping import Snapped, concat_snapped, snap_points
from geo.walk import walk_cutoff_m
from planning.coverage import CoverageModel, CoverageResult, GroupNearest, evaluate_groups, group_nearest
from services import border, scoped
from services.base import base_layers, get_config, repo_call
from services.cache import memo

# (id, Chinese label, English label); "elders" is all 60+.
CATEGORIES = (
    ("elders", "60岁以上老人", "All elders 60+"),
    ("age_80_plus", "80岁以上高龄", "80+"),
    ("disabled", "失能", "Disabled"),
    ("dementia", "失智", "Dementia"),
    ("empty_nest", "空巢", "Empty-nest"),
    ("living_alone", "独居", "Living alone"),
    ("extreme_poverty", "特困", "Extreme poverty"),
    ("low_income", "低保", "Low income"),
)
CATEGORY_IDS = tuple(c[0] for c in CATEGORIES)


@dataclass(frozen=True)
class CoverageEngine:
    net: WalkNetwork
    model: CoverageModel
    triangle_edge_m: float  # the isochrones' longest triangle edge (config); triangulated on first use
    facilities: gpd.GeoDataFrame  # operating facilities
    facility_snap: Snapped
    groups: gpd.GeoDataFrame  # elder groups (demand), same order as the model's demand
    build_note: str
    hex_indexes: dict = field(default_factory=dict, repr=False, compare=False)  # resolution -> HexIndex (and the
    # triangulation), made on use
    # the operating sites of neighbouring districts within the border margin (services.border.SITE_COLUMNS: no name),
    # and where they join the network; empty for a district alone in its city
    border_sites: gpd.GeoDataFrame = field(default_factory=border.no_sites, repr=False, compare=False)
    border_snap: Snapped | None = field(default=None, repr=False, compare=False)
    kinds_index: dict = field(default_factory=dict, repr=False, compare=False)  # the nearest site per kind, on use
    across_districts: tuple[str, ...] = ()  # the neighbouring districts whose roads and sites the walk reads
    cache_dir: Path | None = None  # where the kinds index is kept on disk beside the network (None: in memory only)

    @property
    def all_sites(self) -> Snapped:
        """The district's own operating sites, then its neighbouring districts' (the order ``result.site`` counts)."""
        return self.facility_snap if self.border_snap is None else concat_snapped([self.facility_snap, self.border_snap])

    @property
    def triangulation(self) -> Triangulation:
        """The network's triangulation for isochrones and service areas: made on first use (figures and tables never
        need it, and it is the largest part of building an engine), then kept with the engine."""
        if "triangulation" not in self.hex_indexes:
            self.hex_indexes["triangulation"] = triangulate(self.net, max_edge_m=self.triangle_edge_m)
        return self.hex_indexes["triangulation"]

    def hex_index(self, resolution: int) -> HexIndex:
        """The elder groups' hexagons at ``resolution`` (made on first use, then kept with the engine)."""
        if resolution not in self.hex_indexes:
            self.hex_indexes[resolution] = HexIndex.of(
                self.groups["cell_h3"], resolution, np.column_stack([self.groups.geometry.x, self.groups.geometry.y]))
        return self.hex_indexes[resolution]


def network_for_lines(lines, cache_dir: Path, *, tag_texts=None, entry: EntryPolicy | None = None,
                      ) -> tuple[WalkNetwork, bool]:
    """The network for these road lines (their stored OSM tags classified by ``entry``'s rules), from the
    on-disk cache when present."""
    rules = entry.rules_of(tag_texts if tag_texts is not None else [None] * len(lines)) if entry else None
    key = hashlib.sha256((hash_lines(lines) + "|" + (entry.key() if entry else "")).encode()
                         + (rules.tobytes() if rules is not None else b"")).hexdigest()
    path = cache_dir / f"network-roads-{key[:24]}.npz"
    if path.exists():
        return WalkNetwork.load(path, entry=entry), True
    net = network_from_lines(lines, source_hash=key, line_rule=rules, entry=entry)
    net.save(path)
    return net, False


def entry_policy(config=None) -> EntryPolicy:
    """Where points join the network, as the configuration says ([network.entry]); a rule on a tag the roads
    import does not keep is a configuration error naming it."""
    from config.settings import ConfigError
    from geo.entry import TAG_KEYS, EntryRule

    entry = (config or get_config()).network.entry
    for r in entry.avoid:
        if r.tag not in TAG_KEYS:
            msg = (f"[network.entry.avoid] id = {r.id!r}: the roads import keeps only the tags {', '.join(TAG_KEYS)}; "
                   f"tag = {r.tag!r} is not among them")
            raise ConfigError(msg)
    rules = tuple(EntryRule(r.id, r.label_zh, r.label_en, r.tag, r.values, r.except_values, r.highway)
                  for r in entry.avoid)
    return EntryPolicy(rules, entry.avoid_m, entry.min_piece_m, entry.min_piece_nodes)


# The kinds the engine reads: its cache key ignores the others (a new project list keeps the engine).
ENGINE_KINDS = ("roads", "elders", "facilities")


def engine(ref: DataRef) -> CoverageEngine:
    """The walking network and coverage model of the district's roads, elders and facilities at ``ref``, with the
    roads and sites of the neighbouring districts of its city within the border margin (services.border)."""
    neighbours = border.neighbour_refs(ref)
    own = ref.only(ENGINE_KINDS)
    if not neighbours:
        return _engine(own)
    outline = ("district", border.outline_version(ref))  # the same key however narrow the caller's ref
    return _engine(DataRef(ref.url, ref.district_code, tuple(sorted((*own.versions, outline)))), neighbours)


# a whole city's districts stay in memory (the city pages walk every one at each change): Tianjin's 16, 1.56 M road
# nodes, take about 1.5 GB (docs/benchmarks.md)
@memo(kind="resource", ttl_s=None, max_entries=24, message="正在构建步行路网与覆盖模型（首次约数秒）…")
def _engine(ref: DataRef, neighbours: tuple[DataRef, ...] = ()) -> CoverageEngine:
    config = get_config()
    roads, groups, facilities = repo_call(ref, lambda r: (r.roads(), r.elder_groups(), r.facilities()))
    across = border.border_rows(ref, neighbours, config.coverage.border_margin_m)
    lines = list(roads.geometry.values) + across.lines
    tags = np.concatenate([roads["osm_tags"].to_numpy(), np.array(across.tags, dtype=object)])
    cache_dir = PROJECT_ROOT / config.network.cache_dir
    net, cached = network_for_lines(lines, cache_dir, tag_texts=tags, entry=entry_policy())
    lonlat = np.column_stack([groups.geometry.x, groups.geometry.y])
    demand = snapped_on(net, lonlat, groups["id"].to_numpy(), config.walking.max_snap_m, cache_dir)
    weights = np.column_stack([
        groups[["age_60_69", "age_70_79", "age_80_plus"]].sum(axis=1).to_numpy(),
        *[groups[c].to_numpy() for c in CATEGORY_IDS[1:]],
    ])
    model = CoverageModel(net, demand, weights, categories=CATEGORY_IDS,
                          area_of_demand=groups["township_code"].to_numpy())
    operating = facilities[facilities["status"] == "operating"]
    points = pd.concat([operating.geometry, across.sites.geometry], ignore_index=True)
    ids = np.concatenate([operating["id"].to_numpy(), across.sites["id"].to_numpy()])
    snapped = snapped_on(net, np.column_stack([points.x, points.y]).reshape(-1, 2), ids, config.walking.max_snap_m,
                         cache_dir)
    own = np.arange(len(ids)) < len(operating)
    fac_snap = snapped.subset(own)
    rep = net.components()
    note = (f"路网 {net.n_nodes:,} 节点（{'缓存' if cached else '新建'}），{rep.n_components} 个连通片；"
            f"未吸附：老人点 {demand.n_unsnapped}，设施 {fac_snap.n_unsnapped}"
            + (f"；邻区 {len(neighbours)} 个，边界 {config.coverage.border_margin_m:,.0f} 米内邻区设施 "
               f"{len(across.sites)} 处" if neighbours else ""))
    return CoverageEngine(net, model, config.network.isochrone_max_triangle_edge_m, operating, fac_snap, groups, note, border_sites=across.sites,
                          border_snap=snapped.subset(~own) if len(across.sites) else None,
                          across_districts=tuple(n.district_code for n in neighbours), cache_dir=cache_dir)


def selected_sites(eng: CoverageEngine, kind_ids: tuple[str, ...]) -> tuple[Snapped, gpd.GeoDataFrame]:
    """The district's own operating sites of these kinds (never a neighbouring district's)."""
    mask = eng.facilities["kind_id"].isin(kind_ids).to_numpy()
    return eng.facility_snap.subset(mask), eng.facilities[mask]


def border_sites(eng: CoverageEngine, kind_ids: tuple[str, ...]) -> Snapped | None:
    """The neighbouring districts' operating sites of these kinds on the network (None: none)."""
    if eng.border_snap is None or not len(eng.border_sites):
        return None
    return eng.border_snap.subset(eng.border_sites["kind_id"].isin(kind_ids).to_numpy())


# The longest walk the pages offer (30 minutes at 1.5 m/s): walks up to it are answered from the nearest site of
# each kind, searched once per engine (a change of kinds or minutes is then a minimum over arrays); longer ones search.
INDEXED_WALK_M = 30 * 60 * 1.5


def kinds_nearest(eng: CoverageEngine) -> GroupNearest:
    """Every elder group's nearest site of each kind, the district's own (``own:KIND``) and its neighbouring
    districts' (``across:KIND``), within INDEXED_WALK_M: made on first use (or read from the engine's cache
    directory, keyed on the network, the snapped elders and sites and their kinds), then kept with the engine."""
    if "groups" not in eng.kinds_index:
        names = np.array([f"own:{k}" for k in eng.facilities["kind_id"]]
                         + [f"across:{k}" for k in eng.border_sites["kind_id"]], dtype=object)
        sites = eng.all_sites
        path = None if eng.cache_dir is None else eng.cache_dir / "kinds-{}.npz".format(_digest(
            eng.net.source_hash, *_snapped_arrays(eng.model.demand), *_snapped_arrays(sites), names, INDEXED_WALK_M))
        if path is not None and path.exists():
            eng.kinds_index["groups"] = GroupNearest.load(path)
        else:
            eng.kinds_index["groups"] = group_nearest(eng.model, sites, names, max_cutoff_m=INDEXED_WALK_M)
            if path is not None:
                eng.kinds_index["groups"].save(path)
    return eng.kinds_index["groups"]


def _snapped_arrays(s: Snapped) -> tuple:
    return s.xy, s.ok, s.edge, s.offset_u_m, s.offset_v_m, s.access_m


def _digest(*parts) -> str:
    """A key for a cache file from arrays and values (their types, shapes and bytes)."""
    h = hashlib.sha256()
    for part in parts:
        a = np.asarray(part)
        a = a.astype(str) if a.dtype == object else np.ascontiguousarray(a)
        h.update(f"{a.dtype}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:24]


def snapped_on(net: WalkNetwork, lonlat: np.ndarray, ids, max_snap_m: float, cache_dir: Path) -> Snapped:
    """``snap_points``, kept on disk beside the network it was made on (keyed on the network, the points, their
    ids and the limit): a cold start reads it instead of snapping again."""
    ids = np.asarray(ids)
    path = cache_dir / f"snap-{_digest(net.source_hash, lonlat, ids, max_snap_m)}.npz"
    if path.exists():
        return Snapped.load(path, ids)
    snapped = snap_points(net, lonlat, ids, max_snap_m=max_snap_m)
    snapped.save(path)
    return snapped


def evaluate(eng: CoverageEngine, kind_ids: tuple[str, ...], minutes: float, speed: float, *,
             across: bool | None = None) -> CoverageResult:
    """Coverage by the district's sites of these kinds, and by its neighbouring districts' as well when ``across``
    (None: as ``[coverage] count_neighbouring_districts`` says). ``result.site`` indexes the own sites, then the
    neighbours' (all kinds: ``eng.facilities`` then ``eng.border_sites``)."""
    config = get_config()
    counted = config.coverage.count_neighbouring_districts if across is None else across
    cutoff = walk_cutoff_m(minutes, speed)
    if cutoff <= INDEXED_WALK_M:
        chosen = [f"own:{k}" for k in kind_ids] + ([f"across:{k}" for k in kind_ids] if counted else [])
        return evaluate_groups(eng.model, kinds_nearest(eng), chosen, cutoff_m=cutoff,
                               straight_line_m=config.walking.straight_line_m)
    own = eng.facilities["kind_id"].isin(kind_ids).to_numpy()
    theirs = eng.border_sites["kind_id"].isin(kind_ids).to_numpy() & counted  # empty without neighbours
    mask = np.concatenate([own, theirs])
    result = eng.model.evaluate(eng.all_sites.subset(mask), cutoff_m=cutoff, straight_line_m=config.walking.straight_line_m)
    chosen_sites = np.flatnonzero(mask)
    return replace(result, site=np.where(result.site >= 0, chosen_sites[np.maximum(result.site, 0)], -1))


@dataclass(frozen=True)
class AcrossBorder:
    """Elders reached across the district border: covered with the neighbours' sites, not by the district's own."""

    counted: bool  # whether the district's figure counts them ([coverage] count_neighbouring_districts)
    own_covered: np.ndarray  # (areas, categories) weight covered by the district's own sites
    across: np.ndarray  # (areas, categories) weight reached only across the border
    area_total: np.ndarray  # (areas, categories) weight
    area_ids: tuple
    categories: tuple[str, ...]

    def total(self, category: str = "elders", *, area: str | None = None) -> tuple[float, float, float]:
        """(covered by own sites, reached only across the border, all) of a category, district-wide or of one
        area (township)."""
        k = self.categories.index(category)
        rows = slice(None) if area is None else [self.area_ids.index(area)] if area in self.area_ids else []
        return (float(self.own_covered[rows, k].sum()), float(self.across[rows, k].sum()),
                float(self.area_total[rows, k].sum()))


def across_border(eng: CoverageEngine, kind_ids: tuple[str, ...], minutes: float, speed: float) -> AcrossBorder:
    """Both figures of the district's walk: by its own sites, and reached only by a neighbouring district's."""
    own = evaluate(eng, kind_ids, minutes, speed, across=False)
    both = evaluate(eng, kind_ids, minutes, speed, across=True) if border_sites(eng, kind_ids) is not None else own
    only_across = both.covered & ~own.covered
    return AcrossBorder(get_config().coverage.count_neighbouring_districts, own.area_covered,
                        eng.model.covered_by_area(only_across), own.area_total, own.area_ids, own.categories)


@memo(ttl_s=3600, max_entries=16, message="正在按服务能力分配老人 …")
def served_share(ref: DataRef, kind_ids: tuple[str, ...], cutoff_m: float) -> np.ndarray:
    """Share of each elder group served within capacity: every elder to the nearest facility (of these kinds)
    that still has room within ``cutoff_m`` walking metres, nearest pairs first (planning.allocation)."""
    from geo.reach import PointIndex, Reach, walk_pairs
    from planning.allocation import served_within_capacity
    from planning.capacity import facility_capacity

    eng = engine(ref)
    sites, facilities = selected_sites(eng, kind_ids)
    demand = eng.model.demand
    pairs = walk_pairs(Reach(eng.net), PointIndex(eng.net, demand), sites, demand, cutoff_m=cutoff_m)
    elders = eng.model.weights[:, 0]
    served, _ = served_within_capacity(pairs, elders, facility_capacity(facilities, get_config().facility_kinds))
    return np.divide(served, elders, out=np.zeros_like(elders), where=elders > 0)


def served_by_township(eng: CoverageEngine, share: np.ndarray, category: str) -> pd.Series:
    """Elders of one category served within capacity, per township (a group's served share applies to all its
    categories alike)."""
    w = eng.model.weights[:, CATEGORY_IDS.index(category)] * share
    return pd.Series(w, index=eng.groups["township_code"].to_numpy()).groupby(level=0).sum()


def band_minutes(minutes: int, configured: tuple[int, ...]) -> tuple[int, ...]:
    """The configured bands up to the chosen minutes, and the chosen minutes itself."""
    return tuple(sorted({b for b in configured if b < minutes} | {minutes}))


BAND_DISPLAY_TOLERANCE_DEG = 0.00002  # ~2 m: the bands and service areas are drawn, never measured


@memo(kind="resource", ttl_s=3600, max_entries=32)  # shared, not copied: read it, never change it
def band_polygons(ref: DataRef, kind_ids: tuple[str, ...], speed: float, minutes: tuple[int, ...],
                  townships: frozenset[str] | None = None) -> gpd.GeoDataFrame:
    """The walking bands of these minutes, nested and simplified for drawing. Each band is computed on its own,
    so moving the minutes slider computes only the one band that is new (5 and 10 stay when 15 becomes 14);
    the nesting and simplification of each set of minutes is kept too (moving back is a lookup). With
    ``townships`` (a scope), cut to their outline: nothing of another township is drawn."""
    if townships is not None:
        return scoped.clip(band_polygons(ref, kind_ids, speed, minutes), _outline(ref, townships))
    parts = [_band(ref, kind_ids, speed, int(m)) for m in sorted(minutes)]
    out = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs="EPSG:4326")
    if len(out) > 1:  # nested, as bands computed together are: each band holds the shorter ones
        out["geometry"] = list(itertools.accumulate(out.geometry.values, lambda a, b: shapely.union(a, b)))
    out["geometry"] = shapely.simplify(out.geometry.values, BAND_DISPLAY_TOLERANCE_DEG)
    return _within_district(ref, out)


def _within_district(ref: DataRef, frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``frame`` cut to the district's outline when its walk reads neighbouring districts (their streets carry
    the walk past the border: drawn, that would be shapes over another district)."""
    if not engine(ref).across_districts:
        return frame
    return scoped.clip(frame, shapely.union_all(base_layers(ref).outline.geometry.values))


@memo(ttl_s=3600, max_entries=64, message="正在计算等时圈 …")
def _band(ref: DataRef, kind_ids: tuple[str, ...], speed: float, minutes: int) -> gpd.GeoDataFrame:
    eng = engine(ref)
    sites, _ = selected_sites(eng, kind_ids)
    out = isochrones(eng.net, sites, bands_m=(walk_cutoff_m(minutes, speed),), triangulation=eng.triangulation)
    out["minutes"] = minutes
    return out.dissolve(by="minutes", as_index=False)[["minutes", "geometry"]]


@memo(kind="resource", ttl_s=3600, max_entries=16, message="正在计算服务范围 …")  # shared: read it, never change it
def area_polygons(ref: DataRef, kind_ids: tuple[str, ...], cutoff_m: float,
                  townships: frozenset[str] | None = None) -> gpd.GeoDataFrame:
    """Each site's service area (the streets nearest to it within ``cutoff_m``), named by its facility. With
    ``townships`` (a scope): the areas of the scope's own sites and of the neighbouring sites that reach its
    elders (named by kind only), cut to the scope's outline."""
    if townships is not None:
        view = visible_sites(ref, kind_ids, townships, cutoff_m)
        whole = area_polygons(ref, kind_ids, cutoff_m)
        kinds = {k.id: k.name_zh for k in get_config().facility_kinds}
        kind_of = dict(zip(view.neighbour_ids, view.neighbours["kind_id"], strict=True))
        own = set(view.own["id"])
        keep = whole[whole["site_id"].isin(own | set(kind_of))].copy()
        keep["name"] = [f"邻近乡镇的{kinds.get(kind_of[s], kind_of[s])}" if s in kind_of else n
                        for s, n in zip(keep["site_id"], keep["name"], strict=True)]
        keep["site_id"] = [s if s in own else -1 for s in keep["site_id"]]
        return scoped.clip(keep, _outline(ref, townships))
    eng = engine(ref)
    sites, _ = selected_sites(eng, kind_ids)
    out = service_areas(eng.net, sites, cutoff_m=cutoff_m, triangulation=eng.triangulation)
    out["name"] = eng.facilities.set_index("id").loc[out["site_id"], "name"].to_numpy()
    out["geometry"] = shapely.simplify(out.geometry.values, BAND_DISPLAY_TOLERANCE_DEG)  # drawn, never measured
    return _within_district(ref, out)


def weight_hexes(eng: CoverageEngine, mask: np.ndarray, category: str, resolution: int, *,
                 townships: frozenset[str] | None = None) -> gpd.GeoDataFrame:
    """Hexagons of the elders of one category selected by ``mask`` (with ``townships``, theirs only)."""
    keep = np.asarray(mask, dtype=bool)
    if townships is not None:
        keep = keep & eng.groups["township_code"].isin(townships).to_numpy()
    return eng.hex_index(resolution).sum(eng.model.weights[:, CATEGORY_IDS.index(category)], keep)


def coverage_hexes(eng: CoverageEngine, result: CoverageResult, category: str, resolution: int, *,
                   townships: frozenset[str] | None = None):
    """(covered, uncovered) elder hexagons of one category (with ``townships``, theirs only)."""
    return (weight_hexes(eng, result.covered, category, resolution, townships=townships),
            weight_hexes(eng, ~result.covered, category, resolution, townships=townships))


def _outline(ref: DataRef, townships: frozenset[str]):
    return scoped.outline(base_layers(ref).townships, townships)


@memo(kind="resource", ttl_s=3600, max_entries=32, message="正在查找邻近乡镇的服务设施 …")  # shared: never change
def visible_sites(ref: DataRef, kind_ids: tuple[str, ...], townships: frozenset[str] | None,
                  cutoff_m: float) -> scoped.SitesInView:
    """The operating sites of these kinds a scope of ``townships`` may see (see services.scoped.sites_in_view). A
    neighbouring district's site is never among them: no coordinate of another district reaches a page; what its
    sites do for the district's elders is a figure (``across_border``)."""
    eng = engine(ref)
    snapped, facilities = selected_sites(eng, kind_ids)
    return scoped.sites_in_view(eng, facilities, snapped, townships, cutoff_m=cutoff_m)


@dataclass(frozen=True)
class CircleFigures:
    """What 15分钟服务圈 shows for an area (a township, or the district with ``township`` None)."""

    table: pd.DataFrame  # per township: township_table
    elders: int
    covered: int
    share: float  # covered / elders (0 without elders)
    straight: float  # the straight-line share, for comparison
    sites: int  # facilities of the counted kinds in the area


def circle_figures(eng: CoverageEngine, result: CoverageResult, townships: pd.DataFrame, kind_ids: tuple[str, ...],
                   category: str, township: str | None = None) -> CircleFigures:
    """The page's figures of one evaluation: the same call on the page and on the command line."""
    table = township_table(result, townships, category)
    row = table.loc[township] if township else None
    total = int(row["elders"]) if row is not None else int(table["elders"].sum())
    covered = int(row["covered"]) if row is not None else int(table["covered"].sum())
    straight = float(row["straight_share"]) if row is not None else float(result.straight_share(category) or 0.0)
    sites = selected_sites(eng, kind_ids)[1]
    n_sites = int((sites["township_code"] == township).sum()) if township else len(sites)
    return CircleFigures(table, total, covered, covered / total if total else 0.0, straight, n_sites)


def township_table(result: CoverageResult, townships: pd.DataFrame, category: str) -> pd.DataFrame:
    """Per township (index: code): name, elders, covered, gap (not covered), share, straight_share (within
    [walking] straight_line_m in a straight line) and straight_excess_pts (how many points the straight line
    overstates); sorted by gap. Shown with :func:`table_labels`."""
    k = CATEGORY_IDS.index(category)
    total = result.area_total[:, k]
    covered = result.area_covered[:, k]
    straight = result.straight_area_covered[:, k] if result.straight_area_covered is not None else covered
    names = townships.set_index("code")["name"]
    df = pd.DataFrame({
        "name": [names.get(a, a) for a in result.area_ids],
        "elders": total.astype(int),
        "covered": covered.astype(int),
        "gap": (total - covered).astype(int),
        "share": np.divide(covered, total, out=np.zeros_like(total), where=total > 0),
        "straight_share": np.divide(straight, total, out=np.zeros_like(total), where=total > 0),
    }, index=pd.Index(result.area_ids, name="code"))
    df["straight_excess_pts"] = (df["straight_share"] - df["share"]) * 100
    return df.sort_values(["gap", "share"], ascending=[False, True])


def straight_distance_text() -> str:
    """The straight-line comparison's distance as the page names it: ``1 km``, ``800 m`` ([walking] straight_line_m)."""
    d = get_config().walking.straight_line_m
    return f"{d / 1000:g} km" if d % 1000 == 0 else f"{d:,.0f} m"


def table_labels() -> dict[str, str]:
    """The township table's column names as the page and the command line's file show them (the straight line's
    length from the configuration)."""
    return {"name": "乡镇（街道）", "elders": "老人数", "covered": "步行可达", "gap": "未覆盖（缺口）",
            "share": "步行覆盖率", "straight_share": f"直线 {straight_distance_text()} 覆盖率",
            "straight_excess_pts": "直线高估（百分点）"}


@dataclass(frozen=True)
class NetworkCheck:
    """What ``cli.py network check`` prints and 数据管理 → 道路与入口 shows: the network's pieces, the edges each
    entry rule avoids, and every elder group and facility whose entry point is not its plain nearest edge."""

    report: EntryReport
    labels: dict  # set name -> {id: what the point is (a community's name and code, a facility's name)}
    avoided: gpd.GeoDataFrame  # the edges a rule avoids or of a fragment: reason, geometry (WGS84)
    max_snap_m: float
    avoid_m: float


SET_ZH = {"elders": "老人点", "facilities": "设施"}


def network_check(ref: DataRef) -> NetworkCheck:
    eng = engine(ref)
    report = entry_report(eng.net, {"elders": eng.model.demand, "facilities": eng.facility_snap})
    names = repo_call(ref, lambda r: r.communities()).set_index("code")["name"] if "communities" in \
        ref.version_map else pd.Series(dtype=object)
    groups = eng.groups.set_index("id", drop=False)
    labels = {
        "elders": {i: f"{names.get(c, '')}（{c}）" for i, c in groups["community_code"].items()},
        "facilities": dict(eng.facilities.set_index("id", drop=False)["name"].items()),
    }
    net = eng.net
    bad = np.flatnonzero(net.edge_class > 0)
    rule_ids = {i + 1: r.id for i, r in enumerate(net.entry.rules)} if net.entry else {}
    reason = [rule_ids.get(int(r), FRAGMENT) for r in net.edge_rule[bad]]
    lines = shapely.linestrings(np.stack([net.node_lonlat[net.edge_u[bad]], net.node_lonlat[net.edge_v[bad]]], axis=1))
    avoided = gpd.GeoDataFrame({"reason": reason}, geometry=lines, crs=4326)
    config = get_config()
    return NetworkCheck(report, labels, avoided, config.walking.max_snap_m, config.network.entry.avoid_m)


def reason_label(check: NetworkCheck, reason: str, lang: str = "zh") -> str:
    """The label of a rule id (or of a fragment) in the check's policy."""
    for r in check.report.rules:
        if r.id == reason:
            return r.label_zh if lang == "zh" else r.label_en
    return "路网碎片（孤立小片）" if lang == "zh" else "Network fragment"
