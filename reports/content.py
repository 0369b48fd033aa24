"""What a report says: one area's numbers, tables and map layers, gathered from the services.

The same ``Report`` feeds the PDF, the workbook, the offline HTML map and the
GeoPackage / GeoJSON export, so every format shows the same figures as the
pages (the scorecard is the page's own cached computation). Reports are in
Chinese whatever the UI language: they are documents for the joint meeting.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from reports.static_map import MapLayers
from services import coverage, four_sync, scenarios, scoped
from services import scorecard as sc
from services.base import DataRef, area_kpis, base_layers, density_resolution, get_config, repo_call, walk_cutoff_m
from services.scorecard import DISTRICT, LIGHT_ZH, Scorecard

SECTIONS = {
    "map": "总览地图",
    "scorecard": "考核指标",
    "coverage": "分乡镇、分类别步行覆盖",
    "gaps": "未覆盖老人集中片区",
    "four_sync": "新建住宅四同步问题",
    "scenario": "规划情景前后对比",
    "since": "与基期对比",
}
DEMO_LABEL = "演示数据（合成）"
CHANGE_MAP_TARGET = "walk15_coverage"  # the district report maps this target's change by township
TOP_GAPS = 10

Progress = Callable[[float, str], None]


class ReportError(ValueError):
    """The request names an area or a scenario the database does not have."""


@dataclass(frozen=True)
class ReportRequest:
    township: str | None = None  # a township code; None: the whole district
    scenario_id: int | None = None
    sections: tuple[str, ...] = tuple(SECTIONS)
    since: dt.date | None = None  # compare every target with the data as it stood then

    def __post_init__(self) -> None:
        unknown = [s for s in self.sections if s not in SECTIONS]
        if unknown:
            msg = f"未知的报告章节 {unknown}；可选：{', '.join(SECTIONS)}"
            raise ReportError(msg)


@dataclass(frozen=True)
class ScenarioPart:
    scenario_id: int
    name: str
    n_changes: int
    summary: pd.DataFrame  # 指标, 现状, 情景, 变化 (numbers) and their text
    townships: pd.DataFrame  # per township, the elders covered before / after
    before: MapLayers
    after: MapLayers


@dataclass(frozen=True)
class SincePart:
    date: dt.date
    baseline: str  # which data the baseline is, in words
    table: pd.DataFrame  # services.scorecard.since_rows of the report's area
    map_target: str | None = None  # district reports: the target whose change is mapped by township
    townships: pd.DataFrame | None = None  # services.scorecard.township_change of that target


@dataclass(frozen=True)
class Report:
    request: ReportRequest
    district_name: str
    area_name: str
    data_date: str
    generated_at: dt.datetime
    is_demo: bool
    walk_minutes: float
    headline: dict[str, str]  # cover KPIs: label -> value text
    scorecard: pd.DataFrame  # one row per target: numbers and their text
    matrix: pd.DataFrame | None  # district report: townships × targets (values), with the lights beside
    matrix_lights: pd.DataFrame | None
    coverage: pd.DataFrame
    gaps: pd.DataFrame
    four_sync: pd.DataFrame
    scenario: ScenarioPart | None
    map_layers: MapLayers
    kinds: dict[str, tuple[str, str]]  # care kinds drawn: id -> (Chinese name, colour)
    since: SincePart | None = None
    sources_zh: str = "—"  # where the data comes from, in words (the district's versions, or the demo's own text)

    @property
    def township(self) -> str | None:
        return self.request.township

    @property
    def counts(self) -> dict[str, int]:
        """The area's targets by traffic light."""
        return sc.count_lights(self.scorecard["light"])

    @property
    def minutes(self) -> str:
        return f"{self.walk_minutes:g}"

    @property
    def title(self) -> str:
        return f"{self.area_name}养老服务设施布局与{self.minutes}分钟服务圈报告"

    def has(self, section: str) -> bool:
        return section in self.request.sections and (section != "scenario" or self.scenario is not None) \
            and (section != "since" or self.since is not None)


