"""全市15分钟服务圈: the walk to care services for every district of a city at once, each district computed on its own
network with its neighbours' sites near the border, summed; a district picked to zoom, one click to its own page."""

import streamlit as st
from streamlit_folium import st_folium

from dashboard.components import city_footer, city_page
from dashboard.i18n import pick, t
from dashboard.state import COV_CATEGORY, COV_KINDS, COV_MINUTES, COV_SPEED, MAP_BASEMAP, init_coverage_state
from maps.elements import LocalAssets
from maps.pages import build_city_coverage_map
from services import base, city, coverage

chosen, refs = city_page("city_circle", pick("全市15分钟养老服务圈", "City: 15-minute service circle"))
config = base.get_config()
names = chosen.names
care = [k.id for k in config.facility_kinds if k.care_service]
init_coverage_state(care_kind_ids=care, speed_mps=config.walking.speed_mps, minutes=max(config.walking.time_bands_min))
kinds = {k.id: pick(k.name_zh, k.name_en) for k in config.facility_kinds}
categories = {c: pick(zh, en) for c, zh, en in coverage.CATEGORIES}

c1, c2, c3, c4 = st.columns([3, 2, 2, 2])
c1.multiselect(t("cov_kinds"), options=list(kinds), format_func=kinds.get, key=COV_KINDS)
c2.slider(t("cov_minutes"), min_value=1, max_value=30, step=1, key=COV_MINUTES)
c3.slider(t("cov_speed"), min_value=0.5, max_value=1.5, step=0.05, key=COV_SPEED, format="%.2f m/s")
c4.selectbox(t("cov_category"), options=list(categories), format_func=categories.get, key=COV_CATEGORY)
kind_ids = tuple(sorted(st.session_state[COV_KINDS]))
minutes, speed = int(st.session_state[COV_MINUTES]), float(st.session_state[COV_SPEED])
category = st.session_state[COV_CATEGORY]
circle = city.city_circle(refs, kind_ids, minutes, speed, category)

k1, k2, k3, k4 = st.columns(4)
k1.metric(pick(f"全市 {minutes} 分钟步行覆盖率", f"City {minutes}-minute coverage"), f"{circle.share:.1%}", border=True,
          help=pick(f"各区县{categories[category]}中步行 {minutes} 分钟（{base.walk_cutoff_m(minutes, speed):,.0f} 米）内可达"
                    "所选类型运营中设施的人数之和 / 全市人数；每位老人只在其所在区县计一次。",
                    "Sum over districts of the elders reached / all elders; each counted once."))
k2.metric(pick("未覆盖老人", "Not reached"), f"{circle.elders - circle.covered:,.0f}", border=True)
k3.metric(pick("其中跨区可达", "Reached across a border"), f"{circle.across:,.0f}", border=True,
          help=pick("只有邻区设施在步行范围内的老人" + ("（已计入覆盖率）" if circle.counted else "（未计入覆盖率，见配置 [coverage]）"),
                    "Reached only by a neighbouring district's site"))
k4.metric(pick("区县数", "Districts"), len(refs), border=True)

left, right = st.columns([1, 1])
with left:
    table = circle.table.sort_values("share")
    table["link"] = [f"/service_circle?district={c}#{names.get(c, c)}" for c in table.index]
    st.dataframe(table[["link", "elders", "covered", "across", "gap", "share"]], hide_index=True, width="stretch",
                 height=min(38 + 35 * len(table), 640), column_config={
                     "link": st.column_config.LinkColumn(pick("区县（点击打开）", "District (open)"), display_text=r"#(.+)$"),
                     "elders": st.column_config.NumberColumn(pick("老人数", "Elders"), format="localized"),
                     "covered": st.column_config.NumberColumn(pick("步行可达", "Reached"), format="localized"),
                     "across": st.column_config.NumberColumn(pick("其中跨区", "Across"), format="localized"),
                     "gap": st.column_config.NumberColumn(pick("未覆盖", "Not reached"), format="localized"),
                     "share": st.column_config.ProgressColumn(pick("覆盖率", "Share"), format="percent", min_value=0,
                                                              max_value=1)})
with right:
    zoom = st.selectbox(pick("缩放到区县", "Zoom to a district"), options=["", *names],
                        format_func=lambda c: names.get(c, pick("全市", "Whole city")), key="city.circle_zoom")
    outlines = city.district_outlines(refs)
    texts = {c: f"{r.share:.1%}（{r.covered:,.0f} / {r.elders:,.0f}）" for c, r in circle.table.iterrows()}
    fmap = build_city_coverage_map(city.city_outline(outlines, chosen), outlines, circle.shares, texts, config=config,
                                   basemap_id=st.session_state[MAP_BASEMAP], selected=zoom or None,
                                   assets=LocalAssets())
    st_folium(fmap, height=620, use_container_width=True, returned_objects=[], key=f"city_circle_map_{zoom}")
    st.caption(pick(f"每格约 5 平方公里（H3 第 {city.CITY_RESOLUTION} 级），按格内{categories[category]}未被覆盖的比例着色；"
                    "每个区县沿其自己的道路网计算，邻区边界附近的设施按配置计入。点击左表的区县打开其15分钟服务圈页面查看街巷细节。",
                    "Hexagons of about 5 km², coloured by the share not reached."))
city_footer(chosen, refs)
