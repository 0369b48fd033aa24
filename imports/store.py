"""One import: read, map, check, and store as a new current version — or refuse and store nothing.

``run_import`` is what ``cli.py import`` (and later the 数据管理 page) calls. It
reads the district's current data as the context of the checks, prepares the
rows with the pure functions of ``imports.kinds``, and stores them as a new
version in one transaction. Any error refuses the whole file with every
problem listed; the current version stays as it was.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from config import DashboardConfig
from data import audit
from data.db import create_schema, session_factory
from data.models import DATA_KINDS, KIND_ZH, District
from data.repository import Repository
from data.versions import VersionError, file_sha256, get_district, register_district, store_version
from imports import facilities, gis, kinds, roads, tables
from imports.mapping import MappingError, MappingFile, map_columns, read_mapping_file


class ImportRefused(ValueError):
    """The file cannot be imported; ``problems`` lists every reason, nothing was stored."""

    def __init__(self, message: str, prepared: kinds.Prepared | None = None) -> None:
        super().__init__(message)
        self.prepared = prepared


@dataclass(frozen=True)
class ImportOptions:
    crs: str | None = None  # None: the file's own (GIS) or auto (tables)
    encoding: str | None = None
    sheet: str | None = None
    layer: str | None = None
    mapping: Path | None = None
    data_date: dt.date | None = None
    dry_run: bool = False
    name: str | None = None  # district: its name
    margin_m: float | None = None  # roads: kept this far beyond the outline (default [imports] margin_m)
    created_by: str | None = None
    override: MappingFile | None = None  # the page's mapping (instead of a --mapping file)
    source_name: str | None = None  # the name recorded in the version (an upload's own name); default the file's


@dataclass
class ImportResult:
    kind: str
    rows: int
    version_id: int | None  # None for a dry run
    prepared: kinds.Prepared
    by_township: dict[str, int] = field(default_factory=dict)


def _context(session, district_code: str) -> kinds.Context:
    repo = Repository(session, district_code)
    outline = repo.district().geometry.iloc[0] if repo.has("district") else None
    towns = repo.townships()[["code", "name", "geometry"]].reset_index(drop=True) if repo.has("townships") else None
    comms = None
    if repo.has("communities"):
        comms = repo.communities()[["code", "name", "township_code", "geometry"]].reset_index(drop=True)
        comms["boundary"] = repo.community_boundaries().reindex(comms["code"]).to_numpy()
    return kinds.Context(district_code, outline, towns, comms)


def _known_headers(config: DashboardConfig) -> list[str]:
    return [s for names in config.imports.synonyms.values() for s in names] + list(config.imports.synonyms)


def _check_size(path: Path, config: DashboardConfig) -> None:
    if not path.exists():
        msg = f"文件不存在：{path}"
        raise ImportRefused(msg)
    size = path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.iterdir())
    if size > config.imports.max_file_mb * 1e6:
        msg = f"{path.name} 有 {size / 1e6:,.0f} MB，超过上限 {config.imports.max_file_mb:g} MB（[imports] max_file_mb）"
        raise ImportRefused(msg)


@contextlib.contextmanager
def gc_paused():
    """Python's cyclic garbage collector off while a file is read or checked. Both allocate hundreds of thousands
    of small objects (cells, rows, points) and none of them form cycles; each allocation burst would otherwise
    set off full collections that walk every object of a long-running server (the page's kept sheet and the
    previous check among them): measured as a third of a 10,000-row check on the 数据管理 page. Reference
    counting still frees everything as usual; the collector runs again on leaving."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def read_input_table(path: Path, options: ImportOptions, config: DashboardConfig) -> tables.RawTable:
    """The sheet or CSV as the engine reads it (a page keeps it while the mapping is edited)."""
    with gc_paused():
        return tables.read_table(path, _known_headers(config), encoding=options.encoding, sheet=options.sheet)


