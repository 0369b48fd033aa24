"""Turning a read file into a kind's rows, with every problem found (row, column, value, why, fix).

One function per kind: ``prepare_district``, ``prepare_townships``,
``prepare_communities``, ``prepare_elders`` here, ``prepare_facilities`` in imports/facilities.py. Each takes
what was read and the district's context (outline, townships, communities) and
returns a ``Prepared``: rows ready to store, problems (errors refuse the import,
warnings are shown) and notices. Pure: no database, no Streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import MultiPolygon, Point

from config import DashboardConfig
from geo.crs import utm_crs_for
from geo.density import cells_in, spread_counts
from imports.coords import CrsDecision, decide_lonlat_crs
from imports.mapping import Field, MappingFile, describe, map_columns
from imports.tables import RawTable
from imports.values import (
    BadValue,
    PlaceIndex,
    code_text,
    count,
    header_key,
    is_missing,
    number,
)

H3_RES = 9
TOWN_TYPES = ("街道", "镇", "乡", "其他")


@dataclass(frozen=True)
class Problem:
    row: int | None  # spreadsheet row (None: the file as a whole)
    column: str
    value: str
    why: str
    fix: str
    severity: str = "error"  # error | warning

    def line(self) -> str:
        where = f"第 {self.row} 行，" if self.row is not None else ""
        col = f"列“{self.column}”，" if self.column else ""
        val = f"值 {self.value!r}：" if self.value != "" else ""
        return f"{'错误' if self.severity == 'error' else '警告'}：{where}{col}{val}{self.why}；{self.fix}"


@dataclass
class Prepared:
    kind: str
    rows: list[dict] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    mapping: list[str] = field(default_factory=list)
    crs: CrsDecision | None = None
    # what a page shows and edits (tables only): the file's columns, field -> column used, and
    # (spreadsheet row, longitude, latitude) in WGS84 of every row whose coordinates could be read
    header: list[str] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)
    points: list[tuple[int, float, float]] = field(default_factory=list)
    table: dict[str, object] = field(default_factory=dict)  # encoding, sheet, header_row, data_rows

    def rows_with(self, severity: str) -> set[int]:
        """Spreadsheet rows with a problem of this severity."""
        return {p.row for p in self.problems if p.severity == severity and p.row is not None}

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


@dataclass(frozen=True)
class Context:
    """The district's current data an import is checked against (WGS84)."""

    district_code: str
    outline: shapely.Geometry | None
    townships: gpd.GeoDataFrame | None  # code, name, geometry
    communities: gpd.GeoDataFrame | None  # code, name, township_code, geometry (point), boundary


def _multi(g) -> MultiPolygon:
    g = shapely.make_valid(g)
    if isinstance(g, MultiPolygon):
        return g
    polys = [p for p in getattr(g, "geoms", [g]) if p.geom_type == "Polygon"]
    return MultiPolygon(polys)


# ---- GIS kinds ---------------------------------------------------------------

DISTRICT_CODE_COLUMNS = ("adcode", "code", "区划代码", "行政区划代码", "district_code", "gb", "区县代码")


def prepare_district(layer: gpd.GeoDataFrame, code: str) -> Prepared:
    """The district's outline: its own feature(s) when the file holds several districts with codes, else
    every polygon of the file merged."""
    out = Prepared("district")
    for col in layer.columns:
        if col == "geometry" or header_key(col) not in {header_key(c) for c in DISTRICT_CODE_COLUMNS}:
            continue
        codes = layer[col].astype(str).str.strip().str.removesuffix(".0")
        if codes.nunique() > 1:
            mine = codes.str.startswith(code)
            if not mine.any():
                shown = ", ".join(sorted(codes.unique())[:20])
                out.problems.append(Problem(None, col, code, f"文件有 {len(codes)} 个区县要素，没有代码为 {code} 的",
                                            f"检查 --code；文件中的代码：{shown}"))
                return out
            out.notices.append(f"文件有 {codes.nunique()} 个区县：取列“{col}”为 {code} 的 {int(mine.sum())} 个要素")
            layer = layer[mine.to_numpy()]
            break
    polys = [g for g in layer.geometry if g is not None and g.geom_type in ("Polygon", "MultiPolygon")]
    if not polys:
        out.problems.append(Problem(None, "", "", "文件中没有面（多边形）要素", "导入区县边界的面图层"))
        return out
    outline = _multi(shapely.union_all(polys))
    out.rows.append({"geom": outline, "is_synthetic": False})
    metric = utm_crs_for(outline.centroid.x, outline.centroid.y)
    area = gpd.GeoSeries([outline], crs=4326).to_crs(metric).area.iloc[0] / 1e6
    out.notices.append(f"区界：{len(polys)} 个面合并为一个，面积 {area:,.1f} km²")
    return out