def _names(townships: pd.DataFrame) -> dict[str, str]:
    return dict(zip(townships["code"], townships["name"], strict=True))


def scorecard_table(card: Scorecard, area: str, *, district_compare: bool) -> pd.DataFrame:
    """The area's targets: number, label, light, value, target, numerator, denominator (numbers and text)."""
    cells = card.area(area)
    rows = []
    for i, t in enumerate(card.targets, start=1):
        c, m = cells.loc[t.id], t.measure
        row = {"序号": i, "target_id": t.id, "指标": t.label_zh, "light": c["light"], "状态": LIGHT_ZH[c["light"]],
               "value": c["value"], "实际值": sc.fmt_value(c["value"], t.unit), "target": t.target,
               "目标": sc.fmt_target(t), "unit": t.unit,
               "基期 → 现在": sc.change_text(card, t, c) or card.notes.get(t.id, ""),
               "numerator": c["numerator"], "分子": f"{m.numerator.label_zh} {sc.fmt_amount(c['numerator'])}",
               "denominator": c["denominator"] if m.denominator else np.nan,
               "分母": f"{m.denominator.label_zh} {sc.fmt_amount(c['denominator'])}" if m.denominator else "—",
               "口径": t.definition_zh, "来源": card.source_of(t)}
        if district_compare:
            d = card.cell(t.id)
            rank = card.rank(t.id, area) if m.scope == "all" else None
            row |= {"district_value": d["value"], "全区": sc.fmt_value(d["value"], t.unit),
                    "排名": f"{rank[0]}/{rank[1]}" if rank else "—"}
        rows.append(row)
    return pd.DataFrame(rows)


def coverage_table(result, townships: pd.DataFrame, township: str | None) -> pd.DataFrame:
    """District: townships × elder categories (share covered), with the district row last.
    Township: one row per category with elders, covered, gap, share and the district's share."""
    names = _names(townships)
    area_ids = list(result.area_ids)
    total, covered = result.area_total, result.area_covered

    def share(c, t):
        return np.divide(c, t, out=np.full_like(t, np.nan, dtype=float), where=t > 0)

    if township:
        i = area_ids.index(township)
        return pd.DataFrame({
            "类别": [zh for _, zh, _ in coverage.CATEGORIES],
            "老人数": total[i].round().astype(int),
            "步行可达": covered[i].round().astype(int),
            "未覆盖": (total[i] - covered[i]).round().astype(int),
            "覆盖率": share(covered[i], total[i]),
            "全区覆盖率": share(covered.sum(axis=0), total.sum(axis=0)),
        })
    frame = pd.DataFrame({"乡镇（街道）": [names.get(a, a) for a in area_ids],
                          "60岁以上老人数": total[:, 0].round().astype(int)}, index=pd.Index(area_ids, name="code"))
    for k, (_, zh, _) in enumerate(coverage.CATEGORIES):
        frame[zh] = share(covered[:, k], total[:, k])
    frame = frame.sort_values(coverage.CATEGORIES[0][1], na_position="last")
    whole = {"乡镇（街道）": "全区", "60岁以上老人数": int(round(total[:, 0].sum()))}
    whole |= {zh: share(covered[:, k].sum(), total[:, k].sum()) for k, (_, zh, _) in enumerate(coverage.CATEGORIES)}
    return pd.concat([frame, pd.DataFrame([whole], index=pd.Index([DISTRICT], name="code"))])


