"""Siting on the district's data: the page's (情景规划 → 优化选址) way into planning/location.py.

:func:`inputs` gathers the walks of the candidates and of the facilities that
stay (a scenario's operating care facilities), their capacities, the demand
weights and the township / rural labels; :func:`solve` checks the caller may
run siting, bounds the time limit and runs the asked model.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from data.versions import DataRef
from geo.reach import PointIndex, Reach, walk_pairs
from planning.allocation import served_within_capacity
from planning.candidates import Candidates, across_candidates, candidate_costs, joined, underserved_candidates
from planning.capacity import facility_capacity
from planning.location import MODEL_LABELS, MODELS, SitingInputs, SitingRequest, run_model, served_curve, served_share
from planning.siting import CoverageCurve, Floor, SitingResult, group_labels
from services import audit
from services.access import Caller
from services.base import base_layers, get_config
from services.base import communities as base_communities
from services.coverage import CoverageEngine
from services.scenarios import Evaluation, candidate_pairs, demand_weights

__all__ = ["MODELS", "MODEL_LABELS", "SitingInputs", "SitingRequest", "inputs", "labels_and_floors", "served_curve",
           "served_share", "solve"]


def labels_and_floors(eng: CoverageEngine, townships, communities, config) -> tuple[np.ndarray, tuple[Floor, ...]]:
    """Each elder group's label and the configured floors (planning.siting.group_labels): every township, the
    villages (a village committee, or a community of a town not marked urban), the urban communities."""
    groups = eng.groups
    urban = dict(zip(communities["code"].astype(str), communities["is_urban"].astype(bool), strict=True)) \
        if len(communities) else {}
    street = dict(zip(townships["code"].astype(str), townships["type"].astype(str) == "街道", strict=True))
    rural = np.array([not urban.get(str(cc), street.get(str(tc), False))
                      for cc, tc in zip(groups["community_code"], groups["township_code"], strict=True)], dtype=bool)
    cfg = config.siting
    return group_labels(groups["township_code"].astype(str), rural,
                        names=dict(zip(townships["code"].astype(str), townships["name"].astype(str), strict=True)),
                        all_townships=townships["code"].astype(str), township_floor=cfg.township_floor,
                        rural_floor=cfg.rural_floor, urban_floor=cfg.urban_floor)


def inputs(ref: DataRef, eng: CoverageEngine, ev: Evaluation, cands: Candidates | None, cutoff_m: float, *,
           new_kind: str | None = None) -> SitingInputs:
    """Everything the models need for ``cands`` over the facilities of ``ev`` (a scenario's after-set).

    ``cands=None``: generated where elders are not served — beyond every facility's walk, or within it but
    beyond its capacity (a dense city, where nearly everyone is near a full station).
    """
    config = get_config()
    townships, communities = base_layers(ref).townships, base_communities(ref)
    demand = eng.model.demand
    existing = walk_pairs(Reach(eng.net), PointIndex(eng.net, demand), ev.sites, demand, cutoff_m=cutoff_m)
    kinds = config.facility_kinds
    existing_capacity = facility_capacity(ev.counted, kinds)
    weights = demand_weights(eng)
    people = eng.model.weights[:, 0]  # elders 60+: who takes a place
    if cands is None:
        served, _ = served_within_capacity(existing, people, existing_capacity)
        share = np.divide(served, people, out=np.ones_like(people), where=people > 0)
        cands = underserved_candidates(eng.net, demand, weights, share, spacing_m=config.siting.candidate_spacing_m,
                                       max_count=config.siting.max_candidates)
        if config.siting.candidates_across_border:  # also on the streets just outside, within the walk
            need = weights * (1.0 - np.clip(share, 0.0, 1.0))
            cands = joined(cands, across_candidates(
                eng.net, demand, need, outside_nodes(ref, eng), cutoff_m=cutoff_m,
                spacing_m=config.siting.candidate_spacing_m, max_count=max(1, config.siting.max_candidates // 4)))
    pairs, on_net = candidate_pairs(eng, cands, cutoff_m)
    new_kind = new_kind or config.siting.new_site_kind
    new_cap = facility_capacity(_one_of_kind(new_kind), kinds)[0]
    labels, floors = labels_and_floors(eng, townships, communities, config)
    return SitingInputs(cands=cands, pairs=pairs, on_net=on_net, existing=existing,
                        existing_capacity=existing_capacity, new_capacity=float(new_cap),
                        covered=ev.result.covered, weights=weights, people=people,
                        costs=candidate_costs(cands, new_build=config.siting.cost_new_build,
                                              renovation=config.siting.cost_renovation),
                        labels=labels, floors=floors, cutoff_m=float(cutoff_m))


def outside_nodes(ref: DataRef, eng: CoverageEngine) -> np.ndarray:
    """The walking network's nodes outside the district's outline (its neighbours' streets near the border, and
    its own imported roads beyond it)."""
    import shapely

    outline = shapely.union_all(base_layers(ref).outline.geometry.values)
    lonlat = eng.net.node_lonlat
    return np.flatnonzero(~shapely.contains_xy(outline, lonlat[:, 0], lonlat[:, 1]))


def _one_of_kind(kind_id: str) -> pd.DataFrame:
    return pd.DataFrame({"kind_id": [kind_id], "beds_total": [0], "service_capacity": [None]})


def solve(ref: DataRef, si: SitingInputs, request: SitingRequest, *, caller: Caller,
          progress: Callable[[str], None] = lambda _m: None) -> SitingResult | CoverageCurve:
    """Run the asked model over the candidates with the facilities that stay. Only a planner (or the command
    line) may run it (AccessDenied, audited); the time limit is bounded by ``[siting] max_time_limit_s`` here,
    whatever a form or a request asked for. A bad request raises ValueError naming what to change."""
    why = request.problem()
    if why:
        raise ValueError(why)
    audit.allowed(ref.url, caller, "siting", object=ref.district_code)
    cfg = get_config().siting
    limit = request.time_limit_s
    if limit > cfg.max_time_limit_s:
        progress(f"限时 {limit:g} 秒超过允许的 {cfg.max_time_limit_s:g} 秒，按 {cfg.max_time_limit_s:g} 秒求解")
        limit = cfg.max_time_limit_s
    return run_model(si, request, time_limit_s=limit, penalty_m=cfg.pmedian_penalty_m,
                     curve_exact_every=cfg.curve_exact_every, progress=progress)


class CandidateFileError(ValueError):
    """An uploaded candidate file that cannot be used; the message says why (and names the file as uploaded)."""


def uploaded_candidates(data: bytes, shown_name: str) -> Candidates:
    """Candidate sites from an uploaded GeoJSON or CSV (id, lon, lat, optional cost and build), written under a
    name chosen here (never the client's), within the upload limit of [imports]."""
    import tempfile
    from pathlib import Path

    from geo.points import PointFileError, read_points
    from planning.candidates import imported_candidates
    from services.import_files import upload_limit_problem

    problem = upload_limit_problem(len(data), "candidates", get_config())
    if problem:
        raise CandidateFileError(problem)
    suffix = ".csv" if shown_name.lower().endswith(".csv") else ".geojson"  # never the client's name or ending
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"candidates{suffix}"
        path.write_bytes(data)
        try:
            pts = read_points(path)
        except PointFileError as exc:
            raise CandidateFileError(str(exc).replace(str(path), shown_name)) from None
    return imported_candidates(pts.ids, pts.lonlat, cost=pts.cost, build=pts.build)

