"""The 数据管理 page's questions: what an import would do (a dry run of the same import engine as ``cli.py import``,
so the page and the command line can never disagree), what changed, the district's versions and rollback, the
road network's entry points. The files the page may read are services/import_files.py's."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from data.db import PROJECT_ROOT, session_factory
from data.models import KIND_ZH
from data.repository import Repository
from data.versions import VersionError, get_district, rollback, version_rows, versions
from geo.crs import utm_crs_for
from imports import kinds as import_kinds
from imports.mapping import Field
from imports.store import ImportOptions, ImportRefused, ImportResult, read_input_table, run_import
from imports.tables import RawTable
from services import audit
from services.access import Caller
from services.base import get_config, get_engine

TABLE_KINDS = ("facilities", "elders")  # kinds with a column mapping the page can edit
FIELDS: dict[str, list[Field]] = {"facilities": import_kinds.FACILITY_FIELDS, "elders": import_kinds.ELDER_FIELDS}
READINGS = {"wgs84": "WGS84（GPS、天地图）", "gcj02": "GCJ-02（高德、腾讯）", "bd09": "BD-09（百度）"}
MOVED_M = 50.0  # a facility whose point moved further than this is "moved"


@dataclass(frozen=True)
class Check:
    """What a dry run of an import found: the prepared rows and problems, or why the file cannot be read."""

    kind: str
    prepared: import_kinds.Prepared | None
    message: str  # the refusal's summary ("" when it would import)
    rows: int
    by_township: dict[str, int]

    @property
    def ok(self) -> bool:
        return not self.message


def read_table(path: Path, options: ImportOptions) -> RawTable:
    """The sheet as the import reads it (TableError, a ValueError, when it cannot be read)."""
    return read_input_table(path, options, get_config())


def check(url: str, district_code: str, kind: str, path: Path, options: ImportOptions, *,
          progress: Callable[[str], None] = lambda _m: None, table: RawTable | None = None) -> Check:
    """A dry run of the import: nothing is stored. ``table``: the sheet already read (``read_table``)."""
    try:
        r = run_import(get_engine(url), district_code, kind, path, get_config(),
                       ImportOptions(**{**options.__dict__, "dry_run": True}), progress=progress, table=table)
    except ImportRefused as exc:
        return Check(kind, exc.prepared, str(exc), 0, {})
    return Check(kind, r.prepared, "", r.rows, r.by_township)


def store(url: str, district_code: str, kind: str, path: Path, options: ImportOptions, *, caller: Caller,
          progress: Callable[[str], None] = lambda _m: None) -> ImportResult:
    """The import itself (ImportRefused, storing nothing, if the file has errors after all); only a data
    administrator may (AccessDenied, audited)."""
    audit.allowed(url, caller, "import", object=f"{district_code} {kind}")
    options = ImportOptions(**{**options.__dict__, "created_by": caller.actor.login})
    return run_import(get_engine(url), district_code, kind, path, get_config(), options, progress=progress,
                      actor=caller.actor)


def problem_table(prepared: import_kinds.Prepared | None) -> pd.DataFrame:
    """row, column, value, why, fix, severity (error | warning): errors first, then by row."""
    cols = ["row", "column", "value", "why", "fix", "severity"]
    if prepared is None or not prepared.problems:
        return pd.DataFrame(columns=cols)
    out = pd.DataFrame([(p.row, p.column, p.value, p.why, p.fix, p.severity) for p in prepared.problems], columns=cols)
    out["row"] = out["row"].astype("Int64")
    return out.sort_values(["severity", "row"], key=lambda s: s.map({"error": 0, "warning": 1}) if s.name == "severity"
                           else s, na_position="first", kind="stable").reset_index(drop=True)


def point_table(prepared: import_kinds.Prepared | None, rows: set[int] | None = None) -> pd.DataFrame:
    """Every readable position of the file (or of ``rows``): row, lon, lat, status (ok / warning / error) and
    problems, the row's problems in words ("" for none; plain text: the map escapes it)."""
    cols = ["row", "lon", "lat", "status", "problems"]
    if prepared is None or not prepared.points:
        return pd.DataFrame(columns=cols)
    errors, warnings = prepared.rows_with("error"), prepared.rows_with("warning")
    said: dict[int, list[str]] = {}
    for p in prepared.problems:
        if p.row is not None:
            said.setdefault(p.row, []).append(f"{p.column}：{p.why}")
    frame = pd.DataFrame(prepared.points, columns=["row", "lon", "lat"])
    if rows is not None:
        frame = frame[frame["row"].isin(rows)]
    frame["status"] = ["error" if r in errors else "warning" if r in warnings else "ok" for r in frame["row"]]
    frame["problems"] = ["；".join(said.get(r, [])) for r in frame["row"]]
    return frame[cols].reset_index(drop=True)


