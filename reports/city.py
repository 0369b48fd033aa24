"""The city's reports (issue 29, item 3): the workbook (every district × every target, numbers as numbers) and
the PDF (the city, then a page per district).

Workbook sheets: 全市 (each target for the city: value, target, light, numerator, denominator), 区县×指标 (districts ×
targets, values, each cell coloured by its light as the pages colour it), 明细 (every cell with the district's name,
the target's label and unit, numerator and denominator). Text cells pass through reports.cells (no formula runs).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
from markupsafe import Markup

from reports.cells import safe_frame
from reports.content import DEMO_LABEL, scorecard_table
from reports.pdf import TEMPLATES, _css_string, _data_uri, _env
from reports.static_map import CHANGE_FILL, CHANGE_LABEL, render_fill_map, use_cjk_font
from reports.workbook import fill_of
from services.base import DataRef, get_config, repo_call
from services.city import (
    City,
    CityError,
    area_cards,
    cards_computed,
    city_card_since,
    data_dates,
    district_outlines,
    since_words,
)
from services.scorecard import (
    DISTRICT,
    LIGHT_COLOURS,
    LIGHT_ZH,
    Scorecard,
    count_lights,
    fmt_value,
    since_rows,
    township_change,
)

# the maps' fills, strong enough to read on paper (the tables keep the pale LIGHT_COLOURS)
MAP_FILL = {"green": "#66bb6a", "amber": "#ffca28", "red": "#e53935", "none": "#e0e0e0", "not_judged": "#e0e0e0",
            "not_evaluated": "#e0e0e0"}


@dataclass(frozen=True)
class CityReport:
    """What the city's PDF shows (gathered by services.city.city_report)."""

    code: str
    name: str
    card: Scorecard                 # the city's card: its areas are the districts (planning.scorecard.city_scorecard)
    names: dict[str, str]           # district code → name, in the city's order
    outlines: gpd.GeoDataFrame      # code, name, geometry (WGS84): one row per district
    townships: dict[str, gpd.GeoDataFrame]  # district code → its townships (code, name, geometry)
    township_cells: dict[str, pd.DataFrame]  # district code → its townships' value and light of the map target
    map_target: str                 # the target the maps colour
    data_dates: tuple[str, ...]
    is_demo: bool
    generated_at: dt.datetime
    since: dt.date | None = None
    then: Scorecard | None = None   # the city's card at ``since``
    baseline_words: str = ""
    computed: str = ""  # when the districts' cards were computed, stale ones named (services.city.cards_computed)

    @property
    def title(self) -> str:
        return city_title(self.name)


def city_title(city_name: str) -> str:
    """The title of the city's reports (the PDF's and the workbook's)."""
    return f"{city_name}养老服务规划目标对照（全市及各区县）"


def city_sheets(card: Scorecard, names: dict[str, str], city_name: str) -> dict[str, pd.DataFrame]:
    """The workbook's sheets as frames (``card``: a city's card, planning.scorecard.city_scorecard)."""
    targets = {t.id: t for t in card.targets}
    whole = card.area(DISTRICT)
    city = pd.DataFrame({
        "指标": [targets[t].label_zh for t in whole.index], "单位": [targets[t].unit for t in whole.index],
        "实际值": whole["value"].to_numpy(), "目标": [targets[t].target for t in whole.index],
        "状态": whole["light"].map(LIGHT_ZH).to_numpy(), "分子": whole["numerator"].to_numpy(),
        "分母": whole["denominator"].to_numpy()})
    matrix = card.matrix("value")
    matrix.index = [names.get(c, c) for c in matrix.index]
    matrix.columns = [targets[t].label_zh for t in matrix.columns]
    detail = card.cells.copy()
    detail.insert(1, "指标", [targets[t].label_zh for t in detail["target_id"]])
    detail.insert(3, "区县", [city_name if a == DISTRICT else names.get(a, a) for a in detail["area"]])
    detail["状态"] = detail["light"].map(LIGHT_ZH)
    return {"全市": city, "区县×指标": matrix.rename_axis("区县").reset_index(), "明细": detail}


def city_workbook(card: Scorecard, names: dict[str, str], city_name: str) -> bytes:
    """The workbook as xlsx bytes."""
    buf = io.BytesIO()
    lights = card.matrix("light")
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        for name, frame in city_sheets(card, names, city_name).items():
            safe_frame(frame).replace({np.nan: None}).to_excel(xw, sheet_name=name, index=False)
            if name == "区县×指标":  # each value coloured by its light, as on the page
                ws = xw.sheets[name]
                for i, row in enumerate(lights.itertuples(index=False), start=2):
                    for j, light in enumerate(row, start=2):
                        ws.cell(i, j).fill = fill_of(LIGHT_COLOURS[light])
        xw.book.properties.title = city_title(city_name)
        xw.book.properties.creator = "养老服务一张图"
    return buf.getvalue()