def gap_rows(eng, gaps, townships: pd.DataFrame, communities: dict[str, str], cands=None) -> pd.DataFrame:
    """The clusters as rows: where they are (township, village / community, centre), how many they hold, and
    (given the candidates their best sites name) where a new station would cover most of each."""
    names = _names(townships)
    g80 = eng.model.weights[:, coverage.CATEGORY_IDS.index("age_80_plus")]
    elders = eng.model.weights[:, 0]
    twp, com = eng.groups["township_code"].to_numpy(), eng.groups["community_code"].to_numpy()
    lon, lat = eng.groups.geometry.x.to_numpy(), eng.groups.geometry.y.to_numpy()
    def site(best) -> tuple[float, float]:
        lonlat = scenarios.best_site_lonlat(cands, best) if cands is not None else None
        return (round(lonlat[0], 5), round(lonlat[1], 5)) if lonlat else (np.nan, np.nan)

    rows = []
    for g in gaps:
        p, w = g.points, np.maximum(elders[g.points], 1e-9)

        def most(codes):
            vals, n = np.unique(codes, return_counts=True)
            return vals[np.argmax(n)]

        rows.append({"排名": g.rank, "所在乡镇": names.get(most(twp[p]), ""),
                     "主要村（社区）": communities.get(most(com[p]), ""),
                     "未覆盖老人": int(round(elders[p].sum())), "其中80岁以上": int(round(g80[p].sum())),
                     "加权缺口": round(g.weight, 1), "最佳单点可覆盖": g.best_site_share if g.best_site is not None else np.nan,
                     "中心经度": round(float(np.average(lon[p], weights=w)), 5),
                     "中心纬度": round(float(np.average(lat[p], weights=w)), 5),
                     **dict(zip(("建议选址经度", "建议选址纬度"), site(g.best_site), strict=True))})
    return pd.DataFrame(rows, columns=["排名", "所在乡镇", "主要村（社区）", "未覆盖老人", "其中80岁以上", "加权缺口",
                                       "最佳单点可覆盖", "中心经度", "中心纬度", "建议选址经度", "建议选址纬度"])


def four_sync_rows(frame: pd.DataFrame, townships: pd.DataFrame, township: str | None) -> pd.DataFrame:
    """Projects that break a rule (the area's only), with the rules and the reasons."""
    cols = ["项目", "所在乡镇", "户数", "状态", "不合规项", "原因", "经度", "纬度"]
    if frame.empty:
        return pd.DataFrame(columns=cols)
    bad = frame[frame["status"] == "violation"]
    if township:
        bad = bad[bad["township_code"] == township]
    names = _names(townships)
    return pd.DataFrame({"项目": bad["name"], "所在乡镇": [names.get(c, c) for c in bad["township_code"]],
                         "户数": bad["households"], "状态": bad["status"].map(four_sync.OVERALL_ZH),
                         "不合规项": bad["failed_rule_names"], "原因": bad["reasons"], "经度": bad["lon"], "纬度": bad["lat"]},
                        columns=cols).reset_index(drop=True)


def _headline(card: Scorecard, area: str, table: pd.DataFrame, elders: int, sites: int,
              walk_minutes: float, across: coverage.AcrossBorder | None = None) -> dict[str, str]:
    walk = card.cell("walk15_coverage", area)["value"] if "walk15_coverage" in card.cells["target_id"].values else None
    beds = card.cell("beds_per_1000", area)["value"] if "beds_per_1000" in card.cells["target_id"].values else None
    return {
        "达标指标": f"{sc.count_lights(table['light'])['green']} / {len(table)}",
        f"{walk_minutes:g}分钟步行覆盖率": sc.fmt_value(walk, "%") if walk is not None else "—",
        "每千名老年人养老床位": sc.fmt_value(beds, "per_1000") if beds is not None else "—",
        "60岁以上老人": f"{elders:,}",
        "运营中养老服务设施": f"{sites:,}",
        # a district with neighbours in its city: the elders only a neighbouring district's sites reach, apart
        **({"跨区可达老人": f"{across.total(area=None if area == DISTRICT else area)[1]:,.0f}"
                          f"（{'已计入' if across.counted else '未计入'}覆盖率）"} if across is not None else {}),
    }


def _kinds() -> dict[str, tuple[str, str]]:
    return {k.id: (k.name_zh, k.colour) for k in get_config().facility_kinds if k.care_service}


