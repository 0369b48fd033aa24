"""联席会议总览: the policy targets computed from the database, district and townships, with a map."""

import datetime as dt

import streamlit as st
from streamlit_folium import st_folium

from dashboard import scorecard_views as views
from dashboard.components import (
    audited_download,
    current_user,
    follow_since_link,
    follow_target_link,
    footer,
    page_setup,
    visible_townships,
)
from dashboard.decision_views import my_items_banner
from dashboard.i18n import pick
from dashboard.state import MAP_BASEMAP, MAP_TOWNSHIP, SC_SINCE, SC_TARGET
from maps.elements import LocalAssets
from maps.pages import build_scorecard_map
from services import access, base, scorecard

config = base.get_config()
layers = page_setup("scorecard", needs=("roads",))
if layers is None:
    st.stop()
ref = layers.ref
st.title(pick("联席会议总览", "Joint-meeting scorecard"))
my_items_banner(ref)  # a township head's open 督办事项, seen on signing in
scope = access.scope_of(current_user(), ref.district_code)
card = scorecard.scorecard_for(ref, scope)  # a township head's: the district and their townships, with ranks
names = visible_townships(layers, current_user())
as_of = layers.meta.get("data_date", "—")
st.caption(pick(f"规划目标对照：数据日期 {as_of}，全部由数据库实时计算；指标口径与目标值见 config/dashboard.toml 的 [[targets]]。"
                f":green-badge[达标]　:orange-badge[接近：差距在目标的 {1 - config.scorecard.amber_share:.0%} 以内]　"
                ":red-badge[未达标]　:gray-badge[不适用：无考核对象]",
                f"Targets vs actuals as of {as_of}, computed from the database; definitions in config/dashboard.toml."))

views.light_metrics(card, met_label=pick("达标", "Met"), fourth=(
    pick("数据暂不支持", "Not computable"), len(card.unsupported),
    pick("数据库中没有相应数据的指标，见页面底部，不做估算。", "Listed at the bottom; never estimated.")))

st.subheader(pick(f"全区（{layers.outline['name'].iloc[0]}）", "District"))
views.whole_area(card, config)

history = scorecard.since_dates(ref)
then, since = None, None
if history:
    st.subheader(pick("与基期对比", "Since a baseline"))
    follow_since_link(history)  # the city overview's drill-down names its baseline
    if st.session_state.get(SC_SINCE) not in history:  # a year back, else a quarter, else the newest
        st.session_state[SC_SINCE] = scorecard.default_since(history, dt.date.fromisoformat(as_of))
    since = st.selectbox(pick("基期（较早的数据日期）", "Baseline data date"), options=history, key=SC_SINCE)
    then, dated = scorecard.scorecard_since(ref, since, scope)
    st.caption(views.since_caption(dated))
    st.dataframe(views.since_table(card, then), hide_index=True, width="stretch",
                 height=views.table_height(len(card.targets)))

st.subheader(pick("按乡镇（街道）", "By township"))
labels = {t.id: pick(t.label_zh, t.label_en) for t in card.targets}
left, right = st.columns([2, 3])
with left:
    follow_target_link(labels)  # the city overview's drill-down names its target
    if st.session_state.get(SC_TARGET) not in labels:
        st.session_state[SC_TARGET] = "walk15_coverage" if "walk15_coverage" in labels else next(iter(labels))
    tid = st.selectbox(pick("地图显示指标", "Target on the map"), options=list(labels), format_func=labels.get,
                       key=SC_TARGET)
    target = config.target(tid)
    cells = card.townships(tid)
    cells["text"] = [scorecard.fmt_value(v, target.unit) for v in cells["value"]]
    district = card.cell(tid)
    st.markdown(pick(f"**全区 {scorecard.fmt_value(district['value'], target.unit)}**，目标 {scorecard.fmt_target(target)}",
                     f"**District {scorecard.fmt_value(district['value'], target.unit)}**, "
                     f"target {scorecard.fmt_target(target)}"))
    ranks = [card.rank(tid, c) for c in cells.index]
    ranking = cells.assign(name=[names.get(c, c) for c in cells.index],
                           state=[views.light_label(x) for x in cells["light"]],
                           rank=[f"{r[0]} / {r[1]}" if r else "—" for r in ranks]).sort_values(
        "value", ascending=target.direction != "at_least", na_position="last")
    st.dataframe(views.styled(ranking[["rank", "name", "text", "state"]], "state"), hide_index=True, width="stretch",
                 height=420 if scope.whole else "content",
                 column_config={"rank": pick("名次", "Rank"), "name": pick("乡镇（街道）", "Township"),
                                "text": labels[tid], "state": pick("状态", "Light")})
    if not scope.whole:
        st.caption(pick("名次为在全区各乡镇（街道）中的位置；其他乡镇的数值不对本账号显示。",
                        "Rank among all townships; other townships' values are not shown to this account."))
with right:
    shown, label, legend = views.value_or_change(card, then, since, target, cells,
                                                 labels[tid])
    fmap = build_scorecard_map(layers.outline, layers.townships.loc[list(names)], shown, label=label, legend=legend,
                               config=config, basemap_id=st.session_state[MAP_BASEMAP],
                               selected_township=st.session_state[MAP_TOWNSHIP] or None, assets=LocalAssets())
    st_folium(fmap, height=520, use_container_width=True, returned_objects=[], key="scorecard_map")

with st.expander(pick("全部指标 × 乡镇（街道）", "All targets × townships"), expanded=False):
    st.dataframe(views.township_matrix(card, names), width="stretch")

st.subheader(pick("数据暂不支持的指标", "Targets the data cannot support"))
st.dataframe(views.unsupported_table(card), hide_index=True, width="stretch")
audited_download(pick("下载考核表 CSV（全区及各乡镇，含分子分母）", "Download CSV"), icon=":material/download:",
                 data=views.scorecard_csv(card, names), file_name=f"scorecard_{as_of}.csv", mime="text/csv",
                 what="scorecard", district_code=layers.ref.district_code)
footer(layers.meta)