def _joined_mapping(first: list[str], then: list[str], header: list[str]) -> list[str]:
    """The mapping lines of a table read in two steps (its points, then the rows as communities): each field
    once, and the columns neither step used (the points' longitude and latitude are used, not left over)."""
    lines = list(dict.fromkeys(line for line in [*first, *then] if not line.startswith("未使用的列")))
    used = {line.split(" ← ", 1)[1] for line in lines if " ← " in line}
    unused = [h for h in header if h and h not in used]
    return lines + ([f"未使用的列：{', '.join(unused)}"] if unused else [])


def prepare(session, district_code: str, kind: str, path: Path, options: ImportOptions, config: DashboardConfig,
            progress: Callable[[str], None], table: tables.RawTable | None = None) -> kinds.Prepared:
    """Read and check the file against the district's current data (nothing stored); ``table``: the file
    already read by ``read_input_table`` with the same options."""
    ctx = _context(session, district_code)
    override = options.override
    if override is None and options.mapping is not None:
        fields = {"facilities": kinds.FACILITY_FIELDS, "elders": kinds.ELDER_FIELDS}.get(kind, [])
        override = read_mapping_file(options.mapping, fields)
    suffix = path.suffix.lower()
    progress(f"读取 {path.name} …")
    if kind == "roads":
        return _prepare_roads(ctx, path, options, config, progress)
    if kind == "communities" and suffix in tables.TABLE_SUFFIXES:  # village points with longitude / latitude
        if ctx.townships is None:
            msg = "本区还没有导入乡镇（街道）：先导入 townships，再导入村（社区）"
            raise ImportRefused(msg)
        table = tables.read_table(path, _known_headers(config), encoding=options.encoding, sheet=options.sheet)
        points, rows, found = kinds.table_points(table, ctx, config, crs=options.crs or "auto", override=override)
        if found.errors:
            return found
        out = kinds.prepare_communities(points, ctx, config, override, row_numbers=rows)
        out.notices[:0] = found.notices
        out.problems[:0] = found.problems
        out.mapping = _joined_mapping(found.mapping, out.mapping, table.header)
        out.crs = found.crs
        return out
    if kind in ("district", "townships", "communities"):
        layer = gis.read_gis(path, layer=options.layer, crs=options.crs, encoding=options.encoding,
                             max_entries=config.imports.max_zip_entries, max_ratio=config.imports.max_zip_ratio,
                             max_bytes=config.imports.max_unzipped_mb * 1e6)
        if kind == "district":
            out = kinds.prepare_district(layer.frame, district_code)
        elif kind == "townships":
            out = kinds.prepare_townships(layer.frame, ctx, config, override)
        else:
            out = kinds.prepare_communities(layer.frame, ctx, config, override)
        out.notices[:0] = layer.notices
        return out
    if suffix not in tables.TABLE_SUFFIXES:
        msg = f"{KIND_ZH[kind]}请用 CSV、.xlsx 或 .xls 表格，而不是 {suffix or '无扩展名的文件'}"
        raise ImportRefused(msg)
    if table is None:
        known = _known_headers(config) + (list(override.columns.values()) if override else [])
        table = tables.read_table(path, known, encoding=options.encoding, sheet=options.sheet)
    what = [f"表头在第 {table.header_row} 行"]
    if table.encoding:
        what.append(f"编码 {table.encoding}")
    if table.sheet:
        what.append(f"工作表“{table.sheet}”")
    progress("，".join(what) + f"，{len(table.rows):,} 个数据行")
    try:
        if kind == "facilities":
            out = facilities.prepare_facilities(table, ctx, config, crs=options.crs or "auto", override=override,
                                           progress=progress)
        elif kind == "elders":
            out = kinds.prepare_elders(table, ctx, config, override)
        else:
            msg = f"暂不支持导入 {kind}"
            raise ImportRefused(msg)
    except MappingError as exc:  # the columns are known: a page lets the user pick them
        out = kinds.Prepared(kind, problems=[kinds.Problem(None, "", "", str(exc), "为必填字段指定一列（列映射）")])
        out.notices += table.notices
        fields = kinds.FACILITY_FIELDS if kind == "facilities" else kinds.ELDER_FIELDS
        found = map_columns(table.header, fields, config.imports.synonyms, override, partial=True)
        out.columns = {f: table.header[i] for f, i in found.items()}
    out.header = list(table.header)
    out.table = {"encoding": table.encoding, "sheet": table.sheet, "header_row": table.header_row,
                 "data_rows": len(table.rows)}
    return out


