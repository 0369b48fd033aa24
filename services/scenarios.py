"""Scenarios: stored changes, their coverage against the current situation, gaps and siting."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import Point

from data.db import session_factory
from data.scenarios import ScenarioRepoError, ScenarioTables
from data.versions import DataRef
from geo.reach import PointIndex, Reach, walk_pairs
from geo.snapping import Snapped, concat_snapped, snap_points
from geo.walk import walk_cutoff_m
from planning.candidates import Candidates, siting_weights, underserved_candidates
from planning.coverage import CoverageResult
from planning.gaps import Gap, find_gaps
from planning.scenario import (  # noqa: F401  (ACTION_ZH, ScenarioError: the pages read them here)
    ACTION_ZH,
    ACTIONS,
    Change,
    CoverageDiff,
    ScenarioError,
    append_openings,
    apply_changes,
    coverage_diff,
)
from services import audit
from services.access import Caller
from services.base import base_layers, get_config, get_engine
from services.cache import memo
from services.coverage import CATEGORY_IDS, CoverageEngine, border_sites, engine


class ScenarioRepository(ScenarioTables):
    """The scenarios of one district (data.scenarios.ScenarioTables) with their changes as planning's Changes,
    each action checked before it is stored."""

    def add_change(self, scenario_id: int, change: Change) -> int:
        if change.action not in ACTIONS:
            msg = f"unknown action {change.action!r}; use one of {ACTIONS}"
            raise ScenarioRepoError(msg)
        return super().add_change(scenario_id, change)

    def changes(self, scenario_id: int, *, with_base: bool = True) -> list[Change]:
        """Changes in application order: the base chain's first, then this scenario's."""
        return [Change(**row) for row in self.change_rows(scenario_id, with_base=with_base)]


def scenario_call(ref: DataRef, fn, *, caller: Caller | None = None, viewer: str | None = None):
    """Run ``fn(ScenarioRepository)``; with a ``caller`` it writes, in one transaction that commits or rolls back
    whole, after checking that the caller may edit scenarios (AccessDenied, audited, otherwise), on the caller's
    own scenarios only. A read as ``viewer`` (a login) sees their own scenarios and the shared ones; None (the
    command line, the services' own reads) every one."""
    factory = session_factory(get_engine(ref.url))
    if caller is not None:
        audit.allowed(ref.url, caller, "scenario.edit", object=ref.district_code)
        with factory.begin() as session:
            return fn(ScenarioRepository(session, ref.district_code, actor=caller.actor,
                                         viewer=caller.user.login if caller.user else None))
    with factory() as session:
        return fn(ScenarioRepository(session, ref.district_code, viewer=viewer))


def scenario_list(ref: DataRef, viewer: str | None = None) -> pd.DataFrame:
    return scenario_call(ref, lambda repo: repo.list(), viewer=viewer)


def default_name(prefix: str = "情景") -> str:
    return f"{prefix} {dt.datetime.now():%Y-%m-%d %H:%M:%S}"


def kind_levels() -> dict[str, str]:
    return {k.id: k.level for k in get_config().facility_kinds}


@dataclass(frozen=True)
class Evaluation:
    """One facility set (current situation or a scenario) evaluated on the walking network."""

    facilities: gpd.GeoDataFrame  # every facility after the changes (all statuses)
    counted: gpd.GeoDataFrame  # operating facilities of the counted kinds
    result: CoverageResult  # reach by ``sites``, and by ``across`` too when there are any
    sites: Snapped  # the counted facilities on the network, in the same order
    # the neighbouring districts' operating sites of the counted kinds, counted in ``result`` as the district's
    # official figure counts them ([coverage] count_neighbouring_districts); their rows are the neighbours', so
    # capacity and siting read ``counted`` and ``sites`` alone. ``result.site`` numbers them after ``counted``.
    across: Snapped | None = None


def _across(eng: CoverageEngine, kind_ids: tuple[str, ...]) -> Snapped | None:
    """The neighbours' sites a scenario's reach counts: as 15分钟服务圈 and the scorecard count them."""
    if not get_config().coverage.count_neighbouring_districts:
        return None
    return border_sites(eng, kind_ids)


def evaluate_set(eng: CoverageEngine, facilities: gpd.GeoDataFrame, kind_ids: tuple[str, ...], cutoff_m: float) -> Evaluation:
    """The operating facilities of these kinds in ``facilities`` (the district's own, current or after a scenario's
    changes), with the neighbouring districts' sites when the configuration counts them, walked within
    ``cutoff_m``."""
    counted = facilities[(facilities["status"] == "operating") & facilities["kind_id"].isin(kind_ids)]
    # sites of the current situation were snapped once with the engine; only opened ones are snapped here
    known = counted["id"].isin(eng.facilities["id"]).to_numpy()
    counted = pd.concat([counted[known], counted[~known]])
    opened = counted.iloc[int(known.sum()):]
    sites = concat_snapped([
        eng.facility_snap.subset(pd.Index(eng.facilities["id"]).get_indexer(counted["id"].iloc[:int(known.sum())])),
        snap_points(eng.net, np.column_stack([opened.geometry.x, opened.geometry.y]).reshape(-1, 2),
                    opened["id"].to_numpy(), max_snap_m=get_config().walking.max_snap_m),
    ])
    across = _across(eng, kind_ids)
    walked = sites if across is None else concat_snapped([sites, across])
    return Evaluation(facilities, counted, eng.model.evaluate(walked, cutoff_m=cutoff_m), sites, across)


@memo(kind="resource", ttl_s=600, max_entries=16)  # shared, not copied: read it, never change it
def current_evaluation(ref: DataRef, kind_ids: tuple[str, ...], cutoff_m: float) -> Evaluation:
    """The current situation evaluated (the "before" of every edit on it), kept across the edits."""
    return evaluate_set(engine(ref), base_layers(ref).facilities, kind_ids, cutoff_m)


@memo(kind="resource", ttl_s=600, max_entries=8)  # shared, not copied: read it, never change it
def current_facilities(ref: DataRef) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The current facilities and the townships, the inputs of every edit's comparison (not copied per edit)."""
    layers = base_layers(ref)
    return layers.facilities, layers.townships


@dataclass(frozen=True)
class Comparison:
    before: Evaluation
    after: Evaluation
    diff: CoverageDiff
    changes: tuple[Change, ...]
    seconds: float  # time from the stored changes to the numbers


class _Evaluations:
    """The last scenario evaluations, by data, counted kinds, walk and changes: an edit that opens sites extends
    the evaluation of the changes before it, searching only the new sites' reach, instead of evaluating the whole
    set again (a click on the edit map). Shared, not copied: read them, never change them."""

    def __init__(self, max_entries: int = 32) -> None:
        self._kept: OrderedDict = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()

    def get(self, key) -> Evaluation | None:
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key]
        return None

    def put(self, key, ev: Evaluation) -> None:
        with self._lock:
            self._kept[key] = ev
            while len(self._kept) > self._max:
                self._kept.popitem(last=False)