ROAD_CLASS_ZH = {"arterial": "主干路", "connector": "次干路", "street": "支路", "lane": "小路、步行道"}


def shape_frame(kind: str, prepared: import_kinds.Prepared | None):
    """The polygons or lines an import of a GIS kind (district, townships, communities, roads) would store, as a
    GeoDataFrame with ``name`` (plain text) for the preview map; None for the kinds previewed as points."""
    import geopandas as gpd

    if kind not in ("district", "townships", "communities", "roads") or prepared is None or not prepared.rows:
        return None
    rows = prepared.rows
    if kind == "communities":  # their boundaries where the file has them, else their points
        geoms = [r["boundary"] if r.get("boundary") is not None else r["geom"] for r in rows]
    else:
        geoms = [r["geom"] for r in rows]
    if kind == "roads":
        names = [ROAD_CLASS_ZH.get(r["road_class"], r["road_class"]) for r in rows]
    elif kind == "district":
        names = ["区界"] * len(rows)
    else:
        names = [f"{r['name']}（{r['code']}）" for r in rows]
    return gpd.GeoDataFrame({"name": names}, geometry=geoms, crs=4326)


def crs_evidence(prepared: import_kinds.Prepared | None) -> pd.DataFrame:
    """For ``--crs auto``: one row per reading (wgs84, gcj02, bd09) with its evidence: the rows that fall in their
    declared township, and in the district, read that way."""
    if prepared is None or prepared.crs is None or not prepared.crs.evidence:
        return pd.DataFrame()
    return pd.DataFrame(prepared.crs.evidence)  # reading (wgs84 | gcj02 | bd09; READINGS names them), in_township,
    # in_district


# ---- what would change ---------------------------------------------------------------------------------------

def changes(url: str, district_code: str, kind: str, rows: list[dict]) -> pd.DataFrame:
    """What importing ``rows`` changes against the current version, by township (name; the district first, as
    全区): facilities added, removed, moved (> MOVED_M), beds_changed, beds_delta; elders elders_before,
    elders_after, delta; other kinds rows_before, rows_after, delta."""
    with session_factory(get_engine(url))() as session:
        repo = Repository(session, district_code)
        names = dict(zip(repo.townships()["code"], repo.townships()["name"], strict=True)) \
            if repo.has("townships") else {}
        if kind == "facilities":
            before = repo.facilities() if repo.has("facilities") else None
            return _facility_changes(before, rows, names)
        if kind == "elders":
            before = repo.elder_groups() if repo.has("elders") else None
            return _elder_changes(before, rows, names)
        n_before = repo.counts().get(kind, 0) if repo.has(kind) else 0
    return pd.DataFrame([{"township": "全区", "rows_before": n_before, "rows_after": len(rows),
                          "delta": len(rows) - n_before}])


