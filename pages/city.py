"""全市总览: every target for the city and each of its districts, the districts ranked on a city map, one click to a
district's own 联席会议总览 (and from there to a township's)."""

import datetime as dt

import streamlit as st
from streamlit_folium import st_folium

from dashboard import scorecard_views as views
from dashboard.components import audited_download, city_footer, city_page
from dashboard.i18n import pick
from dashboard.results_views import area_freshness
from dashboard.state import CITY_COMPARE, CITY_PDF, MAP_BASEMAP, SC_SINCE, SC_TARGET
from maps.elements import LocalAssets
from maps.pages import build_scorecard_map
from reports.city import city_pdf, city_report, city_workbook
from reports.static_map import FontMissingError
from services import base, city, scorecard

chosen, refs = city_page("city", pick("全市总览", "City overview"), pick("全省总览", "Province overview"))
whole_word = f"全{chosen.word}"  # 全市, or 全省 for a province's overview
config = base.get_config()
# a province opens from the stored cards only (its districts are computed by the batch, not on opening)
try:
    cards = city.area_cards(refs, compute_missing=chosen.level == "city")
except city.CityError as exc:  # a province none of whose districts the batch has computed yet
    st.info(str(exc))
    st.stop()
card = cards.card
names = chosen.names
st.caption(pick(f"{chosen.name} {len(names)} 个区县的规划目标对照：每个区县由其自己的数据计算，{whole_word}数值由各区县的分子、分母相加得出"
                "（每位老人、每张床位只在其所在区县计一次），不是各区数值的平均。",
                f"{len(names)} districts; the city's figures add their numerators and denominators."))
area_freshness(cards, refs, names)

views.light_metrics(card, met_label=pick(f"{whole_word}达标", "Met"), fourth=(pick("区县数", "Districts"), len(names), None))

st.subheader(pick(f"{whole_word}（{chosen.name}）", "City" if chosen.level == "city" else "Province"))
views.whole_area(card, config)

history = city.since_dates(refs) if chosen.level == "city" else []  # a province's baseline: not on opening
then, since = None, None
if history:
    st.subheader(pick("与基期对比", "Since a baseline"))
    # on request: the baseline is every district's card again, on the data as it stood then
    if st.toggle(pick("与较早的数据日期对比（计算各区县基期的全部指标）", "Compare with an earlier data date"),
                 key=CITY_COMPARE):
        if st.session_state.get(SC_SINCE) not in history:  # a year back, else a quarter, else the newest
            newest = max(dt.date.fromisoformat(d) for d in city.data_dates(refs) if d != "—")
            st.session_state[SC_SINCE] = scorecard.default_since(history, newest)
        since = st.selectbox(pick("基期（较早的数据日期）", "Baseline data date"), options=history, key=SC_SINCE)
        then, dated = city.city_card_since(refs, since)
        st.caption(city.since_words(dated, names))
        st.dataframe(views.since_table(card, then), hide_index=True, width="stretch",
                     height=views.table_height(len(card.targets)))

st.subheader(pick("按区县", "By district"))
labels = {t.id: pick(t.label_zh, t.label_en) for t in card.targets}
if st.session_state.get(SC_TARGET) not in labels:
    st.session_state[SC_TARGET] = "walk15_coverage" if "walk15_coverage" in labels else next(iter(labels))
left, right = st.columns([2, 3])
with left:
    tid = st.selectbox(pick("地图显示指标", "Target on the map"), options=list(labels), format_func=labels.get,
                       key=SC_TARGET)
    target = config.target(tid)
    cells = card.townships(tid)  # the city card's areas are its districts
    cells["text"] = [scorecard.fmt_value(v, target.unit) for v in cells["value"]]
    whole = card.cell(tid)
    st.markdown(pick(f"**{whole_word} {scorecard.fmt_value(whole['value'], target.unit)}**，目标 {scorecard.fmt_target(target)}",
                     f"**City {scorecard.fmt_value(whole['value'], target.unit)}**, target {scorecard.fmt_target(target)}"))
    ranks = {c: card.rank(tid, c) for c in cells.index}
    order = cells.sort_values("value", ascending=target.direction != "at_least", na_position="last").index
    ranking = cells.loc[order].assign(
        rank=[f"{ranks[c][0]} / {ranks[c][1]}" if ranks[c] else "—" for c in order],
        # one click, the target and the baseline kept
        name=[f"/scorecard?district={c}&target={tid}{'' if then is None else f'&since={since}'}#{names.get(c, c)}"
              for c in order],
        state=[views.light_label(x) for x in cells.loc[order, "light"]])
    st.dataframe(views.styled(ranking[["rank", "name", "text", "state"]], "state"), hide_index=True, width="stretch",
                 column_config={"rank": pick("名次", "Rank"), "text": labels[tid], "state": pick("状态", "Light"),
                                "name": st.column_config.LinkColumn(pick("区县（点击打开）", "District (open)"),
                                                                    display_text=r"#(.+)$")})
with right:
    outlines = city.district_outlines(refs)
    shown, label, legend = views.value_or_change(card, then, since, target, cells,
                                                 labels[tid])
    fmap = build_scorecard_map(city.city_outline(outlines, chosen), outlines, shown, label=label, legend=legend,
                               config=config, basemap_id=st.session_state[MAP_BASEMAP], assets=LocalAssets())
    st_folium(fmap, height=560, use_container_width=True, returned_objects=[], key="city_map")

with st.expander(pick("全部指标 × 区县", "All targets × districts"), expanded=False):
    st.dataframe(views.township_matrix(card, names), width="stretch")
audited_download(pick(f"下载{whole_word}考核表 Excel（{whole_word}与各区县 × 指标，含分子分母）", "Download the workbook"),
                 icon=":material/download:", data=city_workbook(card, names, chosen.name),
                 file_name=f"city_scorecard_{chosen.code}.xlsx", what="city scorecard",
                 mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
if chosen.level == "province":  # a page per district: the batch writes each district's report
    st.caption(pick(f"全省各区县的 PDF 报告由命令行批量生成：python cli.py batch reports --province {chosen.code[:2]} "
                    "--out 目录", "Each district's PDF: python cli.py batch reports --province CODE --out DIR"))
else:
    made_of = (refs, tid, since)  # the PDF shows the map target and baseline chosen above
    if st.button(pick("生成全市 PDF 报告（全市地图与指标、与基期对比、每个区县一页）", "Make the city's PDF report"),
                 icon=":material/picture_as_pdf:", key="city.make_pdf"):
        bar = st.progress(0.0, text=pick("正在汇总 …", "Collecting …"))
        try:
            report = city_report(chosen, refs, target=tid, since=made_of[2])
            data = city_pdf(report, progress=lambda f, m: bar.progress(f, text=m))
        except FontMissingError as exc:
            st.error(pick(f"无法生成 PDF：{exc}", f"Cannot make the PDF: {exc}"))
        else:
            st.session_state[CITY_PDF] = (made_of, f"city_report_{chosen.code}.pdf", data)
        bar.empty()
    made = st.session_state.get(CITY_PDF)
    if made and made[0] == made_of:  # made of what the page shows now; else it is made again on request
        audited_download(pick(f"下载全市 PDF 报告（{len(made[2]) / 1024:,.0f} KB）", "Download the city's PDF"),
                         icon=":material/download:", data=made[2], file_name=made[1], what="city report",
                         mime="application/pdf")
city_footer(chosen, refs)