_EVALUATIONS = _Evaluations()
_EXTEND_AT_MOST = 8  # new openings searched one by one; more than that, the whole set is evaluated again


def scenario_evaluation(ref: DataRef, eng: CoverageEngine, changes: list[Change] | tuple[Change, ...],
                        kind_ids: tuple[str, ...], cutoff_m: float) -> Evaluation:
    """The facility set after ``changes`` (on the current situation), evaluated."""
    changes = tuple(changes)
    if not changes:
        return current_evaluation(ref, kind_ids, cutoff_m)
    key = (ref, tuple(kind_ids), float(cutoff_m))
    if (ev := _EVALUATIONS.get((*key, changes))) is not None:
        return ev
    current, townships = current_facilities(ref)
    ev = None
    for n in range(len(changes) - 1, max(len(changes) - 1 - _EXTEND_AT_MOST, -1), -1):
        if changes[n].action != "open":
            break
        prev = _EVALUATIONS.get((*key, changes[:n])) if n else current_evaluation(ref, kind_ids, cutoff_m)
        if prev is not None:
            ev = _extended(eng, prev, changes, n, townships, kind_ids)
            break
    if ev is None:
        ev = evaluate_set(eng, with_townships(apply_changes(current, changes, kind_levels=kind_levels()), townships),
                          kind_ids, cutoff_m)
    _EVALUATIONS.put((*key, changes), ev)
    return ev


