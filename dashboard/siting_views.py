"""Widgets of the 情景规划 page's optimisation: the siting form and its run, the coverage curve, the proposal and
its saving as a scenario, the gaps left; the township page's gap table."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import streamlit as st
from shapely.geometry import Point

from dashboard.components import caller
from dashboard.i18n import pick
from dashboard.scenario_views import add_change, kind_names, scenario_map
from dashboard.state import (
    SCN_CURVE,
    SCN_FLASH,
    SCN_K,
    SCN_KIND,
    SCN_MODEL,
    SCN_PROPOSAL,
    SCN_SELECT_NEXT,
)
from services import base, coverage, scenarios, siting
from services.access import AccessDenied
from services.base import DataRef
from services.scenarios import Change, ScenarioError, ScenarioRepoError

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


def uploaded_candidates(upload):
    """Candidates from an uploaded GeoJSON/CSV (id, lon, lat); None (with the error shown) when unusable."""
    try:
        return siting.uploaded_candidates(upload.getvalue(), upload.name)
    except siting.CandidateFileError as exc:
        st.error(pick(f"候选点文件无法使用：{exc}", f"Candidate file unusable: {exc}"))
        return None


def siting_form(sid_name: str) -> dict | None:
    """The optimiser's settings; returns them when the user starts a solve."""
    cfg = base.get_config().siting
    kinds = kind_names()
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
        outside = sum(str(i).startswith("X") for i in cands.ids)
        if outside:  # [siting] candidates_across_border
            status.write(pick(f"其中 {outside:,} 个（编号 X 开头）在区界外的邻区街道上、本区未覆盖老人的步行范围内："
                              "选中时需与相邻区县商定共建。", f"{outside:,} candidates (X…) lie outside the district."))
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
        add_change(ref, sid, Change("open", kind_id=kind, point=Point(*where[gap.best_site]),
                                     candidate_id=str(gap.best_site), note=f"缺口 {rank} 最佳单点"),
                    pick(f"已在第 {rank} 名缺口的最佳位置新增站点", "Site opened"))
    points = gpd.GeoDataFrame({"name": [f"缺口 {g.rank}：{g.best_site}" for g in best]},
                              geometry=[Point(*where[g.best_site]) for g in best], crs="EPSG:4326")
    scenario_map(ref, eng, layers, cmp, category, township, proposed=points, key="gap_map")