def prepare_townships(layer: gpd.GeoDataFrame, ctx: Context, config: DashboardConfig,
                      override: MappingFile | None = None) -> Prepared:
    out = Prepared("townships")
    fields = [Field("code", "12 位区划代码", True), Field("name", "名称", True), Field("type", "类型（街道/镇/乡）")]
    header = [c for c in layer.columns if c != "geometry"]
    mapping = map_columns(header, fields, _synonyms(config, code=("code12", *config.imports.synonyms.get("township_code", ()),
                                                                  "区划代码"),
                                                    name=config.imports.synonyms.get("township", ())), override)
    out.mapping = describe(mapping, header, fields)
    seen: dict[str, int] = {}
    polys = []
    for n, rec, vals, code in _coded_features(layer, header, mapping, out, seen, "每个乡镇（街道）一个要素；多个面请先合并"):
        if not code.startswith(ctx.district_code):
            out.problems.append(Problem(n, header[mapping["code"]], code, f"不是区县 {ctx.district_code} 的乡镇代码",
                                        f"乡镇代码应以 {ctx.district_code} 开头"))
        name = vals["name"]
        ttype = vals.get("type", "")
        if ttype not in TOWN_TYPES:
            ttype = next((t for t in ("街道", "镇", "乡") if name.endswith(t)), "其他")
        geom = rec.geometry
        if geom is None or geom.geom_type not in ("Polygon", "MultiPolygon"):
            out.problems.append(Problem(n, "geometry", "", "不是面要素", "导入乡镇（街道）的面图层"))
            continue
        poly = _multi(geom)
        polys.append(poly)
        out.rows.append({"code": code, "name": name, "type": ttype, "district_code": ctx.district_code,
                         "seat": None, "geom": poly, "is_synthetic": False})
    if polys and ctx.outline is not None:
        out.problems += _partition_checks(polys, [r["name"] for r in out.rows], ctx.outline)
    return out


def _coded_features(layer, header: list[str], mapping: dict[str, int], out: Prepared, seen: dict[str, int],
                    duplicate_fix: str, *, row_numbers: list[int] | None = None):
    """(feature number — or spreadsheet row —, record, mapped values, 12-digit code) of each feature with a valid,
    unrepeated code; the others are recorded as problems."""
    for i, rec in enumerate(layer.itertuples(index=False)):
        n = row_numbers[i] if row_numbers is not None else i + 1
        vals = {f: str(getattr(rec, header[c]) if getattr(rec, header[c]) is not None else "").strip()
                for f, c in mapping.items()}
        code = code_text(vals["code"], digits=12)
        if isinstance(code, BadValue):
            out.problems.append(Problem(n, header[mapping["code"]], vals["code"], code.why, code.fix))
            continue
        if code in seen:
            out.problems.append(Problem(n, header[mapping["code"]], code, f"与第 {seen[code]} 个要素代码重复",
                                        duplicate_fix))
            continue
        seen[code] = n
        yield n, rec, vals, code