def _facility_changes(before: pd.DataFrame | None, rows: list[dict], names: dict[str, str]) -> pd.DataFrame:
    new = pd.DataFrame([{"code": r["code"], "township_code": r["township_code"], "beds_total": r["beds_total"],
                         "lon": r["geom"].x, "lat": r["geom"].y} for r in rows])
    old = pd.DataFrame(columns=new.columns) if before is None else pd.DataFrame({
        "code": before["code"], "township_code": before["township_code"], "beds_total": before["beds_total"],
        "lon": before.geometry.x, "lat": before.geometry.y})
    both = new.merge(old, on="code", how="outer", suffixes=("", "_old"), indicator=True)
    both["town"] = both["township_code"].fillna(both["township_code_old"])
    common = both["_merge"] == "both"
    moved = np.zeros(len(both), dtype=bool)
    if common.any():
        c = both[common]
        metric = utm_crs_for(float(c["lon"].mean()), float(c["lat"].mean()))
        import geopandas as gpd

        a = gpd.GeoSeries(gpd.points_from_xy(c["lon"], c["lat"]), crs=4326).to_crs(metric)
        b = gpd.GeoSeries(gpd.points_from_xy(c["lon_old"], c["lat_old"]), crs=4326).to_crs(metric)
        moved[common.to_numpy()] = a.distance(b).to_numpy() > MOVED_M
    beds_new = both["beds_total"].fillna(0)
    beds_old = both["beds_total_old"].fillna(0)
    both = both.assign(added=both["_merge"] == "left_only", removed=both["_merge"] == "right_only", moved=moved,
                       beds_changed=common & (beds_new != beds_old), beds_delta=beds_new - beds_old)
    table = both.groupby("town").agg(added=("added", "sum"), removed=("removed", "sum"), moved=("moved", "sum"),
                                     beds_changed=("beds_changed", "sum"), beds_delta=("beds_delta", "sum"))
    return _with_total(table, names)


def _elder_changes(before: pd.DataFrame | None, rows: list[dict], names: dict[str, str]) -> pd.DataFrame:
    ages = ("age_60_69", "age_70_79", "age_80_plus")
    new = pd.DataFrame(rows)
    now = new.assign(n=new[list(ages)].sum(axis=1)).groupby("township_code")["n"].sum()
    then = pd.Series(dtype=float) if before is None else \
        before.assign(n=before[list(ages)].sum(axis=1)).groupby("township_code")["n"].sum()
    table = pd.DataFrame({"elders_before": then, "elders_after": now}).fillna(0)
    table["delta"] = table["elders_after"] - table["elders_before"]
    return _with_total(table, names)