def _extended(eng: CoverageEngine, prev: Evaluation, changes: tuple[Change, ...], n: int,
              townships: gpd.GeoDataFrame, kind_ids: tuple[str, ...]) -> Evaluation:
    """``prev``, the evaluation of ``changes[:n]``, with the sites ``changes[n:]`` (openings) open: the facilities,
    counted order and coverage :func:`evaluate_set` gives the whole set."""
    opened_before = sum(ch.action == "open" for ch in changes[:n])
    facilities = with_townships(append_openings(prev.facilities, changes[n:], kind_levels=kind_levels(), first=n + 1,
                                                opened_before=opened_before), townships)
    new = facilities.iloc[len(prev.facilities):]
    new = new[new["kind_id"].isin(kind_ids).to_numpy()]  # opened sites operate: counted if of a counted kind
    snapped = snap_points(eng.net, np.column_stack([new.geometry.x, new.geometry.y]).reshape(-1, 2),
                          new["id"].to_numpy(), max_snap_m=get_config().walking.max_snap_m)
    result, own = prev.result, len(prev.counted)
    if prev.across is not None:  # the neighbours' sites are numbered after the counted ones, as evaluate_set does
        result = replace(result, site=np.where(result.site >= own, result.site + len(new), result.site))
    for j in range(len(new)):
        result = eng.model.add_site(result, snapped.subset(np.array([j])), label=own + j)
    return Evaluation(facilities, pd.concat([prev.counted, new]), result, concat_snapped([prev.sites, snapped]),
                      prev.across)


def compare(ref: DataRef, eng: CoverageEngine, changes: list[Change], kind_ids: tuple[str, ...], cutoff_m: float,
            *, base_changes: list[Change] | None = None) -> Comparison:
    """``changes`` against ``base_changes`` (default: the current situation)."""
    started = time.perf_counter()
    before = scenario_evaluation(ref, eng, base_changes or (), kind_ids, cutoff_m)
    after = scenario_evaluation(ref, eng, changes, kind_ids, cutoff_m)
    diff = coverage_diff(before.result, after.result)
    return Comparison(before, after, diff, tuple(changes), time.perf_counter() - started)


@dataclass(frozen=True)
class AreaSummary:
    """A comparison's headline numbers for the district or one township (before → after)."""

    total: float  # elders of the category
    covered: tuple[float, float]
    sites: tuple[int, int]  # operating sites of the counted kinds
    beds_per_1000: tuple[float, float]  # care-service beds per 1,000 elders 60+, whatever the category

    @property
    def share(self) -> tuple[float, float]:
        return tuple(c / self.total if self.total else 0.0 for c in self.covered)


def area_summary(cmp: Comparison, category: str, township: str | None) -> AreaSummary:
    d = cmp.diff
    rows = slice(None) if not township else [d.area_ids.index(township)] if township in d.area_ids else []
    k, k60 = d.categories.index(category), d.categories.index("elders")
    elders = float(d.total[rows, k60].sum())
    care = [kind.id for kind in get_config().facility_kinds if kind.care_service]

    def beds(ev: Evaluation) -> float:
        f = ev.facilities
        keep = (f["status"].to_numpy() == "operating") & np.isin(f["kind_id"].to_numpy(), care)
        if township:
            keep &= f["township_code"].to_numpy() == township
        return 1000.0 * float(f["beds_total"].to_numpy()[keep].sum()) / elders if elders else 0.0

    def sites(ev: Evaluation) -> int:
        return int((ev.counted["township_code"].to_numpy() == township).sum()) if township else len(ev.counted)

    return AreaSummary(total=float(d.total[rows, k].sum()),
                       covered=(float(d.before[rows, k].sum()), float(d.after[rows, k].sum())),
                       sites=(sites(cmp.before), sites(cmp.after)), beds_per_1000=(beds(cmp.before), beds(cmp.after)))


