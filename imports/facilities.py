"""A facility sheet checked row by row: every cell of a row (kind, position, counts, status, dates, places), the
coordinate system of every readable position, then each good row's place in the district and its township. All
problems are listed with their spreadsheet row; nothing is stored here (imports/store.py stores)."""

from __future__ import annotations

from collections.abc import Callable

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import Point

from config import DashboardConfig
from geo.crs import utm_crs_for
from geo.overlay import polygon_of
from imports.coords import decide_lonlat_crs
from imports.kinds import COUNT_FIELDS, FACILITY_FIELDS, Context, Prepared, Problem, body_rows
from imports.mapping import MappingFile, describe, map_columns
from imports.tables import RawTable
from imports.values import (
    BadValue,
    PlaceIndex,
    code_text,
    count,
    date,
    header_key,
    name_index,
    number,
    yes_no,
)

STATUS = {"运营": "operating", "运营中": "operating", "正常": "operating", "在营": "operating", "operating": "operating",
          "暂停": "suspended", "停业": "suspended", "suspended": "suspended", "规划": "planned", "planned": "planned",
          "在建": "building", "建设中": "building", "building": "building"}


def kind_lookup(config: DashboardConfig, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The comparison key of every configured name of a kind (id, Chinese and English name, aliases) → its id,
    and of every word of a mapping file's [values.kind] → the kind its target names: the target may be any of
    those names, as the import's own messages offer them (an unknown target stays as written, and is refused)."""
    names = {k.id: (k.id, k.name_zh, k.name_en, *k.aliases) for k in config.facility_kinds}
    out = name_index(names)
    known = dict(out)
    for text, target in (extra or {}).items():
        out[header_key(text)] = known.get(header_key(target), target)
    return out


def _status(text: str) -> str | None:
    return STATUS.get(text.lower())


def _star(text: str) -> int | BadValue:
    v = count(text.replace("星", "").replace("级", ""))
    if isinstance(v, BadValue) or not 1 <= v <= 5:
        return BadValue("星级应为 1–5", "填写 1 到 5 的整数，或留空")
    return v


class _Cells:
    """The body rows' cells column by column: each mapped field's stripped text, whether it is missing, and its
    parsed value. A parser runs once per distinct text (sheets repeat their kinds, townships, statuses and dates);
    columns parsed by a module-level parser are kept on the table, so a page that remaps one field re-parses
    only that field's column."""

    def __init__(self, table: RawTable, rows: list[list[str]], mapping: dict[str, int], missing: tuple[str, ...]):
        self._rows, self._mapping, self._memo = rows, mapping, table.memo
        self._missing = frozenset(missing)
        self._blank = [""] * len(rows)

    def _kept(self, key, make):
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    def text(self, f: str) -> list[str]:
        if f not in self._mapping:
            return self._blank
        ci = self._mapping[f]
        return self._kept((ci, "text"), lambda: [r[ci].strip() if ci < len(r) else "" for r in self._rows])

    def missing(self, f: str) -> list[bool]:
        ci = self._mapping.get(f)
        return self._kept((ci, "missing", self._missing), lambda: [t in self._missing for t in self.text(f)])

    def parse(self, f: str, parser: Callable[[str], object], *, memo: bool = True) -> list:
        """``parser`` of each cell of ``f`` (of "" where ``f`` is not mapped); ``memo=False`` for a parser that
        depends on more than the text (the district's places, the override's value maps)."""
        def run() -> list:
            seen: dict[str, object] = {}
            return [seen[t] if t in seen else seen.setdefault(t, parser(t)) for t in self.text(f)]

        return self._kept((self._mapping.get(f), parser), run) if memo else run()


def prepare_facilities(table: RawTable, ctx: Context, config: DashboardConfig, *, crs: str = "auto",
                       override: MappingFile | None = None, progress: Callable[[str], None] = lambda _m: None) -> Prepared:
    """Facilities of a sheet, checked in three passes: every row's cells (:func:`_facility_record`), the
    coordinate system of every readable position (all rows, so one pass names the coordinate problem with the
    rest), then every good row's place (:func:`_place_facilities`); rows without a code get one."""
    out = Prepared("facilities")
    mapping = map_columns(table.header, FACILITY_FIELDS, config.imports.synonyms, override)
    out.mapping = describe(mapping, table.header, FACILITY_FIELDS)
    out.columns = {f: table.header[i] for f, i in mapping.items()}
    out.notices += table.notices
    kinds = kind_lookup(config, (override.values.get("kind") if override else None))
    bad_kind_map = sorted(set(kinds.values()) - {k.id for k in config.facility_kinds})
    if bad_kind_map:
        out.problems.append(Problem(None, "", "", f"映射文件的类型值指向未知的设施类型 {bad_kind_map}",
                                    "可用（编号或名称均可）：" + "、".join(f"{k.id}（{k.name_zh}）"
                                                                  for k in config.facility_kinds)))
        return out
    body = body_rows(table, config)  # total rows (合计) are not facilities
    if len(body) < len(table.rows):
        out.notices.append(f"跳过 {len(table.rows) - len(body)} 个合计行")
    sheet = _FacilitySheet.read(table, body, mapping, ctx, config, kinds, override)
    col = out.columns

    def bad(n: int, f: str, value: str, why: str, fix: str, severity: str = "error") -> None:
        out.problems.append(Problem(n, col.get(f, f), value, why, fix, severity))

    parsed = [_facility_record(sheet, i, n, config, bad) for i, (n, _row) in enumerate(body)]
    progress("判断坐标系 …")
    have = ~np.isnan(sheet.lon)
    decision = decide_lonlat_crs(sheet.lon[have], sheet.lat[have], crs, outline=ctx.outline, townships=ctx.townships,
                                 declared=[d for d, h in zip(sheet.declared_town, have, strict=True) if h])
    out.crs = decision
    out.notices += decision.lines
    if decision.system and have.any():  # a preview map of every readable position
        rows = np.array([n for n, _r in body])[have].tolist()
        out.points = [(n, float(x), float(y)) for n, x, y in zip(rows, decision.lon, decision.lat, strict=True)]
    if decision.error:
        out.problems.append(Problem(None, f"{col.get('lon', '经度')}/{col.get('lat', '纬度')}", "", decision.error,
                                    decision.fix))
        return out
    wlon, wlat = np.full(len(body), np.nan), np.full(len(body), np.nan)
    wlon[have], wlat[have] = decision.lon, decision.lat
    rows_of = _place_facilities(out, sheet, parsed, wlon, wlat, ctx, config, bad)
    _give_codes(out.rows, rows_of, ctx.district_code)
    return out


class _FacilitySheet:
    """A facility sheet's body, its cells by field and each field's parsed values, read once."""

    def __init__(self, body, text, blank, parsed, declared_town_of) -> None:
        self.body, self.text, self.blank, self.parsed = body, text, blank, parsed
        self.town_of = declared_town_of
        self.lon = np.full(len(body), np.nan)
        self.lat = np.full(len(body), np.nan)
        self.declared_town: list[str | None] = [None] * len(body)
        self.seen_codes: dict[str, int] = {}

    @classmethod
    def read(cls, table: RawTable, body, mapping, ctx: Context, config: DashboardConfig, kinds: dict,
             override: MappingFile | None) -> _FacilitySheet:
        cells = _Cells(table, [r for _n, r in body], mapping, config.imports.missing_values)
        text = {f.name: cells.text(f.name) for f in FACILITY_FIELDS}  # every field's cells, looked up once
        blank = {f.name: cells.missing(f.name) for f in FACILITY_FIELDS}
        towns = PlaceIndex.townships(dict(zip(ctx.townships["code"], ctx.townships["name"], strict=True))) \
            if ctx.townships is not None else None
        town_values = override.values.get("township", {}) if override else {}  # the file's name -> code or name
        comms = PlaceIndex.communities(dict(zip(ctx.communities["code"], ctx.communities["name"], strict=True))) \
            if ctx.communities is not None and len(ctx.communities) else None
        parsed = {
            "kind": cells.parse("kind", lambda t: kinds.get(header_key(t)), memo=False),  # override values differ
            "lon": cells.parse("lon", number), "lat": cells.parse("lat", number),
            "code": cells.parse("code", code_text),
            **{f: cells.parse(f, count) for f in COUNT_FIELDS},
            "status": cells.parse("status", _status),  # a module-level parser: the same memo key on every check
            "medical_partner": cells.parse("medical_partner", yes_no),
            "opened_on": cells.parse("opened_on", date),
            "star_rating": cells.parse("star_rating", _star),
            "service_capacity": cells.parse("service_capacity", count),
            "community": cells.parse("community", comms.resolve, memo=False) if comms is not None else None,
        }
        town_of = cells.parse("township", lambda t: towns.resolve(town_values.get(t, t)), memo=False) \
            if towns is not None else None
        return cls(body, text, blank, parsed, town_of)

    def value(self, rec: dict, f: str, i: int, n: int, bad, *, default=None, fix: str | None = None) -> bool:
        """``rec[f]``: the parsed cell, or ``default`` when blank; False (with the problem said) when it is bad."""
        if self.blank[f][i]:
            rec[f] = default
            return True
        v = self.parsed[f][i]
        if isinstance(v, BadValue):
            bad(n, f, self.text[f][i], v.why, fix or v.fix)
            return False
        rec[f] = v
        return True


def _facility_record(sheet: _FacilitySheet, i: int, n: int, config: DashboardConfig, bad) -> dict | None:
    """Row ``i`` (spreadsheet row ``n``) as a facility without its place, or None after saying what is wrong.
    Its readable position and declared township are kept on ``sheet`` for the coordinate system's evidence."""
    text, blank, parsed = sheet.text, sheet.blank, sheet.parsed
    ok = True
    for f in ("name", "kind", "lon", "lat"):
        if blank[f][i]:
            bad(n, f, text[f][i], "必填项为空", f"填写{next(x.label_zh for x in FACILITY_FIELDS if x.name == f)}")
            ok = False
    if not ok:
        return None
    rec: dict = {"name": text["name"][i][:120], "kind_id": parsed["kind"][i]}
    if rec["kind_id"] is None:
        bad(n, "kind", text["kind"][i], "未知的设施类型",
            f"填写已配置的类型之一（{'、'.join(k.name_zh for k in config.facility_kinds)}），或把这个叫法加到 "
            "config/dashboard.toml 对应类型的 aliases，或在 --mapping 文件的 [values.kind] 中映射")
        ok = False
    x, y = parsed["lon"][i], parsed["lat"][i]
    for f, v in (("lon", x), ("lat", y)):
        if isinstance(v, BadValue):
            bad(n, f, text[f][i], v.why, "填写十进制度数，如 117.2")
            ok = False
    if not isinstance(x, BadValue) and not isinstance(y, BadValue):  # shown on a preview even with other errors
        sheet.lon[i], sheet.lat[i] = x, y
    if text["code"][i] and not blank["code"][i]:
        c = parsed["code"][i]
        if isinstance(c, BadValue):
            bad(n, "code", text["code"][i], c.why, c.fix)
            ok = False
        elif c in sheet.seen_codes:
            bad(n, "code", text["code"][i], f"编码与第 {sheet.seen_codes[c]} 行重复", "每个设施一个唯一编码")
            ok = False
        else:
            sheet.seen_codes[c] = n
            rec["code"] = c[:32]
    for f in COUNT_FIELDS:
        ok = sheet.value(rec, f, i, n, bad, default=0) and ok
    if ok and (rec["beds_care"] > rec["beds_total"] or rec["beds_dementia"] > rec["beds_total"]):
        bad(n, "beds_care", text["beds_care"][i], f"护理型/认知症床位多于总床位 {rec['beds_total']}",
            "核对床位数：分项不能多于总数")
        ok = False
    if ok and (rec["staff_professional"] > rec["staff_total"] or rec["staff_prejob_trained"] > rec["staff_total"]):
        if rec["staff_total"] == 0:
            rec["staff_total"] = max(rec["staff_professional"], rec["staff_prejob_trained"])
        else:
            bad(n, "staff_professional", text["staff_professional"][i],
                f"专业/培训人员多于工作人员 {rec['staff_total']}", "核对人数：分项不能多于总数")
            ok = False
    rec["status"] = "operating" if blank["status"][i] else parsed["status"][i]
    if rec["status"] is None:
        bad(n, "status", text["status"][i], "未知的状态", f"填写 {'、'.join(sorted({k for k in STATUS if not k.isascii()}))}")
        ok = False
    if blank["medical_partner"][i]:
        rec["medical_partner"], rec["medical_partner_name"] = False, None
    else:
        yn = parsed["medical_partner"][i]
        rec["medical_partner"] = yn if isinstance(yn, bool) else True  # a partner's name means yes
        rec["medical_partner_name"] = None if isinstance(yn, bool) else text["medical_partner"][i][:120]
    ok = sheet.value(rec, "opened_on", i, n, bad) and ok
    ok = sheet.value(rec, "star_rating", i, n, bad) and ok
    ok = sheet.value(rec, "service_capacity", i, n, bad,  # blank: the kind's capacity from config
                     fix="填写该设施能服务的老人数，如 500；不清楚就留空") and ok
    rec["address"] = text["address"][i][:200]
    rec["operating_model"] = (text["operating_model"][i] or "未填")[:20]
    t = text["township"][i]
    if t and not blank["township"][i]:
        if sheet.town_of is None:
            bad(n, "township", t, "本区还没有导入乡镇（街道）", "先导入 townships，或去掉这一列", "warning")
        else:
            code = sheet.town_of[i]
            if isinstance(code, BadValue):
                bad(n, "township", t, code.why, code.fix)
                ok = False
            else:
                sheet.declared_town[i] = code
    t = text["community"][i]
    rec["community_code"] = None
    if t and not blank["community"][i] and parsed["community"] is not None:
        code = parsed["community"][i]
        if isinstance(code, BadValue):
            bad(n, "community", t, code.why, code.fix, "warning")
        else:
            rec["community_code"] = code
    return rec if ok else None


def _place_facilities(out: Prepared, sheet: _FacilitySheet, parsed: list[dict | None], wlon: np.ndarray,
                      wlat: np.ndarray, ctx: Context, config: DashboardConfig, bad) -> list[int]:
    """The good rows at their WGS84 positions, checked against the district and their declared township, into
    ``out.rows``; returns the spreadsheet row of each stored row."""
    in_town = _locate(wlon, wlat, ctx)
    tol = config.imports.township_match_m
    town_rows = ctx.townships.set_index("code") if ctx.townships is not None else None
    rows_of: list[int] = []
    # vectorised once: which points lie in the district, and the stored points (7 decimals, about 1 cm)
    inside = shapely.contains_xy(ctx.outline, wlon, wlat) if ctx.outline is not None else np.ones(len(wlon), bool)
    stored = shapely.points(np.round(wlon, 7), np.round(wlat, 7))
    for i, (n, _row) in enumerate(sheet.body):
        rec = parsed[i]
        if rec is None:
            continue
        p = stored[i]
        if not inside[i]:
            dist = _distance_m(ctx.outline, p)
            if dist > tol:
                bad(n, "lon", f"{sheet.lon[i]}, {sheet.lat[i]}", f"点位在区界外 {dist:,.0f} m",
                    "核对经纬度（是否填反、坐标系是否正确），或确认设施属于本区")
                continue
        located, declared = in_town[i], sheet.declared_town[i]
        if declared and located and declared != located:
            dist = _distance_m(town_rows.geometry[declared], p)
            if dist > tol:
                bad(n, "township", sheet.text["township"][i],
                    f"点位不在所填乡镇内（距其边界 {dist:,.0f} m，落在 {town_rows['name'][located]}）",
                    "核对所属乡镇或经纬度", "warning")
        rec["township_code"] = declared or located
        if rec["township_code"] is None:
            bad(n, "lon", f"{sheet.lon[i]}, {sheet.lat[i]}", "点位不在任何乡镇（街道）内",
                "核对经纬度，或先导入完整的乡镇边界")
            continue
        rec["level"] = config.kind(rec["kind_id"]).level
        rec["geom"] = p
        rec["is_synthetic"] = False
        rec.setdefault("code", None)
        out.rows.append(rec)
        rows_of.append(n)
    return rows_of


def _give_codes(rows: list[dict], rows_of: list[int], district_code: str) -> None:
    """Rows without a code get a stable one from the district and their spreadsheet row."""
    taken = {r["code"] for r in rows if r["code"]}
    for r, n in zip(rows, rows_of, strict=True):
        if not r["code"]:
            code = f"{district_code}-F{n:05d}"
            while code in taken:
                code += "x"
            r["code"] = code
            taken.add(code)


def _locate(lon: np.ndarray, lat: np.ndarray, ctx: Context) -> list[str | None]:
    """Code of the township each point stands in (None outside all or without a point)."""
    out: list[str | None] = [None] * len(lon)
    if ctx.townships is None or not len(lon):
        return out
    which = polygon_of(lon, lat, ctx.townships.geometry.values)
    codes = ctx.townships["code"].to_numpy()
    return [codes[w] if w >= 0 else None for w in which]


def _distance_m(geom, p: Point) -> float:
    metric = utm_crs_for(p.x, p.y)
    s = gpd.GeoSeries([geom, p], crs=4326).to_crs(metric)
    return float(s.iloc[0].distance(s.iloc[1]))
