"""The joint meeting's deck (养老服务联席会议): the agenda's slides gathered from the services.

One ``Deck`` feeds the PowerPoint file (reports/deck_pptx.py), its PDF and 会议模式 (reports/deck_html.py), so
the projector, the file sent round and the printed copy say the same. A slide holds its figures as numbers
(tables and charts, the unit in the column's title), its maps as PNG with their legend, and speaker notes that say
each figure's numerator, denominator and the data versions it was computed from.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import Point

from reports.content import CHANGE_MAP_TARGET, Progress, Report, ReportError, ReportRequest, collect
from reports.static_map import render_fill_map, render_map
from services import decisions
from services import scorecard as sc
from services.access import Scope
from services.base import DataRef, get_config
from services.cache import memo
from services.scorecard import DISTRICT, LIGHT_ZH

SLIDES = {  # id -> title; the default agenda, in order
    "cover": "封面",
    "decisions": "上次会议督办事项",
    "scorecard": "考核指标：红黄绿灯与变化",
    "ranking": "乡镇排名",
    "gaps": "未覆盖老人集中片区与建议选址",
    "four_sync": "新建住宅四同步问题",
    "scenario": "提请决策的规划情景",
}
UNIT_ZH = {"%": "%", "pp": "百分点", "per_1000": "张/千人", "count": "个"}
LIGHT_FILL = {"green": "#66bb6a", "amber": "#ffca28", "red": "#ef5350", "none": "#e0e0e0",
              "not_judged": "#e0e0e0", "not_evaluated": "#e0e0e0"}
TOP_ROWS = 8  # rows of a slide's table: what reads from the back of the room


@dataclass(frozen=True)
class Column:
    title: str
    kind: str = "text"  # text | int (counts) | dec1 (one decimal) | num (whole numbers as int, others dec1)
    #                     | light (a traffic light's id, shown in words)


@dataclass(frozen=True)
class Table:
    columns: tuple[Column, ...]
    rows: tuple[tuple, ...]  # raw values: str, int, float (NaN shown as —), a light id in a light column

    def text(self, i: int, j: int) -> str:
        return cell_text(self.rows[i][j], self.columns[j].kind)


def cell_text(value, kind: str) -> str:
    """A cell as the slide shows it: counts with thousands separators, decimals to one place, lights in words."""
    if kind == "light":
        return LIGHT_ZH.get(value, "—")
    if value is None or isinstance(value, float) and not math.isfinite(value):
        return "—"
    if kind == "int":
        return f"{int(round(value)):,}"
    if kind == "dec1" or kind == "num" and value != round(value):
        return f"{value:,.1f}"
    if kind == "num":
        return f"{int(value):,}"
    return str(value)


@dataclass(frozen=True)
class Chart:
    """A bar chart: categories (township names, say) and one or more series of numbers in ``unit``."""

    title: str
    categories: tuple[str, ...]
    series: tuple[tuple[str, tuple[float, ...]], ...]
    unit: str
    colours: tuple[str, ...] = ()  # one per category (a light's colour), else the series' own


@dataclass(frozen=True)
class Picture:
    png: bytes
    caption: str


@dataclass(frozen=True)
class Slide:
    id: str
    title: str
    lead: str = ""  # the slide's message in one line
    kpis: tuple[tuple[str, str], ...] = ()  # (label, value text): the cover's large figures
    table: Table | None = None
    chart: Chart | None = None
    pictures: tuple[Picture, ...] = ()
    bullets: tuple[str, ...] = ()
    notes: str = ""


@dataclass(frozen=True)
class DeckRequest:
    township: str | None = None  # a township head's meeting: their township only
    since: dt.date | None = None  # what changed since this data date
    target_id: str = CHANGE_MAP_TARGET  # the ranking slide's target
    scenario_id: int | None = None  # the scenario proposed for decision
    agenda: tuple[str, ...] = tuple(SLIDES)  # the slides shown, in order
    as_of: dt.date | None = None  # the meeting's data date, when ``ref`` is the data as it stood then

    def __post_init__(self) -> None:
        unknown = [s for s in self.agenda if s not in SLIDES]
        if unknown or len(set(self.agenda)) != len(self.agenda):
            what = f"未知的幻灯片 {unknown}" if unknown else f"幻灯片重复：{list(self.agenda)}"
            msg = f"{what}；可选：{', '.join(SLIDES)}"
            raise ReportError(msg)


@dataclass(frozen=True)
class Deck:
    request: DeckRequest
    title: str
    area_name: str
    data_date: str
    generated_at: dt.datetime
    is_demo: bool
    versions_zh: str
    slides: tuple[Slide, ...] = field(default_factory=tuple)


def collect_deck(ref: DataRef, request: DeckRequest, *, on: dt.date | None = None,
                 progress: Progress = lambda _f, _m: None) -> Deck:
    """The meeting's slides for the district (or ``request.township``) of the database at ``ref``; the decisions'
    status as of ``on`` (default today)."""
    targets = {t.id: t for t in get_config().targets}
    if request.target_id not in targets:
        msg = f"未知的考核指标 {request.target_id!r}；可选：{', '.join(targets)}"
        raise ReportError(msg)
    wanted = set(request.agenda)
    sections = ["map", "scorecard", "gaps", "four_sync"]
    if "scenario" in wanted and request.scenario_id is not None:
        sections.append("scenario")
    if request.since is not None:
        sections.append("since")
    r = collect(ref, ReportRequest(township=request.township, scenario_id=request.scenario_id,
                                   sections=tuple(sections), since=request.since), progress=progress)
    progress(0.8, "绘制幻灯片 …")
    card = sc.scorecard(ref)
    if request.as_of is not None:  # a meeting on earlier data says so on every slide
        r = dataclasses.replace(r, data_date=str(request.as_of))
    versions = f"数据版本：{r.sources_zh}"
    scope = Scope(ref.district_code, frozenset([request.township])) if request.township else None
    makers = {
        "cover": lambda: _cover(r, request),
        "decisions": lambda: _decisions(decisions.board(ref, scope, on=on), versions),
        "scorecard": lambda: _scorecard(r, card, ref, versions),
        "ranking": lambda: _ranking(r, card, targets[request.target_id], versions),
        "gaps": lambda: _gaps(r, versions),
        "four_sync": lambda: _four_sync(r, versions),
        "scenario": lambda: _scenario(r, versions),
    }
    slides = tuple(s for s in (makers[i]() for i in request.agenda) if s is not None)
    return Deck(request=request, title=f"{r.area_name}养老服务联席会议", area_name=r.area_name,
                data_date=r.data_date, generated_at=r.generated_at, is_demo=r.is_demo, versions_zh=r.sources_zh,
                slides=slides)


@memo(kind="resource", ttl_s=600, max_entries=8, message="正在准备会议幻灯片 …")
def deck_for(ref: DataRef, request: DeckRequest, on: dt.date) -> Deck:
    """:func:`collect_deck`, kept for ten minutes: 会议模式 reopens at once, and the same data and agenda give the
    same slides (``ref`` names the data versions, so new data is a new deck)."""
    return collect_deck(ref, request, on=on)


def _cover(r: Report, request: DeckRequest) -> Slide:
    since = f" · 对比基期 {request.since}" if request.since else ""
    return Slide("cover", f"{r.area_name}养老服务联席会议",
                 lead=f"数据日期 {r.data_date}{since} · 生成于 {r.generated_at:%Y-%m-%d %H:%M}",
                 kpis=tuple(r.headline.items()),
                 bullets=("演示数据（合成），不代表任何真实地区",) if r.is_demo else (),
                 notes=f"封面数字与考核指标页同源。数据来源：{r.sources_zh}")


def _decisions(rows: pd.DataFrame, versions: str) -> Slide:
    title = SLIDES["decisions"]
    if rows.empty:
        return Slide("decisions", title, lead="尚未记录督办事项：本次会议的决定可在“督办事项”中登记，下次会议按数据跟踪。",
                     notes=versions)
    cols = (Column("事项"), Column("责任方"), Column("期限"), Column("状态"), Column("依据"))
    shown = rows.head(TOP_ROWS)
    table = Table(cols, tuple((x["title"], x["owner"], str(x["due"]), x["status_zh"], x["evidence"])
                              for x in shown.to_dict("records")))
    counts = rows["status_zh"].value_counts()
    lead = "；".join(f"{k} {v} 项" for k, v in counts.items())
    more = f"（另有 {len(rows) - len(shown)} 项见督办事项页）" if len(rows) > len(shown) else ""
    notes = "\n".join(f"{x['title']}：{x['status_zh']}。{x['evidence']}" for x in rows.to_dict("records"))
    return Slide("decisions", title, lead=lead + more, table=table, notes=f"{notes}\n{versions}")


def _scorecard(r: Report, card, ref: DataRef, versions: str) -> Slide:
    then = sc.scorecard_since(ref, r.since.date)[0] if r.since is not None else None
    return lights_slide(card, DISTRICT if r.township is None else r.township, then,
                        r.since.date if r.since is not None else None,
                        r.since.baseline if r.since is not None else "", versions)


def lights_slide(card, area: str, then, since: dt.date | None, baseline: str, versions: str) -> Slide:
    """Every target of ``area`` (a township, the district, or the city's ``DISTRICT`` cell): its light, its value
    now, and with a baseline its value then and the change; the notes say each numerator and denominator."""
    rows, notes = [], []
    cells = card.area(area)
    before = then.area(area) if then is not None else None
    for t in card.targets:
        c, m = cells.loc[t.id], t.measure
        v0 = before.loc[t.id, "value"] if before is not None else np.nan
        rows.append((t.label_zh, UNIT_ZH.get(t.unit, t.unit), c["light"], v0, c["value"], c["value"] - v0,
                     t.target))
        notes.append(f"{t.label_zh}：{sc.fmt_value(c['value'], t.unit)}（{m.numerator.label_zh} "
                     f"{sc.fmt_amount(c['numerator'])}"
                     + (f"；{m.denominator.label_zh} {sc.fmt_amount(c['denominator'])}）" if m.denominator else "）")
                     + (f"；{sc.change_text(card, t, c)}" if sc.change_text(card, t, c) else ""))
    if since is None:  # no comparison chosen: the targets now
        rows = [(name, unit, light, now, goal) for name, unit, light, _then, now, _change, goal in rows]
        cols = (Column("指标"), Column("单位"), Column("状态", "light"), Column("现在", "num"), Column("目标", "num"))
    else:
        cols = (Column("指标"), Column("单位"), Column("状态", "light"), Column(f"基期 {since}", "num"),
                Column("现在", "num"), Column("变化", "num"), Column("目标", "num"))
    counts = sc.count_lights(cells["light"])
    lead = f"达标 {counts['green']} 项、接近 {counts['amber']} 项、未达标 {counts['red']} 项（共 {len(rows)} 项）"
    if before is not None:
        was = sc.count_lights(before["light"])
        lead += f"；基期 {since}：达标 {was['green']}、接近 {was['amber']}、未达标 {was['red']}"
    return Slide("scorecard", SLIDES["scorecard"], lead=lead, table=Table(cols, tuple(rows)),
                 notes="\n".join(notes) + (f"\n{baseline}" if baseline else "") + f"\n{versions}")


def _ranking(r: Report, card, target, versions: str) -> Slide:
    if r.township is not None:  # a township's meeting: its own cells and ranks, no other township's value
        rows = []
        for x in r.scorecard.to_dict("records"):
            rows.append((x["指标"], UNIT_ZH.get(x["unit"], x["unit"]), x["light"], x["value"], x["district_value"],
                         x["排名"]))
        cols = (Column("指标"), Column("单位"), Column("状态", "light"), Column("本乡镇", "dec1"),
                Column("全区", "dec1"), Column("排名（全区乡镇）"))
        return Slide("ranking", f"{r.area_name}在全区的位置", lead="排名为在全区有数值的乡镇中的位次，第1名最好",
                     table=Table(cols, tuple(rows)), notes=versions)
    names = dict(zip(r.map_layers.townships["code"], r.map_layers.townships["name"], strict=True))
    return ranking_slide(card.townships(target.id), card.cell(target.id), target, names, r.map_layers.outline,
                         r.map_layers.townships, what="乡镇", whole="全区", versions=versions)


def ranking_slide(cells: pd.DataFrame, whole_cell, target, names: dict[str, str], outline, areas, *, what: str,
                  whole: str, versions: str) -> Slide:
    """The areas (a district's townships, a city's districts) ranked by one target: a map coloured by their
    lights and labelled with rank and value, the ranking as a bar chart, the ones short of it named."""
    unit = UNIT_ZH.get(target.unit, target.unit)
    valued = cells.dropna(subset=["value"])
    order = valued["value"].sort_values(ascending=target.direction != "at_least", kind="stable").index
    ranked = [(i + 1, code) for i, code in enumerate(order)]
    labels = pd.Series({code: f"{rank}. {sc.fmt_value(cells.loc[code, 'value'], target.unit)}"
                        for rank, code in ranked})
    fills = cells["light"].map(LIGHT_FILL)
    legend = {LIGHT_FILL[k]: LIGHT_ZH[k] for k in ("green", "amber", "red")} | {LIGHT_FILL["none"]: "无数值"}
    png = render_fill_map(outline, areas, fills, labels, legend=legend, title="", width_in=6.4, height_in=5.6,
                          dpi=160, label_size=6.5, min_label_share=0.01)
    short = [names.get(c, c) for c in valued.index if valued.loc[c, "light"] == "red"]
    lead = f"{target.label_zh}：{whole} {sc.fmt_value(whole_cell['value'], target.unit)}，目标 {sc.fmt_target(target)}"
    if ranked:
        best, worst = ranked[0][1], ranked[-1][1]
        lead += (f"；最好 {names.get(best, best)} {sc.fmt_value(cells.loc[best, 'value'], target.unit)}，"
                 f"最差 {names.get(worst, worst)} {sc.fmt_value(cells.loc[worst, 'value'], target.unit)}")
    chart = Chart(f"{target.label_zh}（{unit}）", tuple(names.get(c, c) for _, c in ranked),
                  (("现在", tuple(float(cells.loc[c, "value"]) for _, c in ranked)),), unit,
                  colours=tuple(LIGHT_FILL[cells.loc[c, "light"]] for _, c in ranked))
    m = target.measure
    notes = [f"{rank}. {names.get(c, c)}：{sc.fmt_value(cells.loc[c, 'value'], target.unit)}"
             f"（{m.numerator.label_zh} {sc.fmt_amount(cells.loc[c, 'numerator'])}"
             + (f"，{m.denominator.label_zh} {sc.fmt_amount(cells.loc[c, 'denominator'])}）" if m.denominator else "）")
             for rank, c in ranked]
    missing = [names.get(c, c) for c in cells.index if c not in set(order)]
    listed = "、".join(short[:6]) + (" 等（全部见备注）" if len(short) > 6 else "")
    bullets = (f"未达标{what} {len(short)} 个：{listed}",) if short else (f"所有{what}均达标或接近目标",)
    if missing:
        bullets += (f"无数值：{'、'.join(missing)}",)
    return Slide("ranking", f"{what}排名：{target.label_zh}", lead=lead, chart=chart,
                 pictures=(Picture(png, f"各{what}{target.label_zh}（标注：名次. 数值）"),), bullets=bullets,
                 notes="\n".join(notes) + f"\n{versions}")


def _gaps(r: Report, versions: str) -> Slide:
    title = SLIDES["gaps"]
    g = r.gaps.head(5)
    if g.empty:
        return Slide("gaps", title, lead=f"{r.minutes}分钟步行范围外没有成片的老人聚集区", notes=versions)
    sites = g.dropna(subset=["建议选址经度"])
    proposed = gpd.GeoDataFrame({"label": sites["排名"].to_numpy()},
                                geometry=[Point(x, y) for x, y in zip(sites["建议选址经度"], sites["建议选址纬度"],
                                                                      strict=True)], crs="EPSG:4326")
    layers = dataclasses.replace(r.map_layers, proposed=proposed)
    png = render_map(layers, kinds=r.kinds, width_in=6.4, height_in=5.4, dpi=160, legend_cols=2)
    rows = tuple((x["排名"], x["所在乡镇"], x["主要村（社区）"], x["未覆盖老人"], x["其中80岁以上"],
                  x["最佳单点可覆盖"] * 100 if np.isfinite(x["最佳单点可覆盖"]) else np.nan)
                 for x in g.to_dict("records"))
    cols = (Column("编号", "int"), Column("所在乡镇"), Column("主要村（社区）"), Column("未覆盖老人", "int"),
            Column("其中80岁以上", "int"), Column("建议选址可覆盖（%）", "dec1"))
    total = int(g["未覆盖老人"].sum())
    notes = [f"{x['排名']}. {x['所在乡镇']}{x['主要村（社区）']}：未覆盖 {x['未覆盖老人']:,} 人（80岁以上 {x['其中80岁以上']:,}），"
             f"中心 {x['中心经度']:.5f}, {x['中心纬度']:.5f}；建议选址 {x['建议选址经度']:.5f}, {x['建议选址纬度']:.5f}，"
             f"可覆盖该片 {cell_text(x['最佳单点可覆盖'] * 100, 'dec1')}%" for x in g.to_dict("records")]
    return Slide("gaps", title, lead=f"最大的 {len(g)} 片共有 {total:,} 名老人在{r.minutes}分钟步行范围外",
                 table=Table(cols, rows), pictures=(Picture(png, "未覆盖老人与建议选址（★ 编号同表）"),),
                 notes="\n".join(notes) + f"\n{versions}")


def _four_sync(r: Report, versions: str) -> Slide:
    title = SLIDES["four_sync"]
    bad = r.four_sync
    if bad.empty:
        return Slide("four_sync", title, lead="所有新建住宅项目均符合四同步要求", notes=versions)
    shown = bad.head(TOP_ROWS)
    cols = (Column("项目"), Column("所在乡镇"), Column("户数", "int"), Column("不合规项"))
    rows = tuple((x["项目"], x["所在乡镇"], x["户数"], x["不合规项"]) for x in shown.to_dict("records"))
    more = f"，表中为前 {len(shown)} 个" if len(bad) > len(shown) else ""
    notes = "\n".join(f"{x['项目']}（{x['所在乡镇']}，{x['户数']:,} 户）：{x['原因']}" for x in bad.to_dict("records"))
    return Slide("four_sync", title, lead=f"{len(bad)} 个项目不合规{more}", table=Table(cols, rows),
                 notes=f"{notes}\n{versions}")


def _scenario(r: Report, versions: str) -> Slide | None:
    s = r.scenario
    if s is None:
        return None
    units = {"步行可达老人": "人", "步行覆盖率": "%", "计入站点": "个", "每千名老年人养老床位": "张/千人"}

    def shown(value: float, label: str) -> float:  # people and sites whole, rates to one decimal as on the page
        return float(round(value)) if units.get(label) in ("人", "个") else round(float(value), 1)

    rows = tuple((x["指标"], units.get(x["指标"], ""), shown(x["before"], x["指标"]), shown(x["after"], x["指标"]),
                  shown(x["after"], x["指标"]) - shown(x["before"], x["指标"])) for x in s.summary.to_dict("records"))
    cols = (Column("指标"), Column("单位"), Column("现状", "num"), Column("情景", "num"), Column("变化", "num"))
    pictures = tuple(Picture(render_map(getattr(s, k), kinds=r.kinds, width_in=4.6, height_in=4.2, dpi=160,
                                        legend_cols=2), label) for k, label in (("before", "现状"), ("after", "情景")))
    notes = "\n".join(f"{x['指标']}：现状 {x['现状']}，情景 {x['情景']}，变化 {x['变化']}" for x in s.summary.to_dict("records"))
    return Slide("scenario", f"提请决策：{s.name}", lead=f"情景含 {s.n_changes} 处调整；覆盖按同一步行网络与速度计算",
                 table=Table(cols, rows), pictures=pictures, notes=f"{notes}\n{versions}")


CITY_SLIDES = ("cover", "decisions", "scorecard", "ranking")  # a city's meeting; gaps, four-sync and scenarios are
# each district's own (their slides come from the district's meeting)


def collect_city_deck(city, refs: tuple[DataRef, ...], request: DeckRequest, *, on: dt.date | None = None,
                      progress: Progress = lambda _f, _m: None) -> Deck:
    """A city's meeting: its cover, every district's 督办事项, the city's targets (each district's card summed) with
    what changed since the baseline, and the districts ranked by a target on the city's map."""
    from reports.city import city_report
    from services.city import city_outline

    other = [s for s in request.agenda if s not in CITY_SLIDES]
    if other or request.township is not None:
        what = f"幻灯片 {other}" if other else "乡镇范围"
        msg = f"全市会议没有{what}；可选：{', '.join(CITY_SLIDES)}（缺口、四同步与情景见各区县的会议）"
        raise ReportError(msg)
    progress(0.1, "汇总各区县考核指标 …")
    r = city_report(city, refs, target=request.target_id, since=request.since)
    card, target = r.card, next(t for t in r.card.targets if t.id == request.target_id)
    versions = f"数据：各区县数据日期 {'、'.join(r.data_dates)}；{r.computed}"
    data_date = str(request.as_of) if request.as_of else max(r.data_dates)
    zone = get_config().app.zone
    generated = dt.datetime.now(zone).replace(microsecond=0)
    progress(0.6, "整理督办事项 …")
    boards = []
    for ref in refs:  # every district's items, its name before the owner
        b = decisions.board(ref, None, on=on)
        boards.append(b.assign(owner=r.names[ref.district_code] + " " + b["owner"]))
    board = pd.concat(boards, ignore_index=True)
    order = {s: i for i, s in enumerate(decisions.STATES)}  # what needs action first, then by due date
    board = board.assign(_o=board["status"].map(order)).sort_values(["_o", "due"], kind="stable").drop(columns="_o")
    counts = sc.count_lights(card.area(DISTRICT)["light"])
    walk = card.cell("walk15_coverage")["value"] if "walk15_coverage" in {t.id for t in card.targets} else np.nan
    since = f" · 对比基期 {request.since}" if request.since else ""
    cover = Slide("cover", f"{city.name}养老服务联席会议",
                  lead=f"数据日期 {data_date}{since} · 生成于 {generated:%Y-%m-%d %H:%M}",
                  kpis=(("达标指标", f"{counts['green']} / {len(card.targets)}"), ("区县", f"{len(refs)}"),
                        (f"{get_config().scorecard.walk_minutes:g}分钟步行覆盖率", sc.fmt_value(walk, "%")),
                        ("未达标区县（" + target.label_zh[:8] + "）",
                         f"{int((card.townships(target.id)['light'] == 'red').sum())}")),
                  bullets=("演示数据（合成），不代表任何真实地区",) if r.is_demo else (),
                  notes=versions)
    progress(0.8, "绘制全市地图 …")
    makers = {
        "cover": lambda: cover,
        "decisions": lambda: _decisions(board, versions),
        "scorecard": lambda: lights_slide(card, DISTRICT, r.then, request.since, r.baseline_words, versions),
        "ranking": lambda: ranking_slide(card.townships(target.id), card.cell(target.id), target, r.names,
                                         city_outline(r.outlines, city), r.outlines, what="区县", whole="全市",
                                         versions=versions),
    }
    return Deck(request=request, title=f"{city.name}养老服务联席会议", area_name=city.name, data_date=data_date,
                generated_at=generated, is_demo=r.is_demo, versions_zh=versions,
                slides=tuple(makers[i]() for i in request.agenda))


@memo(kind="resource", ttl_s=600, max_entries=4, message="正在准备全市会议幻灯片 …")
def city_deck_for(url: str, city_code: str, refs: tuple[DataRef, ...], request: DeckRequest, on: dt.date) -> Deck:
    """:func:`collect_city_deck` of the city ``city_code``, kept for ten minutes (``refs`` name the data)."""
    from services.city import city_named

    return collect_city_deck(city_named(url, city_code), refs, request, on=on)
