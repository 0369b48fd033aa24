"""情景规划: what-if edits on the map, optimal siting, the gap finder and side-by-side comparison."""

import geopandas as gpd
import streamlit as st

from dashboard import scenario_views as v
from dashboard import siting_views as sv
from dashboard.components import current_user, footer, page_setup
from dashboard.i18n import pick
from dashboard.state import (
    COV_KINDS,
    COV_MINUTES,
    COV_SPEED,
    MAP_TOWNSHIP,
    SCN_CATEGORY,
    SCN_MODEL,
    SCN_PROPOSAL,
    SCN_VIEW,
    init_coverage_state,
    init_scenario_state,
)
from services import access, base, coverage, scenarios
from services.base import walk_cutoff_m
from services.scenarios import ScenarioError

config = base.get_config()
layers = page_setup("scenarios", needs=("roads",))
if layers is None:
    st.stop()
st.title(pick("情景规划与优化选址", "Scenarios and optimal siting"))
ref = layers.ref
eng = coverage.engine(ref)
init_coverage_state(care_kind_ids=[k.id for k in config.facility_kinds if k.care_service],
                    speed_mps=config.walking.speed_mps, minutes=max(config.walking.time_bands_min))
init_scenario_state(new_site_kind=config.siting.new_site_kind)
v.flash()
kind_ids = tuple(sorted(st.session_state[COV_KINDS]))
minutes, speed = int(st.session_state[COV_MINUTES]), float(st.session_state[COV_SPEED])
cutoff = walk_cutoff_m(minutes, speed)
township = st.session_state[MAP_TOWNSHIP] or None
categories = {c: pick(zh, en) for c, zh, en in coverage.CATEGORIES}
me = current_user().login
listing = scenarios.scenario_list(ref, viewer=me)  # their own and the shared ones

c1, c2 = st.columns([3, 2])
with c1:
    sid = v.picker(listing)
c2.selectbox(pick("老人类别", "Elder category"), options=list(categories), format_func=categories.get, key=SCN_CATEGORY)
category = st.session_state[SCN_CATEGORY]
editor = access.may(current_user(), "scenario.edit")  # a leader reads the scenarios; a planner edits them
if editor:
    v.manage(ref, listing, sid)
else:
    st.info(pick("只读：可查看与对比情景；新建、编辑与优化选址由规划人员进行。",
                 "Read-only: planners create and edit scenarios."))
st.caption(pick(f"按步行 {minutes} 分钟、{speed:.2f} m/s、计入 {len(kind_ids)} 类设施计算（在“15分钟服务圈”页调整）。",
                f"{minutes} min at {speed:.2f} m/s, {len(kind_ids)} facility kinds (set on the coverage page)."))
views = {"edit": pick("编辑情景", "Edit") if editor else pick("查看情景", "View"), "optimise": pick("优化选址", "Optimise"),
         "gaps": pick("缺口识别", "Gaps"), "compare": pick("情景对比", "Compare")}
if not editor:
    del views["optimise"]
    if st.session_state.get(SCN_VIEW) not in views:
        st.session_state[SCN_VIEW] = "edit"
view = st.radio(pick("视图", "View"), options=list(views), format_func=views.get, horizontal=True, key=SCN_VIEW,
                label_visibility="collapsed")

if view == "edit":
    v.edit_view(ref, eng, layers, sid, kind_ids, cutoff, category, township, editor)
else:
    changes = v.compare_changes(ref, sid)
    try:
        cmp = scenarios.compare(ref, eng, changes, kind_ids, cutoff)
    except ScenarioError as exc:
        st.error(pick(f"情景无法应用到现状数据：{exc}。请撤销该变更或删除情景。", f"The scenario does not apply: {exc}"))
        st.stop()
    name = listing.set_index("id")["name"].get(sid, pick("现状", "the current situation"))

    if view == "optimise":
        opts = sv.siting_form(name)
        if opts:
            sv.run_siting(ref, eng, cmp, sid, opts, cutoff)
        if st.session_state[SCN_MODEL] == "curve":
            sv.curve_view(ref, eng, cmp, sid, cutoff)
        proposal = st.session_state[SCN_PROPOSAL]
        if proposal and proposal["base"] == sid and proposal["cutoff_m"] == cutoff:
            sv.proposal_summary(proposal["result"])
            after = scenarios.compare(ref, eng, changes + proposal["changes"], kind_ids, cutoff, base_changes=changes)
            points = gpd.GeoDataFrame({"name": [c.candidate_id for c in proposal["changes"]]},
                                      geometry=[c.point for c in proposal["changes"]], crs="EPSG:4326")
            v.kpis(after, category, township)
            v.scenario_map(ref, eng, layers, after, category, township, proposed=points, key="proposal_map")
            sv.save_proposal(ref, listing, proposal)

    elif view == "gaps":
        sv.gaps_view(ref, eng, layers, sid, cmp, category, township, cutoff)

    else:
        a, b = v.compare_pick(listing)
        ca, cb = v.compare_changes(ref, a), v.compare_changes(ref, b)
        ab = scenarios.compare(ref, eng, cb, kind_ids, cutoff, base_changes=ca)
        st.caption(pick("指标为情景 B 相对情景 A 的变化。", "Figures show B relative to A."))
        v.kpis(ab, category, township)
        cols = st.columns(2)
        for col, ch, key in ((cols[0], ca, "cmp_a"), (cols[1], cb, "cmp_b")):
            with col:
                v.scenario_map(ref, eng, layers, scenarios.compare(ref, eng, ch, kind_ids, cutoff), category, township,
                               key=key, height=420)
        v.township_table(ab, layers.townships, category, names_ab=(pick("情景A", "A"), pick("情景B", "B")))
footer(layers.meta)
