"""Stored results on the pages: what a city's figures were read from (current or stale), and the data admin's
refresh of stale or missing district results (issue 30)."""

from __future__ import annotations

import streamlit as st

from dashboard.components import caller, current_user
from dashboard.i18n import pick
from services import access, base, city
from services.engine import database_url

REFRESHED = "results.refreshed"  # (computed, {code: why failed}) of the last refresh, said after its rerun

STATE_ZH = {"current": "最新", "stale": "已过期", "none": "尚无结果"}
STATE_EN = {"current": "current", "stale": "stale", "none": "none"}
BATCH_HINT = ("区县较多时可由命令行在 Dask 集群上批量计算（可断点续算）：python cli.py batch scorecard --city 城市代码 "
              "或 --province 省代码")


def area_freshness(cards: city.AreaCards, refs: tuple, names: dict[str, str]) -> None:
    """Under a city's figures: when the districts' cards were computed; stale ones marked, with the refresh
    for a data admin (others are told who can)."""
    refreshed_note()
    said = city.cards_computed(cards, names)
    if not cards.stale and not cards.missing:
        st.caption(said)
        return
    st.warning(pick("部分区县的考核结果早于其当前数据，上面的数值按其上次计算的结果汇总。", "Some districts' results "
                    "predate their current data: the figures above sum their last computed results.")
               + "\n\n" + said, icon=":material/history:")
    todo = [*cards.stale, *cards.missing]
    if access.may(current_user(), "results.refresh"):
        refresh_button(refs, todo, key="city.refresh")
    else:
        st.caption(pick("数据管理员可在“数据管理 › 计算结果”中重新计算。", "A data admin can refresh them on 数据管理."))


def refresh_button(refs: tuple, codes: list[str], *, key: str) -> None:
    """Recompute ``codes`` on request, with progress; the page then reruns on the new results."""
    if not codes:
        return
    if st.button(pick(f"重新计算 {len(codes)} 个过期或缺失的区县", f"Recompute {len(codes)} districts"),
                 icon=":material/refresh:", key=key, type="primary"):
        bar = st.progress(0.0, text=pick("正在计算 …", "Computing …"))
        try:
            done, failed = city.refresh(database_url(), caller(), refs, codes, progress=lambda f, code: bar.progress(
                f, text=pick(f"正在计算区县 {code} …", f"Computing {code} …")))
        except access.AccessDenied as exc:
            st.error(str(exc))
            return
        bar.empty()
        st.session_state[REFRESHED] = (len(done), failed)
        st.rerun()


def refreshed_note() -> None:
    """What the last refresh did (said once, after its rerun)."""
    said = st.session_state.pop(REFRESHED, None)
    if said is None:
        return
    n, failed = said
    if n:
        st.success(pick(f"已重新计算 {n} 个区县的考核结果。", f"{n} districts recomputed."))
    for code, why in failed.items():
        st.error(pick(f"区县 {code} 无法计算：{why}。请在“数据管理”中补齐或修正其数据后再试。",
                      f"District {code} cannot be computed: {why}"))


def results_tab(url: str) -> None:
    """数据管理 › 计算结果: every district the account may see, its stored card's state, the refresh."""
    user = current_user()
    listing = base.district_list(url)
    names = {c: n for c, n in zip(listing["code"], listing["name"], strict=True) if access.may_see_district(user, c)}
    refreshed_note()
    if not names:
        st.info(pick("还没有区县数据。", "No district yet."))
        return
    refs = tuple(base.current_ref(url, code) for code in names)
    states = city.result_states(refs, names)
    st.caption(pick("各页面（尤其全市总览）直接读取已存的考核结果；导入新数据、修改参数或升级程序后，结果即过期，"
                    "页面仍按旧结果显示并标明。这里可重新计算。" + BATCH_HINT,
                    "Pages read the stored results; new data makes them stale. Recompute them here."))
    shown = states.assign(state=[pick(STATE_ZH[s], STATE_EN[s]) for s in states["state"]])
    st.dataframe(shown, hide_index=True, width="stretch", column_config={
        "code": pick("区县代码", "Code"), "name": pick("区县", "District"), "state": pick("状态", "State"),
        "changed": pick("计算后有更新的数据", "Changed since"), "computed_at": pick("计算时间", "Computed at"),
        "by": pick("计算方式", "By"), "seconds": st.column_config.NumberColumn(pick("用时（秒）", "Seconds"),
                                                                             format="%.1f")})
    todo = list(states.loc[states["state"] != "current", "code"])
    if todo:
        refresh_button(refs, todo, key="da.refresh")
    else:
        st.caption(pick("全部区县的结果均为最新。", "Every district's result is current."))