def table_points(table: RawTable, ctx: Context, config: DashboardConfig, *, crs: str = "auto",
                 override: MappingFile | None = None) -> tuple[gpd.GeoDataFrame, list[int], Prepared]:
    """A table with longitude / latitude as a point layer in WGS84 (its columns kept), the spreadsheet row of
    each point, and what was found on the way (bad numbers, the coordinate system and its evidence)."""
    out = Prepared("points")
    fields = [Field("lon", "经度", True), Field("lat", "纬度", True), Field("township", "所属乡镇（街道）")]
    mapping = map_columns(table.header, fields, config.imports.synonyms, override)
    out.mapping = [line for line in describe(mapping, table.header, fields) if not line.startswith("未使用")]
    out.notices += table.notices
    towns = PlaceIndex.townships(dict(zip(ctx.townships["code"], ctx.townships["name"], strict=True))) \
        if ctx.townships is not None else None
    keep, lon, lat, declared = [], [], [], []
    for n, row in body_rows(table, config):
        x, y = number(row[mapping["lon"]]), number(row[mapping["lat"]])
        bad = [(f, v) for f, v in (("lon", x), ("lat", y)) if isinstance(v, BadValue)]
        for f, v in bad:
            out.problems.append(Problem(n, table.header[mapping[f]], row[mapping[f]], v.why, "填写十进制度数，如 117.2"))
        if bad:
            continue
        t = row[mapping["township"]].strip() if "township" in mapping else ""
        code = towns.resolve(t) if towns is not None and t else None
        keep.append(n)
        lon.append(x)
        lat.append(y)
        declared.append(code if isinstance(code, str) else None)
    decision = decide_lonlat_crs(np.array(lon), np.array(lat), crs, outline=ctx.outline, townships=ctx.townships,
                                 declared=declared)
    out.crs = decision
    out.notices += decision.lines
    if decision.system:  # the positions as decided, for a preview map
        out.points = [(n, float(x), float(y)) for n, x, y in zip(keep, decision.lon, decision.lat, strict=True)]
    if decision.error:
        out.problems.append(Problem(None, "经度/纬度", "", decision.error, decision.fix))
        return gpd.GeoDataFrame(geometry=[], crs=4326), [], out
    index = {n: i for i, n in enumerate(table.row_numbers)}
    frame = pd.DataFrame([table.rows[index[n]] for n in keep], columns=[h or f"列{i + 1}" for i, h in
                                                                        enumerate(table.header)])
    frame = frame.loc[:, ~frame.columns.duplicated()]
    points = gpd.GeoDataFrame(frame, geometry=shapely.points(decision.lon, decision.lat), crs=4326)
    return points, keep, out


def prepare_communities(layer: gpd.GeoDataFrame, ctx: Context, config: DashboardConfig,
                        override: MappingFile | None = None, *, row_numbers: list[int] | None = None) -> Prepared:
    """Village / community polygons (or points) with their official codes; the township from the code.
    ``row_numbers``: the spreadsheet row of each feature, when the points came from a table."""
    out = Prepared("communities")
    fields = [Field("code", "12 位区划代码", True), Field("name", "名称", True), Field("township", "所属乡镇（街道）"),
              Field("committee_type", "村居类型")]
    header = [c for c in layer.columns if c != "geometry"]
    syn = config.imports.synonyms
    mapping = map_columns(header, fields, _synonyms(config, code=("code12", *syn.get("community_code", ())),
                                                    name=syn.get("community", ()),
                                                    township=("parentcode", "parent_code",
                                                              *syn.get("township_code", ()))), override)
    out.mapping = describe(mapping, header, fields)
    if ctx.townships is None:
        out.problems.append(Problem(None, "", "", "本区还没有导入乡镇（街道）", "先导入 townships，再导入村（社区）"))
        return out
    towns = PlaceIndex.townships(dict(zip(ctx.townships["code"], ctx.townships["name"], strict=True)))
    seen: dict[str, int] = {}
    for n, rec, vals, code in _coded_features(layer, header, mapping, out, seen, "每个村（社区）一个要素",
                                              row_numbers=row_numbers):
        town = towns.resolve(vals["township"]) if vals.get("township") else towns.resolve(code[:9] + "000")
        if isinstance(town, BadValue):
            out.problems.append(Problem(n, header[mapping.get("township", mapping["code"])], vals.get("township", code),
                                        f"所属乡镇（街道）：{town.why}", town.fix))
            continue
        geom = rec.geometry
        if geom is None or geom.is_empty:
            out.problems.append(Problem(n, "geometry", "", "没有几何", "每个村（社区）需要一个点或面"))
            continue
        polygon = geom.geom_type in ("Polygon", "MultiPolygon") or geom.geom_type == "GeometryCollection"
        boundary = _multi(geom) if polygon else None
        point = boundary.representative_point() if polygon else geom.representative_point()
        name = vals["name"]
        ctype = vals.get("committee_type") or ("村委会" if name.endswith("村") or "村委" in name else "居委会")
        out.rows.append({"code": code, "name": name, "township_code": town, "committee_type": ctype[:16],
                         "is_urban": ctype != "村委会", "geom": point, "boundary": boundary, "is_synthetic": False})
    return out


