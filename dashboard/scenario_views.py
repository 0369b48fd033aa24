"""Widgets of the 情景规划 page: scenario picker and management, edit, optimise, gaps, compare."""

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
    SCN_CURVE,
    SCN_DETAILS,
    SCN_FLASH,
    SCN_ID,
    SCN_K,
    SCN_KIND,
    SCN_MAP,
    SCN_MODEL,
    SCN_PROPOSAL,
    SCN_REFUSED,
    SCN_SELECT_NEXT,
)
from maps.elements import LocalAssets
from maps.geojson import stored_lonlat
from maps.geojson import townships_geojson as maps_townships_geojson
from maps.pages import ScenarioLayers, scenario_live_map
from services import base, coverage, scenarios, siting
from services.access import AccessDenied
from services.base import DataRef
from services.cache import memo
from services.scenarios import ACTION_ZH, Change, ScenarioError, ScenarioRepoError

ACTION_EN = {"open": "Open", "close": "Close", "change_kind": "Change kind", "change_beds": "Change beds"}


def _action(a: str) -> str:
    return pick(ACTION_ZH[a], ACTION_EN[a])


def _kinds() -> dict[str, str]:
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


def _add_change(ref: DataRef, sid: int, change: Change, done: str) -> None:
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
        district=layers.district, townships=layers.townships, facilities=after.counted,
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
        opened.append(Change("open", kind_id=kind, point=Point(lon, la), note=f"地图点选新增（{_kinds()[kind]}）"))
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
            kinds = _kinds()
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
    kinds = _kinds()
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
            _add_change(ref, sid, change, pick(f"已{_action(action)}：{labels[code]}", "Applied"))


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
            _add_change(ref, sid, Change("open", kind_id=kind, point=Point(*cands.lonlat[i]), candidate_id=str(cands.ids[i]),
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
    kinds = _kinds()
    st.dataframe(pd.DataFrame([{
        "#": i, pick("操作", "Action"): _action(c.action),
        pick("对象", "What"): c.facility_code or c.candidate_id or (f"{c.point.x:.5f}, {c.point.y:.5f}" if c.point else ""),
        pick("类型/床位", "Kind/beds"): kinds.get(c.kind_id, "") if c.kind_id else ("" if c.beds_total is None else c.beds_total),
    } for i, c in enumerate(own, start=1)]), hide_index=True, width="stretch", height=min(36 * len(own) + 38, 260))
    if editable and st.button(pick("撤销最后一项变更", "Undo the last change"), icon=":material/undo:"):
        _write(ref, lambda r: r.remove_last_change(sid), pick("已撤销", "Undone"))


def uploaded_candidates(upload):
    """Candidates from an uploaded GeoJSON/CSV (id, lon, lat); None (with the error shown) when unusable."""
    try:
        return siting.uploaded_candidates(upload.getvalue(), upload.name)
    except siting.CandidateFileError as exc:
        st.error(pick(f"候选点文件无法使用：{exc}", f"Candidate file unusable: {exc}"))
        return None


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


def siting_form(sid_name: str) -> dict | None:
    """The optimiser's settings; returns them when the user starts a solve."""
    cfg = base.get_config().siting
    kinds = _kinds()
    extras = "，".join(f"{dict((c[0], c[1]) for c in coverage.CATEGORIES)[c]} +{w:g}" for c, w in cfg.extra_weight.items())
    st.caption(pick(f"在“{sid_name}”的设施之上新增站点（现有设施保留）。每位老人权重 1，另加：{extras}（config/dashboard.toml 的 [siting]）。",
                    f"New sites on top of “{sid_name}”. Each elder weighs 1 plus: {extras}."))
    labels = {m: pick(*siting.MODEL_LABELS[m]) for m in siting.MODELS}
    model = st.selectbox(pick("要回答的问题", "Question"), options=list(labels), format_func=labels.get, key=SCN_MODEL)
    st.caption(MODEL_NOTES[model]())
    with st.form("scn_siting"):
        c1, c2 = st.columns(2)
        source = c1.radio(pick("候选点", "Candidates"), options=["generated", "upload"], horizontal=True,
                          format_func=lambda s: pick("由服务不足区域的路网节点生成", "From under-served network nodes")
                          if s == "generated" else pick("导入文件（id, lon, lat[, cost, build]）", "Import a file"))
        upload = c1.file_uploader(pick("候选点文件（CSV 或 GeoJSON；cost 为成本，build 为 新建/改造）", "Candidate file"),
                                  type=["csv", "geojson", "json"])
        k = share = budget = None
        maximin = False
        if model in ("mclp", "capacitated", "pmedian", "equity"):
            st.session_state.setdefault(SCN_K, min(10, cfg.max_new_sites))
            k = c2.number_input(pick("新增站点数 k", "k new sites"), min_value=1, max_value=cfg.max_new_sites, key=SCN_K)
        if model == "curve":
            k = c2.number_input(pick("曲线最多到 k =", "Curve up to k"), min_value=2, max_value=cfg.max_new_sites,
                                value=min(30, cfg.max_new_sites))
        if model == "lscp":
            share = c2.slider(pick("目标覆盖率", "Target share"), min_value=0.5, max_value=1.0, value=0.9, step=0.01)
        if model == "budget":
            budget = c2.number_input(pick("预算（万元）", "Budget (10k yuan)"), min_value=1.0, value=1000.0, step=50.0,
                                     help=pick(f"未写成本的候选点：新建 {cfg.cost_new_build:g} 万元，改造 {cfg.cost_renovation:g} 万元",
                                               "Default costs from config"))
        if model == "equity":
            maximin = c2.checkbox(pick("不设下限，尽量抬高覆盖率最低的乡镇", "Raise the lowest township instead"))
        c3, c4, c5 = st.columns(3)
        method = c3.radio(pick("求解方法", "Method"), options=["exact", "greedy"], horizontal=True,
                          format_func=lambda m: pick("精确最优（HiGHS）", "Exact (HiGHS)") if m == "exact"
                          else pick("快速近似", "Fast heuristic"))
        limit = c4.number_input(pick("限时（秒）", "Time limit (s)"), min_value=1.0, max_value=float(cfg.max_time_limit_s),
                                value=min(float(cfg.time_limit_s), float(cfg.max_time_limit_s)))
        kind = c5.selectbox(pick("新站点类型", "Kind of new sites"), options=list(kinds), format_func=kinds.get,
                            index=list(kinds).index(cfg.new_site_kind))
        if not st.form_submit_button(pick("开始优化", "Optimise"), type="primary", icon=":material/bolt:"):
            return None
    if source == "upload" and upload is None:
        st.error(pick("请先上传候选点文件，或改用“由路网节点生成”。", "Upload a candidate file first."))
        return None
    request = siting.SitingRequest(model=model, k=None if k is None else int(k), target_share=share,
                                   budget=None if budget is None else float(budget), maximin=maximin, method=method,
                                   time_limit_s=float(limit))
    return {"source": source, "upload": upload, "request": request, "kind": kind}


def _floor_text() -> str:
    cfg = base.get_config().siting
    return pick(f"下限（[siting]）：每个乡镇 ≥ {cfg.township_floor:.0%}，农村 ≥ {cfg.rural_floor:.0%}，城镇 ≥ {cfg.urban_floor:.0%}。",
                "Floors from [siting].")


MODEL_NOTES = {
    "mclp": lambda: pick("步行时限内能到达站点的老人最多（不计站点容量）。", "Most elders within the walk."),
    "lscp": lambda: pick("用最少的新站点让覆盖率达到目标。", "Fewest sites to reach the share."),
    "capacitated": lambda: pick("每个站点只能服务有限人数（设施类型的服务能力，或数据中的“服务能力”）；"
                                "求容量内实际能服务的老人最多。", "Each site serves at most its capacity."),
    "pmedian": lambda: pick("所有老人到最近站点的步行距离之和最小；超出步行时限的按上限计。", "Least total walking."),
    "equity": lambda: _floor_text(),
    "budget": lambda: pick("每个候选点有成本（改造闲置公共用房比新建便宜），在预算内覆盖最多。", "Most coverage within a budget."),
    "curve": lambda: pick("每增加一个站点能多覆盖多少：曲线变平处（拐点）就是再加站点收益递减的地方。",
                          "Where extra sites stop paying."),
}


def run_siting(ref: DataRef, eng, cmp: scenarios.Comparison, sid: int, opts: dict, cutoff_m: float) -> None:
    request = opts["request"]
    with st.status(pick("正在优化选址 …", "Optimising …"), expanded=True) as status:
        cands = None
        if opts["source"] == "upload":
            cands = uploaded_candidates(opts["upload"])
            if cands is None:
                status.update(label=pick("候选点文件有误", "Bad candidate file"), state="error")
                return
        else:
            status.write(pick("在未覆盖或超出设施服务能力的老人附近生成候选点 …", "Generating candidates …"))
        si = siting.inputs(ref, eng, cmp.after, cands, cutoff_m, new_kind=opts["kind"])
        cands = si.cands
        if len(cands) == 0:
            status.update(label=pick("没有候选点：所有老人均已服务或无法到达。", "No candidates."), state="error")
            return
        status.write(pick(f"{len(cands):,} 个候选点的 {cutoff_m:.0f} 米步行距离已算好", "Candidate walks ready"))
        if not si.on_net.all():
            status.write(pick(f"{int((~si.on_net).sum())} 个候选点距道路过远，不参与选址。", "Some candidates are off the network."))
        try:
            res = siting.solve(ref, si, request, caller=caller(), progress=status.write)
            served = siting.served_curve(si, request.k) if request.model == "curve" else None
        except (AccessDenied, ValueError) as exc:
            status.update(label=str(exc), state="error")
            return
        if request.model == "curve":
            status.update(label=pick(f"完成：k = 1 … {request.k}，{res.solve_s:.2f} 秒", "Done"), state="complete")
        else:
            state = "error" if res.status == "infeasible" else "complete"
            status.update(label=pick(f"完成：{len(res.chosen)} 个站点，{res.solve_s:.2f} 秒（{res.status}）",
                                     f"Done: {len(res.chosen)} sites in {res.solve_s:.2f} s ({res.status})"), state=state)
    if request.model == "curve":
        st.session_state[SCN_CURVE] = {"curve": res, "served": served, "base": sid, "cutoff_m": cutoff_m,
                                       "kind": opts["kind"]}
        return
    if res.status == "infeasible":
        st.error(pick(f"无解：{res.message}", f"Infeasible: {res.message}"))
        floor_table(res.floor_shares)
        st.session_state[SCN_PROPOSAL] = None
        return
    st.session_state[SCN_PROPOSAL] = {"result": res, "base": sid, "kind": opts["kind"], "cutoff_m": cutoff_m,
                                      "changes": scenarios.open_changes(cands, res.chosen, opts["kind"], "优化选址")}


def floor_table(shares) -> None:
    """Each floor's area, the share reached and its floor."""
    if not shares:
        return
    share, floor = pick("覆盖率", "Share"), pick("下限", "Floor")
    st.dataframe(pd.DataFrame([{pick("范围", "Area"): n, share: got, floor: low,
                                pick("达标", "Met"): "✓" if got >= low - 1e-9 else "✗"} for n, got, low in shares]),
                 hide_index=True, width="stretch", column_config={
                     share: st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1),
                     floor: st.column_config.NumberColumn(format="percent")})


def curve_view(ref: DataRef, eng, cmp: scenarios.Comparison, sid: int, cutoff_m: float) -> None:
    """The coverage curve with its elbow; the planner picks k and gets the exact answer for it."""
    import altair as alt

    saved = st.session_state.get(SCN_CURVE)
    if not saved or saved["base"] != sid or saved["cutoff_m"] != cutoff_m:
        return
    curve, served = saved["curve"], saved["served"]
    total = curve.total_weight or 1.0
    rows = [{"k": int(k), pick("指标", "Series"): pick("步行覆盖（快速）", "Coverage (greedy)"), "share": v / total}
            for k, v in zip(curve.k, curve.greedy, strict=True)]
    rows += [{"k": k, pick("指标", "Series"): pick("步行覆盖（精确最优）", "Coverage (exact)"), "share": r.objective / total}
             for k, r in curve.exact.items()]
    if served is not None:
        rows += [{"k": int(k), pick("指标", "Series"): pick("容量内服务（快速）", "Served within capacity"), "share": v / total}
                 for k, v in enumerate(served)]
    df = pd.DataFrame(rows)
    series = pick("指标", "Series")
    lines = alt.Chart(df).mark_line(point=True).encode(
        x=alt.X("k:Q", title=pick("新增站点数", "New sites")),
        y=alt.Y("share:Q", title=pick("占加权老人比例", "Share of weighted elders"), axis=alt.Axis(format="%")),
        color=alt.Color(f"{series}:N", title=None), tooltip=["k", series, alt.Tooltip("share:Q", format=".1%")])
    elbow = alt.Chart(pd.DataFrame({"k": [curve.elbow]})).mark_rule(strokeDash=[4, 4], color="#c62828").encode(x="k:Q")
    st.altair_chart(lines + elbow, width="stretch")
    gain = np.diff(curve.greedy) / total
    c1, c2 = st.columns([1, 2], vertical_alignment="bottom")
    chosen = c1.number_input(pick("选定新增站点数", "Chosen k"), min_value=1, max_value=int(curve.k[-1]),
                             value=max(1, int(curve.elbow)))

    def use_k() -> None:
        st.session_state[SCN_MODEL] = "mclp"
        st.session_state[SCN_K] = int(chosen)

    c2.button(pick(f"用 {int(chosen)} 个站点求精确最优方案", "Solve for this k"), on_click=use_k, icon=":material/bolt:")
    st.caption(pick(f"拐点 k = {curve.elbow}（红色虚线）：此前平均每站多覆盖 {gain[:max(curve.elbow, 1)].mean():.2%}，"
                    f"此后 {gain[curve.elbow:].mean() if curve.elbow < len(gain) else 0:.2%}。精确最优每 "
                    f"{base.get_config().siting.curve_exact_every} 个站点算一次，其间为快速近似。",
                    f"Elbow at k = {curve.elbow}."))


def proposal_summary(res) -> None:
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(pick("新增站点", "New sites"), f"{len(res.chosen)}", border=True)
    if res.model == "pmedian":
        c2.metric(pick("人均步行距离", "Mean walk"), f"{res.objective / max(res.total_weight, 1e-9):.0f} m", border=True,
                  help=pick("加权老人到最近站点的平均步行距离（超出时限按上限计）", "Weighted mean walk to the nearest site"))
    elif res.model == "capacitated":
        c2.metric(pick("容量内服务", "Served within capacity"), f"{res.share:.1%}", border=True,
                  help=pick("各站点按服务能力实际能服务的加权老人比例（含现有设施）", "Served share, capacities respected"))
    else:
        c2.metric(pick("加权覆盖率", "Weighted share"), f"{res.share:.1%}", border=True,
                  help=pick("按类别权重计的覆盖比例（含现有设施）", "Covered share of the weighted demand"))
    gap = "—" if res.gap is None else f"{res.gap:.2%}"
    c3.metric(pick("与上界差距", "Gap to bound"), gap, border=True,
              help=pick("0 表示已证明最优；快速方法给出与上界的差距（若有）", "0 means proven optimal"))
    if res.model == "budget" and res.cost is not None:
        c4.metric(pick("花费", "Cost"), f"{res.cost:,.0f} 万元", border=True)
    else:
        c4.metric(pick("求解用时", "Solve time"), f"{res.solve_s:.2f} s", border=True)
    r = res.reductions
    st.caption(pick(f"状态 {res.status}；模型化简：需求 {r.demand_in:,} → {r.demand_kept:,}，候选 {r.candidates_in:,} → "
                    f"{r.candidates_kept:,}。{res.message}", f"Status {res.status}. {res.message}"))
    floor_table(res.floor_shares)


def save_proposal(ref: DataRef, listing: pd.DataFrame, proposal: dict) -> None:
    with st.form("scn_save_proposal", border=False):
        c1, c2, c3 = st.columns([4, 1, 1], vertical_alignment="bottom")
        name = c1.text_input(pick("保存为情景", "Save as scenario"),
                             value=scenarios.default_name(f"优化选址 {len(proposal['changes'])} 站"))
        save = c2.form_submit_button(pick("保存", "Save"), type="primary")
        drop = c3.form_submit_button(pick("放弃", "Discard"))
    if drop:
        st.session_state[SCN_PROPOSAL] = None
        st.rerun()
    if save:
        base_id = proposal["base"] or None
        if base_id is not None and base_id not in set(listing["id"].astype(int)):
            base_id = None
        try:
            sid = scenarios.save_changes_as(ref, name, caller(), base_id, proposal["changes"])
        except (ScenarioRepoError, ScenarioError, AccessDenied) as exc:
            st.error(str(exc))
            return
        st.session_state[SCN_PROPOSAL] = None
        st.session_state[SCN_SELECT_NEXT] = sid
        st.session_state[SCN_FLASH] = pick("已保存为情景", "Saved as a scenario")
        st.rerun()


def gap_table(eng, gaps, townships: pd.DataFrame) -> pd.DataFrame:
    names = townships.set_index("code")["name"]
    twp = eng.groups["township_code"].to_numpy()
    elders = eng.model.weights[:, 0]
    rows = []
    for g in gaps:
        codes, counts = np.unique(twp[g.points], return_counts=True)
        rows.append({
            pick("排名", "Rank"): g.rank,
            pick("所在乡镇", "Township"): names.get(codes[np.argmax(counts)], ""),
            pick("未覆盖老人", "Uncovered elders"): int(round(elders[g.points].sum())),
            pick("加权缺口", "Weighted gap"): round(g.weight, 1),
            pick("最佳单点", "Best single site"): g.best_site or "—",
            pick("该点可覆盖", "Share it covers"): g.best_site_share,
        })
    return pd.DataFrame(rows)


def gaps_view(ref: DataRef, eng, layers, sid: int, cmp: scenarios.Comparison, category: str, township: str | None,
              cutoff_m: float) -> None:
    cands = scenarios.generated_candidates(eng, cmp.after.result)
    matrix, _ = scenarios.cached_candidate_matrix(ref, tuple(cands.ids), cands.lonlat.tobytes(), cutoff_m)
    gaps = scenarios.gaps(eng, cmp.after.result, cands, matrix)
    link = base.get_config().siting.gap_link_m
    st.caption(pick(f"未覆盖老人按相距 {link:g} 米以内连成片，按加权人数排序；“最佳单点”为能覆盖该片最多老人的候选位置。",
                    f"Uncovered elders within {link:g} m of each other form a cluster, heaviest first."))
    if not gaps:
        st.success(pick("所有老人均已步行覆盖。", "Every elder is covered."))
        return
    table = gap_table(eng, gaps, layers.townships)
    st.dataframe(table, hide_index=True, width="stretch", column_config={
        table.columns[-1]: st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1)})
    where = dict(zip(cands.ids.tolist(), cands.lonlat.tolist(), strict=True))
    best = [g for g in gaps if g.best_site is not None]
    if not best:
        return
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    rank = c1.selectbox(pick("缺口", "Gap"), options=[g.rank for g in best],
                        format_func=lambda r: pick(f"第 {r} 名缺口", f"Gap #{r}"))
    gap = next(g for g in best if g.rank == rank)
    if c2.button(pick("在最佳位置新增站点", "Open the best site"), type="primary"):
        kind = st.session_state[SCN_KIND]
        _add_change(ref, sid, Change("open", kind_id=kind, point=Point(*where[gap.best_site]),
                                     candidate_id=str(gap.best_site), note=f"缺口 {rank} 最佳单点"),
                    pick(f"已在第 {rank} 名缺口的最佳位置新增站点", "Site opened"))
    points = gpd.GeoDataFrame({"name": [f"缺口 {g.rank}：{g.best_site}" for g in best]},
                              geometry=[Point(*where[g.best_site]) for g in best], crs="EPSG:4326")
    scenario_map(ref, eng, layers, cmp, category, township, proposed=points, key="gap_map")
