"""Widgets of the 情景规划 page: scenario picker and management, editing (forms, map clicks, change list), the
comparison (map, figures, tables). The optimisation and the gaps are in siting_views.py."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import streamlit as st
from shapely.geometry import Point

from dashboard import live_map
from dashboard.components import caller, current_user
from dashboard.i18n import pick
from dashboard.state import (
    MAP_BASEMAP,
    SCN_CLICKS,
    SCN_COMPARE,
    SCN_DETAILS,
    SCN_FLASH,
    SCN_ID,
    SCN_KIND,
    SCN_MAP,
    SCN_REFUSED,
    SCN_SELECT_NEXT,
)
from maps.elements import LocalAssets
from maps.geojson import stored_lonlat
from maps.geojson import townships_geojson as maps_townships_geojson
from maps.pages import ScenarioLayers, scenario_live_map
from services import base, coverage, scenarios
from services.access import AccessDenied
from services.base import DataRef
from services.cache import memo
from services.scenarios import ACTION_ZH, Change, ScenarioError, ScenarioRepoError

ACTION_EN = {"open": "Open", "close": "Close", "change_kind": "Change kind", "change_beds": "Change beds"}


def _action(a: str) -> str:
    return pick(ACTION_ZH[a], ACTION_EN[a])


def kind_names() -> dict[str, str]:
    return {k.id: pick(k.name_zh, k.name_en) for k in base.get_config().facility_kinds}


def _write(ref: DataRef, fn, done: str, *, select_result: bool = False) -> None:
    """Run a scenario write; on success flash ``done`` and rerun, else show why it failed (nothing is stored)."""
    try:
        out = scenarios.scenario_call(ref, fn, caller=caller())
    except (ScenarioRepoError, ScenarioError, AccessDenied) as exc:
        st.error(str(exc))
        return
    if select_result:
        st.session_state[SCN_SELECT_NEXT] = out
    st.session_state[SCN_FLASH] = done
    st.rerun()


def _adding(sid: int, changes: list[Change]):
    """The write that adds ``changes`` to scenario ``sid`` (with none selected, to a new scenario made for them)
    and returns the scenario written to."""
    author = current_user().login

    def write(repo):
        target = sid or repo.create(scenarios.default_name(), author=author)
        for ch in changes:
            repo.add_change(target, ch)
        return target

    return write


def add_change(ref: DataRef, sid: int, change: Change, done: str) -> None:
    _write(ref, _adding(sid, [change]), done, select_result=not sid)


def flash() -> None:
    msg = st.session_state.pop(SCN_FLASH, None)
    if msg:
        st.toast(msg, icon="✅")


def picker(listing: pd.DataFrame) -> int:
    me = current_user().login
    names = {0: pick("现状（不修改）", "Current situation (read-only)")}
    names |= {int(r.id): f"{r.name}（{r.changes} 项变更{'' if r.owner in (None, me) else '，' + str(r.owner)}"
                         f"{'，共享' if r.shared else '，私有'}）" for r in listing.itertuples()}
    if st.session_state[SCN_ID] not in names:
        st.session_state[SCN_ID] = 0
    st.selectbox(pick("当前情景", "Scenario"), options=list(names), format_func=names.get, key=SCN_ID,
                 help=pick("情景只记录变更，现状数据永不修改。", "A scenario stores only its changes."))
    return int(st.session_state[SCN_ID])


def manage(ref: DataRef, listing: pd.DataFrame, sid: int) -> None:
    names = dict(zip(listing["id"].astype(int), listing["name"], strict=True))
    with st.expander(pick("新建 / 复制 / 重命名 / 删除情景", "New / duplicate / rename / delete")):
        author = current_user().login
        with st.form("scn_new", clear_on_submit=True, border=False):
            c1, c2, c3 = st.columns([3, 3, 1], vertical_alignment="bottom")
            name = c1.text_input(pick("新情景名称", "New scenario name"), placeholder=scenarios.default_name())
            base_id = c2.selectbox(pick("基于", "Based on"), options=[0, *names],
                                format_func=lambda i: names.get(i, pick("现状", "Current situation")))
            if c3.form_submit_button(pick("新建", "Create"), type="primary"):
                _write(ref, lambda r: r.create(name or scenarios.default_name(), author=author, base_id=base_id or None),
                       pick("已新建情景", "Scenario created"), select_result=True)
        if not sid:
            return
        row = listing.set_index("id").loc[sid]
        if row["owner"] not in (None, current_user().login):
            st.caption(pick(f"此情景由 {row['owner']} 创建并共享，只能查看；可“复制”为自己的情景再修改。",
                            "Shared by another planner: duplicate it to edit."))
            if st.button(pick("复制为我的情景", "Duplicate as mine")):
                _write(ref, lambda r: r.duplicate(sid, f"{names[sid]} 副本", author=author), pick("已复制", "Duplicated"),
                       select_result=True)
            return
        shared = st.toggle(pick("与全区共享（其他规划人员与分管领导可查看）", "Share with the district"),
                           value=bool(row["shared"]), key=f"scn.shared.{sid}")
        if shared != bool(row["shared"]):
            _write(ref, lambda r: r.set_shared(sid, shared),
                   pick("已共享" if shared else "已设为私有", "Shared" if shared else "Private"))
        c1, c2, c3, c4 = st.columns([3, 1, 1, 1], vertical_alignment="bottom")
        new_name = c1.text_input(pick("名称", "Name"), value=names[sid], key=f"scn.rename.{sid}")
        if c2.button(pick("重命名", "Rename")):
            _write(ref, lambda r: r.rename(sid, new_name), pick("已重命名", "Renamed"))
        if c3.button(pick("复制", "Duplicate")):
            _write(ref, lambda r: r.duplicate(sid, f"{names[sid]} 副本", author=author), pick("已复制", "Duplicated"),
                   select_result=True)
        if c4.button(pick("删除", "Delete"), type="secondary"):
            _write(ref, lambda r: r.delete(sid), pick("已删除情景", "Scenario deleted"))


@memo(ttl_s=300, max_entries=32)
def townships_geojson(ref: DataRef, selected: str | None, basemap_id: str) -> str:
    """The township outlines as the edit map draws them (simplified, shifted, escaped), kept across reruns."""
    return maps_townships_geojson(base.base_layers(ref).townships, base.get_config().basemap(basemap_id),
                                  selected=selected)


def scenario_map(ref: DataRef, eng, layers, cmp: scenarios.Comparison, category: str, township: str | None, *,
                 proposed: gpd.GeoDataFrame | None = None, key: str, clickable: bool = False, height: int = 560,
                 refused: list | None = None):
    res = base.density_resolution(ref, township, coverage=True)
    after, diff = cmp.after, cmp.diff
    before_ids = set(cmp.before.counted["id"])
    refused_gdf = None
    if refused:
        refused_gdf = gpd.GeoDataFrame({"why": [w for _, _, w in refused]},
                                       geometry=[Point(lon, lat) for lon, lat, _ in refused], crs="EPSG:4326")
    live = scenario_live_map(ScenarioLayers(
        outline=layers.outline, townships=layers.townships, facilities=after.counted,
        newly_covered=coverage.weight_hexes(eng, diff.newly_covered, category, res),
        newly_uncovered=coverage.weight_hexes(eng, diff.newly_uncovered, category, res),
        still_uncovered=coverage.weight_hexes(eng, ~after.result.covered & ~diff.newly_uncovered, category, res),
        opened=after.counted[~after.counted["id"].isin(before_ids)][["code", "name", "geometry"]],
        closed=cmp.before.counted[~cmp.before.counted["id"].isin(set(after.counted["id"]))][["code", "name", "geometry"]],
        proposed=proposed, roads=base.roads(ref, township) if base.street_detail(ref, township) else None,
        selected_township=township, street_detail=base.street_detail(ref, township), refused=refused_gdf,
        base_facilities=cmp.before.counted if clickable else None,  # the edit map's base stays put
    ), config=base.get_config(), basemap_id=st.session_state[MAP_BASEMAP], assets=LocalAssets(), clickable=clickable,
        townships_json=townships_geojson(ref, township, st.session_state[MAP_BASEMAP]),
        base_key=(key, ref, township, st.session_state[MAP_BASEMAP], clickable, tuple(cmp.before.counted["id"])))
    return live_map.show(live, key=key, height=height, clickable=clickable, base_in_file=not clickable)


def kpis(cmp: scenarios.Comparison, category: str, township: str | None) -> None:
    s = scenarios.area_summary(cmp, category, township)
    (b, a), (share_b, share_a) = s.covered, s.share
    k1, k2, k3, k4 = st.columns(4)
    k1.metric(pick("情景覆盖老人", "Covered in scenario"), f"{int(round(a)):,}", delta=f"{int(round(a - b)):+,}",
              border=True, help=pick("步行可达运营中设施的老人（所选类别与范围）", "Elders within the walk"))
    k2.metric(pick("覆盖率", "Covered share"), f"{share_a:.1%}", delta=f"{(share_a - share_b) * 100:+.1f} pp", border=True)
    k3.metric(pick("计入站点", "Sites counted"), f"{s.sites[1]:,}", delta=f"{s.sites[1] - s.sites[0]:+,}", border=True)
    k4.metric(pick("每千名老人床位", "Beds per 1,000"), f"{s.beds_per_1000[1]:.1f}",
              delta=f"{s.beds_per_1000[1] - s.beds_per_1000[0]:+.1f}", border=True)


def township_table(cmp: scenarios.Comparison, townships: pd.DataFrame, category: str, *,
                   names_ab: tuple[str, str] | None = None) -> None:
    names = townships.set_index("code")["name"]
    t = cmp.diff.table(category)
    a, b = names_ab or (pick("现状", "Before"), pick("情景", "After"))
    df = pd.DataFrame({
        pick("乡镇（街道）", "Township"): [names.get(x, x) for x in t.index],
        pick("老人数", "Elders"): t["total"].round().astype(int),
        f"{a}{pick('覆盖', ' covered')}": t["before"].round().astype(int),
        f"{b}{pick('覆盖', ' covered')}": t["after"].round().astype(int),
        pick("变化", "Change"): t["change"].round().astype(int),
        f"{a}{pick('覆盖率', ' share')}": t["share_before"],
        f"{b}{pick('覆盖率', ' share')}": t["share_after"],
    }).sort_values(pick("变化", "Change"), key=np.abs, ascending=False, kind="stable")
    pct = st.column_config.NumberColumn(format="percent")
    st.dataframe(df, hide_index=True, width="stretch", column_config={
        f"{a}{pick('覆盖率', ' share')}": pct, f"{b}{pick('覆盖率', ' share')}": pct})


def category_table(cmp: scenarios.Comparison) -> None:
    rows = []
    for cid, zh, en in coverage.CATEGORIES:
        k = cmp.diff.categories.index(cid)
        b, a = cmp.diff.before[:, k].sum(), cmp.diff.after[:, k].sum()
        rows.append({pick("类别", "Category"): pick(zh, en), pick("现状覆盖", "Before"): int(round(b)),
                     pick("情景覆盖", "After"): int(round(a)), pick("变化", "Change"): int(round(a - b))})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def apply_clicks(ref: DataRef, eng, sid: int, clicks: list[tuple[float, float]]) -> tuple[int, list]:
    """Open a station at each click (lat, lng as drawn), in one transaction; a click too far from any street
    opens nothing and is returned with why. Returns (the scenario written to, refused (lon, lat, why))."""
    cfg = base.get_config()
    kind = st.session_state[SCN_KIND]
    opened, refused = [], []
    for lat, lng in clicks:
        lon, la = stored_lonlat(lng, lat, cfg.basemap(st.session_state[MAP_BASEMAP]))  # drawn shifted, stored not
        access = scenarios.snap_distance_m(eng, lon, la)
        if access is None:
            refused.append((lon, la, pick(f"未新增：距道路超过 {cfg.walking.max_snap_m:g} 米", "Too far from a street")))
            continue
        opened.append(Change("open", kind_id=kind, point=Point(lon, la), note=f"地图点选新增（{kind_names()[kind]}）"))
    if not opened:
        return sid, refused
    try:
        target = scenarios.scenario_call(ref, _adding(sid, opened), caller=caller())
    except (ScenarioRepoError, ScenarioError, AccessDenied) as exc:
        st.error(str(exc))
        return sid, refused
    st.toast(pick(f"已新增 {len(opened)} 个站点", f"{len(opened)} site(s) opened"), icon="✅")
    return target, refused


@st.fragment
def edit_view(ref: DataRef, eng, layers, sid: int, kind_ids: tuple, cutoff: float, category: str,
              township: str | None, editor: bool) -> None:
    """The map, its figures and the change list; a map click reruns only this part, and the map is redrawn in
    place (the planner's centre and zoom stay)."""
    if editor:
        clicks = live_map.new_clicks(st.session_state.get(SCN_MAP), SCN_CLICKS)
        if clicks:
            target, refused = apply_clicks(ref, eng, sid, clicks)
            st.session_state[SCN_REFUSED] = refused[-5:]
            if target != sid:  # the first click made a scenario: the picker above must show it
                st.session_state[SCN_SELECT_NEXT] = target
                st.rerun()
    changes = compare_changes(ref, sid)
    try:
        cmp = scenarios.compare(ref, eng, changes, kind_ids, cutoff)
    except ScenarioError as exc:
        st.error(pick(f"情景无法应用到现状数据：{exc}。请撤销该变更或删除情景。", f"The scenario does not apply: {exc}"))
        own_changes(ref, sid, len(changes), editable=editor)  # the undo stays at hand
        return
    kpis(cmp, category, township)
    left, right = st.columns([3, 2])
    with left:
        scenario_map(ref, eng, layers, cmp, category, township, key=SCN_MAP, clickable=editor,
                     refused=st.session_state.get(SCN_REFUSED))
        st.caption(pick(f"前后对比计算 {cmp.seconds * 1000:.0f} ms。绿色：新增覆盖；红色：失去覆盖；黄色：仍未覆盖。",
                        f"Before/after in {cmp.seconds * 1000:.0f} ms."))
    with right:
        if editor:
            kinds = kind_names()
            st.selectbox(pick("点击地图新增的站点类型", "Kind a map click opens"), options=list(kinds),
                         format_func=kinds.get, key=SCN_KIND)
            st.caption(pick("在地图上点击即在该处新增站点（未选情景时自动新建一个）。", "Click the map to open a site."))
            candidate_form(ref, sid, eng, cmp)
            modify_form(ref, sid, cmp.after.facilities, township)
        own_changes(ref, sid, len(changes), editable=editor)
    # the tables only when asked for: a map click redraws all that is shown, and the two tables add some 30 ms
    # to every click in the browser (the 情景对比 view shows them for any two scenarios)
    if not st.toggle(pick("显示各乡镇、各类老人的覆盖变化表", "Show the tables by township and category"), key=SCN_DETAILS):
        return
    c1, c2 = st.columns([3, 2])
    with c1:
        st.subheader(pick("各乡镇覆盖变化", "By township"))
        township_table(cmp, layers.townships, category)
    with c2:
        st.subheader(pick("各类老人覆盖变化", "By category"))
        category_table(cmp)


def modify_form(ref: DataRef, sid: int, facilities: gpd.GeoDataFrame, township: str | None) -> None:
    kinds = kind_names()
    fac = facilities[facilities["township_code"] == township] if township else facilities
    labels = {r.code: f"{r.name}（{kinds.get(r.kind_id, r.kind_id)}）" for r in fac.itertuples()}
    with st.form("scn_modify", border=True):
        st.markdown(pick("**关闭或调整现有设施**", "**Close or change a facility**"))
        code = st.selectbox(pick("设施（可输入名称搜索）", "Facility (type to search)"), options=list(labels),
                            format_func=labels.get, index=None, placeholder=pick("选择设施", "Choose"))
        action = st.radio(pick("操作", "Action"), options=["close", "change_kind", "change_beds"], format_func=_action,
                          horizontal=True)
        c1, c2 = st.columns(2)
        kind = c1.selectbox(pick("改为类型", "New kind"), options=list(kinds), format_func=kinds.get)
        beds = c2.number_input(pick("床位数", "Beds"), min_value=0, max_value=5000, step=10, value=0)
        if st.form_submit_button(pick("应用到情景", "Apply"), type="primary"):
            if code is None:
                st.error(pick("请先选择一个设施。", "Choose a facility first."))
                return
            change = Change(action, facility_code=code, kind_id=kind if action == "change_kind" else None,
                            beds_total=int(beds) if action == "change_beds" else None)
            add_change(ref, sid, change, pick(f"已{_action(action)}：{labels[code]}", "Applied"))


def candidate_form(ref: DataRef, sid: int, eng, cmp: scenarios.Comparison) -> None:
    """Open a station at one of the generated candidates (street nodes next to the most uncovered elders)."""
    cands = scenarios.generated_candidates(eng, cmp.after.result)
    if len(cands) == 0:
        return
    top = min(len(cands), 100)
    labels = {i: pick(f"{cands.ids[i]}：附近未覆盖加权 {cands.weight[i]:.0f}", f"{cands.ids[i]}: {cands.weight[i]:.0f} uncovered")
              for i in range(top)}
    with st.form("scn_candidate", border=True):
        st.markdown(pick("**在候选点新增站点**（按附近未覆盖老人排序）", "**Open at a candidate**"))
        i = st.selectbox(pick("候选点", "Candidate"), options=list(labels), format_func=labels.get)
        if st.form_submit_button(pick("新增", "Open")):
            kind = st.session_state[SCN_KIND]
            add_change(ref, sid, Change("open", kind_id=kind, point=Point(*cands.lonlat[i]), candidate_id=str(cands.ids[i]),
                                         note=f"候选点 {cands.ids[i]}"), pick(f"已在候选点 {cands.ids[i]} 新增站点", "Site opened"))


def own_changes(ref: DataRef, sid: int, n_all: int, *, editable: bool) -> None:
    """The change list of scenario ``sid`` itself (``n_all``: its changes with its base's)."""
    own = scenarios.scenario_call(ref, lambda r: r.changes(sid, with_base=False),
                                  viewer=current_user().login) if sid else []
    change_list(ref, sid, own, n_all - len(own), editable=editable)


def change_list(ref: DataRef, sid: int, own: list[Change], n_base: int, *, editable: bool = True) -> None:
    st.markdown(pick(f"**本情景的变更（{len(own)} 项）**", f"**Changes ({len(own)})**"))
    if n_base:
        st.caption(pick(f"另含基准情景的 {n_base} 项变更。", f"Plus {n_base} changes of the base scenario."))
    if not own:
        st.caption(pick("还没有变更：点击地图新增站点，或在上方关闭/调整现有设施。", "No changes yet."))
        return
    kinds = kind_names()
    st.dataframe(pd.DataFrame([{
        "#": i, pick("操作", "Action"): _action(c.action),
        pick("对象", "What"): c.facility_code or c.candidate_id or (f"{c.point.x:.5f}, {c.point.y:.5f}" if c.point else ""),
        pick("类型/床位", "Kind/beds"): kinds.get(c.kind_id, "") if c.kind_id else ("" if c.beds_total is None else c.beds_total),
    } for i, c in enumerate(own, start=1)]), hide_index=True, width="stretch", height=min(36 * len(own) + 38, 260))
    if editable and st.button(pick("撤销最后一项变更", "Undo the last change"), icon=":material/undo:"):
        _write(ref, lambda r: r.remove_last_change(sid), pick("已撤销", "Undone"))


def compare_changes(ref: DataRef, sid: int) -> list[Change]:
    return scenarios.scenario_call(ref, lambda r: r.changes(sid), viewer=current_user().login) if sid else []


def compare_pick(listing: pd.DataFrame) -> tuple[int, int]:
    names = {0: pick("现状", "Current situation")} | dict(zip(listing["id"].astype(int), listing["name"], strict=True))
    default = [0, int(listing["id"].iloc[0])] if len(listing) else [0, 0]
    pair = st.session_state.get(SCN_COMPARE) or default
    pair = [p if p in names else 0 for p in pair]
    c1, c2 = st.columns(2)
    a = c1.selectbox(pick("情景 A", "Scenario A"), options=list(names), format_func=names.get, index=list(names).index(pair[0]))
    b = c2.selectbox(pick("情景 B", "Scenario B"), options=list(names), format_func=names.get, index=list(names).index(pair[1]))
    st.session_state[SCN_COMPARE] = [a, b]
    return a, b
