"""The analyses on a bureau's own files, with no stored district: walking coverage of demand points, siting
among candidate points, the four-synchronous checks of a project template — the command line's file mode.

Each reads its files, builds the walking network with the pages' entry policy and returns plain results; a
file or an option that cannot be used is a :class:`FileInputError` whose message says what to fix. Progress
goes to ``progress`` (the command line prints it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geo.network import NetworkError, WalkNetwork, load_network
from geo.points import PointFileError, PointTable, read_points
from geo.reach import PointIndex, Reach, walk_pairs
from geo.snapping import Snapped, snap_points
from geo.walk import walk_cutoff_m
from imports.projects import ProjectFileError, read_projects
from planning.candidates import Candidates, candidate_costs, imported_candidates
from planning.coverage import CoverageModel, CoverageResult
from planning.four_sync import ProjectCheck, check_projects, walk_access
from planning.location import MODEL_LABELS, SitingInputs, SitingRequest, run_model
from planning.siting import CoverageCurve, SitingResult, group_labels
from services.base import get_config
from services.coverage import entry_policy
from services.engine import PROJECT_ROOT

Progress = Callable[[str], None]


class FileInputError(ValueError):
    """A file or an option the analysis cannot use; the message says what to fix."""


@dataclass(frozen=True)
class Walking:
    """How far and how fast: the cutoff is ``minutes`` at ``speed_mps``; points farther than ``max_snap_m``
    from every walkable edge are not placed on the network."""

    minutes: float
    speed_mps: float
    max_snap_m: float
    cache_dir: Path | None = None  # built networks (default: [network] cache_dir of the config)

    @property
    def cutoff_m(self) -> float:
        return walk_cutoff_m(self.minutes, self.speed_mps)


@dataclass(frozen=True)
class PointFile:
    path: Path
    label: str  # the points as a message names them: 设施, 需求点, 候选点
    weighted: bool = False


def _quiet(_message: str) -> None:
    return None


def walk_inputs(roads: Path, files: tuple[PointFile, ...], walking: Walking, *, progress: Progress = _quiet
                ) -> tuple[WalkNetwork, list[tuple[PointTable, Snapped]]]:
    """The network of ``roads`` and each point file read and snapped to it, in the order given. The network's
    pieces and every file's unplaced points are reported through ``progress``."""
    if walking.minutes <= 0 or walking.speed_mps <= 0 or walking.max_snap_m <= 0:
        msg = "--minutes、--speed 和 --max-snap-m 必须为正数 (must be positive)"
        raise FileInputError(msg)
    config = get_config()
    cache_dir = walking.cache_dir or PROJECT_ROOT / config.network.cache_dir
    try:
        net = load_network(roads, cache_dir=cache_dir,
                           excluded_highways=frozenset(config.network.osm_excluded_highways),
                           entry=entry_policy(config))
        tables = [read_points(f.path, weighted=f.weighted) for f in files]
    except (NetworkError, PointFileError) as exc:
        raise FileInputError(str(exc)) from None
    rep = net.components()
    progress(f"路网：{net.n_nodes:,} 个节点，{net.n_edges:,} 条边，{rep.n_components} 个连通片"
             f"（最大片占 {rep.largest_share:.1%}，其余 {rep.detached_nodes:,} 个节点）")
    out = []
    for f, table in zip(files, tables, strict=True):
        snapped = snap_points(net, table.lonlat, table.ids, max_snap_m=walking.max_snap_m)
        if snapped.n_unsnapped:
            shown = ", ".join(map(str, snapped.unsnapped_ids[:10]))
            more = " …" if snapped.n_unsnapped > 10 else ""
            progress(f"警告：{snapped.n_unsnapped} 个{f.label}距路网超过 {walking.max_snap_m:g} m，未能吸附：{shown}{more}")
        out.append((table, snapped))
    return net, out


@dataclass(frozen=True)
class PointCoverage:
    """Every demand point's nearest facility on foot (``result.site`` indexes ``facilities``; -1: none within
    the walk) and its straight-line distance, with the walk that was asked."""

    demand: PointTable
    facilities: PointTable
    result: CoverageResult
    walking: Walking

    def rows(self) -> list[tuple]:
        """(id, facility_id, network_m, walk_min, covered, straight_m) per demand point; '' where none."""
        res, speed = self.result, self.walking.speed_mps
        out = []
        for i, pid in enumerate(self.demand.ids):
            s = int(res.site[i])
            out.append((pid, "" if s < 0 else self.facilities.ids[s],
                        "" if s < 0 else f"{res.network_m[i]:.1f}",
                        "" if s < 0 else f"{res.network_m[i] / speed / 60.0:.2f}",
                        int(res.covered[i]),
                        "" if not np.isfinite(res.straight_m[i]) else f"{res.straight_m[i]:.1f}"))
        return out

    @property
    def covered_weight(self) -> float:
        return float(self.demand.weight[self.result.covered].sum())

    @property
    def total_weight(self) -> float:
        return float(self.demand.weight.sum())


def candidate_file(path: Path) -> Candidates:
    """Candidate sites from a GeoJSON or CSV file: id, lon, lat; optional cost and build (new | renovation)."""
    try:
        cand = read_points(path, weighted=False)
    except PointFileError as exc:
        raise FileInputError(str(exc)) from None
    return imported_candidates(cand.ids, cand.lonlat, cost=cand.cost, build=cand.build)


def _model(net: WalkNetwork, demand: PointTable, snapped: Snapped) -> CoverageModel:
    return CoverageModel(net, snapped, demand.weight, categories=("weight",), area_of_demand=np.zeros(len(demand)))


