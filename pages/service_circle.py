"""15分钟服务圈: walking-network coverage of elders, recomputed on every change."""

import streamlit as st

from dashboard import live_map
from dashboard.components import (
    across_border_note,
    current_user,
    footer,
    neighbours_note,
    page_setup,
    visible_townships,
)
from dashboard.i18n import pick, t
from dashboard.state import (
    COV_BASIS,
    COV_CATEGORY,
    COV_KINDS,
    COV_MINUTES,
    COV_MODE,
    COV_SPEED,
    MAP_BASEMAP,
    MAP_TOWNSHIP,
    init_coverage_state,
)
from maps.elements import LocalAssets
from maps.pages import CoverageLayers, coverage_live_map
from services import access, base, coverage
from services.base import walk_cutoff_m

config = base.get_config()
layers = page_setup("service_circle", needs=("roads",))
if layers is None:
    st.stop()
st.title(t("page_coverage"))
ref = layers.ref
eng = coverage.engine(ref)
care = [k.id for k in config.facility_kinds if k.care_service]
init_coverage_state(care_kind_ids=care, speed_mps=config.walking.speed_mps, minutes=max(config.walking.time_bands_min))
kinds = {k.id: pick(k.name_zh, k.name_en) for k in config.facility_kinds}
categories = {c: pick(zh, en) for c, zh, en in coverage.CATEGORIES}


def controls() -> None:
    c1, c2, c3, c4 = st.columns([3, 2, 2, 2])
    c1.multiselect(t("cov_kinds"), options=list(kinds), format_func=kinds.get, key=COV_KINDS)
    c2.slider(t("cov_minutes"), min_value=1, max_value=30, step=1, key=COV_MINUTES)
    c3.slider(t("cov_speed"), min_value=0.5, max_value=1.5, step=0.05, key=COV_SPEED, format="%.2f m/s")
    c4.selectbox(t("cov_category"), options=list(categories), format_func=categories.get, key=COV_CATEGORY)
    c5, c6 = st.columns(2)
    c5.radio(t("cov_mode"), options=["bands", "areas"], horizontal=True, key=COV_MODE,
             format_func=lambda m: t("cov_mode_bands") if m == "bands" else t("cov_mode_areas"))
    c6.radio(pick("覆盖口径", "Coverage basis"), options=["reach", "served"], horizontal=True, key=COV_BASIS,
             format_func=lambda b: pick("步行可达（不计容量）", "Within the walk") if b == "reach"
             else pick("容量内服务（按服务能力）", "Served within capacity"),
             help=pick("容量内服务：每位老人分配给步行可达、仍有余位的最近设施；设施服务能力见 config 的设施类型 capacity，"
                       "或数据中的“服务能力”。", "Each elder to the nearest facility within the walk that has room."))