def _area(township: str | None) -> frozenset[str] | None:
    """The townships a report of ``township`` may show (services.scoped), whoever asks: None for the district."""
    return frozenset([township]) if township else None


def _map_layers(eng, layers, result, township: str | None, sites: scoped.SitesInView, res: int,
                **extra) -> MapLayers:
    return MapLayers(outline=layers.outline, townships=layers.townships, facilities=sites.own,
                     covered=coverage.weight_hexes(eng, result.covered, "elders", res, townships=_area(township)),
                     uncovered=coverage.weight_hexes(eng, ~result.covered, "elders", res, townships=_area(township)),
                     focus=township, neighbours=sites.neighbours, **extra)


def scenario_name(ref: DataRef, scenario_id: int) -> str:
    listing = scenarios.scenario_list(ref)
    row = listing[listing["id"] == scenario_id]
    if row.empty:
        have = "、".join(f"{i}（{n}）" for i, n in zip(listing["id"], listing["name"], strict=True)) or "无"
        msg = f"情景 {scenario_id} 不存在；已有情景：{have}"
        raise ReportError(msg)
    return str(row["name"].iloc[0])


def _scenario_part(ref: DataRef, eng, layers, scenario_id: int, name: str, township: str | None,
                   cutoff_m: float) -> ScenarioPart:
    changes = scenarios.scenario_call(ref, lambda r: r.changes(scenario_id))
    cmp = scenarios.compare(ref, eng, changes, sc.care_kind_ids(), cutoff_m)
    s = scenarios.area_summary(cmp, "elders", township)
    items = [("步行可达老人", *s.covered, "count"), ("步行覆盖率", *(x * 100 for x in s.share), "%"),
             ("计入站点", *s.sites, "count"), ("每千名老年人养老床位", *s.beds_per_1000, "per_1000")]
    summary = pd.DataFrame([{"指标": label, "before": b, "after": a, "change": a - b,
                             "现状": sc.fmt_value(b, unit), "情景": sc.fmt_value(a, unit),
                             "变化": ("+" if a - b >= 0 else "−") + sc.fmt_value(abs(a - b), unit).rstrip("%")
                             + (" 个百分点" if unit == "%" else "")}
                            for label, b, a, unit in items])
    names = _names(layers.townships)
    t = cmp.diff.table("elders")
    if township:
        t = t.loc[[township]]
    towns = pd.DataFrame({"乡镇（街道）": [names.get(a, a) for a in t.index], "老人数": t["total"].round().astype(int),
                          "现状覆盖": t["before"].round().astype(int), "情景覆盖": t["after"].round().astype(int),
                          "变化": t["change"].round().astype(int), "现状覆盖率": t["share_before"],
                          "情景覆盖率": t["share_after"]}, index=t.index)
    towns = towns.sort_values("变化", key=np.abs, ascending=False, kind="stable")
    before = scoped.sites_in_view(eng, cmp.before.counted, cmp.before.sites, _area(township), cutoff_m=cutoff_m)
    after = scoped.sites_in_view(eng, cmp.after.counted, cmp.after.sites, _area(township), cutoff_m=cutoff_m)
    res = density_resolution(ref, township, coverage=True)
    opened = after.own[~after.own["id"].isin(set(cmp.before.counted["id"]))]  # the area's own changes only
    closed = before.own[~before.own["id"].isin(set(cmp.after.counted["id"]))]
    return ScenarioPart(
        scenario_id=scenario_id, name=name, n_changes=len(changes), summary=summary,
        townships=towns,
        before=_map_layers(eng, layers, cmp.before.result, township, before, res, closed=closed),
        after=_map_layers(eng, layers, cmp.after.result, township, after, res, opened=opened),
    )


