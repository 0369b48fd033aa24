"""实时监测: station status, open alerts with acknowledge / resolve, response times. The panels refresh
themselves (st.fragment run_every) from the live tables the ingest service writes."""

import html

import streamlit as st
from streamlit_folium import st_folium

from dashboard import live
from dashboard.components import caller, current_user, footer, page_setup
from dashboard.i18n import lang, pick
from dashboard.state import LIVE_MESSAGE, LIVE_NOTE, MAP_BASEMAP, MAP_TOWNSHIP
from maps.elements import LocalAssets
from maps.pages import build_live_map, live_station_layer
from services import access, base
from services import live as live_data

config = base.get_config()
layers = page_setup("live")
if layers is None:
    st.stop()
ref = layers.ref
en = lang() == "en"
refresh = config.live.refresh_s
st.title(pick("实时监测", "Live monitoring"))
st.caption(pick(f"站点心跳与告警来自实时数据接入服务（python cli.py ingest），本页每 {refresh:g} 秒自动刷新，无需手动刷新页面。"
                "老人信息只以匿名编号传输，页面不显示。",
                f"Heartbeats and alerts from the ingest service; this page refreshes itself every {refresh:g} s."))
user = current_user()
scope = access.scope_of(user, ref.district_code)
handles = access.may(user, "alert.handle")
if handles:
    with st.sidebar:
        st.text_input(pick("处理备注（可选）", "Note (optional)"), key=LIVE_NOTE, max_chars=200,
                      help=pick("备注随告警记录保存：请勿填写老人姓名、身份证号等个人信息。",
                                "Kept with the alert: never write an elder's name or ID number."))

labels = {k: v[1 if en else 0] for k, v in live.STATION_STATE.items()}
colours = {k: v[2] for k, v in live.STATION_STATE.items()}
basemap_id = st.session_state[MAP_BASEMAP]
township = st.session_state[MAP_TOWNSHIP] or None


def do(alert_id: int, action: str) -> None:
    """Button callback: runs before the panel reruns, so the list already shows the new state. Recorded under
    the signed-in account."""
    error = live_data.act(ref, layers, config, alert_id, action, caller(), st.session_state.get(LIVE_NOTE, ""))
    done = pick("已确认", "Acknowledged") if action == "acknowledge" else pick("已解除", "Resolved")
    st.session_state[LIVE_MESSAGE] = ("error", error) if error else ("success", f"{done}：#{alert_id}（{user.login}）")
    if not error:
        st.session_state[LIVE_NOTE] = ""


def badge(severity: str) -> str:
    zh, en_label, colour = live.SEVERITY[severity]
    return (f'<span class="live-badge" style="background:{colour};color:#fff;padding:2px 8px;border-radius:4px;'
            f'font-weight:600">{html.escape(en_label if en else zh)}</span>')


def alert_card(a) -> None:
    with st.container(border=True, key=f"alert-{a.id}"):
        c_text, c_buttons = st.columns([5, 1.4], vertical_alignment="center")
        state = live.ALERT_STATE[a.state][1 if en else 0]
        c_text.markdown(f"{badge(a.severity)} **{html.escape(a.title)}** · {html.escape(a.station_name)}"
                        f"<br><small>{html.escape(a.detail)}</small>", unsafe_allow_html=True)
        who = f"（{a.acked_by}，{a.acked_local}）" if a.state == "acknowledged" else ""
        c_text.caption(f"#{a.id} · {state}{who} · 首次 {a.first_local} · 最近 {a.last_local} · 共 {a.count} 次")
        if not handles:
            return
        if a.state == "firing":
            c_buttons.button(pick("确认", "Acknowledge"), key=f"ack-{a.id}", on_click=do, args=(int(a.id), "acknowledge"),
                             type="primary", width="stretch")
        c_buttons.button(pick("解除", "Resolve"), key=f"res-{a.id}", on_click=do, args=(int(a.id), "resolve"),
                         width="stretch")


@st.fragment(run_every=refresh)
def panels() -> None:
    view = live_data.live_view(ref, layers, config, scope=scope, township=township)
    sev = view.open_by_severity()
    k = st.columns(6)
    k[0].metric(pick("在线站点", "Stations online"), f"{view.online()} / {len(view.stations)}", border=True,
                help=pick("最近一次心跳在失联阈值以内的站点 / 全部站点", "Heartbeat within the NoData limit"))
    for col, s in zip(k[1:4], live_data.SEVERITY_ORDER, strict=True):
        col.metric(pick(f"{live.SEVERITY[s][0]}（未解除）", f"{live.SEVERITY[s][1]} (open)"), sev[s], border=True)
    today = pick("平均值：今天（本地时间）由人员确认或解除的告警，从首次触发算起；全区",
                 "Mean over alerts handled by people today, from first firing; district-wide")
    k[4].metric(pick("今日确认用时", "Mean time to ack"), live.fmt_duration(view.mtta_s), border=True, help=today)
    k[5].metric(pick("今日解除用时", "Mean time to resolve"), live.fmt_duration(view.mttr_s), border=True,
                help=today)
    if view.online() == 0 and (view.stations["state"] == "silent").any():
        st.warning(pick("所有站点均已失联：请检查实时数据接入服务（python cli.py ingest）是否在运行。",
                        "Every station is silent: is the ingest service running?"))
    st.caption(pick(f"更新于 {view.now:%Y-%m-%d %H:%M:%S}（北京时间）", f"Updated {view.now:%Y-%m-%d %H:%M:%S}"))
    c_map, c_alerts = st.columns([1.1, 1])
    with c_map:
        # A fresh base map each run: st_folium attaches the layer to the map it is given, and an
        # unchanged map script is what keeps the map (zoom, position) from being redrawn.
        fmap = build_live_map(layers.outline, layers.townships, config=config, basemap_id=basemap_id,
                              legend={k: (labels[k], colours[k]) for k in live.STATION_STATE}, assets=LocalAssets())
        layer = live_station_layer(view.stations, config=config, basemap_id=basemap_id, colours=colours, labels=labels)
        st_folium(fmap, height=560, use_container_width=True, returned_objects=[], key="live_map",
                  feature_group_to_add=layer)
        counts = view.stations["state"].value_counts()
        st.caption(" · ".join(f"{labels[s]} {int(counts.get(s, 0))}" for s in live.STATION_STATE))
    with c_alerts:
        message = st.session_state.pop(LIVE_MESSAGE, None)
        if message:
            (st.error if message[0] == "error" else st.success)(message[1])
        if view.alerts.empty:
            st.success(pick("当前没有未解除的告警。", "No open alerts."))
        shown = view.alerts.head(40)
        with st.container(height=520, border=False):
            for a in shown.itertuples():
                alert_card(a)
        if len(view.alerts) > len(shown):
            st.caption(pick(f"另有 {len(view.alerts) - len(shown)} 条较低级别或较早的告警未列出。", "More alerts not listed."))
    st.subheader(pick("最近处理记录", "Latest actions"))
    if view.actions.empty:
        st.caption(pick("还没有人员处理记录。", "No actions yet."))
    else:
        st.dataframe(view.actions.assign(
            动作=view.actions["action"].map(live.ACTION_ZH),
            级别=view.actions["severity"].map(lambda s: live.SEVERITY[s][0]))[
            ["at_local", "actor", "动作", "级别", "title", "station_name", "note"]].rename(columns={
                "at_local": "时间", "actor": "处理人", "title": "告警", "station_name": "站点", "note": "备注"}),
            hide_index=True, width="stretch")


panels()
footer(layers.meta)