def city_report(city: City, refs: tuple[DataRef, ...], *, target: str, since: dt.date | None = None) -> CityReport:
    """Everything the city's PDF shows, at ``refs`` (services.city.district_refs), maps coloured by ``target``."""
    config = get_config()
    cards = area_cards(refs)
    card = cards.card
    if target not in {t.id for t in card.targets}:
        msg = f"没有指标 {target}；可选：{'、'.join(t.id for t in card.targets)}"
        raise CityError(msg)
    names = city.names
    towns = {ref.district_code: repo_call(ref.only(("townships",)), lambda r: r.townships())[["code", "name", "geometry"]]
             for ref in refs}
    cells = {code: c.townships(target) for code, c in cards.cards.items()}  # the cards the city sums
    then, words = None, ""
    if since is not None:
        then, dated = city_card_since(refs, since)
        words = since_words(dated, names)
    return CityReport(code=city.code, name=city.name, card=card, names=names, outlines=district_outlines(refs),
                      townships=towns, township_cells=cells,
                      map_target=target, data_dates=tuple(data_dates(refs)),
                      is_demo=bool(city.districts["is_demo"].all()),
                      generated_at=dt.datetime.now(config.app.zone).replace(microsecond=0), since=since, then=then,
                      baseline_words=words, computed=cards_computed(cards, names))


def _target(r: CityReport):
    return next(t for t in r.card.targets if t.id == r.map_target)


def _lights(cells: pd.DataFrame, names: dict[str, str], unit: str) -> tuple[pd.Series, pd.Series, dict[str, str]]:
    """Fills, labels (name and value) and legend of areas coloured by their light for one target."""
    labels = pd.Series({c: f"{names.get(c, c)}\n{fmt_value(v, unit)}" for c, v in cells["value"].items()}, dtype=str)
    return cells["light"].map(MAP_FILL), labels, {MAP_FILL[k]: LIGHT_ZH[k] for k in dict.fromkeys(cells["light"])}


def _city_map(r: CityReport, *, change: bool = False) -> str:
    """The districts coloured by the map target's light (or its change since the baseline), each labelled but
    the smallest (the central districts: their values are on their own pages)."""
    target = _target(r)
    if change:
        shown = township_change(r.card, r.then, target)
        fills = shown["light"].map(CHANGE_FILL)
        labels = pd.Series({c: f"{r.names.get(c, c)}\n{shown.loc[c, 'text']}" for c in shown.index}, dtype=str)
        legend = {CHANGE_FILL[k]: v for k, v in CHANGE_LABEL.items()}
    else:
        fills, labels, legend = _lights(r.card.townships(r.map_target), r.names, target.unit)
    title = f"{target.label_zh}：较 {r.since} 变化" if change else target.label_zh
    outline = gpd.GeoDataFrame(geometry=[r.outlines.union_all()], crs=r.outlines.crs)
    return _data_uri(render_fill_map(outline, r.outlines, fills, labels, legend=legend, title=title,
                                     min_label_share=0.015))


def _district_map(r: CityReport, code: str) -> str:
    """A district's townships coloured by the map target's light, as its own overview colours them."""
    target = _target(r)
    towns = r.townships[code]
    fills, labels, legend = _lights(r.township_cells[code], dict(zip(towns["code"], towns["name"], strict=True)),
                                    target.unit)
    return _data_uri(render_fill_map(r.outlines.loc[[code]], towns, fills, labels, legend=legend,
                                     title=f"{r.names[code]}各乡镇（街道）：{target.label_zh}", width_in=5.2,
                                     height_in=4.3, dpi=160, label_size=4.5, min_label_share=0.01))


def _district_rows(r: CityReport, code: str) -> list[dict]:
    """A district's targets: its value, light, the city's value and its rank among the districts; then and the
    change when there is a baseline."""
    rows = scorecard_table(r.card, code, district_compare=True).to_dict("records")
    if r.then is not None:
        then = since_rows(r.card, r.then, code).set_index("target_id")
        for row in rows:
            row |= {"基期": then.loc[row["target_id"], "then_text"], "变化": then.loc[row["target_id"], "change_text"]}
    return rows


def city_html(r: CityReport, *, progress: Callable[[float, str], None] = lambda _f, _m: None) -> str:
    """The PDF's HTML: the city (map, every target, the comparison), then one page per district."""
    whole = scorecard_table(r.card, DISTRICT, district_compare=False)
    counts = count_lights(whole["light"])
    progress(0.2, "绘制全市地图 …")
    maps = {"city": _city_map(r)}
    if r.then is not None:
        maps["since"] = _city_map(r, change=True)
    districts = []
    for i, code in enumerate(r.names, 1):
        progress(0.2 + 0.7 * i / len(r.names), f"区县 {i}/{len(r.names)}：{r.names[code]} …")
        rows = _district_rows(r, code)
        districts.append({"code": code, "name": r.names[code], "rows": rows,
                          "counts": count_lights(pd.Series([x["light"] for x in rows])),
                          "map": _district_map(r, code)})
    since = since_rows(r.card, r.then).to_dict("records") if r.then is not None else []
    left = f"{r.name} · 数据日期 {'、'.join(r.data_dates)}"
    return _env.get_template("city.html").render(
        r=r, whole=whole.to_dict("records"), counts=counts, maps=maps, districts=districts, since=since,
        map_label=_target(r).label_zh, light_zh=LIGHT_ZH,
        css=Markup((TEMPLATES / "report.css").read_text(encoding="utf-8")),  # noqa: S704 - our file
        footer_left=_css_string(left), footer_right=_css_string(DEMO_LABEL if r.is_demo else ""), demo_label=DEMO_LABEL)


def city_pdf(r: CityReport, *, progress: Callable[[float, str], None] = lambda _f, _m: None) -> bytes:
    """The city's A4 PDF (fonts embedded): the city first, then a page per district."""
    use_cjk_font()
    from weasyprint import HTML

    html = city_html(r, progress=progress)
    progress(0.95, "排版 PDF …")
    return HTML(string=html, base_url=str(TEMPLATES)).write_pdf()
