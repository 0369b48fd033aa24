"""一张图: facilities, elder density, boundaries and roads on one map."""

import streamlit as st
from streamlit_folium import st_folium

from dashboard.components import footer, kpi_cards, page_setup
from dashboard.i18n import pick, t
from dashboard.state import MAP_BASEMAP, MAP_CLUSTER, MAP_KINDS, MAP_LAYERS, MAP_TOWNSHIP
from maps.elements import LocalAssets
from maps.pages import MapLayers, build_overview_map
from services import base

config = base.get_config()
layers = page_setup("map")
if layers is None:
    st.title(t("app_title"))
    st.stop()

township = st.session_state[MAP_TOWNSHIP] or None
area_name = layers.townships.loc[township, "name"] if township else layers.meta.get("district_name", "")
st.title(f"{t('page_map')} · {area_name}")
kpis = base.area_kpis(layers, township)
kpi_cards(
    kpis,
    beds_target=config.target("beds_per_1000").target,
    level_names={lv.id: pick(lv.name_zh, lv.name_en) for lv in config.levels},
)


@st.fragment
def map_panel() -> None:
    layer_names = {k: t(f"layer_{k}") for k in ("townships", "facilities", "density", "roads")}
    kinds = {k.id: pick(k.name_zh, k.name_en) for k in config.facility_kinds}
    c1, c2, c3 = st.columns([2, 4, 2], vertical_alignment="bottom")
    c1.selectbox(t("basemap"), options=[b.id for b in config.basemaps],
                 format_func=lambda b: pick(config.basemap(b).name_zh, config.basemap(b).name_en), key=MAP_BASEMAP)
    c2.multiselect(t("layers"), options=list(layer_names), format_func=layer_names.get, key=MAP_LAYERS)
    c3.toggle(t("cluster"), key=MAP_CLUSTER)
    with st.expander(t("kinds_filter", n=len(st.session_state[MAP_KINDS]), total=len(kinds))):
        st.multiselect(t("kinds"), options=list(kinds), format_func=kinds.get, key=MAP_KINDS,
                       label_visibility="collapsed")

    shown = set(st.session_state[MAP_LAYERS])
    ref = layers.ref
    res = base.density_resolution(ref, township)  # hundreds of cells for the area shown, never a handful
    fac = layers.facilities
    if township:
        fac = fac[fac["township_code"] == township]
    fac = fac[fac["kind_id"].isin(st.session_state[MAP_KINDS])] if "facilities" in shown else fac.iloc[0:0]
    if "facilities" in shown and fac.empty:
        st.info(t("no_facilities"))
    fmap = build_overview_map(
        MapLayers(
            outline=layers.outline,
            townships=layers.townships,
            facilities=fac,
            density=base.density(ref, township, res) if "density" in shown else None,
            roads=base.roads(ref, township) if "roads" in shown else None,
            selected_township=township, street_detail=base.street_detail(ref, township),
            show_townships="townships" in shown,
        ),
        config=config,
        basemap_id=st.session_state[MAP_BASEMAP],
        assets=LocalAssets(),
        cluster=st.session_state[MAP_CLUSTER],
    )
    st_folium(fmap, height=620, use_container_width=True, returned_objects=[], key="overview_map")
    st.caption(t("map_caption"))


map_panel()
footer(layers.meta)
