"""全市一张图: every district's facilities and the city's elder density on one map, a district picked to zoom, one
click to its own 一张图."""

import streamlit as st
from streamlit_folium import st_folium

from dashboard.components import city_footer, city_page, kpi_cards
from dashboard.i18n import pick, t
from dashboard.state import MAP_BASEMAP, MAP_CLUSTER, MAP_KINDS
from maps.elements import LocalAssets
from maps.pages import MapLayers, build_overview_map
from services import base, city

chosen, refs = city_page("city_map", pick("全市一张图", "City map"))
config = base.get_config()
names = chosen.names
layers = city.city_layers(refs)
st.caption(pick(f"{chosen.name} {len(names)} 个区县的设施与老年人口：每个区县由其自己的数据读取，全市数值为各区县的行相加。",
                f"{chosen.name}: {len(names)} districts."))
kpi_cards(layers.kpis, beds_target=config.target("beds_per_1000").target,
          level_names={lv.id: pick(lv.name_zh, lv.name_en) for lv in config.levels})

LAYERS = {"districts": pick("区县边界", "District boundaries"), "facilities": t("layer_facilities"),
          "density": t("layer_density")}
kinds = {k.id: pick(k.name_zh, k.name_en) for k in config.facility_kinds}
c1, c2, c3, c4 = st.columns([2, 3, 2, 1], vertical_alignment="bottom")
c1.selectbox(t("basemap"), options=[b.id for b in config.basemaps],
             format_func=lambda b: pick(config.basemap(b).name_zh, config.basemap(b).name_en), key=MAP_BASEMAP)
shown = set(c2.multiselect(t("layers"), options=list(LAYERS), default=list(LAYERS), format_func=LAYERS.get,
                           key="city.map_layers"))
zoom = c3.selectbox(pick("缩放到区县", "Zoom to a district"), options=["", *names],
                    format_func=lambda c: names.get(c, pick("全市", "Whole city")), key="city.map_zoom")
c4.toggle(t("cluster"), key=MAP_CLUSTER)
with st.expander(t("kinds_filter", n=len(st.session_state[MAP_KINDS]), total=len(kinds))):
    st.multiselect(t("kinds"), options=list(kinds), format_func=kinds.get, key=MAP_KINDS, label_visibility="collapsed")

left, right = st.columns([2, 3])
with left:
    table = layers.by_district.assign(link=[f"/map?district={c}#{names.get(c, c)}" for c in layers.by_district.index])
    st.dataframe(table[["link", "elders", "elders_80", "facilities", "beds_per_1000"]], hide_index=True, width="stretch",
                 height=min(38 + 35 * len(table), 660), column_config={
                     "link": st.column_config.LinkColumn(pick("区县（点击打开）", "District (open)"), display_text=r"#(.+)$"),
                     "elders": st.column_config.NumberColumn(t("kpi_elders"), format="localized"),
                     "elders_80": st.column_config.NumberColumn(t("kpi_elders80"), format="localized"),
                     "facilities": st.column_config.NumberColumn(pick("运营中设施", "Operating"), format="localized"),
                     "beds_per_1000": st.column_config.NumberColumn(pick("每千老人床位", "Beds / 1,000"), format="%.1f")})
with right:
    outlines = city.district_outlines(refs).assign(type=pick("区县", "District"))
    fac = layers.facilities
    fac = fac[fac["kind_id"].isin(st.session_state[MAP_KINDS])] if "facilities" in shown else fac.iloc[0:0]
    fmap = build_overview_map(
        MapLayers(outline=city.city_outline(outlines, chosen), townships=outlines, facilities=fac,
                  density=layers.density if "density" in shown else None, selected_township=zoom or None,
                  show_townships="districts" in shown, area_label=pick("区县", "District"), facility_popups=False),
        config=config, basemap_id=st.session_state[MAP_BASEMAP], assets=LocalAssets(),
        cluster=st.session_state[MAP_CLUSTER])
    st_folium(fmap, height=660, use_container_width=True, returned_objects=[], key=f"city_map_{zoom}")
    st.caption(pick(f"老人密度每格约 5 平方公里（H3 第 {city.CITY_RESOLUTION} 级）；设施悬停显示名称与类型，详情在各区县的一张图。",
                    "Elder density in hexagons of about 5 km²; facility details on each district's map."))
city_footer(chosen, refs)
