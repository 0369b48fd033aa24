"""会议模式's controls: the meeting (date, title, comparison, target, scenario), its agenda as an editable table
(shown or hidden, in order), saved by leaders and planners; the presentation link, the preview and the files."""

from __future__ import annotations

import datetime as dt
import urllib.parse

import pandas as pd
import streamlit as st
import streamlit.components.v1 as components

from dashboard.components import audited_download, caller, current_user
from reports.deck import SLIDES, Deck, DeckRequest
from services import access, meetings, scenarios
from services import scorecard as sc
from services.base import get_config

PENDING = "meeting.saved"  # the id of the meeting just saved, to choose it on the rerun


def choose_meeting(ref, district_name: str) -> meetings.MeetingPlan:
    """The saved meeting to present or edit, or a new one (today, the quarter's title, the default agenda)."""
    saved = meetings.meetings(ref)
    fresh = meetings.default_plan(district_name, tuple(SLIDES), since=sc.default_baseline(ref))
    options = [None, *(m.id for m in saved)]
    by_id = {m.id: m for m in saved}
    if PENDING in st.session_state:  # the meeting just saved: chosen before the box is drawn
        st.session_state["meeting.choice"] = st.session_state.pop(PENDING)
    chosen = st.selectbox("会议", options, format_func=lambda i: "新建会议" if i is None else
                          f"{by_id[i].held_on} {by_id[i].title}", key="meeting.choice")
    return fresh if chosen is None else by_id[chosen]


def edit_plan(ref, plan: meetings.MeetingPlan) -> meetings.MeetingPlan:
    """The meeting's settings and agenda as the presenter sets them now (saved on request)."""
    config = get_config()
    targets = {t.id: t.label_zh for t in config.targets}
    history = sc.since_dates(ref)
    whole = access.scope_of(current_user(), ref.district_code).whole
    listing = scenarios.scenario_list(ref, viewer=current_user().login) if whole else None
    # a township head's meeting is of their township: no district scenario (its name may be another township's)
    names = dict(zip(listing["id"], listing["name"], strict=True)) if listing is not None else {}
    key = f"meeting.{plan.id or 'new'}"
    c1, c2 = st.columns([1, 2])
    held_on = c1.date_input("会议日期", value=plan.held_on, key=f"{key}.date")
    title = c2.text_input("会议名称", value=plan.title, max_chars=120, key=f"{key}.title")
    c1, c2, c3, c4 = st.columns(4)
    dates = [None, *history]  # the newest data, or the data as it stood on an earlier data date
    data_date = c1.selectbox("数据日期", dates, index=dates.index(plan.data_date) if plan.data_date in dates else 0,
                             format_func=lambda d: "最新数据" if d is None else str(d), key=f"{key}.data_date",
                             help="会议按该日的数据生成幻灯片（每类数据取该日或更早的最新版本）")
    earlier = [d for d in history if data_date is None or d < data_date]
    since = c2.selectbox("对比基期（数据日期）", [None, *earlier], index=([None, *earlier].index(plan.since)
                                                                  if plan.since in earlier else 0),
                         format_func=lambda d: "不对比" if d is None else str(d), key=f"{key}.since")
    target = c3.selectbox("乡镇排名指标", list(targets), index=list(targets).index(plan.target_id)
                          if plan.target_id in targets else 0, format_func=targets.get, key=f"{key}.target")
    scenario = c4.selectbox("提请决策的情景", [None, *names], index=([None, *names].index(plan.scenario_id)
                                                              if plan.scenario_id in names else 0),
                            format_func=lambda i: "（无）" if i is None else names[i], key=f"{key}.scenario")
    st.caption("议程：勾选要放映的幻灯片，改“顺序”调整先后；保存后下次打开即按此议程。")
    order = {s: i for i, s in enumerate(plan.agenda)}
    table = pd.DataFrame({"slide": list(SLIDES), "幻灯片": list(SLIDES.values()),
                          "放映": [s in order for s in SLIDES],
                          "顺序": [order.get(s, len(order) + i) + 1 for i, s in enumerate(SLIDES)]})
    edited = st.data_editor(table.sort_values("顺序"), hide_index=True, disabled=["幻灯片"], key=f"{key}.agenda",
                            column_order=["放映", "顺序", "幻灯片"],
                            column_config={"顺序": st.column_config.NumberColumn(min_value=1, max_value=len(SLIDES),
                                                                                step=1)})
    shown = edited[edited["放映"]].sort_values("顺序", kind="stable")
    return meetings.MeetingPlan(plan.id, held_on, title, data_date, since, target, scenario, tuple(shown["slide"]))