def _prepare_roads(ctx: kinds.Context, path: Path, options: ImportOptions, config: DashboardConfig,
                   progress: Callable[[str], None]) -> kinds.Prepared:
    import numpy as np
    import shapely

    from geo.overlay import points_in_polygons

    out = kinds.Prepared("roads")
    if ctx.outline is None:
        out.problems.append(kinds.Problem(None, "", "", "本区还没有导入区界", "先导入 district，道路按区界外扩裁剪"))
        return out
    margin = options.margin_m if options.margin_m is not None else config.imports.margin_m
    area = roads.clip_area(ctx.outline, margin)
    if roads.is_osm(path):
        lines, classes, counts, tags = roads.osm_roads(path, area,
                                                       excluded=frozenset(config.network.osm_excluded_highways),
                                                       progress=progress, use_tool=config.imports.osm_cut_with_osmium)
        out.notices.append(f"OSM：读 {counts['ways_read']:,} 条道路，保留区界外扩 {margin:,.0f} m 内可步行的 "
                           f"{counts['ways_kept']:,} 条（{len(lines):,} 段）")
    else:
        layer = gis.read_gis(path, layer=options.layer, crs=options.crs, encoding=options.encoding,
                             max_entries=config.imports.max_zip_entries, max_ratio=config.imports.max_zip_ratio,
                             max_bytes=config.imports.max_unzipped_mb * 1e6)
        out.notices += layer.notices
        lines, counts, tags = roads.line_roads(layer.frame, area)
        classes = ["street"] * len(lines)
        out.notices.append(f"线文件：区界外扩 {margin:,.0f} m 内 {len(lines):,} 条线")
        for key, zh in (("crossings_without_vertex", "处线相交但没有共同节点（不连通：立交或数字化错误）"),
                        ("dangling_ends", "个悬挂端点（道路尽头或未接上）")):
            if counts[key]:
                out.problems.append(kinds.Problem(None, "geometry", "", f"{counts[key]:,} {zh}",
                                                  "如是数字化错误，请在 GIS 中打断相交线并接上端点", "warning"))
    if not lines:
        out.problems.append(kinds.Problem(None, "", "", "区界附近没有道路", "检查文件是否覆盖本区，或坐标系是否正确"))
        return out
    mids = shapely.line_interpolate_point(np.array(lines, dtype=object), 0.5, normalized=True)
    town = np.full(len(lines), None, dtype=object)
    if ctx.townships is not None:
        hit_l, hit_t = points_in_polygons(shapely.get_x(mids), shapely.get_y(mids), ctx.townships.geometry.values)
        town[hit_l] = ctx.townships["code"].to_numpy()[hit_t]
    out.rows = [{"road_class": c, "township_code": t, "osm_tags": k, "geom": g, "is_synthetic": False}
                for g, c, t, k in zip(lines, classes, town, tags, strict=True)]
    return out


def _import_projects(Session, district_code: str, path: Path, options: ImportOptions,
                     progress: Callable[[str], None]) -> ImportResult:
    """The four-sync project template (its own fixed columns) as the district's new projects version."""
    from imports.projects import ProjectFileError, import_projects, read_projects

    with Session() as session:
        try:
            get_district(session, district_code)
            repo = Repository(session, district_code)
            codes = set(repo.townships()["code"]) if repo.has("townships") else set()
        except VersionError as exc:
            raise ImportRefused(str(exc)) from None
    if not codes:
        msg = f"区县 {district_code} 还没有导入乡镇（街道）：先导入 townships，项目按乡镇代码检查"
        raise ImportRefused(msg)
    try:
        projects = read_projects(path, township_codes=codes)
    except ProjectFileError as exc:
        prepared = kinds.Prepared("projects", problems=[kinds.Problem(None, "", "", e, "按模板修改后重新导入")
                                                        for e in exc.errors])
        raise ImportRefused(f"{path.name}：{len(exc.errors)} 处问题，未导入任何数据（nothing stored）", prepared) from None
    prepared = kinds.Prepared("projects")
    by_town = dict(Counter(p.township_code for p in projects))
    if options.dry_run:
        return ImportResult("projects", len(projects), None, prepared, by_town)
    progress(f"写入 {len(projects):,} 个项目（一个事务）…")
    with Session.begin() as session:
        vid = import_projects(session, district_code, projects, replace=True, source_name=path.name,
                              sha256=file_sha256(path), data_date=options.data_date)
    return ImportResult("projects", len(projects), vid, prepared, by_town)


