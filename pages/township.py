"""乡镇视图: one township's coverage, gaps, stations, projects and its scorecard against the district."""

import streamlit as st
from streamlit_folium import st_folium

from dashboard import scorecard_views as views
from dashboard import township
from dashboard.components import current_user, footer, mark_since, neighbours_note, page_setup, visible_townships
from dashboard.i18n import pick
from dashboard.siting_views import gap_table
from dashboard.state import MAP_BASEMAP
from maps.elements import LocalAssets
from maps.pages import CoverageLayers, build_coverage_map, build_projects_map
from maps.vocabulary import PROJECT_TABLE_LABELS
from services import access, base, coverage, four_sync, scenarios, scorecard
from services.base import walk_cutoff_m
from services.scorecard import DISTRICT

config = base.get_config()
layers = page_setup("township", area_picker=False, needs=("roads",))
if layers is None:
    st.stop()
ref = layers.ref
st.title(pick("乡镇视图", "Township view"))
names = visible_townships(layers, current_user())  # a township head's own; everyone else's: every township
code = township.pick_township(names)
name = names[code]
st.markdown(pick(f":material/picture_as_pdf: [导出{name}报告（PDF、Excel、离线地图）](report?township={code})",
                 f":material/picture_as_pdf: [Export the report of {name}](report?township={code})"))
card = scorecard.scorecard_for(ref, access.scope_of(current_user(), ref.district_code))
eng = coverage.engine(ref)
result = scorecard.walk_result(eng)
minutes = config.scorecard.walk_minutes
_, checked = four_sync.checks(ref)
projects = checked[checked["township_code"] == code] if len(checked) else checked

walk, walk_all = card.cell("walk15_coverage", code), card.cell("walk15_coverage")
kpis = base.area_kpis(layers, code)
care_here = layers.facilities[(layers.facilities["township_code"] == code)
                              & layers.facilities["kind_id"].isin(scorecard.care_kind_ids())
                              & (layers.facilities["status"] == "operating")]
k1, k2, k3, k4 = st.columns(4)
k1.metric(pick("60岁以上老人", "Elders 60+"), f"{kpis.elders_60_plus:,}", border=True)
k2.metric(pick(f"{minutes:g}分钟步行覆盖率", "Walking coverage"), scorecard.fmt_value(walk["value"], "%"),
          delta=f"{walk['value'] - walk_all['value']:+.1f} pp {pick('对比全区', 'vs district')}"
          if walk["denominator"] > 0 else None, border=True,
          help=pick(f"步行可达 {walk['numerator']:,.0f} ÷ 老人 {walk['denominator']:,.0f}", "Covered over all elders"))
k3.metric(pick("运营中的养老服务设施", "Operating care facilities"), f"{len(care_here):,}", border=True)
k4.metric(pick("四同步不合规项目", "Four-sync violations"),
          f"{int((projects['status'] == 'violation').sum()) if len(projects) else 0} / {len(projects)}", border=True)

st.subheader(pick(f"考核指标：{name} 与全区", f"Scorecard: {name} vs district"))
counts = scorecard.light_counts(card, code)
st.caption(pick(f"本乡镇达标 {counts['green']} 项、接近 {counts['amber']} 项、未达标 {counts['red']} 项；"
                "排名在有数据的乡镇（街道）中由好到差；“仅全区考核”的指标只列数值。",
                "Rank among townships with data, best first."))
st.dataframe(views.styled(views.area_table(card, code, compare=DISTRICT)), hide_index=True, width="stretch",
             height=views.table_height(len(card.targets)),
             column_config={"指标": st.column_config.TextColumn(width="large"),
                            "口径": st.column_config.TextColumn(width="medium")})

tab_map, tab_gaps, tab_sites, tab_projects = st.tabs([
    pick("15分钟覆盖地图", "Coverage map"), pick("覆盖缺口", "Gaps"), pick("养老服务站点", "Stations"),
    pick("住宅项目（四同步）", "Projects (four-sync)")])
with tab_map:
    res = base.density_resolution(ref, code, coverage=True)
    # the township's own sites in full; a neighbour's that serve its elders as kind and position only
    view = coverage.visible_sites(ref, scorecard.care_kind_ids(), frozenset([code]),
                                walk_cutoff_m(minutes, config.walking.speed_mps))
    bands = coverage.band_polygons(ref, scorecard.care_kind_ids(), config.walking.speed_mps,
                                   coverage.band_minutes(int(minutes), config.walking.time_bands_min), frozenset([code]))
    fmap = build_coverage_map(
        CoverageLayers(outline=layers.outline, townships=layers.townships, facilities=view.own,
                       covered_hexes=coverage.weight_hexes(eng, result.covered, "elders", res, townships=frozenset([code])),
                       uncovered_hexes=coverage.weight_hexes(eng, ~result.covered, "elders", res,
                                                             townships=frozenset([code])),
                       bands=bands, roads=base.roads(ref, code), selected_township=code, neighbours=view.neighbours),
        config=config, basemap_id=st.session_state[MAP_BASEMAP], assets=LocalAssets())
    st_folium(fmap, height=560, use_container_width=True, returned_objects=[], key="township_map")
    st.caption(pick("每格按其老人中未被步行覆盖的比例着色（浅绿：全部可达，由浅红到深红：未覆盖越多）；"
                    "色带为各运营中养老服务设施的步行等时圈（邻近乡镇的设施同样计入）。",
                    "Each cell by the share of its elders not reached (green: all reached; deeper red: more not "
                    "reached); bands: walking isochrones."))
    if len(view.neighbours):
        st.caption(neighbours_note(len(view.neighbours)))
with tab_gaps:
    gaps = scenarios.township_gaps(ref, eng, result, code)
    if gaps:
        table = gap_table(eng, gaps, layers.townships)
        st.dataframe(table, hide_index=True, width="stretch", column_config={
            table.columns[-1]: st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1)})
        st.caption(pick(f"未覆盖老人按相距 {config.siting.gap_link_m:g} 米以内连成片，按加权人数排序；“最佳单点”为能覆盖该片最多老人的候选位置，"
                        "可在“情景规划”页试算新增站点。", "Open a site at a gap on the scenario page."))
    else:
        st.success(pick(f"{name}的老人均在{minutes:g}分钟步行范围内。", "Every elder here is covered."))
with tab_sites:
    here = layers.facilities[layers.facilities["township_code"] == code]
    since, new_sites, _ = mark_since(ref)
    if since is not None and new_sites is not None:
        st.caption(pick(f"“较基期”标出 {since} 以后新增的设施（本乡镇 {here['code'].isin(new_sites).sum()} 个）。",
                        f"New since {since} are marked."))
    st.dataframe(township.stations_table(here, new_sites), hide_index=True, width="stretch")
with tab_projects:
    if len(projects):
        pmap = build_projects_map(layers.outline, layers.townships, projects, config=config,
                                  basemap_id=st.session_state[MAP_BASEMAP], selected_township=code,
                                  assets=LocalAssets())
        st_folium(pmap, height=420, use_container_width=True, returned_objects=[], key="township_projects")
        shown = projects.assign(status_zh=projects["status"].map(four_sync.OVERALL_ZH))
        st.dataframe(shown[list(PROJECT_TABLE_LABELS)].rename(columns=PROJECT_TABLE_LABELS), hide_index=True,
                     width="stretch")
    else:
        st.info(pick(f"{name}没有录入住宅项目。", "No residential project here."))
footer(layers.meta)