def _partition_checks(polys: list, names: list[str], outline) -> list[Problem]:
    """Townships that overlap each other, or leave part of the district uncovered (warnings with the area)."""
    metric = utm_crs_for(outline.centroid.x, outline.centroid.y)
    s = gpd.GeoSeries(polys, crs=4326).to_crs(metric)
    district = gpd.GeoSeries([outline], crs=4326).to_crs(metric).iloc[0]
    out = []
    tree = shapely.STRtree(s.values)
    left, right = tree.query(s.values, predicate="overlaps")
    for a, b in zip(left, right, strict=True):
        if a < b:
            area = s.iloc[a].intersection(s.iloc[b]).area
            if area > 1e4:  # 1 hectare: digitising slivers are not reported
                out.append(Problem(None, "geometry", f"{names[a]} / {names[b]}", f"两个乡镇重叠 {area / 1e6:.3f} km²",
                                   "修正边界使乡镇互不重叠", "warning"))
    gap = district.difference(shapely.union_all(s.values)).area
    if gap > 0.005 * district.area:
        out.append(Problem(None, "geometry", "", f"乡镇未覆盖区界内 {gap / 1e6:.2f} km²（{gap / district.area:.1%}）",
                           "补齐缺失的乡镇（街道）边界", "warning"))
    return out