def run_import(engine: Engine, district_code: str, kind: str, path: str | Path, config: DashboardConfig,
               options: ImportOptions | None = None, *,
               progress: Callable[[str], None] = lambda _m: None,
               table: tables.RawTable | None = None, actor: audit.Actor | None = None) -> ImportResult:
    """Import one file; ImportRefused (with every problem) stores nothing. ``table``: a facility or elder
    sheet already read (``read_input_table``), so a page editing the mapping does not read it again.
    ``actor``: who imports, as the audit trail names them (default: ``created_by``, else the OS user)."""
    options = options or ImportOptions()
    path = Path(path)
    if kind not in DATA_KINDS:
        msg = f"未知的数据类型 {kind!r}；可选：{', '.join(DATA_KINDS)}"
        raise ImportRefused(msg)
    _check_size(path, config)
    create_schema(engine)
    Session = session_factory(engine)
    if kind == "projects":
        return _import_projects(Session, district_code, path, options, progress)
    with Session() as session:
        try:
            if kind != "district":
                get_district(session, district_code)
            elif options.name is None and session.get(District, district_code) is None:
                msg = "导入新区县需要 --name 名称"
                raise ImportRefused(msg)
            with gc_paused():
                prepared = prepare(session, district_code, kind, path, options, config, progress,
                                   table if kind in ("facilities", "elders") else None)
        except ValueError as exc:  # TableError, MappingError, GisError, VersionError and the readers' own
            raise ImportRefused(str(exc)) from None
    for line in prepared.mapping:
        progress(f"  列映射：{line}")
    for line in prepared.notices:
        progress(line)
    shown = options.source_name or path.name
    if prepared.errors:
        msg = f"{shown}：{len(prepared.errors)} 处错误，未导入任何数据（nothing stored）"
        raise ImportRefused(msg, prepared)
    if not prepared.rows:
        msg = f"{shown}：没有可导入的数据行"
        raise ImportRefused(msg, prepared)
    by_town = dict(Counter(r.get("township_code") for r in prepared.rows if r.get("township_code")))
    if options.dry_run:
        return ImportResult(kind, len(prepared.rows), None, prepared, by_town)
    progress(f"写入 {len(prepared.rows):,} 行（一个事务）…")
    details = {"mapping": prepared.mapping, "crs": prepared.crs.system if prepared.crs else None,
               "notices": prepared.notices[:50], "warnings": len(prepared.warnings), "by_township": by_town}
    with Session.begin() as session:
        try:
            if kind == "district":
                register_district(session, district_code, options.name or get_district(session, district_code).name)
            vid = store_version(session, district_code, kind, prepared.rows, data_date=options.data_date or dt.date.today(),
                                source_name=options.source_name or path.name,
                                sha256=file_sha256(path) if path.is_file() else None,
                                details=details, created_by=options.created_by)
            audit.record_now(session, "import", actor=actor or options.created_by or audit.os_actor(),
                             object=f"{district_code} {kind} v{vid}",
                             detail={"rows": len(prepared.rows), "source": options.source_name or path.name,
                                     "data_date": str(options.data_date or dt.date.today())})
        except VersionError as exc:
            raise ImportRefused(str(exc)) from None
    return ImportResult(kind, len(prepared.rows), vid, prepared, by_town)