def save_button(ref, plan: meetings.MeetingPlan) -> None:
    if not access.may(current_user(), "meeting.save"):
        return
    if st.button("保存会议与议程", type="primary", key="meeting.save"):
        try:
            saved = meetings.save(ref, caller(), plan)
        except (meetings.MeetingError, access.AccessDenied) as exc:
            st.error(str(exc))
            return
        st.session_state[PENDING] = saved
        st.toast(f"已保存：{plan.title}")
        st.rerun()


def present_link(ref, plan: meetings.MeetingPlan, township: str | None) -> None:
    """The full-screen presentation (web/present.py) of the saved meeting."""
    if plan.id is None:
        st.info("保存会议后可全屏演示（投影仪上按 F 全屏，←/→ 或翻页笔切换）。")
        return
    query = {"district": ref.district_code, "meeting": plan.id} | ({"township": township} if township else {})
    st.link_button("全屏演示", f"/meeting/present?{urllib.parse.urlencode(query)}", type="primary",
                   icon=":material/slideshow:")


def request_of(plan: meetings.MeetingPlan, township: str | None) -> DeckRequest:
    return DeckRequest(township=township, since=plan.since, target_id=plan.target_id, scenario_id=plan.scenario_id,
                       agenda=plan.agenda, as_of=plan.data_date)


def preview(deck: Deck) -> None:
    """The slides as they will be presented, in the page (click them, then ←/→)."""
    from reports.deck_html import deck_html

    components.html(deck_html(deck, present=True), height=560, scrolling=False)


def downloads(ref, deck: Deck, on: dt.date) -> None:
    from reports.deck_html import render_deck_pdf
    from reports.deck_pptx import render_pptx

    stem = f"联席会议_{deck.area_name}_{on:%Y%m%d}"
    c1, c2 = st.columns(2)
    with c1:
        audited_download("下载 PowerPoint（可编辑）", data=lambda: render_pptx(deck), file_name=f"{stem}.pptx",
                         what="会议幻灯片 PPTX", district_code=ref.district_code, key="meeting.pptx",
                         mime="application/vnd.openxmlformats-officedocument.presentationml.presentation")
    with c2:
        audited_download("下载 PDF", data=lambda: render_deck_pdf(deck), file_name=f"{stem}.pdf",
                         what="会议幻灯片 PDF", district_code=ref.district_code, key="meeting.pdf",
                         mime="application/pdf")


def choose_area(layers, user, scope) -> tuple[str | None, object | None]:
    """(township, city) the meeting is of: the district (None, None), one township, or — for an account that sees
    every district of the district's city — the whole city. A township head's is their township."""
    from services import city
    from services.engine import database_url

    names = dict(zip(layers.townships["code"], layers.townships["name"], strict=True))
    if not scope.whole:
        own = sorted(scope.townships)
        return st.selectbox("演示范围", own, format_func=names.get, key="meeting.township"), None
    cities = [c for c in city.cities_of(database_url(), user) if c.level == "city"
              and layers.ref.district_code in set(c.districts["code"])]
    options = [None, *names, *(f"city:{c.code}" for c in cities)]
    by_code = {f"city:{c.code}": c for c in cities}
    chosen = st.selectbox("演示范围", options, key="meeting.township", format_func=lambda c: "全区" if c is None else
                          f"全市：{by_code[c].name}（{len(by_code[c].districts)} 个区县）" if c in by_code else names[c])
    return (None, by_code[chosen]) if chosen in by_code else (chosen, None)


def _city_request(plan: meetings.MeetingPlan) -> DeckRequest:
    from reports.deck import CITY_SLIDES

    return DeckRequest(since=plan.since, target_id=plan.target_id,
                       agenda=tuple(s for s in plan.agenda if s in CITY_SLIDES) or CITY_SLIDES)


def city_deck(city, plan: meetings.MeetingPlan) -> Deck:
    from reports.deck import city_deck_for
    from services import city as cities
    from services import decisions
    from services.engine import database_url

    url = database_url()
    st.caption("全市会议：封面、各区县督办事项、全市考核指标与变化、区县排名（缺口、四同步与情景见各区县的会议）。")
    return city_deck_for(url, city.code, cities.district_refs(url, city), _city_request(plan), decisions.today())


def city_present_link(city, plan: meetings.MeetingPlan) -> None:
    request = _city_request(plan)
    query = {"city": city.code, "target": request.target_id, "agenda": ",".join(request.agenda)} | (
        {"since": str(request.since)} if request.since else {})
    st.link_button("全屏演示（全市）", f"/meeting/present?{urllib.parse.urlencode(query)}", type="primary",
                   icon=":material/slideshow:")