def _with_total(table: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    table = table.astype("int64")
    table.index = [names.get(c, c) for c in table.index]
    total = pd.DataFrame([table.sum()], index=["全区"])
    return pd.concat([total, table]).rename_axis("township").reset_index()  # the district first


def rows_by_township(url: str, district_code: str, kind: str, rows: list[dict]) -> pd.DataFrame:
    """What an import brought, per township (by name, largest first): ``rows``, or for elders (stored per H3 cell)
    ``elders``, the people aged 60+; rows without a township (a district outline) as 未归属乡镇."""
    names = township_names(url, district_code)
    ages = ("age_60_69", "age_70_79", "age_80_plus")
    frame = pd.DataFrame({"town": [r.get("township_code") for r in rows],
                          "n": [sum(r[a] for a in ages) if kind == "elders" else 1 for r in rows]})
    table = frame.groupby(frame["town"].fillna(""), sort=False)["n"].sum().sort_values(ascending=False, kind="stable")
    return pd.DataFrame({"township": [names.get(c, c) if c else "未归属乡镇" for c in table.index],
                         "elders" if kind == "elders" else "rows": table.to_numpy().astype("int64")})


# ---- the district --------------------------------------------------------------------------------------------

def official_districts() -> dict[str, str]:
    """Official county-level codes and names the project ships (data/sources, Tianjin's 16 districts)."""
    import json

    path = PROJECT_ROOT / "data" / "sources" / "tianjin_districts_wgs84.geojson"
    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    return {str(f["properties"]["adcode"]): f["properties"]["name"] for f in features}


def district_code_problem(code: str, name: str) -> str | None:
    """Why a new district's code and name cannot be used (None when they can)."""
    if not (len(code) == 6 and code.isdigit()):
        return f"区县代码应为 6 位数字（行政区划代码，如 120103），而不是 {code!r}"
    official = official_districts().get(code)
    if official is not None and official != name:
        return f"代码 {code} 的正式名称是“{official}”，与填写的“{name}”不符"
    return None


def township_names(url: str, district_code: str) -> dict[str, str]:
    with session_factory(get_engine(url))() as session:
        repo = Repository(session, district_code)
        return dict(zip(repo.townships()["code"], repo.townships()["name"], strict=True)) \
            if repo.has("townships") else {}


def district_meta(url: str, district_code: str) -> dict[str, str]:
    """The district's facts (is_demo, data_date …) as the pages' footer shows them."""
    with session_factory(get_engine(url))() as session:
        return Repository(session, district_code).meta()


def outline_and_townships(url: str, district_code: str):
    """(district outline, townships) as stored now; None for what has not been imported yet."""
    with session_factory(get_engine(url))() as session:
        repo = Repository(session, district_code)
        return (repo.district() if repo.has("district") else None,
                repo.townships() if repo.has("townships") else None)


# ---- versions ------------------------------------------------------------------------------------------------

def version_table(url: str, district_code: str) -> pd.DataFrame:
    with session_factory(get_engine(url))() as session:
        v = versions(session, district_code)
    return v  # id, kind, current, data_date, rows, source, sha256, created_at, created_by, synthetic


@dataclass(frozen=True)
class RollbackPlan:
    kind: str
    current: dict  # id, data_date, rows, source
    previous: dict


def rollback_plan(url: str, district_code: str, kind: str) -> RollbackPlan:
    """What a rollback of ``kind`` would do (VersionError when there is nothing to go back to)."""
    with session_factory(get_engine(url))() as session:
        get_district(session, district_code)
        v = versions(session, district_code, kind)
        current = v[v["current"]]
        if current.empty:
            msg = f"还没有导入过{KIND_ZH.get(kind, kind)}"
            raise VersionError(msg)
        cur_id = int(current["id"].iloc[0])
        older = v[v["id"] < cur_id]
        if older.empty:
            msg = f"{KIND_ZH.get(kind, kind)}只有一个版本（{cur_id}），没有更早的版本可以回退"
            raise VersionError(msg)
        prev_id = int(older["id"].max())

        def brief(vid: int) -> dict:
            r = version_rows(session, vid)
            return {"id": vid, "data_date": r.data_date, "rows": r.row_count, "source": r.source_name}

        return RollbackPlan(kind, brief(cur_id), brief(prev_id))


def do_rollback(url: str, district_code: str, kind: str, *, caller: Caller) -> tuple[int, int]:
    audit.allowed(url, caller, "rollback", object=f"{district_code} {kind}")
    with session_factory(get_engine(url)).begin() as session:
        return rollback(session, district_code, kind, actor=caller.actor)


# ---- mappings and templates ----------------------------------------------------------------------------------


def template_townships(url: str, district_code: str | None) -> list[str] | None:
    """The township names a blank template's drop-down offers (None: a new district, no townships yet)."""
    if not district_code:
        return None
    with session_factory(get_engine(url))() as session:
        repo = Repository(session, district_code)
        return list(repo.townships()["name"]) if repo.has("townships") else None


# Kinds whose versions can be drawn, and how their rows are read.
DRAWABLE = {"district": "district", "townships": "townships", "communities": "communities",
            "facilities": "facilities", "projects": "projects"}


def version_layer(url: str, district_code: str, version_id: int):
    """(kind, rows as a GeoDataFrame with ``name``) of any stored version, current or not."""
    with session_factory(get_engine(url))() as session:
        v = version_rows(session, version_id)
        if v.district_code != district_code or v.kind not in DRAWABLE:
            msg = f"版本 {version_id} 不是本区可在地图上显示的版本"
            raise VersionError(msg)
        repo = Repository(session, district_code, {v.kind: version_id})
        frame = getattr(repo, DRAWABLE[v.kind])()
    return v.kind, frame


# ---- roads and entry points ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EntryView:
    """数据管理 → 道路与入口: the network check of the current data, as tables and the frames its map draws."""

    check: object  # services.coverage.NetworkCheck
    rules: pd.DataFrame  # 规则, 标签条件, 边数, 长度（km）
    moved: pd.DataFrame  # one row per moved point: 类型, 编号, 名称, 原因, 最近边（m）, 入口（m）, 增加（m）, positions
    labels: dict[str, str]  # reason id -> label


def entry_view(url: str, district_code: str) -> EntryView | str:
    """The network check of the district's current roads, elders and facilities; or what to import first. Its
    tables: ``rules`` (rule, osm_tags, edges, km) and ``moved`` (set: elders | facilities, point_id, name, reason,
    plain_m, entry_m, added_m and the positions), largest move first."""
    from services import base, coverage

    ref = base.current_ref(url, district_code)
    missing = [k for k in ("roads", "elders", "facilities") if k not in ref.version_map]
    if missing:
        return f"先导入{'、'.join(KIND_ZH[k] for k in missing)}：入口点是老人点和设施接入步行路网的位置"
    check = coverage.network_check(ref)
    config = get_config()
    conditions = {r.id: f"{r.tag}={'|'.join(r.values)}" + (f"（除 {'|'.join(r.except_values)}）" if r.except_values
                                                           else "") + (f"，仅 highway={'|'.join(r.highway)}"
                                                                       if r.highway else "")
                  for r in config.network.entry.avoid}
    rules = pd.DataFrame([{"rule": u.label_zh, "osm_tags": conditions.get(u.id, ""), "edges": u.edges,
                           "km": round(u.km, 2)} for u in check.report.rules])
    labels = {u.id: u.label_zh for u in check.report.rules} | {coverage.FRAGMENT: coverage.reason_label(
        check, coverage.FRAGMENT)}
    rows = []
    for m in check.report.moved:
        names = check.labels.get(m.name, {})
        for i, pid in enumerate(m.ids):
            rows.append({"set": m.name, "point_id": pid, "name": names.get(pid, ""),
                         "reason": labels.get(m.reason[i], m.reason[i]), "plain_m": round(float(m.plain_m[i]), 1),
                         "entry_m": round(float(m.entry_m[i]), 1),
                         "added_m": round(float(m.entry_m[i] - m.plain_m[i]), 1),
                         "lon": m.lonlat[i, 0], "lat": m.lonlat[i, 1], "plain_lon": m.plain_lonlat[i, 0],
                         "plain_lat": m.plain_lonlat[i, 1], "entry_lon": m.entry_lonlat[i, 0],
                         "entry_lat": m.entry_lonlat[i, 1]})
    cols = ["set", "point_id", "name", "reason", "plain_m", "entry_m", "added_m", "lon", "lat", "plain_lon",
            "plain_lat", "entry_lon", "entry_lat"]
    moved = pd.DataFrame(rows, columns=cols).sort_values("added_m", ascending=False, kind="stable")
    return EntryView(check, rules, moved.reset_index(drop=True), labels)


# ---- the command line's district and version listings ------------------------------------------------------

@dataclass(frozen=True)
class DistrictSummary:
    code: str
    name: str
    is_demo: bool
    current: list[tuple[str, int, object, int]]  # (kind, version id, data date, rows) of each current version
    missing: list[str]  # kinds never imported


def district_summaries(url: str) -> list[DistrictSummary]:
    """Every district in the database with its current versions and the kinds it lacks (`cli.py districts`)."""
    from data.db import create_schema
    from data.versions import current_versions, districts

    engine = get_engine(url)
    create_schema(engine)
    out = []
    with session_factory(engine)() as session:
        for d in districts(session).itertuples():
            table = versions(session, d.code)
            cur = table[table["current"]].set_index("kind")
            have = current_versions(session, d.code)
            out.append(DistrictSummary(
                d.code, d.name, bool(d.is_demo),
                [(k, int(cur.loc[k, "id"]), cur.loc[k, "data_date"], int(cur.loc[k, "rows"])) for k in KIND_ZH
                 if k in cur.index],
                [k for k in KIND_ZH if k not in have]))
    return out


def district_versions(url: str, district_code: str, kind: str | None = None) -> pd.DataFrame:
    """A district's versions, newest first (`cli.py versions`); VersionError for an unknown district."""
    with session_factory(get_engine(url))() as session:
        get_district(session, district_code)
        return versions(session, district_code, kind)


def rollback_as_os_user(url: str, district_code: str, kind: str):
    """`cli.py rollback`: the previous version of ``kind`` current again, audited as the OS user; (was, now, the
    new current version's record). VersionError when there is none to go back to."""
    with session_factory(get_engine(url)).begin() as session:
        was, now = rollback(session, district_code, kind)
        return was, now, version_rows(session, now)


def import_file(url: str, district_code: str, kind: str, path: Path, options: ImportOptions, *,
                progress: Callable[[str], None]) -> ImportResult:
    """`cli.py import`: one file as a new version (or a dry run), as the OS user; ImportRefused lists every
    problem and stores nothing."""
    from services.engine import one_off_engine

    with one_off_engine(url) as engine:
        return run_import(engine, district_code, kind, path, get_config(), options, progress=progress)
