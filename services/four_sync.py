"""Four-synchronous checks: every stored project of a district checked against the configured rules."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from data.db import session_factory
from data.versions import DataRef, file_sha256
from geo.walk import walk_cutoff_m
from imports.projects import (
    COLUMNS,
    ProjectFileError,
    import_projects,
    projects_from_frame,
    read_projects,
)
from planning.four_sync import OVERALL_ZH, STATUS_ZH, ProjectCheck, check_projects, walk_access
from services.base import base_layers, get_config, get_engine, repo_call
from services.cache import memo
from services.coverage import engine

STAGE_ZH = {"plan": "规划", "build": "建设", "accept": "验收", "deliver": "交付"}


def as_of_date(meta: dict[str, str]) -> dt.date:
    """Stages are judged as of the data date (today when the data has none)."""
    try:
        return dt.date.fromisoformat(meta.get("data_date", ""))
    except ValueError:
        return dt.date.today()


@memo(ttl_s=300, message="正在检查四同步 …")
def checks(ref: DataRef) -> tuple[list[ProjectCheck], pd.DataFrame]:
    """(checks, table): one row per project with status, failed rules, reasons and each rule's outcome."""
    config = get_config()
    frame, meta = repo_call(ref, lambda r: (r.projects(), r.meta()))
    projects = projects_from_frame(frame)
    walk_rule = next((r for r in config.four_sync.rules if r.kind == "walk"), None)
    walks = None
    if walk_rule is not None and projects:
        eng = engine(ref)
        care = eng.facilities["kind_id"].isin([k.id for k in config.facility_kinds if k.care_service]).to_numpy()
        walks = walk_access(eng.net, eng.facility_snap.subset(care), [(p.lon, p.lat) for p in projects],
                            cutoff_m=walk_cutoff_m(walk_rule.minutes, config.walking.speed_mps),
                            max_snap_m=config.walking.max_snap_m)
    result = check_projects(projects, config.four_sync.rules, as_of=as_of_date(meta),
                            default_grace=config.four_sync.grace_days, walks=walks)
    labels = {r.id: r.label_zh for r in config.four_sync.rules}
    rows = []
    for pid, c in zip(frame["id"], result, strict=True):
        row = {"id": int(pid), "name": c.project.name, "township_code": c.project.township_code,
               "lon": c.project.lon, "lat": c.project.lat, "households": c.project.households,
               "status": c.status, "failed_rules": ";".join(c.failed_rules),
               "failed_rule_names": "、".join(labels[r] for r in c.failed_rules), "reasons": "；".join(c.reasons)}
        row |= {f"rule:{o.rule_id}": STATUS_ZH[o.status] for o in c.outcomes}
        rows.append(row)
    return result, pd.DataFrame(rows)


def timeline(check: ProjectCheck) -> pd.DataFrame:
    """Housing vs facility milestone dates of one project (stage: its name, housing, facility), with the days the
    facility is late (facility_late_days)."""
    rows = []
    for stage, zh in STAGE_ZH.items():
        h, f = check.project.housing.get(stage), check.project.facility.get(stage)
        rows.append({"stage": zh, "housing": h, "facility": f, "facility_late_days": (f - h).days if h and f else np.nan})
    return pd.DataFrame(rows)


def import_file(ref: DataRef, path, *, replace: bool, source_name: str) -> int:
    """Validate the whole file, then store it as a new projects version in one transaction;
    ProjectFileError lists every bad cell. Returns the number of projects in the file."""
    projects = read_projects(path, township_codes=set(base_layers(ref).townships["code"]))
    with session_factory(get_engine(ref.url)).begin() as session:
        import_projects(session, ref.district_code, projects, replace=replace, source_name=source_name,
                        sha256=file_sha256(path))
    return len(projects)


__all__ = ["COLUMNS", "OVERALL_ZH", "ProjectFileError", "as_of_date", "checks", "import_file", "timeline"]