def point_coverage(roads: Path, facilities: Path, demand: Path, walking: Walking, *,
                   progress: Progress = _quiet) -> PointCoverage:
    """Walking coverage of the demand points (weighted by their ``weight``) by the facility points."""
    net, [(fac, fac_s), (dem, dem_s)] = walk_inputs(
        roads, (PointFile(facilities, "设施"), PointFile(demand, "需求点", weighted=True)), walking, progress=progress)
    cutoff = walking.cutoff_m
    res = _model(net, dem, dem_s).evaluate(fac_s, cutoff_m=cutoff, straight_line_m=cutoff)
    return PointCoverage(demand=dem, facilities=fac, result=res, walking=walking)


@dataclass(frozen=True)
class Floors:
    """Equity floors of a file run (None: the config's)."""

    township: float | None = None
    rural: float | None = None
    urban: float | None = None


@dataclass(frozen=True)
class FileSiting:
    inputs: SitingInputs
    result: SitingResult | CoverageCurve
    share_before: float  # covered share with the existing facilities only


def file_siting(roads: Path, facilities: Path, demand: Path, candidates: Path, walking: Walking,
                request: SitingRequest, *, capacity: float | None = None, penalty_m: float | None = None,
                floors: Floors = Floors(), progress: Progress = _quiet) -> FileSiting:
    """New sites among the candidate points for the asked model, with the existing facilities kept.

    Capacities: a facility file's ``capacity`` column (none: unlimited) and ``capacity`` for a new site (default
    the config's [siting] new_site_kind); floors: the demand file's ``township`` and ``rural`` columns, at the
    shares of ``floors`` or the config's, as the pages label a stored district's elders.
    """
    why = request.problem()
    if why:
        raise FileInputError(why)
    config = get_config()
    net, [(fac, fac_s), (cand, cand_s), (dem, dem_s)] = walk_inputs(
        roads, (PointFile(facilities, "设施"), PointFile(candidates, "候选点"), PointFile(demand, "需求点", weighted=True)),
        walking, progress=progress)
    cutoff = walking.cutoff_m
    now = _model(net, dem, dem_s).evaluate(fac_s, cutoff_m=cutoff)
    progress(f"现状：步行 {walking.minutes:g} 分钟覆盖 {now.share():.2%}")
    progress(f"模型：{MODEL_LABELS[request.model][0]}（{request.model}）")
    index = PointIndex(net, dem_s)
    cands = imported_candidates(cand.ids, cand.lonlat, cost=cand.cost, build=cand.build)  # read above, once
    cfg = config.siting
    labels, shares = group_labels(
        dem.township if dem.township is not None else np.full(len(dem), "", dtype=object), dem.rural,
        township_floor=cfg.township_floor if floors.township is None else floors.township,
        rural_floor=cfg.rural_floor if floors.rural is None else floors.rural,
        urban_floor=cfg.urban_floor if floors.urban is None else floors.urban)
    if capacity is None:
        kind = next(k for k in config.facility_kinds if k.id == cfg.new_site_kind)
        capacity = float(kind.capacity) if kind.capacity is not None else float("inf")
    si = SitingInputs(
        cands=cands, pairs=walk_pairs(Reach(net), index, cand_s, dem_s, cutoff_m=cutoff), on_net=cand_s.ok,
        existing=walk_pairs(Reach(net), index, fac_s, dem_s, cutoff_m=cutoff),
        existing_capacity=fac.capacity if fac.capacity is not None else np.full(len(fac), np.inf),
        new_capacity=capacity, covered=now.covered, weights=dem.weight,
        people=dem.people if dem.people is not None else dem.weight,
        costs=candidate_costs(cands, new_build=cfg.cost_new_build, renovation=cfg.cost_renovation),
        labels=labels, floors=shares, cutoff_m=cutoff)
    try:
        result = run_model(si, request, time_limit_s=request.time_limit_s, penalty_m=penalty_m,
                           curve_exact_every=cfg.curve_exact_every, progress=progress)
    except ValueError as exc:
        raise FileInputError(str(exc)) from None
    return FileSiting(inputs=si, result=result, share_before=now.share())


def file_four_sync(projects_file: Path, township_codes: set[str], *, as_of: dt.date,
                   roads: Path | None = None, facilities: Path | None = None, speed_mps: float, max_snap_m: float,
                   cache_dir: Path | None = None, progress: Progress = _quiet) -> tuple[list[ProjectCheck], bool]:
    """The checks of every project of the template against the configured rules, and whether the walking rule
    was evaluated (it is only with ``roads`` and ``facilities``; otherwise it is 未评估, never passed). The walk
    is the rule's minutes at ``speed_mps``."""
    if (roads is None) != (facilities is None):
        msg = "--roads 与 --facilities 需同时给出（或都不给，步行规则记为未评估）"
        raise FileInputError(msg)
    config = get_config()
    try:
        projects = read_projects(projects_file, township_codes=township_codes)
    except ProjectFileError as exc:
        raise FileInputError(str(exc)) from None
    progress(f"读取 {len(projects)} 个项目（{projects_file.name}），按 {as_of} 检查")
    rules = config.four_sync.rules
    walks = None
    walk_rule = next((r for r in rules if r.kind == "walk"), None)
    if roads is not None and walk_rule is not None:
        walking = Walking(minutes=walk_rule.minutes, speed_mps=speed_mps, max_snap_m=max_snap_m, cache_dir=cache_dir)
        net, [(_fac, fac_s)] = walk_inputs(roads, (PointFile(facilities, "设施"),), walking, progress=progress)
        walks = walk_access(net, fac_s, [(p.lon, p.lat) for p in projects], cutoff_m=walking.cutoff_m,
                            max_snap_m=walking.max_snap_m)
    checks = check_projects(projects, rules, as_of=as_of, default_grace=config.four_sync.grace_days, walks=walks)
    return checks, walks is not None