def _synonyms(config: DashboardConfig, **extra: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    syn = dict(config.imports.synonyms)
    for k, v in extra.items():
        syn[k] = (*v, *syn.get(k, ()))
    return syn


# ---- facilities (a table with longitude / latitude) ---------------------------

FACILITY_FIELDS = [
    Field("code", "编码"), Field("name", "名称", True), Field("kind", "设施类型", True),
    Field("lon", "经度", True), Field("lat", "纬度", True), Field("township", "所属乡镇（街道）"),
    Field("community", "所属村（社区）"), Field("address", "地址"), Field("status", "状态"),
    Field("beds_total", "床位"), Field("beds_care", "护理型床位"), Field("beds_dementia", "认知症床位"),
    Field("staff_total", "工作人员"), Field("staff_professional", "专业护理人员"),
    Field("staff_prejob_trained", "岗前培训人员"), Field("medical_partner", "签约医疗机构"),
    Field("operating_model", "运营模式"), Field("opened_on", "开业日期"), Field("star_rating", "星级"),
    Field("service_capacity", "服务能力（人）"),
]
COUNT_FIELDS = ("beds_total", "beds_care", "beds_dementia", "staff_total", "staff_professional",
                "staff_prejob_trained")


def body_rows(table: RawTable, config: DashboardConfig) -> list[tuple[int, list[str]]]:
    """(spreadsheet row, cells) of every row that is not a total (合计) row."""
    labels = config.imports.total_row_labels
    return [(n, r) for n, r in zip(table.row_numbers, table.rows, strict=True)
            if not any(c.strip() in labels for c in r[:3])]


# ---- elders (counts per village / community) -----------------------------------

ELDER_FIELDS = [
    Field("community_code", "村（社区）代码"), Field("community", "村（社区）名称"), Field("township", "所属乡镇（街道）"),
    Field("age_60_69", "60–69岁", True), Field("age_70_79", "70–79岁", True), Field("age_80_plus", "80岁以上", True),
    Field("elders", "60岁以上合计"), Field("disabled", "失能"), Field("dementia", "失智"), Field("empty_nest", "空巢"),
    Field("living_alone", "独居"), Field("extreme_poverty", "特困"), Field("low_income", "低保"),
]
AGE_FIELDS = ("age_60_69", "age_70_79", "age_80_plus")
CATEGORY_FIELDS = ("disabled", "dementia", "empty_nest", "living_alone", "extreme_poverty", "low_income")


def prepare_elders(table: RawTable, ctx: Context, config: DashboardConfig,
                   override: MappingFile | None = None) -> Prepared:
    out = Prepared("elders")
    mapping = map_columns(table.header, ELDER_FIELDS, config.imports.synonyms, override)
    out.mapping = describe(mapping, table.header, ELDER_FIELDS)
    out.columns = {f: table.header[i] for f, i in mapping.items()}
    out.notices += table.notices
    if "community_code" not in mapping and "community" not in mapping:
        out.problems.append(Problem(None, "", "", "找不到村（社区）代码或名称列",
                                    f"加一列“社区代码”或“社区”；文件中的列：{', '.join(h for h in table.header if h)}"))
        return out
    if ctx.communities is None or not len(ctx.communities):
        out.problems.append(Problem(None, "", "", "本区还没有导入村（社区）", "先导入 communities（带点位或边界），再导入老年人口"))
        return out
    col = {f: table.header[i] for f, i in mapping.items()}
    comms = PlaceIndex.communities(dict(zip(ctx.communities["code"], ctx.communities["name"], strict=True)))
    info = ctx.communities.set_index("code")
    missing = config.imports.missing_values
    numeric = [f for f in (*AGE_FIELDS, "elders", *CATEGORY_FIELDS) if f in mapping]
    totals: list[tuple[int, list[str]]] = []
    body: list[tuple[int, list[str]]] = []
    for n, r in zip(table.row_numbers, table.rows, strict=True):
        (totals if any(c.strip() in config.imports.total_row_labels for c in r[:4]) else body).append((n, r))
    sums = dict.fromkeys(numeric, 0)
    seen: dict[str, int] = {}
    spread = [0, 0]  # communities spread over the cells of their boundary, and those cells
    for n, row in body:
        ok = True
        rec: dict = {}
        key_f = "community_code" if "community_code" in mapping else "community"
        t = row[mapping[key_f]].strip()
        code = comms.resolve(t) if not is_missing(t, missing) else BadValue("必填项为空", "填写村（社区）代码或名称")
        if isinstance(code, BadValue):
            out.problems.append(Problem(n, col[key_f], t, code.why, code.fix))
            ok = False
        elif code in seen:
            out.problems.append(Problem(n, col[key_f], t, f"与第 {seen[code]} 行是同一个村（社区）", "每个村（社区）一行"))
            ok = False
        else:
            seen[code] = n
            at = info.geometry[code]  # the community's point: where the preview map shows this row
            out.points.append((n, float(at.x), float(at.y)))
        for f in numeric:
            v = row[mapping[f]].strip()
            if is_missing(v, missing):
                if f in AGE_FIELDS:
                    out.problems.append(Problem(n, col[f], v, "必填项为空", "填写人数（没有填 0）"))
                    ok = False
                rec[f] = 0
                continue
            c = count(v)
            if isinstance(c, BadValue):
                out.problems.append(Problem(n, col[f], v, c.why, c.fix))
                ok = False
                rec[f] = 0
            else:
                rec[f] = c
                sums[f] += c
        if not ok:
            continue
        total = sum(rec[f] for f in AGE_FIELDS)
        if "elders" in rec and rec["elders"] != total:
            out.problems.append(Problem(n, col["elders"], str(rec["elders"]),
                                        f"60岁以上合计 ≠ 各年龄段之和 {total}", "核对各年龄段人数与合计"))
            continue
        over = [f for f in CATEGORY_FIELDS if rec.get(f, 0) > total]
        if over:
            out.problems.append(Problem(n, col[over[0]], str(rec[over[0]]), f"类别人数多于60岁以上老人 {total}",
                                        "核对该类别人数"))
            continue
        c = info.loc[code]
        boundary = c.get("boundary")
        cells = cells_in(boundary, H3_RES) if boundary is not None and not boundary.is_empty else []
        at_cells = bool(cells)  # else a community imported as a point (or smaller than a cell): all at its point
        if at_cells:
            spread[0] += 1
            spread[1] += len(cells)
        else:
            cells = [h3.latlng_to_cell(c.geometry.y, c.geometry.x, H3_RES)]
        for part in spread_counts(cells, {f: rec[f] for f in AGE_FIELDS}, {f: rec.get(f, 0) for f in CATEGORY_FIELDS}):
            cell = part.pop("cell")
            lat, lng = h3.cell_to_latlng(cell) if at_cells else (c.geometry.y, c.geometry.x)
            out.rows.append({"community_code": code, "township_code": c["township_code"], "cell_h3": cell,
                             "geom": Point(lng, lat), **part, "is_synthetic": False})
    if spread[0]:
        out.notices.append(f"{spread[0]} 个村（社区）的老人按其边界内的 {spread[1]} 个 H3 网格（约 0.1 km²）均匀分布，"
                           "各项人数之和不变；其余放在村（社区）点位")
    for n, row in totals:
        wrong = []
        for f in numeric:
            v = count(row[mapping[f]].strip()) if not is_missing(row[mapping[f]], missing) else None
            if isinstance(v, int) and v != sums[f]:
                wrong.append(f"{col[f]} 合计 {v} ≠ 各行之和 {sums[f]}")
        if wrong:
            out.problems.append(Problem(n, "合计", "", "；".join(wrong), "核对合计行或各行人数（合计行与明细不符）"))
        else:
            out.notices.append(f"第 {n} 行是合计行，与各列之和一致，已跳过")
    return out


__all__ = ["Context", "Prepared", "Problem", "prepare_district", "prepare_elders",
           "prepare_townships"]