def collect(ref: DataRef, request: ReportRequest, *, progress: Progress = lambda _f, _m: None) -> Report:
    """Everything the report shows, for the district or one township of the database at ``ref``."""
    config = get_config()
    layers = base_layers(ref)
    names = _names(layers.townships)
    township = request.township
    if township is not None and township not in names:
        listing = "、".join(f"{c} {n}" for c, n in names.items())
        msg = f"乡镇代码 {township!r} 不在本区；可选：{listing}"
        raise ReportError(msg)
    wants_scenario = request.scenario_id is not None and "scenario" in request.sections
    name = scenario_name(ref, request.scenario_id) if wants_scenario else ""
    progress(0.05, "计算考核指标 …")
    card = sc.scorecard(ref)
    area = township or DISTRICT
    table = scorecard_table(card, area, district_compare=township is not None)
    progress(0.25, "计算15分钟步行覆盖 …")
    eng = coverage.engine(ref)
    result = sc.walk_result(eng)
    minutes = config.scorecard.walk_minutes
    care = sc.care_kind_ids()
    across = (coverage.across_border(eng, care, minutes, config.walking.speed_mps)
              if coverage.border_sites(eng, care) is not None else None)
    cutoff_m = walk_cutoff_m(minutes, config.walking.speed_mps)
    matrix = lights = None
    if township is None:
        matrix, lights = card.matrix("value"), card.matrix("light")
        order = [c for c in layers.townships["code"] if c in matrix.index]  # the official code order
        matrix, lights = matrix.loc[order], lights.loc[order]
        matrix.index = lights.index = [names.get(c, c) for c in order]
    gaps = pd.DataFrame()
    if "gaps" in request.sections:
        progress(0.4, "查找未覆盖老人集中片区 …")
        found, cands = scenarios.area_gaps(ref, eng, result, township, top=TOP_GAPS)
        gaps = gap_rows(eng, found, layers.townships, _community_names(ref), cands)
    progress(0.55, "检查四同步 …")
    _, checked = four_sync.checks(ref)
    scenario = None
    if wants_scenario:
        progress(0.65, "计算情景前后对比 …")
        scenario = _scenario_part(ref, eng, layers, request.scenario_id, name, township, cutoff_m)
    since = None
    if request.since is not None and "since" in request.sections:
        progress(0.7, "计算与基期的对比 …")
        then, dated = sc.scorecard_since(ref, request.since)
        mapped = next((t for t in card.targets if t.id == CHANGE_MAP_TARGET), None) if township is None else None
        since = SincePart(request.since, sc.baseline_words(dated), sc.since_rows(card, then, area),
                          mapped.label_zh if mapped else None,
                          sc.township_change(card, then, mapped) if mapped else None)
    progress(0.75, "整理地图图层 …")
    # a township's report shows its own sites, and its neighbours' that serve it as kind and position only
    sites = coverage.visible_sites(ref, sc.care_kind_ids(), _area(township), cutoff_m)
    zone = config.app.zone
    return Report(
        request=request, district_name=str(layers.outline["name"].iloc[0]),
        area_name=names[township] if township else str(layers.outline["name"].iloc[0]),
        data_date=layers.meta.get("data_date", "—"), generated_at=dt.datetime.now(zone).replace(microsecond=0),
        is_demo=layers.meta.get("is_demo") == "true", walk_minutes=minutes,
        headline=_headline(card, area, table, area_kpis(layers, township).elders_60_plus,
                           len(sites.own), minutes, across),
        scorecard=table,
        matrix=matrix, matrix_lights=lights,
        coverage=coverage_table(result, layers.townships, township),
        gaps=gaps, four_sync=four_sync_rows(checked, layers.townships, township), scenario=scenario,
        map_layers=_map_layers(eng, layers, result, township, sites, density_resolution(ref, township, coverage=True)),
        kinds=_kinds(), since=since,
        # the district's own words when it has them (the demo's, in its meta), else its versions' files and dates
        sources_zh=layers.meta.get("sources_zh") or repo_call(ref, lambda r: r.version_sources_zh()),
    )



def _community_names(ref: DataRef) -> dict[str, str]:
    frame = repo_call(ref, lambda r: r.communities())
    return dict(zip(frame["code"], frame["name"], strict=True))