def with_townships(facilities: gpd.GeoDataFrame, townships: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Opened sites get the code of the township they stand in (None outside the district)."""
    missing = facilities["township_code"].isna().to_numpy()
    if not missing.any():
        return facilities
    out = facilities.copy()
    pts = out.geometry.values[missing]
    hit = townships.sindex.query(pts, predicate="within")
    codes = np.full(len(pts), None, dtype=object)
    codes[hit[0]] = townships["code"].to_numpy()[hit[1]]
    out.loc[missing, "township_code"] = codes
    return out


def snap_distance_m(eng: CoverageEngine, lon: float, lat: float) -> float | None:
    """Metres from the point to the walking network, None when beyond the snapping limit."""
    s = snap_points(eng.net, np.array([[lon, lat]]), np.array([0]), max_snap_m=get_config().walking.max_snap_m)
    return float(s.access_m[0]) if s.ok[0] else None


def demand_weights(eng: CoverageEngine) -> np.ndarray:
    """Siting weight per elder group: 1 per elder plus the configured category extras."""
    w = eng.model.weights
    return siting_weights(w[:, 0], {c: w[:, CATEGORY_IDS.index(c)] for c in CATEGORY_IDS[1:]},
                          get_config().siting.extra_weight)


def generated_candidates(eng: CoverageEngine, result: CoverageResult) -> Candidates:
    cfg = get_config().siting
    return underserved_candidates(eng.net, eng.model.demand, demand_weights(eng), result.covered,
                                  spacing_m=cfg.candidate_spacing_m, max_count=cfg.max_candidates)


def candidate_pairs(eng: CoverageEngine, cands: Candidates, cutoff_m: float):
    """Every (candidate, elder group) walk within ``cutoff_m``, and which candidates lie on the network."""
    snapped = snap_points(eng.net, cands.lonlat, np.arange(len(cands)), max_snap_m=get_config().walking.max_snap_m)
    demand = eng.model.demand
    return walk_pairs(Reach(eng.net), PointIndex(eng.net, demand), snapped, demand, cutoff_m=cutoff_m), snapped.ok


def candidate_matrix(eng: CoverageEngine, cands: Candidates, cutoff_m: float):
    """(candidates × elder groups) walking coverage, and which candidates lie on the network."""
    pairs, ok = candidate_pairs(eng, cands, cutoff_m)
    return pairs.coverage(), ok


def gaps(eng: CoverageEngine, result: CoverageResult, cands: Candidates, matrix, *, top: int = 20,
         within: np.ndarray | None = None) -> list[Gap]:
    """Uncovered clusters, heaviest first; ``within``: only these elder groups (a township's, say)."""
    uncovered = ~result.covered if within is None else ~result.covered & within
    return find_gaps(eng.model.demand.xy, demand_weights(eng), uncovered, link_m=get_config().siting.gap_link_m,
                     candidate_cover=matrix, candidate_ids=cands.ids, top=top)


def best_site_lonlat(cands: Candidates, best) -> tuple[float, float] | None:
    """Where a gap's ``best_site`` (a candidate id, None when no candidate reaches it) stands: (lon, lat)."""
    if best is None:
        return None
    found = np.flatnonzero(cands.ids == best)
    return (float(cands.lonlat[found[0], 0]), float(cands.lonlat[found[0], 1])) if len(found) else None


def open_changes(cands: Candidates, chosen, kind_id: str, note: str) -> list[Change]:
    where = dict(zip(cands.ids.tolist(), cands.lonlat.tolist(), strict=True))
    return [Change("open", kind_id=kind_id, point=Point(*where[c]), candidate_id=str(c), note=f"{note} {c}")
            for c in chosen]


def save_changes_as(ref: DataRef, name: str, caller: Caller, base_id: int | None, changes: list[Change]) -> int:
    def write(repo: ScenarioRepository) -> int:
        sid = repo.create(name, author=caller.actor.login, base_id=base_id)
        for ch in changes:
            repo.add_change(sid, ch)
        return sid

    return scenario_call(ref, write, caller=caller)


@memo(ttl_s=600, max_entries=8, message="正在计算候选点的步行覆盖 …")
def cached_candidate_matrix(ref: DataRef, ids: tuple, lonlat_bytes: bytes, cutoff_m: float):
    lonlat = np.frombuffer(lonlat_bytes, dtype=np.float64).reshape(-1, 2)
    return candidate_matrix(engine(ref), Candidates(np.array(ids), lonlat, np.zeros(len(ids)), "generated"), cutoff_m)


def township_gaps(ref: DataRef, eng: CoverageEngine, result: CoverageResult, code: str, *, top: int = 10) -> list[Gap]:
    """The heaviest uncovered clusters of elders in one township, with their best single site."""
    return area_gaps(ref, eng, result, code, top=top)[0]


def area_gaps(ref: DataRef, eng: CoverageEngine, result: CoverageResult, township: str | None, *,
              top: int = 10) -> tuple[list[Gap], Candidates]:
    """The heaviest uncovered clusters of elders in the district (``township`` None) or one township, and the
    candidate sites their ``best_site`` ids name (where a new station would cover most of each)."""
    cands = generated_candidates(eng, result)
    config = get_config()
    cutoff = walk_cutoff_m(config.scorecard.walk_minutes, config.walking.speed_mps)
    matrix, _ = cached_candidate_matrix(ref, tuple(cands.ids), cands.lonlat.tobytes(), cutoff)
    within = None if township is None else (eng.groups["township_code"] == township).to_numpy()
    return gaps(eng, result, cands, matrix, top=top, within=within), cands