@st.fragment
def panel() -> None:
    # the controls and figures stand above the map but are sent after it: the map is the heaviest message of a
    # slider move, and the browser starts on it first (the controls' values are in the session already)
    top, figures = st.container(), st.container()
    township = st.session_state[MAP_TOWNSHIP] or None
    kind_ids = tuple(sorted(st.session_state[COV_KINDS]))
    minutes, speed = int(st.session_state[COV_MINUTES]), float(st.session_state[COV_SPEED])
    category = st.session_state[COV_CATEGORY]
    result = coverage.evaluate(eng, kind_ids, minutes, speed)
    scope = access.scope_of(current_user(), ref.district_code).townships  # None: the whole district
    view = coverage.visible_sites(ref, kind_ids, scope, walk_cutoff_m(minutes, speed))  # a township head's sites in full
    sites = view.own

    res = base.density_resolution(ref, township, coverage=True)  # finer than 一张图's: gaps are smaller than a walk
    # a township picked: its own hexagons only, so the map agrees with its figures (a neighbour's gaps are theirs)
    shown = scope if township is None else frozenset([township]) & (scope or frozenset([township]))
    cov_hex, uncov_hex = coverage.coverage_hexes(eng, result, category, res, townships=shown)
    bands = areas = None
    if kind_ids and st.session_state[COV_MODE] == "bands":
        bands = coverage.band_polygons(ref, kind_ids, speed, coverage.band_minutes(minutes, config.walking.time_bands_min),
                                       scope)
    elif kind_ids:
        areas = coverage.area_polygons(ref, kind_ids, walk_cutoff_m(minutes, speed), scope)
    live = coverage_live_map(
        CoverageLayers(outline=layers.outline, townships=layers.townships,
                       facilities=sites, covered_hexes=cov_hex,
                       uncovered_hexes=uncov_hex, bands=bands, areas=areas,
                       roads=base.roads(ref, township) if base.street_detail(ref, township) else None,
                       selected_township=township, street_detail=base.street_detail(ref, township),
                       neighbours=view.neighbours),
        config=config, basemap_id=st.session_state[MAP_BASEMAP], assets=LocalAssets(),
        base_key=("coverage_map", ref, township, st.session_state[MAP_BASEMAP]),
    )
    live_map.show(live, key="coverage_map", height=600)  # redrawn in place: the view stays where the user put it
    st.caption(f"{t('cov_caption')} {eng.build_note}")
    if len(view.neighbours):
        st.caption(neighbours_note(len(view.neighbours)))
    if coverage.border_sites(eng, kind_ids) is not None:  # a district with neighbours in its city: both figures
        across = coverage.across_border(eng, kind_ids, minutes, speed)
        st.caption(across_border_note(*across.total(category, area=township), across.counted))

    fig = coverage.circle_figures(eng, result, layers.townships, kind_ids, category, township)
    labels = coverage.table_labels()
    table, total, covered, share, straight = fig.table.rename(columns=labels), fig.elders, fig.covered, fig.share, \
        fig.straight
    served_label = None
    if st.session_state[COV_BASIS] == "served":
        served = coverage.served_by_township(eng, coverage.served_share(ref, kind_ids, walk_cutoff_m(minutes, speed)), category)
        table.insert(3, "容量内服务", served.reindex(table.index).fillna(0).round().astype(int))
        table.insert(4, "容量内服务率", table["容量内服务"] / table["老人数"].where(table["老人数"] > 0))
        got = table.loc[township, "容量内服务"] if township else table["容量内服务"].sum()
        served_label = got / total if total else 0.0
    st.subheader(t("cov_table"))
    visible = visible_townships(layers, current_user())  # a township head's rows only
    st.dataframe(table[table.index.isin(list(visible))], hide_index=True, width="stretch", column_config={
        "步行覆盖率": st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1),
        "容量内服务率": st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1),
        labels["straight_share"]: st.column_config.NumberColumn(format="percent"),
        "直线高估（百分点）": st.column_config.NumberColumn(format="%.1f"),
    })

    with top:
        controls()
    k1, k2, k3, k4 = figures.columns(4)
    if served_label is not None:
        k1.metric(pick(f"{minutes} 分钟容量内服务率", f"Served within capacity ({minutes} min)"), f"{served_label:.1%}",
                  delta=f"{(served_label - share) * 100:+.1f} pp", delta_color="off", border=True,
                  help=pick(f"步行可达 {share:.1%}，其中设施有余位能服务的比例", "Reach minus what capacity cannot serve"))
    else:
        k1.metric(t("cov_share", minutes=minutes), f"{share:.1%}", border=True,
                  help=t("cov_share_help", m=walk_cutoff_m(minutes, speed)))
    distance = coverage.straight_distance_text()
    k2.metric(t("cov_straight", distance=distance), f"{straight:.1%}", delta=f"{(straight - share) * 100:+.1f} pp",
              delta_color="off", border=True, help=t("cov_straight_help", distance=distance))
    k3.metric(t("cov_uncovered"), f"{int(total - covered):,}", border=True)
    k4.metric(t("cov_sites"), f"{fig.sites:,}", border=True)


panel()
footer(layers.meta)
